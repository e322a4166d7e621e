#include "tools/render/equalize.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace ml::render {

ForegroundStats foreground_stats(const Rendering& r) {
  ForegroundStats st;
  st.shade_min = 1.0;
  st.shade_max = 0.0;
  auto u_of = [&](size_t i) {
    const double c = r.coverage[i];
    return Eigen::Vector3d(c * r.shade[i], c, kBackground * (1.0 - c));
  };
  // Two passes (mean, then centred sums) keep the variance accurate.
  Eigen::Vector3d sum = Eigen::Vector3d::Zero();
  for (size_t i = 0; i < r.coverage.size(); ++i) {
    if (r.coverage[i] < kForegroundCoverage) continue;
    st.shade_min = std::min<double>(st.shade_min, r.shade[i]);
    st.shade_max = std::max<double>(st.shade_max, r.shade[i]);
    sum += u_of(i);
    ++st.n;
  }
  if (st.n == 0) return st;
  st.mean = sum / static_cast<double>(st.n);
  for (size_t i = 0; i < r.coverage.size(); ++i) {
    if (r.coverage[i] < kForegroundCoverage) continue;
    const Eigen::Vector3d d = u_of(i) - st.mean;
    st.cov += d * d.transpose();
  }
  st.cov /= static_cast<double>(st.n);
  const Eigen::Vector3d g(1.0, 0.0, 1.0);  // the gray value is u's first plus third component
  st.gray_mean = g.dot(st.mean);
  st.gray_std = std::sqrt(std::max(0.0, g.dot(st.cov * g)));
  return st;
}

EqualizationTargets equalization_targets(const std::vector<ForegroundStats>& stats) {
  EqualizationTargets t;
  int64_t used = 0;
  for (const auto& st : stats) {
    if (st.n == 0) continue;  // no foreground: left out (and left as rendered, see solve_gain)
    t.mean += st.gray_mean;
    t.std += st.gray_std;
    ++used;
  }
  ML_CHECK(used > 0, "equalize: none of the ", stats.size(), " images has a foreground pixel (coverage >= ",
           kForegroundCoverage, ")");
  t.mean /= static_cast<double>(used);
  t.std /= static_cast<double>(used);
  return t;
}

namespace {

// The closed form for the unclipped map (see the header). gray - m = alpha * P + Q after
// eliminating beta with the mean equation; P, Q are linear in u = (c*shade, c, bg*(1-c)).
// Returns false when no alpha > 0 gives the std (e.g. the silhouette alone has more variance).
bool closed_form(const ForegroundStats& st, const EqualizationTargets& t, Gain& g) {
  const double A = st.mean[0], W = st.mean[1], Z = st.mean[2];
  const Eigen::Vector3d p(1.0, -A / W, 0.0), q(0.0, (t.mean - Z) / W, 1.0);
  const double PP = p.dot(st.cov * p), PQ = p.dot(st.cov * q), QQ = q.dot(st.cov * q);
  const double disc = PQ * PQ - PP * (QQ - t.std * t.std);
  if (!(PP > 1e-18 && disc >= 0.0 && -PQ + std::sqrt(disc) > 0.0)) return false;
  g.alpha = (-PQ + std::sqrt(disc)) / PP;
  g.beta = (t.mean - Z - g.alpha * A) / W;
  return true;
}

// The clamped map solved on the image's foreground pixels by nested bisection. The pixels are
// sorted by shade once; for given (alpha, beta) the clamped ones are a prefix (shade' < 0) and
// a suffix (shade' > 1) of that order, and the F-mean and F-variance of the gray value
// g = c * v + (1 - c) * bg are sums over the three runs, read from prefix sums in O(log n).
class ClampedSolver {
 public:
  ClampedSolver(const Rendering& r, const EqualizationTargets& t) : t_(t) {
    std::vector<std::pair<double, double>> px;  // (shade, coverage) of the F pixels
    for (size_t i = 0; i < r.coverage.size(); ++i)
      if (r.coverage[i] >= kForegroundCoverage) px.emplace_back(r.shade[i], r.coverage[i]);
    std::sort(px.begin(), px.end());
    n_ = static_cast<double>(px.size());
    for (auto& col : sums_) col.assign(px.size() + 1, 0.0);
    for (size_t i = 0; i < px.size(); ++i) {
      const auto [s, c] = px[i];
      const double d = c * (1.0 - c);
      const double terms[kColumns] = {c, c * s, c * c, c * c * s, c * c * s * s, d, d * s};
      for (int k = 0; k < kColumns; ++k) sums_[k][i + 1] = sums_[k][i] + terms[k];
      background_sq_ += (1.0 - c) * (1.0 - c);
      shade_.push_back(s);
    }
  }

  // Returns false if the targets cannot be reached; g then holds the closest tried.
  bool solve(Gain& g) const {
    double a_lo = 0.0, a_hi = std::max(1.0, g.alpha), b = 0.0;
    if (!beta_for(a_lo, b) || std_at(a_lo, b) > t_.std) return fail(g, a_lo);
    while (!(beta_for(a_hi, b) && std_at(a_hi, b) >= t_.std)) {
      if (a_hi > 1e6) return fail(g, a_hi);
      a_hi *= 2.0;
    }
    for (int it = 0; it < 200 && a_hi - a_lo > 1e-13 * a_hi; ++it) {
      const double mid = 0.5 * (a_lo + a_hi);
      if (beta_for(mid, b) && std_at(mid, b) < t_.std) a_lo = mid; else a_hi = mid;
    }
    g.alpha = a_hi;
    beta_for(g.alpha, g.beta);
    return true;
  }

