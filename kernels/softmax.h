// kernels/softmax.h — softmax / log-softmax along one dimension, and the negative
// log-likelihood of integer labels (cross-entropy = nll(log_softmax(logits))).
// x is viewed as (outer, dim, inner): softmax runs over `dim` for every (outer, inner).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct SoftmaxParams {
  int64_t outer, dim, inner;
  bool log = false;  // log-softmax
};

// Max-subtracted for stability.
template <Device D>
void softmax_forward(float* y, const float* x, const SoftmaxParams& p, Stream s);
// softmax: gx = y * (gy - sum(gy*y));  log-softmax: gx = gy - exp(y) * sum(gy)
template <Device D>
void softmax_backward(float* gx, const float* gy, const float* y, const SoftmaxParams& p, Stream s);

// loss[0] = -mean_n logp[n, labels[n]] for logp: (N, C). Labels must lie in [0, C)
// (the engine op checks this before the call).
template <Device D>
void nll_loss_forward(float* loss, const float* logp, const int32_t* labels, int64_t N, int64_t C, Stream s);
// glogp[n, c] = -gloss[0] / N where c == labels[n], else 0. gloss lives on the device.
template <Device D>
void nll_loss_backward(float* glogp, const float* gloss, const int32_t* labels, int64_t N, int64_t C, Stream s);

}  // namespace ml::kernels
