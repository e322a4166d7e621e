// models/hmax_s1_cpu.h — HMAX's S1 (and C1) on the host without im2col. A profile of the engine-op path
// (conv2d = im2col + GEMM) on 227-px images showed S1 at 1.43 of the 1.62 CPU-s an image takes
// to C2 (one thread): a one-channel image against 4 filters of up to 37 x 37 gives an im2col
// matrix of 37^2 x 191^2 floats (200 MB) and a GEMM only 4 rows tall, so memory traffic, not
// arithmetic, set the time. This kernel correlates directly (the 4 orientations of one size share
// every image load; 24 output columns of 4 filters in AVX2 registers) and computes the local
// energy with separable box sums. Point-symmetric filters (CBCL's Gabors) add each tap pair's two
// pixels before the multiply, halving the multiply-adds; AVX-512 (48 columns), AVX2 (24) and a
// plain loop, whichever the build targets. The CUDA path keeps the engine ops (models/hmax.cpp), and the
// tests check both against the same plain loop.
#pragma once
#include <cstdint>

namespace ml::models {

// One image x (S, S) and one filter size s (weights w: (4, s, s), row-major) -> out (4, S, S):
// |x * w_o| / sqrt(sum of x^2 under the s x s window + 1e-12) where the window fits, 0 on the
// (s-1)/2-px border (CBCL's removeborders).
void hmax_s1_cpu(const float* x, int64_t S, const float* w, int64_t s, float* out);

// C1 of one band for one image and orientation: a, b (S, S) are the band's two S1 maps; out
// (L, L) = max over both and over m x m windows every `step` px, from row/column
// k*step - offset (offset 0: CBCL's top-left anchoring; m/2: centred), clipped to the map.
// Separable (a row max, then a column max): 2m comparisons an output instead of the m^2 of
// max_pool2d, and no padded copy of the S1 maps (the profile's next two items after S1).
void hmax_c1_cpu(const float* a, const float* b, int64_t S, int64_t m, int64_t step, int64_t offset, int64_t L, float* out);

}  // namespace ml::models
