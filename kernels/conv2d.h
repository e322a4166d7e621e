// kernels/conv2d.h — 2-D convolution (cross-correlation, as in PyTorch) and its two gradients.
// x: (N, C, H, W), w: (K, C/groups, R, S), b: (K) or null, y: (N, K, P, Q).
//   y[n,k,p,q] = b[k] + sum_{c in group(k), r, s} w[k,c,r,s] * x[n, c, p*sh - ph + r*dh, q*sw - pw + s*dw]
// (out-of-range x reads are zero padding).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct Conv2dParams {
  int64_t N, C, H, W;      // input
  int64_t K, R, S;         // output channels, kernel height, kernel width
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  int64_t groups;
  int64_t P, Q;            // output height, width: (H + 2ph - dh(R-1) - 1)/sh + 1
};

// Fills P and Q from the rest; returns false if the output would be empty.
bool conv2d_output_size(Conv2dParams& p);

template <Device D>
void conv2d_forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p, Stream s);
// gx = dL/dx from gy = dL/dy (overwrites gx).
template <Device D>
void conv2d_backward_data(float* gx, const float* gy, const float* w, const Conv2dParams& p, Stream s);
// gw = dL/dw (overwrites), gb = dL/db (overwrites; skipped when null).
template <Device D>
void conv2d_backward_weight(float* gw, float* gb, const float* gy, const float* x, const Conv2dParams& p, Stream s);
// Both gradients of one step: conv2d_backward_data into gx (skipped when gx is null), then
// conv2d_backward_weight into gw, gb (skipped when gw is null; gb may be null), with the same
// results as those two calls. Why: the CPU's Winograd path transforms gy once for both.
template <Device D>
void conv2d_backward(float* gx, float* gw, float* gb, const float* gy, const float* x, const float* w,
                     const Conv2dParams& p, Stream s);

}  // namespace ml::kernels
