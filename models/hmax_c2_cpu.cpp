#include "models/hmax_c2_cpu.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

namespace ml::models {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// min over positions of relu(d^2) for one image's band (4, L, L) and one prototype size;
// mins (K) is lowered in place.
void band_min_d2(const float* x, int64_t L, const HmaxC2Size& s, float* mins) {
  const int64_t n = s.n, P = L - n + 1, D = 4 * n * n, K = s.K;
  // ||x||^2 under every n x n window of the 4 orientations' energy: row sums, then column sums.
  thread_local std::vector<float> e, h, xx, a, dot;
  e.assign(static_cast<size_t>(L * L), 0.f);
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t i = 0; i < L * L; ++i) e[static_cast<size_t>(i)] += x[c * L * L + i] * x[c * L * L + i];
  h.resize(static_cast<size_t>(L * P));
  for (int64_t r = 0; r < L; ++r)
    for (int64_t q = 0; q < P; ++q) {
      float acc = 0;
      for (int64_t t = 0; t < n; ++t) acc += e[static_cast<size_t>(r * L + q + t)];
      h[static_cast<size_t>(r * P + q)] = acc;
    }
  xx.resize(static_cast<size_t>(P * P));
  for (int64_t r = 0; r < P; ++r)
    for (int64_t q = 0; q < P; ++q) {
      float acc = 0;
      for (int64_t t = 0; t < n; ++t) acc += h[static_cast<size_t>((r + t) * P + q)];
      xx[static_cast<size_t>(r * P + q)] = acc;
    }
  // Row chunks of the im2col matrix of at most ~256 K floats (1 MB: the chunk and its (rows, K)
  // products stay in L2 while the min is taken).
  const int64_t rows_total = P * P;
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 18) / D, 16, rows_total);
  a.resize(static_cast<size_t>(chunk * D));
  dot.resize(static_cast<size_t>(chunk * K));
  const Eigen::Map<const RowMat> W(s.w, K, D);
  for (int64_t r0 = 0; r0 < rows_total; r0 += chunk) {
    const int64_t rows = std::min(chunk, rows_total - r0);
    for (int64_t t = 0; t < rows; ++t) {
      const int64_t py = (r0 + t) / P, px = (r0 + t) % P;
      float* dst = a.data() + t * D;
      for (int64_t c = 0; c < 4; ++c)
        for (int64_t r = 0; r < n; ++r) {
          const float* src = x + (c * L + py + r) * L + px;
          std::copy(src, src + n, dst + (c * n + r) * n);
        }
    }
    Eigen::Map<const RowMat> A(a.data(), rows, D);
    Eigen::Map<RowMat> Y(dot.data(), rows, K);
    Y.noalias() = A * W.transpose();  // (rows, K): -2 x.p
    for (int64_t t = 0; t < rows; ++t) {
      const float xt = xx[static_cast<size_t>(r0 + t)];
      const float* yr = dot.data() + t * K;
      for (int64_t k = 0; k < K; ++k) mins[k] = std::min(mins[k], std::max(0.f, xt + (yr[k] + s.pp[k])));
    }
  }
}

}  // namespace

void hmax_c2_cpu(const std::vector<HmaxC2Band>& bands, const std::vector<HmaxC2Size>& sizes, int64_t B, float sigma,
                 float* out) {
  const auto NB = static_cast<int64_t>(bands.size()), NS = static_cast<int64_t>(sizes.size());
  std::vector<int64_t> offset(static_cast<size_t>(NS + 1), 0);
  for (int64_t i = 0; i < NS; ++i) offset[static_cast<size_t>(i + 1)] = offset[static_cast<size_t>(i)] + sizes[static_cast<size_t>(i)].K;
  const int64_t Ktot = offset.back();
  // Tasks (band, size, image), ordered by cost (positions x 4 n^2) descending, each with its own
  // row of minima; the bands are reduced afterwards so no two threads write the same value.
  struct Task {
    int64_t band, size, image;
    double cost;
  };
  std::vector<Task> tasks;
  for (int64_t b = 0; b < NB; ++b)
    for (int64_t i = 0; i < NS; ++i) {
      const int64_t L = bands[static_cast<size_t>(b)].L, n = sizes[static_cast<size_t>(i)].n;
      if (L < n) continue;
      const double cost = static_cast<double>((L - n + 1) * (L - n + 1) * n * n);
      for (int64_t im = 0; im < B; ++im) tasks.push_back({b, i, im, cost});
    }
  std::stable_sort(tasks.begin(), tasks.end(), [](const Task& p, const Task& q) { return p.cost > q.cost; });
  std::vector<float> mins(static_cast<size_t>(NB * B * Ktot), std::numeric_limits<float>::infinity());
  const auto T = static_cast<int64_t>(tasks.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < T; ++t) {
    const Task& k = tasks[static_cast<size_t>(t)];
    const HmaxC2Band& bd = bands[static_cast<size_t>(k.band)];
    band_min_d2(bd.c1 + k.image * bd.image_stride, bd.L, sizes[static_cast<size_t>(k.size)],
                mins.data() + (k.band * B + k.image) * Ktot + offset[static_cast<size_t>(k.size)]);
  }
  const float scale = sigma > 0 ? -1.f / (2.f * sigma * sigma) : 0.f;
  for (int64_t im = 0; im < B; ++im)
    for (int64_t k = 0; k < Ktot; ++k) {
      float m = std::numeric_limits<float>::infinity();
      for (int64_t b = 0; b < NB; ++b) m = std::min(m, mins[static_cast<size_t>((b * B + im) * Ktot + k)]);
      out[im * Ktot + k] = sigma > 0 ? std::exp(m * scale) : -m;
    }
}

}  // namespace ml::models
