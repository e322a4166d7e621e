// kernels/cpu/lrn.cpp — the reference local response normalisation across channels
// (kernels/lrn.h), one OpenMP task per (n, c) plane of (N, C, H, W).
//
// Forward, with n = size, lo = floor(n/2), hi = floor((n-1)/2) (PyTorch pads the channel
// axis by lo in front and hi behind, then averages n channels, count_include_pad):
//   s_c = k + alpha/n * sum_{c' in [c - lo, c + hi] ∩ [0, C)} x_c'^2
//   y_c = x_c * s_c^-beta
//
// Backward. Output i depends on x_j for j in its window W(i) = [i - lo, i + hi]:
//   dy_i/dx_j = [i == j] s_i^-beta  +  x_i * (-beta) s_i^(-beta-1) * (alpha/n) * 2 x_j * [j in W(i)]
// so, with y_i / s_i = x_i s_i^(-beta-1),
//   gx_j = gy_j s_j^-beta  -  (2 alpha beta / n) x_j * sum_{i : j in W(i)} gy_i y_i / s_i
// and j in W(i)  <=>  i in [j - hi, j + lo]: the window is mirrored, which matters for even n.
#include <algorithm>
#include <cmath>

#include "kernels/lrn.h"

namespace ml::kernels {

namespace {
constexpr int64_t kParallelMin = 1 << 14;
}

template <>
void lrn_forward<Device::CPU>(float* y, float* scale, const float* x, const LrnParams& p, Stream) {
  const int64_t HW = p.H * p.W, lo = p.size / 2, hi = (p.size - 1) / 2;
  const float a = p.alpha / static_cast<float>(p.size);
#pragma omp parallel for collapse(2) schedule(static) if (p.N * p.C * HW * p.size > kParallelMin)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t c = 0; c < p.C; ++c) {
      const float* xn = x + n * p.C * HW;
      float* s = scale + (n * p.C + c) * HW;
      std::fill(s, s + HW, 0.f);
      // Channels summed in ascending order (a fixed order, for reproducibility).
      for (int64_t cc = std::max<int64_t>(c - lo, 0); cc <= std::min<int64_t>(c + hi, p.C - 1); ++cc) {
        const float* xc = xn + cc * HW;
        for (int64_t i = 0; i < HW; ++i) s[i] += xc[i] * xc[i];
      }
      const float* xp = xn + c * HW;
      float* yp = y + (n * p.C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) {
        s[i] = p.k + a * s[i];
        yp[i] = xp[i] * std::pow(s[i], -p.beta);
      }
    }
}

template <>
void lrn_backward<Device::CPU>(float* gx, const float* gy, const float* x, const float* y, const float* scale,
                               const LrnParams& p, Stream) {
  const int64_t HW = p.H * p.W, lo = p.size / 2, hi = (p.size - 1) / 2;
  const float coef = 2.f * p.alpha * p.beta / static_cast<float>(p.size);
#pragma omp parallel for collapse(2) schedule(static) if (p.N * p.C * HW * p.size > kParallelMin)
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t j = 0; j < p.C; ++j) {
      const int64_t base = n * p.C * HW;
      float* g = gx + base + j * HW;
      // First accumulate sum_i gy_i y_i / s_i over the mirrored window in gx itself.
      std::fill(g, g + HW, 0.f);
      for (int64_t i = std::max<int64_t>(j - hi, 0); i <= std::min<int64_t>(j + lo, p.C - 1); ++i) {
        const float* gyi = gy + base + i * HW;
        const float* yi = y + base + i * HW;
        const float* si = scale + base + i * HW;
        for (int64_t t = 0; t < HW; ++t) g[t] += gyi[t] * yi[t] / si[t];
      }
      const float* gyj = gy + base + j * HW;
      const float* xj = x + base + j * HW;
      const float* sj = scale + base + j * HW;
      for (int64_t t = 0; t < HW; ++t) g[t] = gyj[t] * std::pow(sj[t], -p.beta) - coef * xj[t] * g[t];
    }
}

}  // namespace ml::kernels
