// models/vgg_small.h — the small VGG-like net of the mirror-symmetry study (Figure 4).
// Notebooks' version (the default, SCIENCE.md), for (N, C, S, S) input, S = 28 or 32:
//   conv1_1 3x3 C->32, ReLU, BN(32); conv1_2 3x3 32->32, ReLU; max-pool 2/2;
//   conv2_1 3x3 32->64, ReLU, BN(64); conv2_2 3x3 64->128, ReLU; max-pool 2/2;
//   flatten 128*f*f (f = ((S-4)/2-4)/2: 5 at 32, 4 at 28); fc1 -> 256, ReLU, dropout 0.5;
//   fc2 256 -> 256, ReLU, dropout 0.5; fc3 256 -> classes (10, or 20 for asym).
// No padding anywhere. The paper-text variant ("vgg_small_paper": FC widths 128, 256,
// classes; one max-pool; BN after conv1 and conv3) is our reading of the Methods text.
#pragma once
#include "models/model.h"

namespace ml::models {

Model vgg_small(int64_t in_channels, int64_t image_size, int64_t num_classes, Generator& gen, uint64_t dropout_seed,
                bool paper_variant = false);

}  // namespace ml::models
