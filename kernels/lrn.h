// kernels/lrn.h — local response normalisation across channels (AlexNet, Krizhevsky 2012;
// PyTorch's nn.LocalResponseNorm):
//   scale[n,c,h,w] = k + alpha/size * sum_{c' = c - floor(size/2)}^{c + floor((size-1)/2)} x[n,c',h,w]^2
//   y = x * scale^-beta          (channels outside [0, C) contribute zero)
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct LrnParams {
  int64_t N, C, H, W;
  int64_t size;
  float alpha, beta, k;
};

// `scale` is saved for the backward pass.
template <Device D>
void lrn_forward(float* y, float* scale, const float* x, const LrnParams& p, Stream s);
template <Device D>
void lrn_backward(float* gx, const float* gy, const float* x, const float* y, const float* scale, const LrnParams& p,
                  Stream s);

}  // namespace ml::kernels
