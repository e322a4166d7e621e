// kernels/cpu/optim.cpp — SGD and Adam parameter updates (formulas in kernels/optim.h).
#include "kernels/optim.h"

#include <cmath>

namespace ml::kernels {

template <>
void sgd_step<Device::CPU>(float* w, float* buf, const float* g, int64_t n, const SgdParams& p, Stream) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i] + p.weight_decay * w[i];
    if (p.momentum != 0.f) {
      buf[i] = p.first_step ? d : p.momentum * buf[i] + (1.f - p.dampening) * d;
      d = p.nesterov ? d + p.momentum * buf[i] : buf[i];
    }
    w[i] -= p.lr * d;
  }
}

template <>
void adam_step<Device::CPU>(float* w, float* m, float* v, const float* g, int64_t n, const AdamParams& p, Stream) {
  const float bc1 = 1.f - std::pow(p.beta1, static_cast<float>(p.step));
  const float bc2 = 1.f - std::pow(p.beta2, static_cast<float>(p.step));
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + p.weight_decay * w[i];
    m[i] = p.beta1 * m[i] + (1.f - p.beta1) * d;
    v[i] = p.beta2 * v[i] + (1.f - p.beta2) * d * d;
    w[i] -= p.lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + p.eps);
  }
}

}  // namespace ml::kernels
