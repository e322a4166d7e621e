// kernels/cpu/random.cpp — Philox draws; element i depends only on (seed, offset + i).
#include "kernels/random.h"

#include <cmath>

#include "kernels/philox.h"

namespace ml::kernels {

template <>
void uniform<Device::CPU>(float* y, int64_t n, float lo, float hi, uint64_t seed, uint64_t offset, Stream) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float u = philox_uniform01(philox4x32(offset + static_cast<uint64_t>(i), seed).v[0]);
    // std::fma pins the rounding: the CUDA kernel computes the same fused multiply-add, so
    // the two devices agree bit for bit whatever the compiler contracts.
    y[i] = std::fma(hi - lo, u, lo);
  }
}

template <>
void normal<Device::CPU>(float* y, int64_t n, float mean, float std, uint64_t seed, uint64_t offset, Stream) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const Philox4 r = philox4x32(offset + static_cast<uint64_t>(i), seed);
    // Box–Muller; u1 in (0, 1] so the log is finite.
    const float u1 = 1.0f - philox_uniform01(r.v[0]);
    const float u2 = philox_uniform01(r.v[1]);
    const float z = std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853071795864f * u2);
    y[i] = std::fma(std, z, mean);
  }
}

template <>
void dropout_mask<Device::CPU>(float* mask, int64_t n, float p, uint64_t seed, uint64_t offset, Stream) {
  const float keep_scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float u = philox_uniform01(philox4x32(offset + static_cast<uint64_t>(i), seed).v[0]);
    mask[i] = u < p ? 0.0f : keep_scale;
  }
}

}  // namespace ml::kernels
