#include "experiments/analysis/encoding_experiments.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"

namespace ml::analysis {

namespace {
constexpr double kDeg = 3.14159265358979323846 / 180.0;
}

RetinotopyMap retinotopy_glm(const Eigen::MatrixXf& y, const std::vector<double>& wedge_angle) {
  const int64_t n = y.rows(), V = y.cols();
  ML_CHECK(static_cast<int64_t>(wedge_angle.size()) == n && n > 3, "retinotopy_glm: ", wedge_angle.size(),
           " wedge angles for ", n, " stimuli");
  Eigen::MatrixXd D(n, 3);
  for (int64_t i = 0; i < n; ++i)
    D.row(i) << 1.0, std::cos(wedge_angle[static_cast<size_t>(i)] * kDeg), std::sin(wedge_angle[static_cast<size_t>(i)] * kDeg);
  const Eigen::MatrixXd Yd = y.cast<double>();
  const Eigen::MatrixXd beta = (D.transpose() * D).ldlt().solve(D.transpose() * Yd);  // (3, V)
  const Eigen::MatrixXd res = Yd - D * beta;
  RetinotopyMap m;
  m.angle.resize(V);
  m.F.resize(V);
  m.beta = beta.bottomRows(2).transpose().cast<float>();
  for (int64_t v = 0; v < V; ++v) {
    m.angle[v] = static_cast<float>(std::atan2(beta(2, v), beta(1, v)) / kDeg);
    const double rss = res.col(v).squaredNorm();
    const double rss0 = (Yd.col(v).array() - Yd.col(v).mean()).square().sum();
    m.F[v] = rss > 0 ? static_cast<float>(((rss0 - rss) / 2) / (rss / static_cast<double>(n - 3))) : 0.f;
  }
  return m;
}

Eigen::MatrixXf smooth_voxel_maps(const Eigen::MatrixXf& maps, const std::vector<int>& sheet, const std::vector<int>& row,
                                  const std::vector<int>& col, double sigma) {
  const int64_t V = maps.rows(), K = maps.cols();
  ML_CHECK(static_cast<int64_t>(sheet.size()) == V && static_cast<int64_t>(row.size()) == V &&
               static_cast<int64_t>(col.size()) == V,
           "smooth_voxel_maps: coordinates for ", sheet.size(), "/", row.size(), "/", col.size(), " voxels, maps for ", V);
  ML_CHECK(sigma > 0, "smooth_voxel_maps: sigma must be > 0, got ", sigma);
  if (V == 0) return maps;
  const int S = *std::max_element(sheet.begin(), sheet.end()) + 1, R = *std::max_element(row.begin(), row.end()) + 1,
            C = *std::max_element(col.begin(), col.end()) + 1;
  ML_CHECK(*std::min_element(sheet.begin(), sheet.end()) >= 0 && *std::min_element(row.begin(), row.end()) >= 0 &&
               *std::min_element(col.begin(), col.end()) >= 0,
           "smooth_voxel_maps: negative voxel coordinates");
  const int rad = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> g(static_cast<size_t>(2 * rad + 1));
  for (int k = -rad; k <= rad; ++k) g[static_cast<size_t>(k + rad)] = std::exp(-0.5 * k * k / (sigma * sigma));
  // Dense grids (sheet, row, col) of the K maps and of the presence weight, K + 1 channels.
  const size_t cells = static_cast<size_t>(S) * R * C;
  std::vector<double> grid(cells * static_cast<size_t>(K + 1), 0.0), tmp(grid.size(), 0.0);
  auto at = [&](int s, int r, int c) { return ((static_cast<size_t>(s) * R + r) * C + c) * static_cast<size_t>(K + 1); };
  for (int64_t v = 0; v < V; ++v) {
    const size_t b = at(sheet[static_cast<size_t>(v)], row[static_cast<size_t>(v)], col[static_cast<size_t>(v)]);
    ML_CHECK(grid[b + static_cast<size_t>(K)] == 0, "smooth_voxel_maps: two voxels at sheet ", sheet[static_cast<size_t>(v)],
             " row ", row[static_cast<size_t>(v)], " col ", col[static_cast<size_t>(v)]);
    for (int64_t k = 0; k < K; ++k) grid[b + static_cast<size_t>(k)] = maps(v, k);
    grid[b + static_cast<size_t>(K)] = 1.0;
  }
  // Rows, then columns, never across sheets.
  for (int s = 0; s < S; ++s)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c)
        for (int d = -rad; d <= rad; ++d) {
          if (r + d < 0 || r + d >= R) continue;
          const size_t o = at(s, r, c), i = at(s, r + d, c);
          for (int64_t k = 0; k <= K; ++k) tmp[o + static_cast<size_t>(k)] += g[static_cast<size_t>(d + rad)] * grid[i + static_cast<size_t>(k)];
        }
  std::fill(grid.begin(), grid.end(), 0.0);
  for (int s = 0; s < S; ++s)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c)
        for (int d = -rad; d <= rad; ++d) {
          if (c + d < 0 || c + d >= C) continue;
          const size_t o = at(s, r, c), i = at(s, r, c + d);
          for (int64_t k = 0; k <= K; ++k) grid[o + static_cast<size_t>(k)] += g[static_cast<size_t>(d + rad)] * tmp[i + static_cast<size_t>(k)];
        }
  Eigen::MatrixXf out(V, K);
  for (int64_t v = 0; v < V; ++v) {
    const size_t b = at(sheet[static_cast<size_t>(v)], row[static_cast<size_t>(v)], col[static_cast<size_t>(v)]);
    for (int64_t k = 0; k < K; ++k) out(v, k) = static_cast<float>(grid[b + static_cast<size_t>(k)] / grid[b + static_cast<size_t>(K)]);
  }
  return out;
}

