#include "experiments/analysis/shapley.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace ml::analysis {

ShapleySum parse_shapley_sum(const std::string& s) {
  if (s == "features") return ShapleySum::Features;
  if (s == "shapley_rdm_sum" || s == "rdm_sum") return ShapleySum::Rdms;
  throw Error("shapley sum must be features | shapley_rdm_sum, got '" + s + "'");
}

const char* name_of(ShapleySum s) { return s == ShapleySum::Features ? "features" : "shapley_rdm_sum"; }

ShapleyRdms shapley_rdms(const float* a, const float* af, int64_t n, int64_t U, RdmDistance d, const std::string& what,
                         const double* weights) {
  ML_CHECK(n >= 3 && U >= 1, what, ": Shapley RDMs need >= 3 stimuli and >= 1 unit, got ", n, " x ", U);
  // Stimulus weights (1 each, or a bootstrap sample's draw counts) and their total.
  std::vector<double> w(static_cast<size_t>(n), 1.0);
  if (weights) std::copy(weights, weights + n, w.begin());
  double total = 0;
  for (double x : w) {
    ML_CHECK(std::isfinite(x) && x >= 0, what, ": a stimulus weight is negative or not finite");
    total += x;
  }
  ML_CHECK(total > 0, what, ": every stimulus weight is 0");
  // Per-unit statistics of a(x) in double (two passes), over the stimuli of nonzero weight.
  std::vector<double> mean(static_cast<size_t>(U), 0.0), inv_sd(static_cast<size_t>(U), 0.0);
  std::vector<int64_t> kept;
  for (int64_t u = 0; u < U; ++u) {
    double m = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      const float v = a[i * U + u];
      ML_CHECK(std::isfinite(v) && std::isfinite(af[i * U + u]), what, ": activation of stimulus ", i, " unit ", u, " is not finite");
      const double wi = w[static_cast<size_t>(i)];
      if (wi == 0) continue;
      m += wi * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    m /= total;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += w[static_cast<size_t>(i)] * (a[i * U + u] - m) * (a[i * U + u] - m);
    if (lo < hi && ss > 0) {
      kept.push_back(u);
      mean[static_cast<size_t>(u)] = m;
      inv_sd[static_cast<size_t>(u)] = 1.0 / std::sqrt(ss / total);
    }
  }
  ML_CHECK(!kept.empty(), what, ": every unit is constant over the stimuli");
  GramAccumulator g_full(n), g_inv(n), g_sens(n);
  double norm_i = 0, norm_s = 0;
  constexpr int64_t kBlock = 2048;
  const auto K = static_cast<int64_t>(kept.size());
  for (int64_t k0 = 0; k0 < K; k0 += kBlock) {
    const int64_t k1 = std::min(K, k0 + kBlock);
    RowMatrixXd za(n, k1 - k0), zf(n, k1 - k0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = k0; k < k1; ++k) {
        const int64_t u = kept[static_cast<size_t>(k)];
        za(i, k - k0) = (a[i * U + u] - mean[static_cast<size_t>(u)]) * inv_sd[static_cast<size_t>(u)];
        zf(i, k - k0) = (af[i * U + u] - mean[static_cast<size_t>(u)]) * inv_sd[static_cast<size_t>(u)];
      }
    const RowMatrixXd inv = za + zf, sens = za - zf;
    norm_i += inv.squaredNorm();
    norm_s += sens.squaredNorm();
    g_full.add(za);
    g_inv.add(inv);
    g_sens.add(sens);
  }
  ShapleyRdms r;
  r.full = g_full.rdm(d);
  r.invariant = g_inv.rdm(d);
  r.sensitive = g_sens.rdm(d);
  r.units = K;
  r.sensitive_null = std::sqrt(norm_s) < 1e-6 * std::sqrt(norm_i);
  r.invariant_null = std::sqrt(norm_i) < 1e-6 * std::sqrt(norm_s);
  return r;
}

ShapleyValues shapley_values(double v_i, double v_s, double v_is) {
  ShapleyValues s;
  s.v_i = std::isfinite(v_i) ? v_i : 0.0;
  s.v_s = std::isfinite(v_s) ? v_s : 0.0;
  s.v_is = std::isfinite(v_is) ? v_is : 0.0;
  s.phi_i = 0.5 * (s.v_i + s.v_is - s.v_s);
  s.phi_s = 0.5 * (s.v_s + s.v_is - s.v_i);
  return s;
}

}  // namespace ml::analysis
