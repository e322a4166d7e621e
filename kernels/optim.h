// kernels/optim.h — in-place parameter updates, PyTorch's formulas (torch.optim.SGD, Adam).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct SgdParams {
  float lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first_step;  // the momentum buffer starts as the first gradient
};

// g' = g + wd*w; buf = momentum*buf + (1-dampening)*g' (buf = g' on the first step);
// d = nesterov ? g' + momentum*buf : buf (or g' without momentum); w -= lr*d.
template <Device D>
void sgd_step(float* w, float* momentum_buf, const float* g, int64_t n, const SgdParams& p, Stream s);

struct AdamParams {
  float lr, beta1, beta2, eps, weight_decay;
  int64_t step;  // 1-based, for bias correction
};

// g' = g + wd*w; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
// w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
template <Device D>
void adam_step(float* w, float* m, float* v, const float* g, int64_t n, const AdamParams& p, Stream s);

}  // namespace ml::kernels
