// engine/ops/transpose.cpp — swap of two dimensions, a copy (every tensor is contiguous,
// DESIGN.md). Its gradient is the same swap applied to the incoming gradient.
#include "kernels/transpose.h"

#include "engine/ops/common.h"

namespace ml {

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  detail::check_f32("transpose", x, "input");
  int64_t a = detail::wrap_dim("transpose", d0, x.dim());
  int64_t b = detail::wrap_dim("transpose", d1, x.dim());
  if (a > b) std::swap(a, b);
  const Shape& s = x.shape();
  Shape out = s;
  std::swap(out[static_cast<size_t>(a)], out[static_cast<size_t>(b)]);
  kernels::TransposeParams p{1, s[static_cast<size_t>(a)], 1, s[static_cast<size_t>(b)], 1};
  for (int64_t d = 0; d < a; ++d) p.A *= s[static_cast<size_t>(d)];
  for (int64_t d = a + 1; d < b; ++d) p.B *= s[static_cast<size_t>(d)];
  for (int64_t d = b + 1; d < x.dim(); ++d) p.C *= s[static_cast<size_t>(d)];
  if (a == b) return x.reshape(s);  // nothing to swap: a view, differentiable through reshape
  Tensor y = Tensor::empty(out, DType::F32, x.device());
  if (y.numel() > 0)
    dispatch(x.device(), [&](auto D) { kernels::transpose<D>(y.data(), x.data(), p, device_stream(D)); });
  return record(y, "transpose", {x}, [a, b](const Tensor& g) { return std::vector<Tensor>{transpose(g, a, b)}; });
}

}  // namespace ml
