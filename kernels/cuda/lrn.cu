// kernels/cuda/lrn.cu — local response normalisation across channels of (N, C, H, W)
// (kernels/lrn.h; the derivation of the backward is in kernels/cpu/lrn.cpp):
//   s_c = k + alpha/n * sum_{c' in [c - lo, c + hi]} x_c'^2,  y_c = x_c * s_c^-beta,
//   gx_j = gy_j s_j^-beta - (2 alpha beta / n) x_j * sum_{i in [j - hi, j + lo]} gy_i y_i / s_i
// with n = size, lo = floor(n/2), hi = floor((n-1)/2), channels outside [0, C) absent.
//
// Why it is fast: one thread per element, flat in NCHW order. The `size` channels a thread
// reads sit H*W apart, and adjacent threads read adjacent (h, w), so every load of a warp is
// one coalesced line; a channel is read by `size` neighbouring channels' threads close in time,
// so the repeats hit L2. The kernel is memory-bound at size <= 5 (AlexNet's).
//
// Against the CPU: the same float operations in the same order (channels ascending), with the
// multiply-adds fused exactly where GCC fuses them in the reference (s += x*x, k + a*s, and
// gy*s^-beta - coef*x*g), written as __fmaf_rn so nvcc cannot choose differently. powf differs
// from glibc's by an ulp or two, so results agree within a few ulp, not bit for bit.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/lrn.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

__global__ void lrn_forward_kernel(float* y, float* scale, const float* x, LrnParams p, float a, int64_t lo,
                                   int64_t hi) {
  const int64_t HW = p.H * p.W, total = p.N * p.C * HW;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t nc = i / HW, t = i - nc * HW, n = nc / p.C, c = nc - n * p.C;
    const float* xn = x + n * p.C * HW + t;
    float s = 0.f;
    for (int64_t cc = max(c - lo, int64_t(0)); cc <= min(c + hi, p.C - 1); ++cc) {
      const float v = xn[cc * HW];
      s = __fmaf_rn(v, v, s);
    }
    s = __fmaf_rn(a, s, p.k);
    scale[i] = s;
    y[i] = x[i] * powf(s, -p.beta);
  }
}

__global__ void lrn_backward_kernel(float* gx, const float* gy, const float* x, const float* y, const float* scale,
                                    LrnParams p, float coef, int64_t lo, int64_t hi) {
  const int64_t HW = p.H * p.W, total = p.N * p.C * HW;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t nc = i / HW, t = i - nc * HW, n = nc / p.C, j = nc - n * p.C;
    const int64_t base = n * p.C * HW + t;
    float g = 0.f;
    for (int64_t c = max(j - hi, int64_t(0)); c <= min(j + lo, p.C - 1); ++c) {
      const int64_t k = base + c * HW;
      g += gy[k] * y[k] / scale[k];
    }
    gx[i] = __fmaf_rn(gy[i], powf(scale[i], -p.beta), -(coef * x[i] * g));
  }
}

}  // namespace

template <>
void lrn_forward<Device::CUDA>(float* y, float* scale, const float* x, const LrnParams& p, Stream s) {
  const int64_t total = p.N * p.C * p.H * p.W;
  if (total <= 0) return;
  const float a = p.alpha / static_cast<float>(p.size);
  ML_LAUNCH(grid_for(total), kThreads, 0, stream_of(s), lrn_forward_kernel)(
      y, scale, x, p, a, p.size / 2, (p.size - 1) / 2);
  ML_CUDA_CHECK_LAST();
}

template <>
void lrn_backward<Device::CUDA>(float* gx, const float* gy, const float* x, const float* y, const float* scale,
                                const LrnParams& p, Stream s) {
  const int64_t total = p.N * p.C * p.H * p.W;
  if (total <= 0) return;
  const float coef = 2.f * p.alpha * p.beta / static_cast<float>(p.size);
  ML_LAUNCH(grid_for(total), kThreads, 0, stream_of(s), lrn_backward_kernel)(
      gx, gy, x, y, scale, p, coef, p.size / 2, (p.size - 1) / 2);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
