// kernels/layer_norm.h — layer normalisation over the last dimension of a (rows, C) array:
//   y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var_biased + eps), per row.
// Fused, in place of a composite of pointwise and reduction ops (which read x about five times and
// materialised four temporaries): one pass over the rows, each row's statistics from the row in
// cache, accumulated in double. CPU: kernels/cpu/layer_norm.cpp; CUDA: kernels/cuda/layer_norm.cu
// (the same formulas, checked against the CPU one by tests/cuda/test_parity.cpp).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct LayerNormParams {
  int64_t rows = 0, C = 0;
  float eps = 1e-5f;
};

// w, b may be null (no affine). mean, rstd: (rows), kept for the backward (may be null).
template <Device D>
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        const LayerNormParams& p, Stream s);
// gx = rstd (gw - mean(gw) - xhat mean(gw xhat)), gw = gy w, xhat = (x - mean) rstd;
// gweight = sum_rows gy xhat, gbias = sum_rows gy (each may be null; needs w when gx is wanted
// with an affine forward: pass w as in the forward).
template <Device D>
void layer_norm_backward(float* gx, float* gweight, float* gbias, const float* gy, const float* x, const float* w,
                         const float* mean, const float* rstd, const LayerNormParams& p, Stream s);

}  // namespace ml::kernels
