// experiments/analysis/channel_average.h — pool5 channel-averaged representation (Farzmahdi et
// al. 2024, Fig. 2—S6; farzmahdi2024-more.md §5): every unit of a (C, H, W) layer z-scored over
// the images (population std; constant units left out of their channel's mean), then averaged
// over each channel's H x W positions, giving a C-dimensional vector per image.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace ml::analysis {

// acts: (N, C*H*W) float32 in (C, H, W) order per row -> (N, C). A channel whose units are all
// constant is an error naming the channel.
Tensor channel_average_zscored(const Tensor& acts, int64_t C, int64_t HW);

}  // namespace ml::analysis
