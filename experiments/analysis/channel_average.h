// experiments/analysis/channel_average.h — pool5 channel-averaged representation (Farzmahdi et
// al. 2024, Fig. 2—S6; farzmahdi2024-more.md §5): every unit of a (C, H, W) layer z-scored over
// the images (population std; constant units left out of their channel's mean), then averaged
// over each channel's H x W positions, giving a C-dimensional vector per image.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

// acts: (N, C*H*W) float32 in (C, H, W) order per row -> (N, K): the K channels with at least
// one non-constant unit, in order (a dead channel has no z-score, as the released code's NaN
// columns, and is left out); `kept` receives their indices. No channel left is an error.
Tensor channel_average_zscored(const Tensor& acts, int64_t C, int64_t HW, std::vector<int64_t>* kept = nullptr);

}  // namespace ml::analysis
