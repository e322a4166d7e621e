// engine/ops/loss.cpp — regression losses composed from pointwise ops (so their gradients
// and their CUDA versions come with those ops).
#include "engine/ops/common.h"

namespace ml {

namespace {
void check_pair(const char* op, const Tensor& input, const Tensor& target) {
  detail::check_f32(op, input, "input");
  detail::check_f32(op, target, "target");
  ML_CHECK(input.shape() == target.shape(), op, ": input ", shape_str(input.shape()), " and target ",
           shape_str(target.shape()), " differ in shape");
  ML_CHECK(input.numel() > 0, op, ": empty input");
}
}  // namespace

Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, bool log_input, float eps) {
  check_pair("poisson_nll_loss", input, target);
  // Negative log-likelihood of counts k under rate r, dropping log(k!) which does not depend
  // on the model: r - k log r. With log_input the input is log r (Ecker et al. 2019 fit
  // log-rates through an ELU+1 or exp output; PyTorch's default).
  if (log_input) return mean(sub(exp(input), mul(target, input)));
  return mean(sub(input, mul(target, log(add(input, eps)))));
}

Tensor mse_loss(const Tensor& input, const Tensor& target) {
  check_pair("mse_loss", input, target);
  return mean(square(sub(input, target)));
}

}  // namespace ml
