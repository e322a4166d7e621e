// kernels/cpu/conv_direct.h — a direct ("implicit GEMM") forward convolution on the CPU for
// large kernels, e.g. AlexNet's conv1 (11x11, stride 4, 3 -> 64 channels) and conv2 (5x5, pad 2,
// 64 -> 192), where im2col + Eigen spent about as long building and packing the im2col matrix
// (363 x 3025 floats an image for conv1, out of cache) as multiplying it (issue 13: AlexNet
// forward at 1.04x PyTorch on AVX-512, conv1 35.0 vs 19.7 ms, conv2 71.2 vs 56.9 ms).
//
// The same contract as conv2d_forward<Device::CPU> (kernels/conv2d.h): any stride, padding,
// dilation and groups. Which shapes it takes is the dispatch's choice (cpu_conv::chosen in
// kernels/cpu/conv2d.cpp).
#pragma once
#include "kernels/conv2d.h"

namespace ml::kernels::direct_conv {

// y (N, K, P, Q) = conv(x (N, C, H, W), w (K, C/groups, R, S)) + b (K, or null).
void forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p);

}  // namespace ml::kernels::direct_conv
