#include "engine/generator.h"

#include <numeric>
#include <utility>

#include "engine/error.h"
#include "kernels/philox.h"

namespace ml {

namespace {
uint64_t splitmix64_finalise(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  return splitmix64_finalise(splitmix64_finalise(seed + 0x9E3779B97F4A7C15ULL) + stream);
}

uint32_t Generator::next_u32() { return kernels::philox4x32(advance(1), seed_).v[0]; }

double Generator::next_uniform() {
  const auto r = kernels::philox4x32(advance(1), seed_);
  const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);  // 53 random bits
  return static_cast<double>(bits & ((1ULL << 53) - 1)) * (1.0 / 9007199254740992.0);
}

int64_t Generator::next_below(int64_t n) {
  ML_CHECK(n > 0, "Generator::next_below: n must be positive, got ", n);
  const auto un = static_cast<uint64_t>(n);
  // Rejection sampling on 64 bits: no modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  for (;;) {
    const auto r = kernels::philox4x32(advance(1), seed_);
    const uint64_t x = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    if (x < limit) return static_cast<int64_t>(x % un);
  }
}

std::vector<int64_t> Generator::permutation(int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[next_below(i + 1)]);
  return p;
}

}  // namespace ml