 private:
  enum { kC, kCS, kC2, kC2S, kC2S2, kD, kDS, kColumns };  // c, c s, c^2, c^2 s, c^2 s^2, d = c(1-c), d s

  double run(int k, size_t lo, size_t hi) const { return sums_[k][hi] - sums_[k][lo]; }

  // Sum of g and of g^2 over F.
  std::pair<double, double> moments(double a, double b) const {
    const size_t n = shade_.size();
    size_t i0 = 0, i1 = n;  // [0, i0) clamp to 0, [i1, n) clamp to 1
    if (a > 0.0) {
      i0 = static_cast<size_t>(std::lower_bound(shade_.begin(), shade_.end(), -b / a) - shade_.begin());
      i1 = static_cast<size_t>(std::upper_bound(shade_.begin(), shade_.end(), (1.0 - b) / a) - shade_.begin());
      i1 = std::max(i1, i0);
    } else if (b < 0.0) {
      i0 = i1 = n;
    } else if (b > 1.0) {
      i0 = i1 = 0;
    }
    const double bg = kBackground;
    const double cv = run(kC, i1, n) + a * run(kCS, i0, i1) + b * run(kC, i0, i1);  // sum of c v
    const double cv2 = run(kC2, i1, n) + a * a * run(kC2S2, i0, i1) + 2 * a * b * run(kC2S, i0, i1) +
                       b * b * run(kC2, i0, i1);                                       // sum of (c v)^2
    const double dv = run(kD, i1, n) + a * run(kDS, i0, i1) + b * run(kD, i0, i1);    // sum of c (1-c) v
    const double sum = cv + bg * (n_ - sums_[kC][n]);
    return {sum, cv2 + 2 * bg * dv + bg * bg * background_sq_};
  }
  double mean_at(double a, double b) const { return moments(a, b).first / n_; }
  double std_at(double a, double b) const {
    const auto [s1, s2] = moments(a, b);
    return std::sqrt(std::max(0.0, s2 / n_ - (s1 / n_) * (s1 / n_)));
  }
  // The beta giving the target mean at alpha a: the mean rises monotonically with beta from
  // "every shade clamped to 0" to "every shade clamped to 1".
  bool beta_for(double a, double& b) const {
    double lo = -a * shade_.back() - 1.0, hi = 1.0 - a * shade_.front() + 1.0;
    if (mean_at(a, lo) > t_.mean || mean_at(a, hi) < t_.mean) return false;
    for (int it = 0; it < 200 && hi - lo > 1e-14; ++it) {
      const double mid = 0.5 * (lo + hi);
      (mean_at(a, mid) < t_.mean ? lo : hi) = mid;
    }
    b = 0.5 * (lo + hi);
    return true;
  }
  bool fail(Gain& g, double a) const {
    g.alpha = a;
    if (!beta_for(a, g.beta)) g.beta = t_.mean - a * 0.5 * (shade_.front() + shade_.back());
    return false;
  }

  EqualizationTargets t_;
  std::vector<double> shade_;  // sorted
  std::vector<double> sums_[kColumns];
  double n_ = 0.0, background_sq_ = 0.0;
};

}  // namespace

Gain solve_gain(const Rendering& r, const ForegroundStats& st, const EqualizationTargets& t) {
  Gain g;
  if (st.n == 0) {  // nothing to equalise (a thin object at a tiny size): keep it as rendered
    g.exact = false;
    return g;
  }
  const bool solved = closed_form(st, t, g);
  const double tol = 1e-12;
  const bool fits = g.alpha * st.shade_min + g.beta >= -tol && g.alpha * st.shade_max + g.beta <= 1.0 + tol;
  if (!(solved && fits)) g.exact = ClampedSolver(r, t).solve(g);
  for (size_t i = 0; i < r.shade.size(); ++i) {
    if (r.coverage[i] < kForegroundCoverage) continue;
    const double v = g.alpha * r.shade[i] + g.beta;
    g.clipped += v < -tol || v > 1.0 + tol;
  }
  return g;
}

std::vector<uint8_t> equalized_pixels(const Rendering& r, const Gain& g) {
  std::vector<uint8_t> px(r.shade.size());
  for (size_t i = 0; i < px.size(); ++i) {
    const double c = r.coverage[i];
    const double shade = std::clamp(g.alpha * r.shade[i] + g.beta, 0.0, 1.0);
    const double gray = c * shade + (1.0 - c) * kBackground;
    px[i] = static_cast<uint8_t>(std::lround(std::clamp(gray, 0.0, 1.0) * 255.0));
  }
  return px;
}

MeasuredStats measure_foreground(const std::vector<uint8_t>& pixels, const Rendering& r) {
  ML_CHECK(pixels.size() == r.coverage.size(), "measure_foreground: ", pixels.size(), " pixels for ",
           r.coverage.size(), " coverage values");
  MeasuredStats m;
  double sum = 0.0;
  for (size_t i = 0; i < pixels.size(); ++i)
    if (r.coverage[i] >= kForegroundCoverage) sum += pixels[i] / 255.0, ++m.n;
  if (m.n == 0) return m;
  m.mean = sum / static_cast<double>(m.n);
  double ss = 0.0;
  for (size_t i = 0; i < pixels.size(); ++i)
    if (r.coverage[i] >= kForegroundCoverage) ss += (pixels[i] / 255.0 - m.mean) * (pixels[i] / 255.0 - m.mean);
  m.std = std::sqrt(ss / static_cast<double>(m.n));
  return m;
}

}  // namespace ml::render
