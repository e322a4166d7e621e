// kernels/rise_masks.h — the random masks of RISE (Petsiuk et al. 2018) as the mirror study
// draws them (../shared/science/farzmahdi2024-more.md §3), and the response-weighted mask sum,
// on the device the network runs on (engine/ops/rise_masks.cpp is the op).
//
// Mask k of a set uses Philox counters [(first + k)·counters_per_mask, ...) under key `seed`,
// exactly as Generator::next_uniform / next_below draw them on the host: s² cells, each kept
// when its 53-bit uniform is < keep, then the shift dy in [0, cell_h) and dx in [0, cell_w)
// by 64-bit rejection sampling. The s x s grid is upsampled to up_h x up_w pixels
// (skimage.transform.resize order 1, mode 'reflect': output pixel o samples the grid at
// (o + 0.5)·s/up − 0.5, mirrored about the edge cell centres; `nearest`: the cell nearest that
// point, clamped) and cropped to h x w at (dy, dx).
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace ml::kernels {

struct RiseMaskParams {
  int64_t grid = 0;                  // s
  int64_t h = 0, w = 0;              // the image
  int64_t cell_h = 0, cell_w = 0;    // ceil(h / s), ceil(w / s)
  int64_t up_h = 0, up_w = 0;        // (s + 1)·cell
  double keep = 0.5;                 // p
  bool nearest = false;              // rise_binary
  uint64_t seed = 0;
  uint64_t counters_per_mask = 0;
};

// grids (count, s, s) 0/1 and shifts (count, 2) = (dy, dx) of masks [first, first + count).
template <Device D>
void rise_grid_draw(float* grids, int32_t* shifts, const RiseMaskParams& p, int64_t first, int64_t count, Stream s);
// masks (count, h, w) from the grids and shifts.
template <Device D>
void rise_upsample_crop(float* masks, const float* grids, const int32_t* shifts, const RiseMaskParams& p,
                        int64_t count, Stream s);
// For every (k, i), in mask order b = 0..B-1: sum[k, i] += masks[b, i] · weights[b, k], with
// the rounding error carried in comp[k, i] (Kahan): the order of the additions is fixed by the
// mask order alone, so a sum over many calls equals the sum over one, bit for bit.
// masks (B, n), weights (B, U), sum and comp (U, n).
template <Device D>
void rise_accumulate(float* sum, float* comp, const float* masks, const float* weights, int64_t B, int64_t n,
                     int64_t U, Stream s);

}  // namespace ml::kernels
