// Face-selective and mirror-symmetric units and their shares (Figs. 5—S2...S4;
// experiments/analysis/unit_selectivity.h): the special functions against scipy 1.10.1 values,
// the ANOVA against scipy.stats.f_oneway, and each unit criterion on units built to pass or to
// fail one clause.
#include <cmath>
#include <vector>

#include "engine/generator.h"
#include "experiments/analysis/unit_selectivity.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;
using namespace ml::testing;

TEST_CASE("unit selectivity statistics: incomplete beta, F tail, t quantile and ANOVA against scipy") {
  // scipy.special.betainc / stats.f.sf / stats.t.ppf (scipy 1.10.1, printed with repr). The
  // continued fraction converges to ~1e-15; bound 1e-10 absolute (a wrong branch of the
  // symmetry or a swapped a, b moves these by > 1e-2).
  CHECK(regularized_beta(0.3, 2.5, 3.5) == doctest::Approx(0.2967529892956661).epsilon(1e-10));
  CHECK(regularized_beta(0.9, 0.5, 10) == doctest::Approx(0.9999999999815197).epsilon(1e-10));
  CHECK(regularized_beta(0.45, 30, 40) == doctest::Approx(0.6447480085585666).epsilon(1e-10));
  CHECK(f_survival(3.0, 4, 20) == doctest::Approx(0.043200998334214064).epsilon(1e-10));
  CHECK(f_survival(0.5, 2, 7) == doctest::Approx(0.6266545330387996).epsilon(1e-10));
  CHECK(t_quantile(0.975, 9) == doctest::Approx(2.2621571627409915).epsilon(1e-9));
  CHECK(t_quantile(0.975, 1) == doctest::Approx(12.706204736432095).epsilon(1e-9));
  CHECK(t_quantile(0.025, 30) == doctest::Approx(-2.042272456301238).epsilon(1e-9));
  // scipy.stats.f_oneway([1,2,3.5],[2,4,5],[6,7,9.5,8]).pvalue
  CHECK(anova_p({{1, 2, 3.5}, {2, 4, 5}, {6, 7, 9.5, 8}}) == doctest::Approx(0.0038496991393938106).epsilon(1e-10));
  CHECK(anova_p({{1, 1}, {2, 2}}) == 0.0);  // no within-group spread, different means
  CHECK(anova_p({{1, 1}, {1, 1}}) == 1.0);
  CHECK(contains(error_of([] { anova_p({{1}, {2}}); }), "degrees of freedom"));
  CHECK(contains(error_of([] { anova_p({{1, NAN}, {2, 3}}); }), "NaN"));
  CHECK(contains(error_of([] { t_quantile(1.0, 3); }), "0 < p < 1"));
}

TEST_CASE("face_units: top face mean and every face-vs-other rank-sum test significant") {
  Generator g(31);
  const int64_t per = 60, classes = 3, face = 1, U = 5;
  std::vector<int64_t> label;
  Tensor acts = Tensor::normal({per * classes, U}, 0.f, 1.f, g);
  for (int64_t i = 0; i < per * classes; ++i) {
    const int64_t c = i % classes;
    label.push_back(c);
    float* a = acts.data() + i * U;
    if (c == face) a[0] += 5.f;                // 0: face-selective
    if (c == face) a[1] += 3.f;                // 1: faces top, but class 2 almost as high:
    if (c == 2) a[1] += 2.9f;                  //    face vs class 2 is not significant
    if (c == 0) a[2] += 5.f;                   // 2: prefers class 0
    a[3] = 1.f;                                // 3: constant
    if (c == face) a[4] += 4.f;                // 4: faces top, class 0 above class 2; also passes
    if (c == 0) a[4] += 1.f;
  }
  const std::vector<bool> keep = face_units(acts, label, face);
  CHECK(keep == std::vector<bool>{true, false, false, false, true});
  CHECK(contains(error_of([&] { face_units(acts, label, 7); }), "face class 7"));
  CHECK(contains(error_of([&] { face_units(acts, std::vector<int64_t>(3, 0), face); }), "labels"));
}

