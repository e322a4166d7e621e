// kernels/random.h — seeded draws from Philox4x32-10 (kernels/philox.h).
// Element i uses counter (offset + i) under key `seed`; a Generator (engine/generator.h)
// advances its offset by n after every draw, so successive draws never overlap.
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

// y[i] ~ U[lo, hi)
template <Device D>
void uniform(float* y, int64_t n, float lo, float hi, uint64_t seed, uint64_t offset, Stream s);
// y[i] ~ N(mean, std^2), Box–Muller on the first two words of each Philox block.
template <Device D>
void normal(float* y, int64_t n, float mean, float std, uint64_t seed, uint64_t offset, Stream s);
// Inverted dropout mask: mask[i] = 1/(1-p) with probability 1-p, else 0.
template <Device D>
void dropout_mask(float* mask, int64_t n, float p, uint64_t seed, uint64_t offset, Stream s);

}  // namespace ml::kernels
