// experiments/analysis/unit_stats.h — per-unit mean and std across an image set that is
// streamed in batches, for the z-scoring every analysis starts with (SCIENCE.md: each unit
// z-scored across all images, population std; constant units dropped).
//
// Batches are merged with Chan et al.'s pairwise update in double precision, so the result
// equals the two-pass formula to rounding however the set is split, and a unit with a large
// mean and a tiny spread does not lose its variance to cancellation.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

class UnitStats {
 public:
  UnitStats() = default;
  explicit UnitStats(int64_t units);
  // rows: (B, U) float32 on the CPU (a (B, C, H, W) map counts as U = C*H*W units).
  void add(const Tensor& rows);
  int64_t units() const { return static_cast<int64_t>(mean_.size()); }
  int64_t count() const { return count_; }
  double mean(int64_t u) const { return mean_[static_cast<size_t>(u)]; }
  double std(int64_t u) const;  // population std
  // A unit that took more than one value: exact, by min < max, not by a variance threshold.
  bool informative(int64_t u) const { return min_[static_cast<size_t>(u)] < max_[static_cast<size_t>(u)]; }

 private:
  int64_t count_ = 0;
  std::vector<double> mean_, m2_;
  std::vector<float> min_, max_;
};

// The rows `rows` of a (N, U) CPU matrix, in that order (repeats allowed): (rows.size(), U).
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows);

// z[i, k] = (x[i, u_k] - mean(u_k)) / std(u_k) over the units u_k where keep[u] is true, in
// order: (B, kept). keep must only hold informative units.
Tensor zscore_units(const Tensor& rows, const UnitStats& stats, const std::vector<bool>& keep);

}  // namespace ml::analysis
