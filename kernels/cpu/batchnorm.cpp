// kernels/cpu/batchnorm.cpp — the reference batch normalisation (Ioffe & Szegedy 2015) over
// (N, C, L), one OpenMP task per channel. Element (n, c, l) is x[(n*C + c)*L + l]; a channel's
// M = N*L values are N runs of L contiguous floats.
//
// Statistics are accumulated in double, two passes (mean, then squared deviations), so a
// channel with a large mean and a small spread keeps its variance; the results are rounded
// to float once.
//
// Backward of the training forward, with xhat = (x - mean) * invstd and everything per channel:
//   gbeta  = sum gy
//   ggamma = sum gy * xhat
//   gx     = gamma * invstd / M * (M * gy - gbeta - xhat * ggamma)
// (mean and invstd depend on x, hence the two correction terms.) In eval the statistics are
// constants: gx = gy * gamma * invstd_running.
#include <cmath>

#include "kernels/batchnorm.h"

namespace ml::kernels {

namespace {

constexpr int64_t kParallelMin = 1 << 14;

// Calls f(v) for every element index of channel c.
template <class F>
inline void for_channel(const BatchNormParams& p, int64_t c, F&& f) {
  for (int64_t n = 0; n < p.N; ++n) {
    const int64_t base = (n * p.C + c) * p.L;
    for (int64_t l = 0; l < p.L; ++l) f(base + l);
  }
}

}  // namespace

template <>
void batchnorm_forward_train<Device::CPU>(float* y, float* save_mean, float* save_invstd, float* running_mean,
                                          float* running_var, const float* x, const float* gamma, const float* beta,
                                          const BatchNormParams& p, Stream) {
  const int64_t M = p.N * p.L;
#pragma omp parallel for schedule(static) if (p.N * p.C * p.L > kParallelMin)
  for (int64_t c = 0; c < p.C; ++c) {
    double sum = 0.0;
    for_channel(p, c, [&](int64_t i) { sum += x[i]; });
    const double mean = sum / static_cast<double>(M);
    double sq = 0.0;
    for_channel(p, c, [&](int64_t i) {
      const double d = x[i] - mean;
      sq += d * d;
    });
    const double var = sq / static_cast<double>(M);  // biased: what normalises the batch
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(p.eps));
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    if (running_mean && running_var) {
      // The running variance is unbiased (PyTorch). With one value per channel there is
      // no unbiased estimate; the op refuses that case in training, and the kernel uses the
      // biased value (0) rather than divide by zero.
      const double unbiased = M > 1 ? var * static_cast<double>(M) / static_cast<double>(M - 1) : var;
      const double m = p.momentum;
      running_mean[c] = static_cast<float>((1.0 - m) * running_mean[c] + m * mean);
      running_var[c] = static_cast<float>((1.0 - m) * running_var[c] + m * unbiased);
    }
    // y = a*x + b with a = gamma*invstd, b = beta - a*mean: one multiply-add per element.
    const double a = (gamma ? gamma[c] : 1.0) * invstd;
    const double b = (beta ? beta[c] : 0.0) - a * mean;
    const float af = static_cast<float>(a), bf = static_cast<float>(b);
    for_channel(p, c, [&](int64_t i) { y[i] = af * x[i] + bf; });
  }
}

template <>
void batchnorm_forward_eval<Device::CPU>(float* y, const float* x, const float* gamma, const float* beta,
                                         const float* running_mean, const float* running_var,
                                         const BatchNormParams& p, Stream) {
#pragma omp parallel for schedule(static) if (p.N * p.C * p.L > kParallelMin)
  for (int64_t c = 0; c < p.C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + p.eps);
    const double a = (gamma ? gamma[c] : 1.0) * invstd;
    const double b = (beta ? beta[c] : 0.0) - a * running_mean[c];
    const float af = static_cast<float>(a), bf = static_cast<float>(b);
    for_channel(p, c, [&](int64_t i) { y[i] = af * x[i] + bf; });
  }
}

template <>
void batchnorm_backward<Device::CPU>(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                                     const float* gamma, const float* save_mean, const float* save_invstd,
                                     const BatchNormParams& p, Stream) {
  const int64_t M = p.N * p.L;
#pragma omp parallel for schedule(static) if (p.N * p.C * p.L > kParallelMin)
  for (int64_t c = 0; c < p.C; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sum_gy = 0.0, sum_gy_xhat = 0.0;
    for_channel(p, c, [&](int64_t i) {
      sum_gy += gy[i];
      sum_gy_xhat += gy[i] * (x[i] - mean) * invstd;
    });
    if (gbeta) gbeta[c] = static_cast<float>(sum_gy);
    if (ggamma) ggamma[c] = static_cast<float>(sum_gy_xhat);
    const double k = (gamma ? gamma[c] : 1.0) * invstd;
    const double inv_m = 1.0 / static_cast<double>(M);
    const double mean_gy = sum_gy * inv_m, mean_gy_xhat = sum_gy_xhat * inv_m;
    for_channel(p, c, [&](int64_t i) {
      const double xhat = (x[i] - mean) * invstd;
      gx[i] = static_cast<float>(k * (gy[i] - mean_gy - xhat * mean_gy_xhat));
    });
  }
}

template <>
void batchnorm_backward_eval<Device::CPU>(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                                          const float* gamma, const float* running_mean, const float* running_var,
                                          const BatchNormParams& p, Stream) {
#pragma omp parallel for schedule(static) if (p.N * p.C * p.L > kParallelMin)
  for (int64_t c = 0; c < p.C; ++c) {
    const double mean = running_mean[c];
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + p.eps);
    if (ggamma || gbeta) {
      double sum_gy = 0.0, sum_gy_xhat = 0.0;
      for_channel(p, c, [&](int64_t i) {
        sum_gy += gy[i];
        sum_gy_xhat += gy[i] * (x[i] - mean) * invstd;
      });
      if (gbeta) gbeta[c] = static_cast<float>(sum_gy);
      if (ggamma) ggamma[c] = static_cast<float>(sum_gy_xhat);
    }
    const float k = static_cast<float>((gamma ? gamma[c] : 1.0) * invstd);
    for_channel(p, c, [&](int64_t i) { gx[i] = gy[i] * k; });
  }
}

}  // namespace ml::kernels
