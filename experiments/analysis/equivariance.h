// experiments/analysis/equivariance.h — invariance and equivariance of a layer under an image
// transformation g (Farzmahdi et al. 2024, eqs. 2-3; SCIENCE.md "Invariance and equivariance"):
//   invariance_i   = Pearson r over units of f(x_i) and f(g x_i)
//   equivariance_i = Pearson r over units of f(g x_i) and g f(x_i)   (conv layers: g acts on
//                    every channel's feature map)
// Each condition's activations are z-scored per unit across its images first. Conv layers
// lose the central column (h-flip), central row (v-flip) or central pixel (rot90) of every
// map, which the transformation maps onto itself; units constant across images are dropped.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

enum class Transform { HFlip, VFlip, Rot90 };
const char* transform_name(Transform g);

// g on (N, C, H, W) images or feature maps; rot90 is one counter-clockwise quarter turn, the
// same sense on images and on maps.
Tensor apply_transform(Transform g, const Tensor& x);

// keep[c*H*W + h*W + w] for a (C, H, W) map: false at the centre g fixes.
std::vector<bool> central_mask(Transform g, int64_t C, int64_t H, int64_t W);

// a, b: (N, U). Each is z-scored per unit across its N rows; units that are constant in either,
// or where keep[u] is false, are left out; returns r_i between row i of a and row i of b.
std::vector<double> per_image_correlation(const Tensor& a, const Tensor& b, const std::vector<bool>& keep);

}  // namespace ml::analysis
