// kernels/cpu/correlation.cpp — z-scoring of columns and centring/normalising of rows,
// accumulated in double: RDM entries are differences of correlations near 1, where float
// sums would lose the digits that matter.
#include "kernels/correlation.h"

#include <cmath>
#include <vector>

namespace ml::kernels {

template <>
void zscore_columns_forward<Device::CPU>(float* z, float* mean, float* std, const float* x, int64_t rows,
                                         int64_t cols, Stream) {
  std::vector<double> m(static_cast<size_t>(cols), 0.0), v(static_cast<size_t>(cols), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t u = 0; u < cols; ++u) m[u] += x[i * cols + u];
  for (int64_t u = 0; u < cols; ++u) m[u] /= static_cast<double>(rows);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t u = 0; u < cols; ++u) {
      const double d = x[i * cols + u] - m[u];
      v[u] += d * d;
    }
  std::vector<double> inv(static_cast<size_t>(cols));
  for (int64_t u = 0; u < cols; ++u) {
    const double sd = std::sqrt(v[u] / static_cast<double>(rows));
    mean[u] = static_cast<float>(m[u]);
    std[u] = static_cast<float>(sd);
    inv[u] = sd > 0.0 ? 1.0 / sd : 0.0;
  }
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t u = 0; u < cols; ++u) z[i * cols + u] = static_cast<float>((x[i * cols + u] - m[u]) * inv[u]);
}

template <>
void zscore_columns_backward<Device::CPU>(float* gx, const float* gz, const float* z, const float* std, int64_t rows,
                                          int64_t cols, Stream) {
  std::vector<double> mg(static_cast<size_t>(cols), 0.0), mgz(static_cast<size_t>(cols), 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t u = 0; u < cols; ++u) {
      mg[u] += gz[i * cols + u];
      mgz[u] += static_cast<double>(gz[i * cols + u]) * z[i * cols + u];
    }
  for (int64_t u = 0; u < cols; ++u) {
    mg[u] /= static_cast<double>(rows);
    mgz[u] /= static_cast<double>(rows);
  }
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t u = 0; u < cols; ++u) {
      const int64_t k = i * cols + u;
      gx[k] = std[u] > 0.f ? static_cast<float>((gz[k] - mg[u] - z[k] * mgz[u]) / std[u]) : 0.f;
    }
}

template <>
void row_normalize_forward<Device::CPU>(float* u, float* norm, const float* x, int64_t rows, int64_t cols, Stream) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * cols;
    double m = 0.0;
    for (int64_t j = 0; j < cols; ++j) m += xr[j];
    m /= static_cast<double>(cols);
    double ss = 0.0;
    for (int64_t j = 0; j < cols; ++j) ss += (xr[j] - m) * (xr[j] - m);
    const double nrm = std::sqrt(ss);
    norm[i] = static_cast<float>(nrm);
    const double inv = nrm > 0.0 ? 1.0 / nrm : 0.0;
    for (int64_t j = 0; j < cols; ++j) u[i * cols + j] = static_cast<float>((xr[j] - m) * inv);
  }
}

template <>
void row_normalize_backward<Device::CPU>(float* gx, const float* gu, const float* u, const float* norm, int64_t rows,
                                         int64_t cols, Stream) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const float* ur = u + i * cols;
    const float* gr = gu + i * cols;
    float* gxr = gx + i * cols;
    if (norm[i] <= 0.f) {
      for (int64_t j = 0; j < cols; ++j) gxr[j] = 0.f;
      continue;
    }
    double dot = 0.0;
    for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(ur[j]) * gr[j];
    // gc = (gu - u <u, gu>) / norm; then subtract its mean (the centring's adjoint).
    double mean_gc = 0.0;
    for (int64_t j = 0; j < cols; ++j) mean_gc += (gr[j] - ur[j] * dot);
    mean_gc /= static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) gxr[j] = static_cast<float>((gr[j] - ur[j] * dot - mean_gc) / norm[i]);
  }
}

}  // namespace ml::kernels
