#include "experiments/analysis/unit_selectivity.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "experiments/analysis/fdr.h"
#include "experiments/analysis/pearson.h"

namespace ml::analysis {

namespace {

// Numerical Recipes' continued fraction for the incomplete beta (modified Lentz).
double beta_cf(double x, double a, double b) {
  constexpr double kTiny = 1e-300, kEps = 1e-15;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) return h;
  }
  ML_CHECK(false, "regularized_beta: the continued fraction did not converge (a ", a, ", b ", b, ", x ", x, ")");
  return h;
}

}  // namespace

double regularized_beta(double x, double a, double b) {
  ML_CHECK(a > 0 && b > 0 && x >= 0 && x <= 1, "regularized_beta: needs a, b > 0 and 0 <= x <= 1, got a ", a, ", b ", b, ", x ", x);
  if (x == 0 || x == 1) return x;
  const double lbt = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return std::exp(lbt) * beta_cf(x, a, b) / a;
  return 1 - std::exp(lbt) * beta_cf(1 - x, b, a) / b;
}

double f_survival(double f, double d1, double d2) {
  ML_CHECK(d1 > 0 && d2 > 0 && f >= 0, "f_survival: needs d1, d2 > 0 and f >= 0, got ", d1, ", ", d2, ", ", f);
  return regularized_beta(d2 / (d2 + d1 * f), d2 / 2, d1 / 2);
}

double t_quantile(double p, double df) {
  ML_CHECK(p > 0 && p < 1 && df > 0, "t_quantile: needs 0 < p < 1 and df > 0, got p ", p, ", df ", df);
  // CDF(t) for t >= 0: 1 - I_{df/(df+t^2)}(df/2, 1/2) / 2; symmetric about 0.
  const auto upper = [&](double t) { return 0.5 * regularized_beta(df / (df + t * t), df / 2, 0.5); };
  const double tail = p < 0.5 ? p : 1 - p;
  double lo = 0, hi = 1;
  while (upper(hi) > tail) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (upper(mid) > tail ? lo : hi) = mid;
  }
  const double t = 0.5 * (lo + hi);
  return p < 0.5 ? -t : t;
}

double anova_p(const std::vector<std::vector<double>>& groups) {
  const auto k = static_cast<double>(groups.size());
  ML_CHECK(groups.size() >= 2, "anova_p: needs at least 2 groups, got ", groups.size());
  double n = 0, grand = 0;
  for (const auto& g : groups) {
    ML_CHECK(!g.empty(), "anova_p: an empty group");
    for (double v : g) {
      ML_CHECK(std::isfinite(v), "anova_p: a value is NaN or infinite");
      grand += v;
    }
    n += static_cast<double>(g.size());
  }
  ML_CHECK(n > k, "anova_p: ", n, " values in ", k, " groups leave no within-group degrees of freedom");
  grand /= n;
  double ssb = 0, ssw = 0;
  for (const auto& g : groups) {
    double m = 0;
    for (double v : g) m += v;
    m /= static_cast<double>(g.size());
    ssb += static_cast<double>(g.size()) * (m - grand) * (m - grand);
    for (double v : g) ssw += (v - m) * (v - m);
  }
  const double d1 = k - 1, d2 = n - k;
  // Relative to the data's scale, a sum of squares below 1e-12 of the total is rounding.
  const double scale = ssb + ssw;
  if (!(ssw > 1e-12 * scale)) return ssb > 1e-12 * scale ? 0.0 : 1.0;
  return f_survival((ssb / d1) / (ssw / d2), d1, d2);
}

std::vector<bool> face_units(const Tensor& acts, const std::vector<int64_t>& label, int64_t face, double alpha) {
  ML_CHECK(acts.dtype() == DType::F32 && acts.dim() == 2, "face_units: acts must be float32 (images, units), got ", acts.str());
  const int64_t N = acts.size(0), U = acts.size(1);
  ML_CHECK(static_cast<int64_t>(label.size()) == N, "face_units: ", label.size(), " labels for ", N, " images");
  std::vector<int64_t> classes(label.begin(), label.end());
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  ML_CHECK(std::find(classes.begin(), classes.end(), face) != classes.end(), "face_units: no image has the face class ", face);
  ML_CHECK(classes.size() >= 2, "face_units: needs at least one class besides faces");
  std::vector<bool> keep(static_cast<size_t>(U), false);
  const float* a = acts.data();
  std::vector<std::vector<double>> by_class(classes.size());
  for (int64_t u = 0; u < U; ++u) {
    for (auto& v : by_class) v.clear();
    for (int64_t i = 0; i < N; ++i) {
      const auto c = std::lower_bound(classes.begin(), classes.end(), label[static_cast<size_t>(i)]) - classes.begin();
      by_class[static_cast<size_t>(c)].push_back(a[i * U + u]);
    }
    const auto f = static_cast<size_t>(std::lower_bound(classes.begin(), classes.end(), face) - classes.begin());
    const auto mean = [](const std::vector<double>& v) {
      double s = 0;
      for (double x : v) s += x;
      return s / static_cast<double>(v.size());
    };
    const double mf = mean(by_class[f]);
    bool ok = true;
    for (size_t c = 0; c < by_class.size() && ok; ++c) {
      if (c == f) continue;
      if (!(mean(by_class[c]) < mf)) ok = false;  // faces must have the top mean (strictly)
      if (ok) {
        const RankSum t = rank_sum_test(by_class[f], by_class[c]);
        ok = t.z > 0 && t.p < alpha;
      }
    }
    keep[static_cast<size_t>(u)] = ok;
  }
  return keep;
}

