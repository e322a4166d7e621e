// engine/ops/pool.cpp — max, average and adaptive-average pooling over (N, C, H, W)
// (kernels/pool.h). Argument rules and output sizes follow PyTorch's F.max_pool2d,
// F.avg_pool2d and F.adaptive_avg_pool2d with square kernels.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/pool.h"

namespace ml {

namespace {

// x: (N, C, H, W) float32.
void check_input(const char* op, const Tensor& x) {
  ML_CHECK(x.defined(), op, ": the input is undefined");
  ML_CHECK(x.dim() == 4, op, ": input ", x.str(), " must be 4-D (N, C, H, W)");
  ML_CHECK(x.dtype() == DType::F32, op, ": input ", x.str(), " must be float32");
}

kernels::Pool2dParams window_params(const char* op, const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                                    bool ceil_mode, bool count_include_pad) {
  check_input(op, x);
  ML_CHECK(kernel >= 1, op, ": kernel size must be positive, got ", kernel, " for input ", shape_str(x.shape()));
  ML_CHECK(stride >= 0, op, ": stride must be non-negative (0 means stride = kernel), got ", stride);
  ML_CHECK(padding >= 0, op, ": padding must be non-negative, got ", padding);
  // PyTorch's rule; it also guarantees every window overlaps the real input, so max pooling
  // never returns a padding value.
  ML_CHECK(padding <= kernel / 2, op, ": padding ", padding, " must be at most half the kernel size ", kernel,
           " (input ", shape_str(x.shape()), ")");
  kernels::Pool2dParams p{};
  p.N = x.size(0);
  p.C = x.size(1);
  p.H = x.size(2);
  p.W = x.size(3);
  p.kh = p.kw = kernel;
  p.sh = p.sw = stride == 0 ? kernel : stride;
  p.ph = p.pw = padding;
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  ML_CHECK(kernels::pool2d_output_size(p), op, ": the output would be empty (", p.P, " x ", p.Q, "): input ",
           shape_str(x.shape()), " is too small for kernel ", kernel, ", stride ", p.sh, ", padding ", padding);
  return p;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode) {
  const auto p = window_params("max_pool2d", x, kernel, stride, padding, ceil_mode, true);
  const Device dev = x.device();
  Tensor y = Tensor::empty({p.N, p.C, p.P, p.Q}, DType::F32, dev);
  // Where each maximum came from: the backward routes the gradient there and nowhere else. Only
  // a recorded op has a backward: without one (inference, RISE's masked forwards) the kernel
  // skips the indices.
  Tensor argmax;
  if (any_requires_grad({x})) argmax = Tensor::empty({p.N, p.C, p.P, p.Q}, DType::I32, dev);
  dispatch(dev, [&](auto D) {
    kernels::max_pool2d_forward<D>(y.data(), argmax.defined() ? argmax.data_i32() : nullptr, x.data(), p,
                                   device_stream(D));
  });
  const Shape xs = x.shape();
  return record(y, "max_pool2d", {x}, [argmax, p, xs](const Tensor& gy) {
    Tensor gx = Tensor::empty(xs, DType::F32, gy.device());
    dispatch(gy.device(), [&](auto D) {
      kernels::max_pool2d_backward<D>(gx.data(), gy.data(), argmax.data_i32(), p, device_stream(D));
    });
    return std::vector<Tensor>{gx};
  });
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                  bool count_include_pad) {
  const auto p = window_params("avg_pool2d", x, kernel, stride, padding, ceil_mode, count_include_pad);
  const Device dev = x.device();
  Tensor y = Tensor::empty({p.N, p.C, p.P, p.Q}, DType::F32, dev);
  dispatch(dev, [&](auto D) { kernels::avg_pool2d_forward<D>(y.data(), x.data(), p, device_stream(D)); });
  const Shape xs = x.shape();
  return record(y, "avg_pool2d", {x}, [p, xs](const Tensor& gy) {
    Tensor gx = Tensor::empty(xs, DType::F32, gy.device());
    dispatch(gy.device(), [&](auto D) { kernels::avg_pool2d_backward<D>(gx.data(), gy.data(), p, device_stream(D)); });
    return std::vector<Tensor>{gx};
  });
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_input("adaptive_avg_pool2d", x);
  ML_CHECK(out_h >= 1 && out_w >= 1, "adaptive_avg_pool2d: output size (", out_h, ", ", out_w,
           ") would be empty; input ", shape_str(x.shape()));
  ML_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "adaptive_avg_pool2d: input ", shape_str(x.shape()),
           " has an empty plane");
  kernels::Pool2dParams p{};
  p.N = x.size(0);
  p.C = x.size(1);
  p.H = x.size(2);
  p.W = x.size(3);
  p.P = out_h;  // windows come from (H, P) and (W, Q) alone; the kernel/stride fields are unused
  p.Q = out_w;
  const Device dev = x.device();
  Tensor y = Tensor::empty({p.N, p.C, p.P, p.Q}, DType::F32, dev);
  dispatch(dev, [&](auto D) { kernels::adaptive_avg_pool2d_forward<D>(y.data(), x.data(), p, device_stream(D)); });
  const Shape xs = x.shape();
  return record(y, "adaptive_avg_pool2d", {x}, [p, xs](const Tensor& gy) {
    Tensor gx = Tensor::empty(xs, DType::F32, gy.device());
    dispatch(gy.device(),
             [&](auto D) { kernels::adaptive_avg_pool2d_backward<D>(gx.data(), gy.data(), p, device_stream(D)); });
    return std::vector<Tensor>{gx};
  });
}

}  // namespace ml
