#include "experiments/analysis/rsa.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/error.h"
#include "engine/generator.h"

namespace ml::analysis {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Pearson r of two vectors (double accumulation, two passes); NaN when either is constant.
double pearson_vec(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

// Inversions (i < j, y[i] > y[j]) of y by merge sort; y is sorted on return.
int64_t count_inversions(std::vector<double>& y, std::vector<double>& buf, size_t lo, size_t hi) {
  if (hi - lo < 2) return 0;
  const size_t mid = lo + (hi - lo) / 2;
  int64_t inv = count_inversions(y, buf, lo, mid) + count_inversions(y, buf, mid, hi);
  size_t i = lo, j = mid, k = lo;
  while (i < mid && j < hi) {
    if (y[j] < y[i]) {  // strict: a tie in y is no inversion
      inv += static_cast<int64_t>(mid - i);
      buf[k++] = y[j++];
    } else {
      buf[k++] = y[i++];
    }
  }
  while (i < mid) buf[k++] = y[i++];
  while (j < hi) buf[k++] = y[j++];
  std::copy(buf.begin() + static_cast<std::ptrdiff_t>(lo), buf.begin() + static_cast<std::ptrdiff_t>(hi),
            y.begin() + static_cast<std::ptrdiff_t>(lo));
  return inv;
}

// Pairs tied within runs of equal values of a sorted vector.
int64_t tied_pairs(const std::vector<double>& sorted) {
  int64_t ties = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const auto t = static_cast<int64_t>(j - i);
    ties += t * (t - 1) / 2;
    i = j;
  }
  return ties;
}

}  // namespace

RdmDistance parse_rdm_distance(const std::string& s) {
  if (s == "correlation") return RdmDistance::Correlation;
  if (s == "euclidean") return RdmDistance::Euclidean;
  if (s == "sq_euclidean_per_unit") return RdmDistance::SqEuclideanPerUnit;
  throw Error("rdm distance must be correlation | euclidean | sq_euclidean_per_unit, got '" + s + "'");
}

RdmComparison parse_rdm_comparison(const std::string& s) {
  if (s == "pearson") return RdmComparison::Pearson;
  if (s == "spearman") return RdmComparison::Spearman;
  if (s == "kendall_tau_a") return RdmComparison::KendallTauA;
  throw Error("rdm comparison must be pearson | spearman | kendall_tau_a, got '" + s + "'");
}

const char* name_of(RdmDistance d) {
  switch (d) {
    case RdmDistance::Correlation: return "correlation";
    case RdmDistance::Euclidean: return "euclidean";
    case RdmDistance::SqEuclideanPerUnit: return "sq_euclidean_per_unit";
  }
  return "?";
}

const char* name_of(RdmComparison c) {
  switch (c) {
    case RdmComparison::Pearson: return "pearson";
    case RdmComparison::Spearman: return "spearman";
    case RdmComparison::KendallTauA: return "kendall_tau_a";
  }
  return "?";
}

GramAccumulator::GramAccumulator(int64_t n) : gram_(Eigen::MatrixXd::Zero(n, n)), sum_(Eigen::VectorXd::Zero(n)) {}

void GramAccumulator::add(const Eigen::Ref<const RowMatrixXd>& block) {
  ML_CHECK(block.rows() == gram_.rows(), "GramAccumulator: a block of ", block.rows(), " stimuli, expected ", gram_.rows());
  gram_.selfadjointView<Eigen::Lower>().rankUpdate(block);  // one SYRK-like GEMM: G += B B^T
  sum_ += block.rowwise().sum();
  units_ += block.cols();
}

Eigen::MatrixXd GramAccumulator::rdm(RdmDistance d) const {
  ML_CHECK(units_ > 0, "GramAccumulator: an RDM of patterns with no units");
  const Eigen::MatrixXd g = gram_.selfadjointView<Eigen::Lower>();
  const int64_t n = g.rows();
  const auto U = static_cast<double>(units_);
  Eigen::MatrixXd D(n, n);
  if (d == RdmDistance::Correlation) {
    // cov_ij = G_ij / U - m_i m_j over the units; r_ij = cov_ij / sqrt(cov_ii cov_jj).
    const Eigen::VectorXd m = sum_ / U;
    Eigen::MatrixXd cov = g / U - m * m.transpose();
    Eigen::VectorXd inv(n);
    // Relative threshold: a pattern whose variance is rounding noise of its squared mean counts as constant.
    for (int64_t i = 0; i < n; ++i) {
      const double scale = g(i, i) / U;
      inv(i) = cov(i, i) > 1e-12 * std::max(scale, 1e-300) ? 1.0 / std::sqrt(cov(i, i)) : 0.0;
    }
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i) D(i, j) = i == j ? 0.0 : 1.0 - std::clamp(cov(i, j) * inv(i) * inv(j), -1.0, 1.0);
  } else {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i) {
        const double sq = std::max(0.0, g(i, i) + g(j, j) - 2 * g(i, j));
        D(i, j) = i == j ? 0.0 : d == RdmDistance::Euclidean ? std::sqrt(sq) : sq / U;
      }
  }
  return D;
}

