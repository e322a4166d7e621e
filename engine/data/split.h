// engine/data/split.h — the seeded train/validation split of the training recipes.
//
// SCIENCE.md ("The small VGG-like net"): 10 % of the training set is held out for
// validation and early stopping. Which images are held out is fixed by the seed alone: the
// first round(N * val_fraction) entries of Generator(seed).permutation(N) are validation,
// the rest training. Each part keeps the original order of its images (the Loader
// shuffles), and the indices into the parent set are returned for the run's record.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/generator.h"

namespace ml {

struct TrainValSplit {
  Dataset train, val;                   // names "<name>-fit" and "<name>-val"
  std::vector<int64_t> train_index;     // ascending indices into the parent set
  std::vector<int64_t> val_index;       // ascending; disjoint from train_index, together all of [0, N)
};

// val_fraction in [0, 1); 0.1 is the recipes' value.
TrainValSplit split_train_val(const Dataset& ds, double val_fraction, Generator& gen);

}  // namespace ml
