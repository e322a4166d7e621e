// engine/data/pad.h — a constant border around every image of a set (uint8, the Dataset's own
// form), e.g. Fashion-MNIST's 28-px items padded by 2 px of their background (0) to the 32 px
// that eickenberg2017-encoding.md §6 pins for the small net. A border of background changes no
// pixel of the item: image (n, c) of the result holds the original at rows and columns
// [pad, pad + H) x [pad, pad + W) and `value` everywhere else.
#pragma once
#include <cstdint>

#include "engine/data/dataset.h"

namespace ml {

// (N, C, H, W) -> (N, C, H + 2 pad, W + 2 pad); labels shared. pad 0 returns `ds` itself.
// Errors name the argument and its value: pad outside [0, 256], value outside [0, 255].
Dataset pad_images(const Dataset& ds, int64_t pad, int64_t value);

}  // namespace ml