Eigen::MatrixXd compute_rdm(const Eigen::Ref<const RowMatrixXd>& patterns, RdmDistance d) {
  GramAccumulator acc(patterns.rows());
  acc.add(patterns);
  return acc.rdm(d);
}

RowMatrixXd zscore_columns(const Eigen::Ref<const RowMatrixXd>& x, const std::string& what) {
  ML_CHECK(x.rows() >= 2, what, ": z-scoring needs at least 2 stimuli, got ", x.rows());
  RowMatrixXd z(x.rows(), x.cols());
  const auto n = static_cast<double>(x.rows());
  for (int64_t u = 0; u < x.cols(); ++u) {
    const double m = x.col(u).sum() / n;
    const double var = (x.col(u).array() - m).square().sum() / n;
    ML_CHECK(x.col(u).minCoeff() < x.col(u).maxCoeff() && var > 0, what, ": unit ", u,
             " is constant over the stimuli and cannot be z-scored");
    z.col(u) = (x.col(u).array() - m) / std::sqrt(var);
  }
  return z;
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
    const double avg = 0.5 * static_cast<double>(i + j - 1) + 1.0;  // ranks i+1 .. j averaged
    for (size_t k = i; k < j; ++k) r[order[k]] = avg;
    i = j;
  }
  return r;
}

double kendall_tau_a(const std::vector<double>& x, const std::vector<double>& y) {
  ML_CHECK(x.size() == y.size(), "kendall_tau_a: vectors of ", x.size(), " and ", y.size(), " values");
  const size_t n = x.size();
  if (n < 2) return kNaN;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]); });
  std::vector<double> xs(n), ys(n);
  for (size_t i = 0; i < n; ++i) {
    xs[i] = x[order[i]];
    ys[i] = y[order[i]];
  }
  const int64_t xtie = tied_pairs(xs);
  int64_t ntie = 0;  // pairs tied in both x and y: runs of equal (x, y) in the sorted order
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && xs[j] == xs[i] && ys[j] == ys[i]) ++j;
    const auto t = static_cast<int64_t>(j - i);
    ntie += t * (t - 1) / 2;
    i = j;
  }
  std::vector<double> buf(n);
  const int64_t dis = count_inversions(ys, buf, 0, n);  // ys is sorted afterwards
  const int64_t ytie = tied_pairs(ys);
  const auto tot = static_cast<int64_t>(n) * static_cast<int64_t>(n - 1) / 2;
  // Every pair is tied in x only, in y only, in both, concordant or discordant.
  const int64_t con_minus_dis = tot - xtie - ytie + ntie - 2 * dis;
  if (xtie == tot || ytie == tot) return kNaN;  // a constant side
  return static_cast<double>(con_minus_dis) / static_cast<double>(tot);
}

double compare_vectors(const std::vector<double>& x, const std::vector<double>& y, RdmComparison c) {
  ML_CHECK(x.size() == y.size(), "compare_vectors: vectors of ", x.size(), " and ", y.size(), " values");
  switch (c) {
    case RdmComparison::Pearson: return pearson_vec(x, y);
    case RdmComparison::Spearman: return pearson_vec(average_ranks(x), average_ranks(y));
    case RdmComparison::KendallTauA: return kendall_tau_a(x, y);
  }
  return kNaN;
}

std::vector<double> upper_triangle(const Eigen::MatrixXd& m) {
  std::vector<double> v;
  v.reserve(static_cast<size_t>(m.rows() * (m.rows() - 1) / 2));
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = i + 1; j < m.cols(); ++j) v.push_back(m(i, j));
  return v;
}

double compare_rdms(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, RdmComparison c) {
  ML_CHECK(a.rows() == a.cols() && a.rows() == b.rows() && b.rows() == b.cols(), "compare_rdms: RDMs of ", a.rows(), "x",
           a.cols(), " and ", b.rows(), "x", b.cols());
  return compare_vectors(upper_triangle(a), upper_triangle(b), c);
}

std::vector<std::vector<int32_t>> bootstrap_samples(int64_t n, int64_t samples, uint64_t seed) {
  ML_CHECK(samples >= 1, "bootstrap: the number of samples must be >= 1, got ", samples);
  ML_CHECK(n >= 3, "bootstrap: needs at least 3 stimuli, got ", n);
  Generator g(seed);
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(samples), std::vector<int32_t>(static_cast<size_t>(n)));
  for (auto& s : out)
    for (auto& v : s) v = static_cast<int32_t>(g.next_below(n));
  return out;
}

