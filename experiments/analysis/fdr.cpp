#include "experiments/analysis/fdr.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "experiments/analysis/rsa.h"

namespace ml::analysis {

namespace {
FdrResult step_up(const std::vector<double>& p, double q, double c, const char* who) {
  ML_CHECK(!p.empty(), who, ": no p-values");
  ML_CHECK(q > 0 && q < 1, who, ": q must be in (0, 1), got ", q);
  for (double v : p) ML_CHECK(v >= 0 && v <= 1, who, ": p-value ", v, " outside [0, 1]");
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  FdrResult r;
  r.adjusted.assign(m, 1.0);
  r.rejected.assign(m, false);
  double running = 1.0;
  for (size_t k = m; k-- > 0;) {  // from the largest p down: cumulative minimum
    const double adj = std::min(1.0, p[order[k]] * static_cast<double>(m) * c / static_cast<double>(k + 1));
    running = std::min(running, adj);
    r.adjusted[order[k]] = running;
  }
  for (size_t i = 0; i < m; ++i) r.rejected[i] = r.adjusted[i] <= q;
  return r;
}
}  // namespace

FdrResult benjamini_hochberg(const std::vector<double>& p, double q) { return step_up(p, q, 1.0, "benjamini_hochberg"); }

FdrResult benjamini_yekutieli(const std::vector<double>& p, double q) {
  double c = 0;
  for (size_t i = 1; i <= p.size(); ++i) c += 1.0 / static_cast<double>(i);
  return step_up(p, q, c, "benjamini_yekutieli");
}

RankSum rank_sum_test(const std::vector<double>& x, const std::vector<double>& y) {
  ML_CHECK(!x.empty() && !y.empty(), "rank_sum_test: an empty sample (", x.size(), " and ", y.size(), " values)");
  std::vector<double> all = x;
  all.insert(all.end(), y.begin(), y.end());
  for (double v : all) ML_CHECK(std::isfinite(v), "rank_sum_test: a value is NaN or infinite");
  const std::vector<double> r = average_ranks(all);
  const auto n1 = static_cast<double>(x.size()), n2 = static_cast<double>(y.size()), n = n1 + n2;
  double r1 = 0;
  for (size_t i = 0; i < x.size(); ++i) r1 += r[i];
  RankSum t;
  t.u = r1 - n1 * (n1 + 1) / 2;
  // Tie correction of the variance: sum over tie groups of (t^3 - t).
  std::vector<double> s = all;
  std::sort(s.begin(), s.end());
  double ties = 0;
  for (size_t i = 0; i < s.size();) {
    size_t j = i;
    while (j < s.size() && s[j] == s[i]) ++j;
    const auto tt = static_cast<double>(j - i);
    ties += tt * tt * tt - tt;
    i = j;
  }
  const double mu = n1 * n2 / 2;
  const double sd = std::sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))));
  if (!(sd > 0)) {
    t.z = 0;
    t.p = 1;
    return t;
  }
  const double d = t.u - mu;
  t.z = (d - std::copysign(std::min(0.5, std::abs(d)), d)) / sd;
  t.p = std::min(1.0, std::erfc(std::abs(t.z) / std::sqrt(2.0)));
  return t;
}

}  // namespace ml::analysis
