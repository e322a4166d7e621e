// engine/data/composite.h — an item on a textured background: a one-channel image (a Fashion-MNIST
// item) scaled to 35-70 % of an S x S canvas at a random position, on a grating or on 16 gratings
// with 1/f amplitudes, in a gray circular aperture. These are the stimuli of the encoding study's
// SimVox (eickenberg2017-encoding.md §6: "Fashion-MNIST items at random position and scale on 1/f
// or grating backgrounds in a gray circular aperture"), and, through with_composites, training
// images for a net that must recognise items shown that way.
#pragma once
#include <cstdint>
#include <random>

#include "engine/data/dataset.h"

namespace ml {

// One composite of `item` (ih x iw, uint8; its value is its opacity, so a black background is
// transparent) into out (S x S floats in [0, 1]), drawing background, contrast, scale and position
// from rng.
void composite_item(float* out, int64_t S, const uint8_t* item, int64_t ih, int64_t iw, std::mt19937_64& rng);

// A copy of `canvas` (one channel, N x 1 x S x S; e.g. the items padded to S) in which each image,
// with probability `share` (seeded coins), is replaced by composite_item of the same index of
// `items` (N x 1 x h x w, the unpadded originals), rounded to uint8. Labels are kept. Errors name the
// argument: share outside [0, 1], channels other than 1, sizes or labels that differ.
Dataset with_composites(const Dataset& items, const Dataset& canvas, double share, uint64_t seed);

}  // namespace ml
