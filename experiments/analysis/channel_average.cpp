#include "experiments/analysis/channel_average.h"

#include <cmath>

#include "engine/error.h"

namespace ml::analysis {

Tensor channel_average_zscored(const Tensor& acts, int64_t C, int64_t HW, std::vector<int64_t>* kept) {
  ML_CHECK(acts.dtype() == DType::F32 && acts.dim() == 2 && acts.size(1) == C * HW && C >= 1 && HW >= 1,
           "channel_average: expected float32 (N, ", C, " * ", HW, "), got ", acts.str());
  const int64_t N = acts.size(0), U = C * HW;
  ML_CHECK(N >= 2, "channel_average: needs >= 2 images, got ", N);
  std::vector<double> sum(static_cast<size_t>(N * C), 0.0);
  std::vector<int64_t> used(static_cast<size_t>(C), 0);
  const float* x = acts.data();
  for (int64_t u = 0; u < U; ++u) {
    double m = 0;
    for (int64_t i = 0; i < N; ++i) m += x[i * U + u];
    m /= static_cast<double>(N);
    double ss = 0;
    for (int64_t i = 0; i < N; ++i) ss += (x[i * U + u] - m) * (x[i * U + u] - m);
    if (!(ss > 0)) continue;  // constant unit: no z-score (the released code drops NaN columns)
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(N));
    const int64_t c = u / HW;
    ++used[static_cast<size_t>(c)];
    for (int64_t i = 0; i < N; ++i) sum[static_cast<size_t>(i * C + c)] += (x[i * U + u] - m) * inv;
  }
  std::vector<int64_t> keep;
  for (int64_t c = 0; c < C; ++c)
    if (used[static_cast<size_t>(c)] > 0) keep.push_back(c);
  ML_CHECK(!keep.empty(), "channel_average: every unit of every channel is constant over the images");
  const auto K = static_cast<int64_t>(keep.size());
  Tensor out = Tensor::empty({N, K});
  for (int64_t k = 0; k < K; ++k) {
    const int64_t c = keep[static_cast<size_t>(k)];
    for (int64_t i = 0; i < N; ++i)
      out.data()[i * K + k] = static_cast<float>(sum[static_cast<size_t>(i * C + c)] / static_cast<double>(used[static_cast<size_t>(c)]));
  }
  if (kept) *kept = keep;
  return out;
}

}  // namespace ml::analysis
