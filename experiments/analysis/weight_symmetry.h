// experiments/analysis/weight_symmetry.h — the mirror symmetry of learned filters (Farzmahdi et
// al. 2024, Fig. 5—S1; farzmahdi2024-more.md §5): per filter (C_in, kh, kw), the Pearson r of its
// first floor(kw/2) columns (all input channels and rows) with the same columns of the filter
// mirrored left-right, i.e. column x against column kw-1-x; "rows" does the same top-bottom.
// A left-right symmetric filter scores 1, an antisymmetric one -1, random weights about 0.
// Fully connected layers fed by a (C, s, s) map (fc6 of AlexNet: 256 x 6 x 6) are read as
// C x s x s filters, one per output unit.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/module.h"

namespace ml::analysis {

double filter_symmetry(const float* w, int64_t C, int64_t kh, int64_t kw, bool rows);

struct LayerWeightSymmetry {
  std::string parameter;  // "features.0.weight"
  int64_t filters = 0, C = 0, kh = 0, kw = 0;
  std::vector<double> columns, rows;  // per filter (NaN-free: constant halves are left out)
};

// Every conv weight (4-D, kernel >= 2 x 2) and every fc weight whose input is the last conv's
// channel count times a square s x s (s >= 2), in registration order.
std::vector<LayerWeightSymmetry> weight_symmetry(const nn::NamedTensors& params);

}  // namespace ml::analysis
