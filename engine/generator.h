// engine/generator.h — a seeded random stream with no global state (DESIGN.md,
// "Determinism"). Draws are Philox4x32-10 counters (kernels/philox.h): a draw of n numbers
// takes counters [offset, offset + n) and advances offset by n, so the same seed gives the
// same numbers on the CPU and on the GPU.
#pragma once
#include <cstdint>
#include <vector>

namespace ml {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves n counters and returns the first.
  uint64_t advance(int64_t n) {
    const uint64_t first = offset_;
    offset_ += static_cast<uint64_t>(n);
    return first;
  }
  // Host-side draws (shuffling, sampling indices).
  uint32_t next_u32();
  double next_uniform();                 // [0, 1), 53 bits
  int64_t next_below(int64_t n);         // uniform integer in [0, n), unbiased
  std::vector<int64_t> permutation(int64_t n);  // Fisher–Yates

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace ml