MirrorUnits mirror_units(const Tensor& acts, int64_t identities, int64_t views, const MirrorCriteria& c) {
  ML_CHECK(acts.dtype() == DType::F32 && acts.dim() == 2 && acts.size(0) == identities * views,
           "mirror_units: acts must be float32 (identities * views = ", identities * views, ", units), got ", acts.str());
  ML_CHECK(views >= 3 && views % 2 == 1, "mirror_units: needs an odd number of views >= 3 (frontal in the middle), got ", views);
  ML_CHECK(identities >= 2, "mirror_units: the ANOVA needs at least 2 identities per view, got ", identities);
  const int64_t U = acts.size(1), centre = views / 2;
  const float* a = acts.data();
  MirrorUnits out;
  out.mirror.assign(static_cast<size_t>(U), false);
  out.strict.assign(static_cast<size_t>(U), false);
  std::vector<std::vector<double>> groups(static_cast<size_t>(views));
  std::vector<double> tuning(static_cast<size_t>(views)), reversed(static_cast<size_t>(views));
  for (int64_t u = 0; u < U; ++u) {
    for (int64_t v = 0; v < views; ++v) {
      auto& g = groups[static_cast<size_t>(v)];
      g.clear();
      double s = 0;
      for (int64_t i = 0; i < identities; ++i) g.push_back(a[(i * views + v) * U + u]), s += g.back();
      tuning[static_cast<size_t>(v)] = s / static_cast<double>(identities);
    }
    const double p = anova_p(groups);
    if (!(p < c.alpha_views)) continue;
    std::vector<bool> peak(static_cast<size_t>(views));
    int64_t peaks = 0, top = 0;
    for (int64_t v = 0; v < views; ++v) {
      const double t = tuning[static_cast<size_t>(v)];
      peak[static_cast<size_t>(v)] = (v == 0 || t > tuning[static_cast<size_t>(v - 1)]) &&
                                     (v == views - 1 || t > tuning[static_cast<size_t>(v + 1)]);
      peaks += peak[static_cast<size_t>(v)];
      if (t > tuning[static_cast<size_t>(top)]) top = v;
    }
    if (peaks < 2 || top == centre) continue;
    out.mirror[static_cast<size_t>(u)] = true;
    for (int64_t v = 0; v < views; ++v) reversed[static_cast<size_t>(v)] = tuning[static_cast<size_t>(views - 1 - v)];
    const double r = pearson(tuning.data(), reversed.data(), views);
    out.strict[static_cast<size_t>(u)] = peak[static_cast<size_t>(views - 1 - top)] && r >= c.min_reflection_r;
  }
  return out;
}

ShareCi binomial_share(int64_t count, int64_t n) {
  ML_CHECK(n > 0 && count >= 0 && count <= n, "binomial_share: ", count, " of ", n, " units");
  const double p = static_cast<double>(count) / static_cast<double>(n);
  const double half = 1.959963984540054 * std::sqrt(p * (1 - p) / static_cast<double>(n));
  return {p, std::max(0.0, p - half), std::min(1.0, p + half)};
}

ShareCi t_share(const std::vector<double>& shares, bool clip) {
  ML_CHECK(shares.size() >= 2, "t_share: needs at least 2 nets, got ", shares.size());
  const auto n = static_cast<double>(shares.size());
  double m = 0, ss = 0;
  for (double s : shares) m += s;
  m /= n;
  for (double s : shares) ss += (s - m) * (s - m);
  const double half = t_quantile(0.975, n - 1) * std::sqrt(ss / (n - 1) / n);
  if (clip) return {m, std::max(0.0, m - half), std::min(1.0, m + half)};
  return {m, m - half, m + half};
}

}  // namespace ml::analysis
