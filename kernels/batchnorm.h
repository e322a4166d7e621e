// kernels/batchnorm.h — batch normalisation over (N, C, L): statistics per channel c over
// N and L (L = H*W for BatchNorm2d, 1 or the length for BatchNorm1d).
//   y = gamma[c] * (x - mean[c]) * invstd[c] + beta[c],  invstd = 1/sqrt(var_biased + eps)
// Training uses the batch statistics and updates the running ones as PyTorch does:
//   running_mean = (1-momentum) running_mean + momentum mean
//   running_var  = (1-momentum) running_var  + momentum var_unbiased
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct BatchNormParams {
  int64_t N, C, L;
  float eps = 1e-5f;
  float momentum = 0.1f;
};

// gamma/beta may be null (affine = false). running_* may be null (no tracking).
template <Device D>
void batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, const BatchNormParams& p, Stream s);
template <Device D>
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                            const float* running_mean, const float* running_var, const BatchNormParams& p, Stream s);
// Backward of the training-mode forward; ggamma/gbeta may be null.
template <Device D>
void batchnorm_backward(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, const BatchNormParams& p, Stream s);
// Backward of the eval-mode forward (fixed statistics): gx = gy * gamma * invstd_running.
template <Device D>
void batchnorm_backward_eval(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                             const float* gamma, const float* running_mean, const float* running_var,
                             const BatchNormParams& p, Stream s);

}  // namespace ml::kernels
