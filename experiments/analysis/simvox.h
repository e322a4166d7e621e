// experiments/analysis/simvox.h — SimVox: simulated fMRI voxels whose answer is known
// (eickenberg2017-encoding.md §6). Stimuli are Fashion-MNIST items at random position and scale on
// 1/f or grating backgrounds in a gray circular aperture; each voxel of an area (one area per
// network layer, stripes on two hemispheres) is a linear readout of that layer's pipeline features
// (mode "exact": the blur/subsample/log1p of encoding_features.h) through a Gaussian receptive field
// on ~8 channels with non-negative weights (conv areas) or a dense weight vector (fc areas; A/B category patches on the logit
// area); 30 % null voxels; y = s + ε, Var ε = 1/SNR, SNR log-uniform 0.05–2.
#pragma once
#include <Eigen/Dense>
#include <Eigen/Sparse>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/tensor.h"

namespace ml::analysis {

struct SimVoxPreset {
  std::string name;
  int64_t n_train = 400, n_groups = 4, n_val = 60, val_repeats = 4, train_repeats = 2;
  int64_t n_cat_a = 45, n_cat_b = 48, wedge_images = 25, n_wedges = 24;
  int64_t hemi_rows = 16, hemi_cols = 32;  // two hemispheres of rows x cols voxels
  int64_t n_alphas = 8, perm_voxels = 8, n_perm = 200;
  int64_t image_size = 32;
  double null_share = 0.3, snr_lo = 0.05, snr_hi = 2.0;
  std::string model = "vgg_small";
};
// tiny (CI), standard (2-core CPU), gpu (AlexNet at 224, 100,000 voxels). Unknown name: an error.
SimVoxPreset simvox_preset(const std::string& name);

// Class sets of §6: A = {sandal 5, sneaker 7, ankle boot 9}, B = {T-shirt 0, pullover 2, shirt 6, coat 4}.
bool simvox_class_a(int label);
bool simvox_class_b(int label);

struct SimVoxStimuli {
  Tensor train, val, cat, wedge;      // (N, channels, S, S) in [0, 1]
  std::vector<int> cat_is_a;          // per cat image: 1 class A, 0 class B
  std::vector<double> wedge_angle;    // per wedge image: the wedge's centre, degrees (0 right, counter-clockwise)
  std::vector<int64_t> groups;        // per training image: its session
};
// Training, validation and wedge stimuli use only items outside A and B; cat: 45 A + 48 B.
SimVoxStimuli make_simvox_stimuli(const SimVoxPreset& p, const Dataset& items, int64_t channels, uint64_t seed);

struct VoxelTruth {
  int hemi = 0, row = 0, col = 0;
  int area = 0;             // = the layer index the voxel reads
  bool null = false;
  int category = 0;         // 0 none, 1 A patch, 2 B patch
  double angle = NAN;       // visual-field polar angle of the receptive field, degrees (conv areas)
  double ecc = NAN;         // eccentricity, fraction of the aperture radius (conv areas)
  double snr = 0, ceiling = 0;  // ceiling: true R² ceiling of a train_repeats mean
};
// Stripes (one area per layer) along the columns of each hemisphere; polar angle reverses at each
// border, log eccentricity along rows, crossed hemifields.
std::vector<VoxelTruth> simvox_layout(const SimVoxPreset& p, const std::vector<bool>& layer_is_conv, uint64_t seed);

// Each voxel's weights on its area's features: (features, voxels) per layer, zero columns for
// voxels of other areas and null voxels; shapes: {C, Ho, Wo} of the kept grid, or {U}.
struct SimVoxModels {
  std::vector<Eigen::SparseMatrix<float>> W;  // per layer (features, V)
  Eigen::RowVectorXf mean, sd;  // standardisation of s over the training stimuli
};
// blank_features (optional; one row per layer): the features of the blank, the uniform gray the
// aperture and the wedges' masked area show. Given, each conv voxel's channel weight takes the sign
// that makes stimulation of its receptive field raise the response: sign β_vc = sign of
// Σ_ij g_v(i, j) (mean over the training stimuli of f(A(x))[c, i, j] − f(A(blank))[c, i, j]), as
// BOLD rises with stimulation in a voxel's field (what §4's wedge retinotopy reads). Without it
// every β_vc ≥ 0, which a trained net can turn around: channels that a uniform gray drives harder
// than texture make a voxel answer a wedge over its field with a fall.
SimVoxModels simvox_models(const std::vector<VoxelTruth>& truth, const std::vector<Shape>& kept_shapes,
                           const std::vector<Eigen::MatrixXf>& train_features, int64_t image_size,
                           const std::vector<int>& logit_a, const std::vector<int>& logit_b, uint64_t seed,
                           const std::vector<Eigen::MatrixXf>* blank_features = nullptr);
// Noise-free standardised signals (n, V) for a stimulus set's per-layer features.
Eigen::MatrixXf simvox_signal(const SimVoxModels& m, const std::vector<Eigen::MatrixXf>& features);
// s + the mean of `repeats` noise draws of variance 1/SNR (null voxels: noise only).
Eigen::MatrixXf simvox_responses(const Eigen::MatrixXf& s, const std::vector<VoxelTruth>& truth, int64_t repeats,
                                 uint64_t seed);

// Explainable variance of one repeat from (repeats, n, V) data, with the (R−1) bias correction
// (voxelwise_tutorials utils.explainable_variance).
Eigen::VectorXf explainable_variance(const std::vector<Eigen::MatrixXf>& repeats);

}  // namespace ml::analysis
