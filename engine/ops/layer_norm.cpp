// engine/ops/layer_norm.cpp — layer normalisation over the last dimension: one fused kernel per
// device (kernels/cpu/layer_norm.cpp, kernels/cuda/layer_norm.cu: statistics in double from each
// row in cache, then the output; their own backward). The CPU kernel is checked against a double
// loop and by finite differences (tests/test_transformer_ops.cpp, tests/test_attention_fused.cpp),
// the CUDA kernel against the CPU one (tests/cuda/test_parity.cpp). Until session 4 other devices
// ran a composite of pointwise and reduction ops that read x about five times.
#include "engine/ops/common.h"
#include "kernels/layer_norm.h"

namespace ml {

namespace {

// x (..., C) viewed as (rows, C). Inputs are checked by the caller.
Tensor layer_norm_fused(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const int64_t C = x.size(x.dim() - 1);
  kernels::LayerNormParams p;
  p.C = C;
  p.rows = C > 0 ? x.numel() / C : 0;
  p.eps = eps;
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  Tensor mean = Tensor::empty({p.rows}, DType::F32, x.device()), rstd = Tensor::empty({p.rows}, DType::F32, x.device());
  if (y.numel() == 0) return y;
  const float* w = weight.defined() ? weight.data() : nullptr;
  const float* b = bias.defined() ? bias.data() : nullptr;
  dispatch(x.device(), [&](auto D) {
    kernels::layer_norm_forward<D>(y.data(), mean.data(), rstd.data(), x.data(), w, b, p, device_stream(D));
  });
  const Tensor xs = x.detach(), ws = weight.defined() ? weight.detach() : Tensor{};
  const bool gx = x.requires_grad(), gw = weight.defined() && weight.requires_grad(),
             gb = bias.defined() && bias.requires_grad();
  return record(y, "layer_norm", {x, weight, bias}, [xs, ws, mean, rstd, p, gx, gw, gb](const Tensor& g) {
    Tensor dx, dw, db;
    if (gx) dx = Tensor::empty(xs.shape(), DType::F32, g.device());
    if (gw) dw = Tensor::empty({p.C}, DType::F32, g.device());
    if (gb) db = Tensor::empty({p.C}, DType::F32, g.device());
    dispatch(g.device(), [&](auto D) {
      kernels::layer_norm_backward<D>(gx ? dx.data() : nullptr, gw ? dw.data() : nullptr, gb ? db.data() : nullptr,
                                      g.data(), xs.data(), ws.defined() ? ws.data() : nullptr, mean.data(),
                                      rstd.data(), p, device_stream(D));
    });
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  detail::check_f32("layer_norm", x, "input");
  ML_CHECK(x.dim() >= 1, "layer_norm: the input must have at least one dimension, got ", x.str());
  ML_CHECK(eps >= 0.f, "layer_norm: eps must be non-negative, got ", eps);
  const int64_t C = x.size(x.dim() - 1);
  for (const auto& [t, name] : {std::pair<const Tensor*, const char*>{&weight, "weight"}, {&bias, "bias"}}) {
    if (!t->defined()) continue;
    detail::check_f32("layer_norm", *t, name);
    ML_CHECK(t->dim() == 1 && t->size(0) == C, "layer_norm: ", name, " must have shape (", C,
             ") to match the input's last dimension, got ", t->str(), " for input ", x.str());
  }
  (void)common_device("layer_norm", {&x, &weight, &bias});
  return layer_norm_fused(x, weight, bias, eps);
}

}  // namespace ml