Eigen::VectorXf smoothed_angle(const RetinotopyMap& m, const std::vector<int>& sheet, const std::vector<int>& row,
                               const std::vector<int>& col, double sigma) {
  const Eigen::MatrixXf b = smooth_voxel_maps(m.beta, sheet, row, col, sigma);
  Eigen::VectorXf a(b.rows());
  for (int64_t v = 0; v < b.rows(); ++v) a[v] = static_cast<float>(std::atan2(b(v, 1), b(v, 0)) / kDeg);
  return a;
}

Eigen::VectorXf two_sample_t(const Eigen::MatrixXf& y, const std::vector<int>& is_one) {
  const int64_t n = y.rows(), V = y.cols();
  ML_CHECK(static_cast<int64_t>(is_one.size()) == n, "two_sample_t: ", is_one.size(), " labels for ", n, " rows");
  Eigen::VectorXf t(V);
  for (int64_t v = 0; v < V; ++v) {
    double s[2] = {0, 0}, ss[2] = {0, 0}, c[2] = {0, 0};
    for (int64_t i = 0; i < n; ++i) {
      const int g = is_one[static_cast<size_t>(i)] ? 1 : 0;
      s[g] += y(i, v);
      ss[g] += static_cast<double>(y(i, v)) * y(i, v);
      c[g] += 1;
    }
    ML_CHECK(c[0] >= 2 && c[1] >= 2, "two_sample_t: each group needs 2 rows");
    const double m1 = s[1] / c[1], m0 = s[0] / c[0];
    const double sp = (ss[1] - c[1] * m1 * m1 + ss[0] - c[0] * m0 * m0) / (c[0] + c[1] - 2);
    t[v] = sp > 0 ? static_cast<float>((m1 - m0) / std::sqrt(sp * (1 / c[0] + 1 / c[1]))) : 0.f;
  }
  return t;
}

PrecisionRecall precision_recall(const Eigen::VectorXf& t, const std::vector<bool>& support, const std::vector<bool>* shown) {
  const int64_t V = t.size();
  ML_CHECK(static_cast<int64_t>(support.size()) == V, "precision_recall: ", support.size(), " support flags for ", V);
  ML_CHECK(!shown || static_cast<int64_t>(shown->size()) == V, "precision_recall: ", shown ? shown->size() : 0,
           " shown flags for ", V);
  std::vector<int64_t> order;
  for (int64_t v = 0; v < V; ++v)
    if (!shown || (*shown)[static_cast<size_t>(v)]) order.push_back(v);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return t[a] > t[b]; });
  const double n_sup = static_cast<double>(std::count(support.begin(), support.end(), true));
  PrecisionRecall pr;
  double hit = 0;
  const auto n_shown = static_cast<int64_t>(order.size());
  for (int64_t k = 0; k < n_shown; ++k) {
    hit += support[static_cast<size_t>(order[static_cast<size_t>(k)])];
    if (k + 1 < n_shown && t[order[static_cast<size_t>(k + 1)]] == t[order[static_cast<size_t>(k)]]) continue;  // ties together
    pr.tau.push_back(t[order[static_cast<size_t>(k)]]);
    pr.precision.push_back(hit / static_cast<double>(k + 1));
    pr.recall.push_back(n_sup > 0 ? hit / n_sup : 0);
  }
  pr.precision_r50 = -1;
  for (size_t i = 0; i < pr.tau.size(); ++i)
    if (pr.recall[i] >= 0.5 && pr.precision[i] > pr.precision_r50) pr.precision_r50 = pr.precision[i], pr.t_r50 = pr.tau[i];
  return pr;
}

std::vector<double> PrecisionRecall::precision_at(const std::vector<double>& levels) const {
  std::vector<double> out;
  for (double lv : levels) {
    double best = 0;
    for (size_t i = 0; i < tau.size(); ++i)
      if (recall[i] >= lv - 1e-12) best = std::max(best, precision[i]);
    out.push_back(best);
  }
  return out;
}

double angle_diff(double a, double b) { return std::remainder(a - b, 360.0); }

double circular_correlation(const std::vector<double>& a, const std::vector<double>& b) {
  ML_CHECK(a.size() == b.size() && !a.empty(), "circular_correlation: sizes ", a.size(), " and ", b.size());
  // Fisher & Lee (1983): Σ_{i,j} sin(a_i − a_j) sin(b_i − b_j) normalised, in its O(n) form
  // (S_ss C_cc − S_sc S_cs) / sqrt((Σsa² Σca² − (Σsa ca)²)(Σsb² Σcb² − (Σsb cb)²)). Unlike the
  // mean-centred coefficient it is defined for angles spread over the whole circle (a polar-angle map).
  double ss = 0, cc = 0, sc = 0, cs = 0, sa2 = 0, ca2 = 0, sca = 0, sb2 = 0, cb2 = 0, scb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double sa = std::sin(a[i] * kDeg), ca = std::cos(a[i] * kDeg), sb = std::sin(b[i] * kDeg), cb = std::cos(b[i] * kDeg);
    ss += sa * sb, cc += ca * cb, sc += sa * cb, cs += ca * sb;
    sa2 += sa * sa, ca2 += ca * ca, sca += sa * ca, sb2 += sb * sb, cb2 += cb * cb, scb += sb * cb;
  }
  const double den = (sa2 * ca2 - sca * sca) * (sb2 * cb2 - scb * scb);
  return den > 0 ? (ss * cc - sc * cs) / std::sqrt(den) : 0;
}

}  // namespace ml::analysis
