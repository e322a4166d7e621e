// engine/ops/layer_norm.cpp — layer normalisation over the last dimension, written as a
// composite of the pointwise and reduction ops: its backward is theirs (checked by finite
// differences in tests/test_transformer_ops.cpp), and it runs on every device they run on.
// A fused kernel (one pass for the statistics, one for the output) is the faster form; this
// one reads x about five times.
#include "engine/ops/common.h"

namespace ml {

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
  const int64_t last = x.dim() - 1;
  const Tensor centred = x - mean(x, {last}, true);        // (..., C)
  const Tensor var = mean(square(centred), {last}, true);  // (..., 1), biased as PyTorch
  Tensor y = centred / sqrt(var + eps);
  if (weight.defined()) y = y * weight;  // broadcast over the leading dimensions
  if (bias.defined()) y = y + bias;
  return y;
}

}  // namespace ml
