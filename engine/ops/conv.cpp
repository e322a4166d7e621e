// engine/ops/conv.cpp — 2-D convolution: checks, the kernel family in kernels/conv2d.h, and
// its two gradients.
#include "kernels/conv2d.h"

#include "engine/ops/common.h"

namespace ml {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  detail::check_f32("conv2d", x, "input");
  detail::check_f32("conv2d", w, "weight");
  detail::check_dim("conv2d", x, "input", 4);
  detail::check_dim("conv2d", w, "weight", 4);
  const Device dev = common_device("conv2d", {&x, &w, &b});
  ML_CHECK(o.groups >= 1, "conv2d: groups must be >= 1, got ", o.groups);
  ML_CHECK(o.stride_h >= 1 && o.stride_w >= 1 && o.dil_h >= 1 && o.dil_w >= 1 && o.pad_h >= 0 && o.pad_w >= 0,
           "conv2d: stride and dilation must be >= 1 and padding >= 0");
  kernels::Conv2dParams p{};
  p.N = x.size(0);
  p.C = x.size(1);
  p.H = x.size(2);
  p.W = x.size(3);
  p.K = w.size(0);
  p.R = w.size(2);
  p.S = w.size(3);
  p.stride_h = o.stride_h;
  p.stride_w = o.stride_w;
  p.pad_h = o.pad_h;
  p.pad_w = o.pad_w;
  p.dil_h = o.dil_h;
  p.dil_w = o.dil_w;
  p.groups = o.groups;
  ML_CHECK(p.C % p.groups == 0 && p.K % p.groups == 0, "conv2d: input ", shape_str(x.shape()), " has ", p.C,
           " channels and weight ", shape_str(w.shape()), " has ", p.K,
           " filters; both must be divisible by groups=", p.groups);
  ML_CHECK(w.size(1) == p.C / p.groups, "conv2d: weight ", shape_str(w.shape()), " expects ", w.size(1) * p.groups,
           " input channels (groups=", p.groups, ") but input ", shape_str(x.shape()), " has ", p.C);
  if (b.defined()) {
    detail::check_f32("conv2d", b, "bias");
    ML_CHECK(b.dim() == 1 && b.size(0) == p.K, "conv2d: bias ", shape_str(b.shape()), " does not match ", p.K,
             " output channels");
  }
  ML_CHECK(kernels::conv2d_output_size(p), "conv2d: kernel ", p.R, "x", p.S, " (dilation ", p.dil_h, "x", p.dil_w,
           ") is larger than the padded input ", shape_str(x.shape()), " with padding ", p.pad_h, "x", p.pad_w);
  Tensor y = Tensor::empty({p.N, p.K, p.P, p.Q}, DType::F32, dev);
  if (y.numel() > 0)
    dispatch(dev, [&](auto D) {
      kernels::conv2d_forward<D>(y.data(), x.data(), w.data(), b.defined() ? b.data() : nullptr, p, device_stream(D));
    });
  const Tensor xs = x.detach(), ws = w.detach();
  const bool gx = x.requires_grad(), gw = w.requires_grad() || (b.defined() && b.requires_grad());
  const bool has_b = b.defined();
  return record(y, "conv2d", {x, w, b}, [xs, ws, p, gx, gw, has_b](const Tensor& g) {
    Tensor dx, dw, db;
    if (gx) dx = Tensor::empty(xs.shape(), DType::F32, g.device());
    if (gw) dw = Tensor::empty(ws.shape(), DType::F32, g.device());
    if (gw && has_b) db = Tensor::empty({p.K}, DType::F32, g.device());
    dispatch(g.device(), [&](auto D) {
      kernels::conv2d_backward<D>(gx ? dx.data() : nullptr, gw ? dw.data() : nullptr,
                                  gw && has_b ? db.data() : nullptr, g.data(), xs.data(), ws.data(), p,
                                  device_stream(D));
    });
    return std::vector<Tensor>{dx, dw, db};
  });
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding, int64_t dilation,
              int64_t groups) {
  Conv2dOptions o;
  o.stride_h = o.stride_w = stride;
  o.pad_h = o.pad_w = padding;
  o.dil_h = o.dil_w = dilation;
  o.groups = groups;
  return conv2d(x, w, b, o);
}

}  // namespace ml
