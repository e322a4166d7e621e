// kernels/cpu/conv2d_path.h — which algorithm conv2d_forward / _backward_data / _backward_weight
// <Device::CPU> run for a shape on the ISA this library was built for, and the im2col + Eigen
// reference itself, callable directly so that bench_cpu can time each layer's chosen path beside
// it in the same run (issue 13: every pass must be at least as fast as im2col + Eigen).
#pragma once
#include "kernels/conv2d.h"

namespace ml::kernels::cpu_conv {

enum class Pass { Forward, BackwardData, BackwardWeight };
enum class Path {
  Im2col,    // im2col + Eigen GEMM per image (kernels/cpu/conv2d.cpp)
  Winograd,  // F(2x2, 3x3) (kernels/cpu/winograd.h)
  TileGemm,  // backward-weight only: im2col, then kernels/cpu/tile_gemm.h for a short patch
  Direct,    // forward only: the register-blocked direct convolution (kernels/cpu/conv_direct.h)
};

// The path the dispatch takes for this pass and shape (see the rule in conv2d.cpp).
Path chosen(const Conv2dParams& p, Pass pass);
const char* name(Path path);
// The build's vector ISA as the kernels see it: "avx512", "avx2" or "generic".
const char* isa();

// The im2col + Eigen path whatever the shape: the same contracts as conv2d_*<Device::CPU>.
void im2col_forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p);
void im2col_backward_data(float* gx, const float* gy, const float* w, const Conv2dParams& p);
void im2col_backward_weight(float* gw, float* gb, const float* gy, const float* x, const Conv2dParams& p);

}  // namespace ml::kernels::cpu_conv
