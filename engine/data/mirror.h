// engine/data/mirror.h — the mirrored training sets of the symmetry study.
//
// Farzmahdi et al. (2024), Figure 4, and their released notebooks (SCIENCE.md, "The small
// VGG-like net"): to ask whether mirror-symmetric viewpoint tuning needs the training
// task to equate mirror images, the small net is trained on two variants of a set:
//   sym   each image is flipped horizontally with probability 0.5 and keeps its label, so
//         the task rewards treating an image and its mirror alike;
//   asym  the same flips, but a flipped image of class c gets the new label c + n_classes
//         (n -> 2n classes), so the task requires telling an image from its mirror.
// The notebooks build the variants of the training set and of the test set the same way,
// so test accuracy is measured on the same task; call these on both.
//
// The coin is one Generator draw per image, in image order (flip iff next_uniform() <
// 0.5), so a seed fixes the variant, and make_sym and make_asym with equal generators
// flip the same images. The flip is exact data movement on the uint8 pixels.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/generator.h"

namespace ml {

// Labels kept; name gets the suffix "-sym". `flipped` (optional) receives the coin per image.
Dataset make_sym(const Dataset& ds, Generator& gen, std::vector<uint8_t>* flipped = nullptr);

// Flipped images relabelled c -> c + num_classes; num_classes doubles; suffix "-asym".
Dataset make_asym(const Dataset& ds, Generator& gen, std::vector<uint8_t>* flipped = nullptr);

// The pixels of `ds` with every image mirrored left-right (uint8; the data-side twin of
// hflip_images). Used above and by tests.
Tensor hflip_pixels(const Tensor& pixels);

}  // namespace ml
