// engine/data/transforms.h — the image transforms of the studies' input pipelines, on
// float32 (N, C, H, W) tensors on the CPU (they prepare data; they record no gradient).
//
// Each one follows the torchvision/PyTorch function a recipe names, so a pipeline written
// here gives the numbers the authors' Python pipeline gave:
//   to_float      transforms.ToTensor:  pixel / 255 in float32
//   normalize     transforms.Normalize: (x - mean[c]) / std[c], per channel
//   to_grayscale  0.299 R + 0.587 G + 0.114 B (ITU-R 601-2 luma, PIL's convert("L") weights)
//   gray_to_rgb   the one channel replicated three times (as the studies feed gray stimuli
//                 to RGB networks, SCIENCE.md "Stimulus set")
//   resize_bilinear  F.interpolate(mode="bilinear", align_corners=False, antialias=False)
//   hflip_images  left-right mirror of every image (kernels/flip.h)
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ml {

// uint8 (N, C, H, W) -> float32 in [0, 1].
Tensor to_float(const Tensor& pixels);

// x: float32 (N, C, H, W); mean and std have C entries (std all > 0).
Tensor normalize(const Tensor& x, const std::vector<float>& mean, const std::vector<float>& std);

// The fused form the Loader uses per image: y[c, i] = (x[c, i] / 255 - mean[c]) / std[c]
// for c < C, i < HW, with the same float operations as to_float then normalize (so both
// give identical bits). Empty mean/std mean 0/1 (to_float alone).
void pixels_to_normalized(float* y, const uint8_t* x, int64_t C, int64_t HW, const std::vector<float>& mean,
                          const std::vector<float>& std);

// (N, 3, H, W) -> (N, 1, H, W).
Tensor to_grayscale(const Tensor& x);
// (N, 1, H, W) -> (N, 3, H, W).
Tensor gray_to_rgb(const Tensor& x);
// To `channels` (1 or 3) from 1 or 3; the tensor itself when it already has them.
Tensor to_channels(const Tensor& x, int64_t channels);

// (N, C, H, W) -> (N, C, out_h, out_w). Source coordinate of output pixel i is
// (i + 0.5) * in/out - 0.5, clamped below at 0 (align_corners = False); the value is the
// bilinear mix of the two (four) neighbours, the far one clamped at the border.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);

// y[n, c, i, j] = x[n, c, i, W-1-j].
Tensor hflip_images(const Tensor& x);

}  // namespace ml
