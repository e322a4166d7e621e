// kernels/cpu/batchnorm.cpp — the reference batch normalisation (Ioffe & Szegedy 2015) over
// (N, C, L), one OpenMP task per channel. Element (n, c, l) is x[(n*C + c)*L + l]; a channel's
// M = N*L values are N runs of L contiguous floats.
//
// Statistics are accumulated in double, two passes (mean, then squared deviations), so a
// channel with a large mean and a small spread keeps its variance; the results are rounded
// to float once. The normalised values are formed from x - mean in double too: in float, a
// mean of 1000 would carry a rounding error of 3e-5, a sizeable part of a spread of 0.01.
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

// Sums over one run of L contiguous values, accumulated in double in a vectorised loop (omp
// simd lets the compiler keep several partial sums; a plain double loop must add in order and
// ran scalar).
inline double run_sum(const float* a, int64_t L) {
  double r = 0.0;
#pragma omp simd reduction(+ : r)
  for (int64_t l = 0; l < L; ++l) r += a[l];
  return r;
}
inline double run_sum_sq_dev(const float* a, double m, int64_t L) {  // sum (a - m)^2
  double r = 0.0;
#pragma omp simd reduction(+ : r)
  for (int64_t l = 0; l < L; ++l) r += (a[l] - m) * (a[l] - m);
  return r;
}

// Sums over channel c of x, gy and gy*x, in one vectorised pass, in double. Then
// sum gy (x - m) = sum gy*x - m sum gy: each gy*x is exact in double (two 24-bit significands),
// and the cancellation costs ~|m| / spread of the double's 1e-16, ~1e-11 for m 1000, spread 0.01.
struct GradSums {
  double x = 0.0, gy = 0.0, gy_x = 0.0;
  double gy_dev(double m) const { return gy_x - m * gy; }
};
inline GradSums grad_sums(const BatchNormParams& p, int64_t c, const float* gy, const float* x) {
  GradSums s;
  for (int64_t n = 0; n < p.N; ++n) {
    const int64_t o = (n * p.C + c) * p.L;
    const float *g = gy + o, *xr = x + o;
    double rx = 0.0, rg = 0.0, rgx = 0.0;
#pragma omp simd reduction(+ : rx, rg, rgx)
    for (int64_t l = 0; l < p.L; ++l) {
      rx += xr[l];
      rg += g[l];
      rgx += static_cast<double>(g[l]) * xr[l];
    }
    s.x += rx;
    s.gy += rg;
    s.gy_x += rgx;
  }
  return s;
}

// y = a (x - mean) + b over channel c, in double before one rounding.
inline void normalise_channel(float* y, const float* x, const BatchNormParams& p, int64_t c, double mean, double a,
                              double b) {
  for (int64_t n = 0; n < p.N; ++n) {
    const int64_t o = (n * p.C + c) * p.L;
    const float* xr = x + o;
    float* out = y + o;
#pragma omp simd
    for (int64_t l = 0; l < p.L; ++l) out[l] = static_cast<float>(a * (xr[l] - mean) + b);
  }
}

// Sum over channel c of run(offset of a run): the N run sums added in double.
template <class F>
inline double channel_sum(const BatchNormParams& p, int64_t c, F&& run) {
  double s = 0.0;
  for (int64_t n = 0; n < p.N; ++n) s += run((n * p.C + c) * p.L);
  return s;
}

}  // namespace

template <>
void batchnorm_forward_train<Device::CPU>(float* y, float* save_mean, float* save_invstd, float* running_mean,
                                          float* running_var, const float* x, const float* gamma, const float* beta,
                                          const BatchNormParams& p, Stream) {
  const int64_t M = p.N * p.L;
#pragma omp parallel for schedule(static) if (p.N * p.C * p.L > kParallelMin)
  for (int64_t c = 0; c < p.C; ++c) {
    const double mean = channel_sum(p, c, [&](int64_t o) { return run_sum(x + o, p.L); }) / static_cast<double>(M);
    const double sq = channel_sum(p, c, [&](int64_t o) { return run_sum_sq_dev(x + o, mean, p.L); });
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
    normalise_channel(y, x, p, c, mean, (gamma ? gamma[c] : 1.0) * invstd, beta ? beta[c] : 0.0);
  }
}

template <>
void batchnorm_forward_eval<Device::CPU>(float* y, const float* x, const float* gamma, const float* beta,
                                         const float* running_mean, const float* running_var,
                                         const BatchNormParams& p, Stream) {
#pragma omp parallel for schedule(static) if (p.N * p.C * p.L > kParallelMin)
  for (int64_t c = 0; c < p.C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(running_var[c]) + p.eps);
    normalise_channel(y, x, p, c, running_mean[c], (gamma ? gamma[c] : 1.0) * invstd, beta ? beta[c] : 0.0);
  }
}

template <>
void batchnorm_backward<Device::CPU>(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                                     const float* gamma, const float* save_mean, const float* save_invstd,
                                     const BatchNormParams& p, Stream) {
  const int64_t M = p.N * p.L;
#pragma omp parallel for schedule(static) if (p.N * p.C * p.L > kParallelMin)
  for (int64_t c = 0; c < p.C; ++c) {
    // The mean comes from the sums again rather than from save_mean, which holds it rounded to
    // float: for a large mean and a small spread that rounding would shift every xhat (see the
    // file comment).
    (void)save_mean;
    const GradSums sums = grad_sums(p, c, gy, x);
    const double mean = sums.x / static_cast<double>(M);
    const double invstd = save_invstd[c];
    const double sum_gy = sums.gy;
    const double sum_gy_xhat = invstd * sums.gy_dev(mean);
    if (gbeta) gbeta[c] = static_cast<float>(sum_gy);
    if (ggamma) ggamma[c] = static_cast<float>(sum_gy_xhat);
    const double k = (gamma ? gamma[c] : 1.0) * invstd;
    const double inv_m = 1.0 / static_cast<double>(M);
    // gx = k * (gy - mean_gy - xhat * mean_gy_xhat) = a * gy + b * (x - mean) + c0.
    const double a = k, b = -k * invstd * sum_gy_xhat * inv_m, c0 = -k * sum_gy * inv_m;
    for (int64_t n = 0; n < p.N; ++n) {
      const int64_t o = (n * p.C + c) * p.L;
      const float *g = gy + o, *xr = x + o;
      float* out = gx + o;
#pragma omp simd
      for (int64_t l = 0; l < p.L; ++l) out[l] = static_cast<float>(a * g[l] + b * (xr[l] - mean) + c0);
    }
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
      const GradSums sums = grad_sums(p, c, gy, x);
      if (gbeta) gbeta[c] = static_cast<float>(sums.gy);
      if (ggamma) ggamma[c] = static_cast<float>(invstd * sums.gy_dev(mean));
    }
    const float k = static_cast<float>((gamma ? gamma[c] : 1.0) * invstd);
    for_channel(p, c, [&](int64_t i) { gx[i] = gy[i] * k; });
  }
}

}  // namespace ml::kernels
