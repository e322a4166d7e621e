// engine/ops/flip.cpp — horizontal/vertical mirror and quarter turns of (N, C, H, W).
// Each is a permutation of pixels, so its gradient is the inverse permutation: a flip is its
// own inverse, rot90(k) is undone by rot90(-k).
#include "kernels/flip.h"

#include "engine/ops/common.h"

namespace ml {

namespace {

Tensor flip_impl(const Tensor& x, bool horizontal, bool vertical, const char* op) {
  detail::check_f32(op, x, "input");
  detail::check_dim(op, x, "input", 4);
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  if (y.numel() > 0)
    dispatch(x.device(), [&](auto D) {
      kernels::flip<D>(y.data(), x.data(), x.size(0) * x.size(1), x.size(2), x.size(3), horizontal, vertical,
                       device_stream(D));
    });
  return record(y, op, {x}, [horizontal, vertical, op](const Tensor& g) {
    return std::vector<Tensor>{flip_impl(g, horizontal, vertical, op)};
  });
}

}  // namespace

Tensor hflip(const Tensor& x) { return flip_impl(x, true, false, "hflip"); }
Tensor vflip(const Tensor& x) { return flip_impl(x, false, true, "vflip"); }

Tensor rot90(const Tensor& x, int k) {
  detail::check_f32("rot90", x, "input");
  detail::check_dim("rot90", x, "input", 4);
  k = ((k % 4) + 4) % 4;
  const int64_t H = x.size(2), W = x.size(3);
  Shape out = x.shape();
  if (k % 2 == 1) std::swap(out[2], out[3]);
  Tensor y = Tensor::empty(out, DType::F32, x.device());
  if (y.numel() > 0)
    dispatch(x.device(), [&](auto D) {
      kernels::rot90<D>(y.data(), x.data(), x.size(0) * x.size(1), H, W, k, device_stream(D));
    });
  return record(y, "rot90", {x}, [k](const Tensor& g) { return std::vector<Tensor>{rot90(g, -k)}; });
}

}  // namespace ml
