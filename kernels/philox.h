// kernels/philox.h — Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011), the counter-based generator that cuRAND and PyTorch's CUDA backend use.
// Element i of a draw is a pure function of (seed, offset + i), so the CPU and the GPU
// produce the same numbers in any order, in parallel, with no shared state.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define ML_HD __host__ __device__ __forceinline__
#else
#define ML_HD inline
#endif

namespace ml::kernels {

struct Philox4 {
  uint32_t v[4];
};

ML_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t prod = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(prod >> 32);
  return static_cast<uint32_t>(prod);
}

// Ten rounds of Philox4x32 on counter (ctr_lo, ctr_hi, 0, 0) with key (seed_lo, seed_hi).
ML_HD Philox4 philox4x32(uint64_t counter, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;  // Weyl key schedule
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1): the top 24 bits, so every value is exactly representable in float.
ML_HD float philox_uniform01(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

}  // namespace ml::kernels