std::vector<std::vector<std::vector<double>>> bootstrap_comparisons(const std::vector<Eigen::MatrixXd>& model,
                                                                    const std::vector<Eigen::MatrixXd>& neural,
                                                                    const std::vector<std::vector<int32_t>>& samples,
                                                                    RdmComparison c) {
  const auto S = static_cast<int64_t>(samples.size()), M = static_cast<int64_t>(model.size()),
             K = static_cast<int64_t>(neural.size());
  ML_CHECK(S >= 1, "bootstrap: the number of samples must be >= 1, got 0");
  ML_CHECK(M >= 1 && K >= 1, "bootstrap: no RDMs to compare");
  const int64_t n = neural[0].rows();
  for (const auto* set : {&model, &neural})
    for (const auto& d : *set) ML_CHECK(d.rows() == n && d.cols() == n, "bootstrap: RDMs of ", d.rows(), "x", d.cols(), " and ", n, "x", n);
  for (const auto& s : samples) {
    ML_CHECK(static_cast<int64_t>(s.size()) == n, "bootstrap: a sample of ", s.size(), " stimuli for RDMs of ", n);
    for (int32_t v : s) ML_CHECK(v >= 0 && v < n, "bootstrap: stimulus index ", v, " outside 0..", n - 1);
  }
  std::vector<std::vector<std::vector<double>>> out(
      static_cast<size_t>(S), std::vector<std::vector<double>>(static_cast<size_t>(M), std::vector<double>(static_cast<size_t>(K))));

  if (c == RdmComparison::Pearson) {
    // Weighted moments: the cells of sample s are the pairs {i, j}, i != j, each c_i c_j times,
    // so sum over cells of f(i, j) = 1/2 c^T F c with F's diagonal zeroed. Each RDM is shifted
    // by its off-diagonal mean first (r is shift-invariant; the moments then do not cancel).
    auto centred = [n](const Eigen::MatrixXd& d) {
      Eigen::MatrixXd x = d;
      const double mean = (d.sum() - d.diagonal().sum()) / static_cast<double>(n * (n - 1));
      x.array() -= mean;
      x.diagonal().setZero();
      return x;
    };
    std::vector<Eigen::MatrixXd> X, Y;
    for (const auto& d : model) X.push_back(centred(d));
    for (const auto& d : neural) Y.push_back(centred(d));
    const int threads = omp_get_max_threads();
    const int64_t chunk = (S + threads - 1) / threads;
#pragma omp parallel for schedule(static, 1)
    for (int64_t s0 = 0; s0 < S; s0 += chunk) {
      const int64_t s1 = std::min(S, s0 + chunk), B = s1 - s0;
      Eigen::MatrixXd C = Eigen::MatrixXd::Zero(B, n);  // (samples, stimuli) draw counts
      for (int64_t s = s0; s < s1; ++s)
        for (int32_t v : samples[static_cast<size_t>(s)]) C(s - s0, v) += 1.0;
      // 1/2 c^T F c for every sample of the block: one GEMM (C F), then a row-wise dot with C.
      auto quad = [&](const Eigen::MatrixXd& F) -> Eigen::VectorXd { return 0.5 * ((C * F).cwiseProduct(C)).rowwise().sum(); };
      const Eigen::VectorXd W = 0.5 * (Eigen::VectorXd::Constant(B, static_cast<double>(n * n)) - C.rowwise().squaredNorm());
      std::vector<Eigen::VectorXd> sy, syy, sx, sxx;
      for (const auto& y : Y) {
        sy.push_back(quad(y));
        syy.push_back(quad(y.cwiseProduct(y)));
      }
      for (const auto& x : X) {
        sx.push_back(quad(x));
        sxx.push_back(quad(x.cwiseProduct(x)));
      }
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) {
          const Eigen::VectorXd sxy = quad(X[static_cast<size_t>(m)].cwiseProduct(Y[static_cast<size_t>(k)]));
          for (int64_t b = 0; b < B; ++b) {
            const double w = W(b);
            const double mx = sx[static_cast<size_t>(m)](b) / w, my = sy[static_cast<size_t>(k)](b) / w;
            const double vx = sxx[static_cast<size_t>(m)](b) / w - mx * mx, vy = syy[static_cast<size_t>(k)](b) / w - my * my;
            const double cxy = sxy(b) / w - mx * my;
            // Variance at rounding level (a constant side within the sample): NaN, as pearson_vec.
            const double tx = 1e-12 * sxx[static_cast<size_t>(m)](b) / w, ty = 1e-12 * syy[static_cast<size_t>(k)](b) / w;
            out[static_cast<size_t>(s0 + b)][static_cast<size_t>(m)][static_cast<size_t>(k)] =
                (vx > tx && vy > ty && vx > 0 && vy > 0) ? std::clamp(cxy / std::sqrt(vx * vy), -1.0, 1.0) : kNaN;
          }
        }
    }
    return out;
  }

  // Spearman, tau_A: gather each sample's cells explicitly.
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t s = 0; s < S; ++s) {
    const auto& idx = samples[static_cast<size_t>(s)];
    std::vector<std::pair<int32_t, int32_t>> cells;
    cells.reserve(static_cast<size_t>(n * (n - 1) / 2));
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = a + 1; b < n; ++b)
        if (idx[static_cast<size_t>(a)] != idx[static_cast<size_t>(b)])
          cells.emplace_back(idx[static_cast<size_t>(a)], idx[static_cast<size_t>(b)]);
    auto gather = [&](const Eigen::MatrixXd& d) {
      std::vector<double> v(cells.size());
      for (size_t i = 0; i < cells.size(); ++i) v[i] = d(cells[i].first, cells[i].second);
      return v;
    };
    std::vector<std::vector<double>> ys;
    for (const auto& d : neural) ys.push_back(c == RdmComparison::Spearman ? average_ranks(gather(d)) : gather(d));
    for (int64_t m = 0; m < M; ++m) {
      std::vector<double> x = gather(model[static_cast<size_t>(m)]);
      if (c == RdmComparison::Spearman) x = average_ranks(x);
      for (int64_t k = 0; k < K; ++k)
        out[static_cast<size_t>(s)][static_cast<size_t>(m)][static_cast<size_t>(k)] =
            c == RdmComparison::Spearman ? pearson_vec(x, ys[static_cast<size_t>(k)]) : kendall_tau_a(x, ys[static_cast<size_t>(k)]);
    }
  }
  return out;
}

