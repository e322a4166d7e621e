// experiments/analysis/fingerprint.h — a voxel's encoding "fingerprint": its held-out score for
// each network layer (eickenberg2017-encoding.md §3): negative R² clipped to 0, normalised to sum 1
// (Fig. 1), the best layer (Fig. 3), the linear-trend summary (dot product with −1 … 1, Fig. 4),
// the first principal component of significant fingerprints, and ROI-averaged profiles (Fig. 2).
#pragma once
#include <Eigen/Dense>

#include <string>
#include <vector>

namespace ml::analysis {

struct Fingerprints {
  Eigen::MatrixXf normalized;  // (V, L): clipped scores / their sum (all-zero rows stay zero)
  std::vector<int> best_layer; // (V): argmax of the scores
  Eigen::VectorXf trend;       // (V): normalized · linspace(−1, 1, L)
  Eigen::VectorXf pc1;         // (L): first principal component of the significant normalised fingerprints
  double pc1_explained = 0;    // its share of their variance
  double pc1_trend_r = 0;      // |Pearson r| of pc1 with the linear trend (−1 … 1)
};
// scores (V, L); significant (V) selects the voxels of the PCA (all when empty).
Fingerprints fingerprints(const Eigen::MatrixXf& scores, const std::vector<bool>& significant);

// Per ROI (labels 0 … n_rois−1; −1 = none): the mean clipped fingerprint of its top `top_share`
// voxels ranked by max-over-layers score, divided by its max. (n_rois, L); a ROI without voxels is 0.
Eigen::MatrixXf roi_profiles(const Eigen::MatrixXf& scores, const std::vector<int>& roi, int n_rois,
                             double top_share = 0.25);

// roi_profiles.csv: one row per ROI (named by roi_names, in prof's row order), one column per layer.
std::string roi_profiles_csv(const Eigen::MatrixXf& prof, const std::vector<std::string>& roi_names,
                             const std::vector<std::string>& layers);

}  // namespace ml::analysis
