// kernels/cuda/random.cu — seeded uniform, normal and dropout-mask draws (kernels/random.h).
// Element i is a pure function of Philox4x32-10(counter = offset + i, key = seed)
// (kernels/philox.h, the same header the CPU reference includes), so the GPU draws the very
// numbers the CPU draws, in any order and with no state shared between threads.
//
// Bit-exactness with the CPU. uniform: lo + (hi - lo) * u is one fused multiply-add on the CPU
// (GCC contracts it: -std=gnu++20 implies -ffp-contract=fast, and -march has FMA); here it is
// written as __fmaf_rn so that nvcc's own contraction choices cannot change it. u itself is the
// top 24 bits of a Philox word times 2^-24, exact in float. dropout_mask compares that same u
// with p and writes the host-computed 1/(1-p): bit-exact. normal: Box–Muller with CUDA's
// sqrtf (correctly rounded), logf and cosf (accurate versions, a couple of ulp at most, not the
// __logf intrinsics) — within float rounding of the CPU's, not bit-exact.
//
// Why it is fast: one thread per element in a grid-stride loop; ten Philox rounds are ~40
// integer multiply/xor operations, so these kernels are compute-light and store-bound, and the
// stores of a warp are 128 contiguous bytes.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/philox.h"
#include "kernels/random.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

__global__ void uniform_kernel(float* y, int64_t n, float lo, float hi, uint64_t seed, uint64_t offset) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const float span = hi - lo;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float u = philox_uniform01(philox4x32(offset + static_cast<uint64_t>(i), seed).v[0]);
    y[i] = __fmaf_rn(span, u, lo);
  }
}

__global__ void normal_kernel(float* y, int64_t n, float mean, float std, uint64_t seed, uint64_t offset) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const Philox4 r = philox4x32(offset + static_cast<uint64_t>(i), seed);
    // u1 in (0, 1], so the log is finite.
    const float u1 = 1.0f - philox_uniform01(r.v[0]);
    const float u2 = philox_uniform01(r.v[1]);
    const float z = sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
    y[i] = __fmaf_rn(std, z, mean);  // fused, as the CPU's contracted mean + std * z
  }
}

__global__ void dropout_mask_kernel(float* mask, int64_t n, float p, float keep_scale, uint64_t seed,
                                    uint64_t offset) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float u = philox_uniform01(philox4x32(offset + static_cast<uint64_t>(i), seed).v[0]);
    mask[i] = u < p ? 0.0f : keep_scale;
  }
}

}  // namespace

template <>
void uniform<Device::CUDA>(float* y, int64_t n, float lo, float hi, uint64_t seed, uint64_t offset, Stream s) {
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), uniform_kernel)(y, n, lo, hi, seed, offset);
  ML_CUDA_CHECK_LAST();
}

template <>
void normal<Device::CUDA>(float* y, int64_t n, float mean, float std, uint64_t seed, uint64_t offset, Stream s) {
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), normal_kernel)(y, n, mean, std, seed, offset);
  ML_CUDA_CHECK_LAST();
}

template <>
void dropout_mask<Device::CUDA>(float* mask, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s) {
  if (n <= 0) return;
  const float keep_scale = 1.0f / (1.0f - p);  // on the host, exactly as the CPU reference
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), dropout_mask_kernel)(mask, n, p, keep_scale, seed, offset);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
