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

// The key of one independent stream of a seeded run: SplitMix64's finaliser (a bijection of
// 64-bit words) of the seed, plus the stream's number, mixed again. Keys made as seed ^ C or
// seed + 1 alias neighbouring seeds (with them, seed 1's second dropout layer drew exactly seed 0's
// first layer's masks, so runs over "independent" seeds were not), and one run that keys its split,
// its batch order and its initialisation all by the plain seed reuses the same counters for all
// three. Distinct (seed, stream) pairs give distinct keys (tested over 10,000 seeds x 16 streams).
uint64_t stream_seed(uint64_t seed, uint64_t stream);

// The streams of a training run (experiments/training/train.cpp, models/model.cpp). The weight
// initialisation keeps the plain seed.
enum RunStream : uint64_t {
  kStreamSplit = 1,       // the train/validation split
  kStreamEpochOrder = 2,  // the loader's per-epoch shuffles (the loader adds epoch x golden ratio)
  kStreamTrainFlips = 3,  // the sym/asym coins of the training images
  kStreamTestFlips = 4,   // the sym/asym coins of the test images
  kStreamDropout = 5,     // the base of the dropout layers' keys: layer i uses stream_seed(base, i)
  kStreamComposites = 6,  // which training images become composites, and each composite (engine/data/composite.h)
};

}  // namespace ml
