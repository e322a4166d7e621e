// kernels/cpu/layer_norm.cpp — fused layer normalisation over rows of C (kernels/layer_norm.h).
// Rows are split over the threads; a row (768 floats in ViT) stays in L1 between the statistics
// and the output. The statistics are two passes over the cached row in double (mean, then the
// centred sum of squares), so a large offset (|mean| >> std) costs no precision, as the
// composite's centred form does not either. The weight and bias gradients sum over rows in order
// per block of columns, so they do not depend on the thread count.
#include "kernels/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ml::kernels {

namespace {
constexpr int64_t kParallelMin = 1 << 14;  // elements from which a threaded loop pays
constexpr int64_t kColBlock = 64;          // columns per block of the parameter gradients
}  // namespace

template <>
void layer_norm_forward<Device::CPU>(float* y, float* mean, float* rstd, const float* x, const float* w,
                                     const float* b, const LayerNormParams& p, Stream) {
  const int64_t C = p.C;
#pragma omp parallel for schedule(static) if (p.rows * C > kParallelMin)
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    // omp simd: the double sums in vector lanes, then the lanes added (a fixed order for a given
    // build, whatever the thread count); in one chain they were a scalar add per element with
    // the add's latency between elements.
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < C; ++c) s += xr[c];
    const double m = s / static_cast<double>(C);
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int64_t c = 0; c < C; ++c) {
      const double d = xr[c] - m;
      ss += d * d;
    }
    const double var = ss / static_cast<double>(C);  // biased, as PyTorch
    // The mean as a float and its rounding residual: x - mh is exact when x is near the mean
    // (Sterbenz) and the residual then restores the mean's lost digits. With the float mean
    // alone, a row at 500 +- 0.3 lost 1e-4 of a normalised unit (3e-5 / 0.29).
    const float mh = static_cast<float>(m), mlo = static_cast<float>(m - static_cast<double>(mh));
    const float rs = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(p.eps)));
    if (mean) mean[r] = mh;
    if (rstd) rstd[r] = rs;
    if (w && b) {
      for (int64_t c = 0; c < C; ++c) yr[c] = ((xr[c] - mh) - mlo) * rs * w[c] + b[c];
    } else if (w) {
      for (int64_t c = 0; c < C; ++c) yr[c] = ((xr[c] - mh) - mlo) * rs * w[c];
    } else if (b) {
      for (int64_t c = 0; c < C; ++c) yr[c] = ((xr[c] - mh) - mlo) * rs + b[c];
    } else {
      for (int64_t c = 0; c < C; ++c) yr[c] = ((xr[c] - mh) - mlo) * rs;
    }
  }
}

template <>
void layer_norm_backward<Device::CPU>(float* gx, float* gweight, float* gbias, const float* gy, const float* x,
                                      const float* w, const float* mean, const float* rstd, const LayerNormParams& p,
                                      Stream) {
  const int64_t C = p.C, rows = p.rows;
  // xhat = ((x - mh) - mlo) rstd as in the forward: the mean's residual mlo from the row again
  // (in double), the forward kept only the float mean.
  std::vector<float> mls(static_cast<size_t>(rows));
#pragma omp parallel for schedule(static) if (rows * C > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0.0;
    for (int64_t c = 0; c < C; ++c) s += x[r * C + c];
    mls[static_cast<size_t>(r)] = static_cast<float>(s / static_cast<double>(C) - static_cast<double>(mean[r]));
  }
  if (gx) {
#pragma omp parallel for schedule(static) if (rows * C > kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * C;
      const float* gr = gy + r * C;
      float* gxr = gx + r * C;
      const float m = mean[r], mlo = mls[static_cast<size_t>(r)], rs = rstd[r];
      double s1 = 0.0, s2 = 0.0;  // sum gw, sum gw xhat
      for (int64_t c = 0; c < C; ++c) {
        const double gw = static_cast<double>(gr[c]) * (w ? w[c] : 1.f);
        s1 += gw;
        s2 += gw * (((xr[c] - m) - mlo) * rs);
      }
      const float a = static_cast<float>(s1 / static_cast<double>(C));
      const float bq = static_cast<float>(s2 / static_cast<double>(C));
      for (int64_t c = 0; c < C; ++c) {
        const float gw = gr[c] * (w ? w[c] : 1.f);
        gxr[c] = rs * (gw - a - ((xr[c] - m) - mlo) * rs * bq);
      }
    }
  }
  if (gweight || gbias) {
    const int64_t blocks = (C + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) if (rows * C > kParallelMin)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t c0 = blk * kColBlock, c1 = std::min(C, c0 + kColBlock);
      double aw[kColBlock] = {}, ab[kColBlock] = {};
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * C;
        const float* gr = gy + r * C;
        const float m = mean[r], mlo = mls[static_cast<size_t>(r)], rs = rstd[r];
        for (int64_t c = c0; c < c1; ++c) {
          aw[c - c0] += static_cast<double>(gr[c]) * (((xr[c] - m) - mlo) * rs);
          ab[c - c0] += gr[c];
        }
      }
      for (int64_t c = c0; c < c1; ++c) {
        if (gweight) gweight[c] = static_cast<float>(aw[c - c0]);
        if (gbias) gbias[c] = static_cast<float>(ab[c - c0]);
      }
    }
  }
}

}  // namespace ml::kernels
