// experiments/analysis/shapley.h — the Shapley split of a layer's alignment with a neural RDM
// into a reflection-invariant and a reflection-sensitive part (Farzmahdi et al. 2024, Fig. 6;
// ../shared/science/farzmahdi2024-more.md §4).
//
// With a layer's activations a(x) and a(Fx) (F: horizontal flip of the image):
//   I(x) = a(x) + a(Fx)   (invariant under F),   S(x) = a(x) - a(Fx)   (odd under F),
// so I + S = 2a has the RDM of a. The value of a coalition T is v(T) = r(neural RDM, RDM of
// the parts in T summed), v({}) = 0, and v(T) = 0 also when that RDM is (near-)constant
// within the sample (the comparison is undefined: e.g. S = 0 for a perfectly invariant layer):
//   phi_I = 1/2 [v(I) + v(I,S) - v(S)],   phi_S = 1/2 [v(S) + v(I,S) - v(I)],
//   phi_I + phi_S = v(I,S) = the layer's alignment r (default form).
// Summing: `Features` (default, the paper's wording) sums the parts in feature space, so
// v(I,S) is the RDM of a; `Rdms` (option shapley_rdm_sum, the released function's literal
// form) uses RDM(I) + RDM(S) for the pair, and then phi_I + phi_S need not equal r.
//
// Units (our choice): z-scored over the stimuli with the statistics of a(x), the same shift
// and scale applied to a(Fx), so the pair's RDM is exactly the layer's z-scored RDM; units
// constant over a(x) are dropped (SCIENCE.md).
#pragma once
#include <cstdint>
#include <string>

#include "experiments/analysis/rsa.h"

namespace ml::analysis {

enum class ShapleySum { Features, Rdms };
ShapleySum parse_shapley_sum(const std::string& s);  // "features" | "shapley_rdm_sum"
const char* name_of(ShapleySum s);

struct ShapleyRdms {
  Eigen::MatrixXd full;       // RDM of z-scored a  (= RDM of I + S)
  Eigen::MatrixXd invariant;  // RDM of I
  Eigen::MatrixXd sensitive;  // RDM of S
  int64_t units = 0;          // informative units used
  // A part whose size is rounding noise next to the other's (||S||_F < 1e-6 ||I||_F: an exactly
  // flip-invariant layer, or the reverse): its RDM carries no signal, so its v counts as 0.
  bool invariant_null = false, sensitive_null = false;
  // The RDM whose comparison is v(I, S).
  Eigen::MatrixXd pair(ShapleySum how) const { return how == ShapleySum::Features ? full : Eigen::MatrixXd(invariant + sensitive); }
};

// a, af: (n, U) row-major float activations of the n stimuli and of their flips.
// weights (optional, n values >= 0): the units' mean and SD are taken with these stimulus
// weights -- a bootstrap sample's draw counts, so the units are re-z-scored inside the sample
// (AlignmentOptions::rezscore_bootstrap); units constant over the weighted stimuli are dropped.
// The RDMs still cover all n stimuli (a sample indexes them). nullptr: every weight 1.
ShapleyRdms shapley_rdms(const float* a, const float* af, int64_t n, int64_t U, RdmDistance d, const std::string& what,
                         const double* weights = nullptr);

struct ShapleyValues {
  double v_i = 0, v_s = 0, v_is = 0;
  double phi_i = 0, phi_s = 0;
};
// NaN coalition values (a constant RDM) count as 0.
ShapleyValues shapley_values(double v_i, double v_s, double v_is);

}  // namespace ml::analysis
