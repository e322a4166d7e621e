// kernels/pool.h — max, average and adaptive-average pooling over (N, C, H, W).
// Output size follows PyTorch: P = floor_or_ceil((H + 2ph - kh) / sh) + 1, and with
// ceil_mode a last window that would start inside the right padding is dropped.
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct Pool2dParams {
  int64_t N, C, H, W;
  int64_t kh, kw, sh, sw, ph, pw;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling's divisor, PyTorch's default
  int64_t P, Q;                   // output size
};

// Fills P and Q; returns false if the output would be empty.
bool pool2d_output_size(Pool2dParams& p);

// argmax[n,c,p,q] = index h*W + w (within the (n, c) plane) of the window's maximum;
// the first maximum in row-major window order wins, so CPU and CUDA agree bit for bit.
// argmax may be null (inference: only the backward reads it): then y alone is written.
template <Device D>
void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const Pool2dParams& p, Stream s);
template <Device D>
void max_pool2d_backward(float* gx, const float* gy, const int32_t* argmax, const Pool2dParams& p, Stream s);

template <Device D>
void avg_pool2d_forward(float* y, const float* x, const Pool2dParams& p, Stream s);
template <Device D>
void avg_pool2d_backward(float* gx, const float* gy, const Pool2dParams& p, Stream s);

// Adaptive average pooling to (P, Q): window i spans [floor(i*H/P), ceil((i+1)*H/P)).
template <Device D>
void adaptive_avg_pool2d_forward(float* y, const float* x, const Pool2dParams& p, Stream s);
template <Device D>
void adaptive_avg_pool2d_backward(float* gx, const float* gy, const Pool2dParams& p, Stream s);

}  // namespace ml::kernels