double percentile(std::vector<double> v, double q) {
  ML_CHECK(!v.empty(), "percentile of no values");
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

BootstrapSummary summarize_bootstrap(double estimate, const std::vector<double>& samples, double level) {
  BootstrapSummary s;
  s.estimate = estimate;
  std::vector<double> ok;
  for (double v : samples)
    if (std::isfinite(v)) ok.push_back(v);
  s.samples = static_cast<int64_t>(ok.size());
  s.unusable = static_cast<int64_t>(samples.size() - ok.size());
  ML_CHECK(ok.size() >= 2, "bootstrap: only ", ok.size(), " of ", samples.size(),
           " samples gave a defined comparison (a constant RDM within the samples)");
  s.mean = std::accumulate(ok.begin(), ok.end(), 0.0) / static_cast<double>(ok.size());
  double ss = 0;
  for (double v : ok) ss += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(ss / static_cast<double>(ok.size() - 1));
  s.lo = percentile(ok, 50.0 * (1 - level));
  s.hi = percentile(ok, 100.0 - 50.0 * (1 - level));
  return s;
}

NoiseCeiling split_half_ceiling(const Eigen::Ref<const RowMatrixXd>& responses, RdmDistance d, RdmComparison c,
                                int64_t splits, uint64_t seed, bool zscore) {
  const int64_t n = responses.rows(), N = responses.cols();
  ML_CHECK(splits >= 1, "noise ceiling: the number of splits must be >= 1, got ", splits);
  ML_CHECK(N >= 2, "noise ceiling: split-half needs at least 2 neurons, got ", N);
  const RowMatrixXd r = zscore ? zscore_columns(responses, "noise ceiling") : RowMatrixXd(responses);
  Generator g(seed);
  std::vector<double> corrected, raw;
  for (int64_t s = 0; s < splits; ++s) {
    const std::vector<int64_t> p = g.permutation(N);
    const int64_t h = N / 2;
    RowMatrixXd a(n, h), b(n, N - h);
    for (int64_t k = 0; k < h; ++k) a.col(k) = r.col(p[static_cast<size_t>(k)]);
    for (int64_t k = h; k < N; ++k) b.col(k - h) = r.col(p[static_cast<size_t>(k)]);
    const double rr = compare_rdms(compute_rdm(a, d), compute_rdm(b, d), c);
    ML_CHECK(std::isfinite(rr), "noise ceiling: split ", s, " gave a constant half-RDM (too few or identical neurons)");
    raw.push_back(rr);
    corrected.push_back(2 * rr / (1 + rr));
  }
  NoiseCeiling nc;
  nc.splits = splits;
  nc.raw_r = std::accumulate(raw.begin(), raw.end(), 0.0) / static_cast<double>(splits);
  nc.lower = std::accumulate(corrected.begin(), corrected.end(), 0.0) / static_cast<double>(splits);
  if (splits > 1) {
    double ss = 0;
    for (double v : corrected) ss += (v - nc.lower) * (v - nc.lower);
    nc.sd = std::sqrt(ss / static_cast<double>(splits - 1));
  }
  return nc;
}

}  // namespace ml::analysis
