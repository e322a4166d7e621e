// experiments/analysis/equivariance_study.h — invariance and equivariance of every analysed
// layer of one network under h-flip, v-flip and rot90 over an image set (SCIENCE.md,
// "Invariance and equivariance"; the per-image definitions are in equivariance.h):
//   invariance_i   = r(f(x_i), f(g x_i))                 every layer
//   equivariance_i = r(f(g x_i), g f(x_i))               convolutional layers
// each condition z-scored per unit across the set, conv layers masked at the centre g fixes,
// units constant in a condition dropped. The released code's rot90 variant (`rot90_legacy`)
// instead compares f(x_i) with g f(g x_i), i.e. f(x) with a map turned twice (180 deg); it is
// offered only to reproduce that figure. Activations are streamed twice (statistics, then
// correlations), so memory does not grow with the set.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "experiments/analysis/activations.h"
#include "experiments/analysis/equivariance.h"

namespace ml::analysis {

// Images `begin..end` of the set as float32 (B, C, S, S) in [0, 1].
using ImageFn = std::function<Tensor(int64_t begin, int64_t end)>;

struct EquivarianceOptions {
  std::vector<Transform> transforms{Transform::HFlip, Transform::VFlip, Transform::Rot90};
  bool rot90_legacy = false;
  int64_t batch = 128;
  bool progress = true;
  // How g acts on a layer's maps (B, C, H, W) for the equivariance comparison; empty: apply_transform
  // (the grid moved, channels kept). A model whose channels also move under g supplies its own:
  // HOG's orientation bins permute (models/hog.h hog_apply_transform; experiments/fixed_models.h).
  std::function<Tensor(Transform g, const std::string& layer, const Tensor& maps)> map_transform;
};

struct EquivarianceRow {
  std::string layer;
  int64_t layer_index = 0;
  bool conv = false;
  Transform transform{};
  std::string measure;  // "invariance" or "equivariance"
  std::vector<double> per_image;  // NaN where an image's units are constant
};

std::vector<EquivarianceRow> run_equivariance(AnalysisNet& net, const std::vector<std::string>& layers,
                                              const ImageFn& images, int64_t n_images, const EquivarianceOptions& o);

// Appends rows "model,layer,layer_index,kind,image_set,transform,measure,mean,std,n" (mean and
// std over the images whose r is defined; n of them) to `csv`.
void append_equivariance_csv(std::string& csv, const std::vector<EquivarianceRow>& rows, const std::string& model,
                             const std::string& image_set, bool rot90_legacy);
constexpr const char* kEquivarianceCsvHeader = "model,layer,layer_index,kind,image_set,transform,measure,mean,std,n\n";

}  // namespace ml::analysis