TEST_CASE("mirror_units: ANOVA, two peaks, a non-frontal top view, and the strict variant's extra clauses") {
  Generator g(32);
  const int64_t ids = 20, views = 5, U = 7;
  // Tuning curves over -90, -45, 0, 45, 90; small noise (sd 0.1) per identity, so the mean over
  // 20 identities moves by ~0.02: every difference that decides a clause is >= 0.1.
  const std::vector<std::vector<float>> tuning = {
      {0, 3, 1, 3, 0},      // 0: mirror-symmetric at +-45: mirror and strict
      {0, 0.5, 1, 2, 3},    // 1: one peak (+90): not mirror
      {0, 1, 3, 1, 0},      // 2: frontal top: not mirror
      {0, 0, 0, 0, 0},      // 3: constant (noise removed below): the ANOVA fails
      {3, 0.5, 0, 2, 1},    // 4: peaks -90 and +45: mirror, but +90 is no peak: not strict
      {3, 0, 0.2, 0, 2.9},  // 5: peaks at both profiles: mirror and strict
      {3, 2.5, 0, 2.8, 2.7},  // 6: reflection r 0.97, but +90 (2.7 < 2.8) is no peak: not strict
  };
  Tensor acts = Tensor::normal({ids * views, U}, 0.f, 0.1f, g);
  for (int64_t i = 0; i < ids; ++i)
    for (int64_t v = 0; v < views; ++v)
      for (int64_t u = 0; u < U; ++u) acts.data()[(i * views + v) * U + u] += tuning[static_cast<size_t>(u)][static_cast<size_t>(v)];
  for (int64_t r = 0; r < ids * views; ++r) acts.data()[r * U + 3] = 0.5f;
  const MirrorUnits m = mirror_units(acts, ids, views);
  CHECK(m.mirror == std::vector<bool>{true, false, false, false, true, true, true});
  CHECK(m.strict == std::vector<bool>{true, false, false, false, false, true, false});
  CHECK(contains(error_of([&] { mirror_units(acts, ids, 4); }), "identities * views"));
  CHECK(contains(error_of([&] { mirror_units(acts.slice(0, 4 * ids), ids, 4); }), "odd number"));
}

TEST_CASE("unit shares: binomial and Student-t 95 % intervals by hand") {
  // 30 of 200: 0.15 +- 1.96 sqrt(0.15 * 0.85 / 200) = 0.15 +- 0.0494866...
  const ShareCi b = binomial_share(30, 200);
  CHECK(b.share == doctest::Approx(0.15));
  CHECK(b.low == doctest::Approx(0.15 - 0.049486664852185225).epsilon(1e-12));
  CHECK(b.high == doctest::Approx(0.15 + 0.049486664852185225).epsilon(1e-12));
  CHECK(binomial_share(0, 10).low == 0.0);  // clipped
  // shares 0.1, 0.2, 0.3: mean 0.2, sem 0.1 / sqrt(3), t(0.975, 2) = 4.3027: half 0.248414...
  const ShareCi t = t_share({0.1, 0.2, 0.3});
  CHECK(t.share == doctest::Approx(0.2));
  CHECK(t.high - t.share == doctest::Approx(0.24841377118).epsilon(1e-9));
  CHECK(contains(error_of([] { t_share({0.1}); }), "at least 2"));
}

TEST_CASE("unit shares: Student-t bounds clipped to 0 and 1 only when asked") {
  // Same spread as above (half-width 0.248414 for 3 nets): around 0.2 the unclipped lower bound is
  // negative, as scipy's stats.t.interval in the released notebook gives; around 0.9 the upper
  // bound passes 1. Clipping moves only the bound outside [0, 1] and never the mean.
  const double half = 0.24841377118;
  const ShareCi raw = t_share({0.1, 0.2, 0.3});
  CHECK(raw.low == doctest::Approx(0.2 - half).epsilon(1e-9));
  CHECK(raw.low < 0.0);
  const ShareCi low = t_share({0.1, 0.2, 0.3}, true);
  CHECK(low.share == doctest::Approx(0.2));
  CHECK(low.low == 0.0);
  CHECK(low.high == doctest::Approx(0.2 + half).epsilon(1e-9));
  const ShareCi high = t_share({0.8, 0.9, 1.0}, true);
  CHECK(high.share == doctest::Approx(0.9));
  CHECK(high.high == 1.0);
  CHECK(high.low == doctest::Approx(0.9 - half).epsilon(1e-9));
  CHECK(t_share({0.8, 0.9, 1.0}).high == doctest::Approx(0.9 + half).epsilon(1e-9));
  // A bound inside [0, 1] is left alone.
  const ShareCi inside = t_share({0.4, 0.5, 0.6}, true);
  CHECK(inside.low == doctest::Approx(0.5 - half).epsilon(1e-9));
  CHECK(inside.high == doctest::Approx(0.5 + half).epsilon(1e-9));
}
