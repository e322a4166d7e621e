// experiments/analysis/encoding_features.h — a CNN layer's output as the encoding models see it
// (eickenberg2017-encoding.md §2): each channel blurred with a Gaussian σ = 0.35 d and kept on a
// stride-d grid from index 0 (reflect border), d the smallest integer with C·H·W / d² <= N
// (N = 25,000 by default; fully connected layers are kept whole), then sign(x)·log(1 + |x|).
// No blur when d = 1 (nothing is subsampled, so nothing aliases; our choice).
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "experiments/analysis/activations.h"

namespace ml::analysis {

// Smallest d >= 1 with c*h*w / d² <= max_features.
int64_t reduction_factor(int64_t c, int64_t h, int64_t w, int64_t max_features);

// Features kept per image for a layer of per-image shape {C, H, W} or {U}.
int64_t reduced_size(const Shape& per_image, int64_t max_features);

// (B, C, H, W) or (B, U) activations on the CPU -> (B, kept) float32 features, row-major, in
// (channel, row, column) order of the kept grid.
Tensor reduce_layer(const Tensor& act, int64_t max_features);

// Reduced features of every layer for images (N, C, S, S) in [0, 1], streamed `batch` images at a
// time: one (N, kept) matrix per layer.
std::vector<Eigen::MatrixXf> encoding_features(AnalysisNet& net, const Tensor& images,
                                               const std::vector<std::string>& layers, int64_t batch,
                                               int64_t max_features);

// extract_features: the same for image files, one NPY per layer `<dir>/<layer>.npy` (N, kept) in
// file order and `<dir>/features.json` (per layer: raw shape, d, kept). Atomic writes.
void write_encoding_features(AnalysisNet& net, const std::vector<std::string>& files,
                             const std::vector<std::string>& layers, const std::string& dir, int64_t batch,
                             int64_t max_features, bool progress = true);

}  // namespace ml::analysis
