// engine/ops/rise_masks.h — RISE's random masks and its response-weighted mask sum as engine
// ops on any device (engine/ops/rise_masks.cpp, kernels/rise_masks.h). Not differentiable, and
// used by one study (experiments/analysis/rise.cpp), so declared here rather than in
// engine/ops.h, which every translation unit includes.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace ml {

// The random masks of RISE drawn on `device`: mask i of the set uses Philox counters
// [i·counters_per_mask, ...) under `seed` (s² cells kept with probability `keep`, then a shift
// dy < ceil(h/s), dx < ceil(w/s)), the s x s grid upsampled to (s+1)·ceil(size/s) pixels
// (bilinear as skimage's resize with mode 'reflect', or nearest) and cropped at the shift.
struct RiseMaskSpec {
  int64_t grid = 8, h = 0, w = 0;
  double keep = 0.5;
  bool nearest = false;
  uint64_t seed = 0;
  uint64_t counters_per_mask = uint64_t{1} << 20;
};
// Masks [first, first + count): (count, 1, h, w) float32 on `device`. Not differentiable.
Tensor rise_mask_batch(const RiseMaskSpec& spec, int64_t first, int64_t count, Device device);
// In place, mask by mask in order: sum[k, i] += masks[b, i] · weights[b, k], Kahan-compensated
// in comp. masks (B, ...) with n elements per mask, weights (B, U), sum and comp (U, n), all on
// one device. The result of many calls equals that of one call over the same masks, bit for bit.
void rise_accumulate(Tensor& sum, Tensor& comp, const Tensor& masks, const Tensor& weights);

}  // namespace ml
