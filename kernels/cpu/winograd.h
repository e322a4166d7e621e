// kernels/cpu/winograd.h — 3x3, stride-1 convolution by Winograd's minimal filtering algorithm
// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) on the
// CPU: the forward and both gradients. kernels/cpu/conv2d.cpp calls it, pass by pass, where it is
// preferred() and measured faster than im2col on the build's ISA (cpu_conv::chosen,
// kernels/cpu/conv2d_path.h); im2col + GEMM stays the general path and the one it is tested against.
//
// Each 2x2 output tile y is computed from the 4x4 input tile d under it and the 3x3 filter g as
//     y = A^T [ (G g G^T) ⊙ (B^T d B) ] A                     (⊙: element-wise)
// so one output pixel costs 16/4 = 4 multiplications per input channel instead of 9. Summed over
// input channels, each of the 16 positions xi of the 4x4 transformed tile is one matrix product:
//     M[xi] (K x T) = U[xi] (K x C) * V[xi] (C x T),   U = G g G^T,  V = B^T d B,  T = tiles.
// The gradients are the adjoints of the same linear maps, so they reuse the same 16 products:
//     backward-data:    dV[xi] = U[xi]^T * dM[xi],   dM = A dY A^T,  dx tile += B dV B^T
//     backward-weight:  dU[xi] = sum over tiles dM[xi] * V[xi]^T,    dw = G^T dU G
// Tiles that hang over the right or bottom edge read zeros and their extra outputs are dropped
// (forward) or taken as zero gradient (backward), so any size and padding works.
#pragma once
#include "kernels/conv2d.h"

namespace ml::kernels::winograd {

// True for 3x3, stride 1, dilation 1, groups 1 (any padding, any size).
bool supported(const Conv2dParams& p);
// True where supported() and the 16 products dominate the transforms: at least 16 input and 16
// output channels (for the 3-channel first layer of an image net, im2col's single product with an
// inner dimension of 27 is cheaper than 16 products with an inner dimension of 3).
bool preferred(const Conv2dParams& p);

// The same contracts as conv2d_forward / _backward_data / _backward_weight<Device::CPU> (outputs
// overwritten); the weight gradient alone, the bias gradient is the caller's.
void forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p);
void backward_data(float* gx, const float* gy, const float* w, const Conv2dParams& p);
void backward_weight(float* gw, const float* gy, const float* x, const Conv2dParams& p);
// Both, transforming gy once per chunk instead of twice; bit for bit the two calls' results.
void backward(float* gx, float* gw, const float* gy, const float* x, const float* w, const Conv2dParams& p);

}  // namespace ml::kernels::winograd
