// experiments/analysis/encoding_experiments.h — classic experiments synthesised through fitted
// encoding models (eickenberg2017-encoding.md §4): the retinotopy GLM on wedge stimuli (cos θ,
// sin θ and a constant; angle = atan2(β_sin, β_cos), F of the pair), two-sample t contrasts, and
// precision/recall of a synthetic t-map against a measured map's support.
#pragma once
#include <Eigen/Dense>

#include <vector>

namespace ml::analysis {

struct RetinotopyMap {
  Eigen::VectorXf angle;  // (V) degrees, atan2(β_sin, β_cos)
  Eigen::VectorXf F;      // (V) F statistic of (β_cos, β_sin) against the constant-only model
  Eigen::MatrixXf beta;   // (V, 2): β_cos, β_sin
};
// responses (n_stimuli, V); wedge_angle (n_stimuli) degrees.
RetinotopyMap retinotopy_glm(const Eigen::MatrixXf& responses, const std::vector<double>& wedge_angle);

// Voxel-grid smoothing (§3 Fig. 3, §4 retinotopy: Gaussian σ = 1 voxel): voxel v sits at
// (sheet[v], row[v], col[v]) of a stack of 2-D sheets (hemispheres); each column of `maps` (V, k)
// is smoothed within its sheet by a separable Gaussian truncated at 3σ, normalised by the weights
// that fall on voxels present (so borders and missing voxels do not pull values towards 0).
Eigen::MatrixXf smooth_voxel_maps(const Eigen::MatrixXf& maps, const std::vector<int>& sheet, const std::vector<int>& row,
                                  const std::vector<int>& col, double sigma = 1.0);
// The polar angle after smoothing the β maps (§4: smooth the β maps, then atan2), degrees.
Eigen::VectorXf smoothed_angle(const RetinotopyMap& m, const std::vector<int>& sheet, const std::vector<int>& row,
                               const std::vector<int>& col, double sigma = 1.0);

// Pooled two-sample t of group 1 minus group 0 per column; is_one (n).
Eigen::VectorXf two_sample_t(const Eigen::MatrixXf& y, const std::vector<int>& is_one);

struct PrecisionRecall {
  std::vector<double> tau, precision, recall;  // one entry per threshold, descending τ
  double t_r50 = 0, precision_r50 = 0;         // best precision at recall >= 50 % and its τ
  // Best precision at recall >= level for levels 0.1, 0.2, … 1.0.
  std::vector<double> precision_at(const std::vector<double>& levels) const;
};
// shown (optional, one flag per voxel): the voxels the synthetic map shows; the others are never
// above a threshold, but support voxels among them still count in recall's denominator.
PrecisionRecall precision_recall(const Eigen::VectorXf& t_synth, const std::vector<bool>& support,
                                 const std::vector<bool>* shown = nullptr);

// Signed difference a − b on the circle, degrees in (−180, 180].
double angle_diff(double a, double b);
// Circular correlation (Fisher & Lee 1983) of two angle sets in degrees: 1 for b = a + const.
double circular_correlation(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace ml::analysis
