#include "experiments/analysis/unit_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"

namespace ml::analysis {

UnitStats::UnitStats(int64_t units)
    : mean_(static_cast<size_t>(units), 0.0),
      m2_(static_cast<size_t>(units), 0.0),
      min_(static_cast<size_t>(units), std::numeric_limits<float>::infinity()),
      max_(static_cast<size_t>(units), -std::numeric_limits<float>::infinity()) {}

void UnitStats::add(const Tensor& rows) {
  ML_CHECK(rows.dtype() == DType::F32 && rows.device() == Device::CPU && rows.dim() >= 1, "UnitStats: expected "
           "float32 rows on the CPU, got ", rows.str());
  const int64_t B = rows.size(0), U = rows.numel() / std::max<int64_t>(B, 1);
  ML_CHECK(U == units(), "UnitStats: rows of ", U, " units, expected ", units());
  if (B == 0) return;
  const float* x = rows.data();
  const double nb = static_cast<double>(B), na = static_cast<double>(count_), n = na + nb;
#pragma omp parallel for schedule(static)
  for (int64_t u = 0; u < U; ++u) {
    // The batch's own mean and sum of squared deviations (two passes), then Chan's merge.
    double m = 0;
    float lo = min_[static_cast<size_t>(u)], hi = max_[static_cast<size_t>(u)];
    for (int64_t i = 0; i < B; ++i) {
      const float v = x[i * U + u];
      m += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    m /= nb;
    double ss = 0;
    for (int64_t i = 0; i < B; ++i) ss += (x[i * U + u] - m) * (x[i * U + u] - m);
    const double delta = m - mean_[static_cast<size_t>(u)];
    mean_[static_cast<size_t>(u)] += delta * nb / n;
    m2_[static_cast<size_t>(u)] += ss + delta * delta * na * nb / n;
    min_[static_cast<size_t>(u)] = lo;
    max_[static_cast<size_t>(u)] = hi;
  }
  count_ += B;
}

double UnitStats::std(int64_t u) const {
  return count_ > 0 ? std::sqrt(m2_[static_cast<size_t>(u)] / static_cast<double>(count_)) : 0.0;
}

Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows) {
  ML_CHECK(x.dim() == 2 && x.dtype() == DType::F32 && x.device() == Device::CPU, "gather_rows: expected a float32 (N, U) CPU matrix, got ", x.str());
  for (int64_t r : rows) ML_CHECK(r >= 0 && r < x.size(0), "gather_rows: row ", r, " outside ", x.str());
  const int64_t U = x.size(1);
  Tensor y = Tensor::empty({static_cast<int64_t>(rows.size()), U});
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(x.data() + rows[i] * U, U, y.data() + static_cast<int64_t>(i) * U);
  return y;
}

Tensor zscore_units(const Tensor& rows, const UnitStats& stats, const std::vector<bool>& keep) {
  const int64_t B = rows.size(0), U = rows.numel() / std::max<int64_t>(B, 1);
  ML_CHECK(U == stats.units() && static_cast<int64_t>(keep.size()) == U, "zscore_units: rows of ", U,
           " units, statistics of ", stats.units(), ", mask of ", keep.size());
  std::vector<int64_t> kept;
  std::vector<float> mean, inv_std;
  for (int64_t u = 0; u < U; ++u)
    if (keep[static_cast<size_t>(u)]) {
      ML_CHECK(stats.informative(u), "zscore_units: unit ", u, " is constant and cannot be z-scored");
      kept.push_back(u);
      mean.push_back(static_cast<float>(stats.mean(u)));
      inv_std.push_back(static_cast<float>(1.0 / stats.std(u)));
    }
  const auto K = static_cast<int64_t>(kept.size());
  Tensor z = Tensor::empty({B, K});
  const float* x = rows.data();
  float* y = z.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < B; ++i)
    for (int64_t k = 0; k < K; ++k)
      y[i * K + k] = (x[i * U + kept[static_cast<size_t>(k)]] - mean[static_cast<size_t>(k)]) * inv_std[static_cast<size_t>(k)];
  return z;
}

}  // namespace ml::analysis
