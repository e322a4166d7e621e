// kernels/cuda/optim.cu — in-place SGD and Adam updates, PyTorch's formulas (kernels/optim.h).
// Layout: flat parameter, gradient and state buffers of n floats.
//
// Why it is fast: one pass, one thread per element in a grid-stride loop, float4 accesses when
// every buffer is 16-byte aligned (each parameter tensor is its own cudaMalloc'd block, so
// they are). An update is a few flops per 12-16 bytes moved: purely memory-bound.
// Adam's bias corrections 1 - beta^t are computed once on the host with std::pow, exactly as
// the CPU reference computes them.
//
// Against the CPU: the same float operations in the same order. The only freedom is the
// compiler's: a*b + c may be fused into one FMA (one rounding instead of two) by GCC on the CPU
// and by nvcc here, not necessarily at the same places, so results agree to an ulp or so per
// step rather than bit for bit.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/optim.h"

namespace ml::kernels {

namespace {

using cuda::aligned16;
using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

__device__ __forceinline__ void sgd_one(float& w, float& buf, float g, const SgdParams& p) {
  float d = g + p.weight_decay * w;
  if (p.momentum != 0.f) {
    buf = p.first_step ? d : p.momentum * buf + (1.f - p.dampening) * d;
    d = p.nesterov ? d + p.momentum * buf : buf;
  }
  w -= p.lr * d;
}

__device__ __forceinline__ void adam_one(float& w, float& m, float& v, float g, const AdamParams& p, float bc1,
                                         float bc2) {
  const float d = g + p.weight_decay * w;
  m = p.beta1 * m + (1.f - p.beta1) * d;
  v = p.beta2 * v + (1.f - p.beta2) * d * d;
  w -= p.lr * (m / bc1) / (sqrtf(v / bc2) + p.eps);
}

// buf may be null when momentum == 0 (it is never touched then).
template <bool VEC>
__global__ void sgd_kernel(float* w, float* buf, const float* g, int64_t n, SgdParams p) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float dummy = 0.f;
  int64_t tail = 0;
  if constexpr (VEC) {
    for (int64_t i = start; i < n / 4; i += stride) {
      float4 w4 = reinterpret_cast<float4*>(w)[i];
      const float4 g4 = reinterpret_cast<const float4*>(g)[i];
      float4 b4 = make_float4(0.f, 0.f, 0.f, 0.f);
      if (buf) b4 = reinterpret_cast<float4*>(buf)[i];
      sgd_one(w4.x, b4.x, g4.x, p);
      sgd_one(w4.y, b4.y, g4.y, p);
      sgd_one(w4.z, b4.z, g4.z, p);
      sgd_one(w4.w, b4.w, g4.w, p);
      reinterpret_cast<float4*>(w)[i] = w4;
      if (buf) reinterpret_cast<float4*>(buf)[i] = b4;
    }
    tail = n / 4 * 4;
  }
  for (int64_t i = tail + start; i < n; i += stride) sgd_one(w[i], buf ? buf[i] : dummy, g[i], p);
}

template <bool VEC>
__global__ void adam_kernel(float* w, float* m, float* v, const float* g, int64_t n, AdamParams p, float bc1,
                            float bc2) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t tail = 0;
  if constexpr (VEC) {
    for (int64_t i = start; i < n / 4; i += stride) {
      float4 w4 = reinterpret_cast<float4*>(w)[i], m4 = reinterpret_cast<float4*>(m)[i];
      float4 v4 = reinterpret_cast<float4*>(v)[i];
      const float4 g4 = reinterpret_cast<const float4*>(g)[i];
      adam_one(w4.x, m4.x, v4.x, g4.x, p, bc1, bc2);
      adam_one(w4.y, m4.y, v4.y, g4.y, p, bc1, bc2);
      adam_one(w4.z, m4.z, v4.z, g4.z, p, bc1, bc2);
      adam_one(w4.w, m4.w, v4.w, g4.w, p, bc1, bc2);
      reinterpret_cast<float4*>(w)[i] = w4;
      reinterpret_cast<float4*>(m)[i] = m4;
      reinterpret_cast<float4*>(v)[i] = v4;
    }
    tail = n / 4 * 4;
  }
  for (int64_t i = tail + start; i < n; i += stride) adam_one(w[i], m[i], v[i], g[i], p, bc1, bc2);
}

}  // namespace

template <>
void sgd_step<Device::CUDA>(float* w, float* momentum_buf, const float* g, int64_t n, const SgdParams& p, Stream s) {
  if (n <= 0) return;
  float* buf = p.momentum != 0.f ? momentum_buf : nullptr;
  const bool vec = n >= 4 && aligned16(w) && aligned16(g) && (!buf || aligned16(buf));
  if (vec) ML_LAUNCH(grid_for(n / 4), kThreads, 0, stream_of(s), sgd_kernel<true>)(w, buf, g, n, p);
  else ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), sgd_kernel<false>)(w, buf, g, n, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void adam_step<Device::CUDA>(float* w, float* m, float* v, const float* g, int64_t n, const AdamParams& p, Stream s) {
  if (n <= 0) return;
  const float bc1 = 1.f - std::pow(p.beta1, static_cast<float>(p.step));
  const float bc2 = 1.f - std::pow(p.beta2, static_cast<float>(p.step));
  const bool vec = n >= 4 && aligned16(w) && aligned16(m) && aligned16(v) && aligned16(g);
  if (vec) ML_LAUNCH(grid_for(n / 4), kThreads, 0, stream_of(s), adam_kernel<true>)(w, m, v, g, n, p, bc1, bc2);
  else ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), adam_kernel<false>)(w, m, v, g, n, p, bc1, bc2);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
