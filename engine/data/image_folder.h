// engine/data/image_folder.h — a labelled set of PNG/JPEG files listed in a CSV manifest.
//
// The manifest has a header row naming at least the columns `file` and `label` (others,
// such as category/exemplar/view of the stimulus sets, are ignored here), one image per
// row. Fields may be quoted ("a, b.png"; a doubled "" is a quote). `file` is relative to
// the manifest's folder unless absolute; `label` is an integer >= 0. Blank lines are skipped.
//
// Files are decoded with stb_image (8-bit; 16-bit PNGs are reduced to 8 bits, an alpha
// channel is dropped), converted to the requested channels (gray replicated to RGB; RGB
// to gray with ITU-R 601-2 luma weights) and resized to (H, W) bilinearly with
// align_corners = False (engine/data/transforms.h), all in float.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace ml {

// One image file as float32 (1, channels, H, W) in [0, 1]. channels is 1 or 3; H, W > 0.
// An ml::Error names the file and stb_image's reason when it cannot be decoded.
Tensor load_image(const std::string& path, int64_t channels, int64_t H, int64_t W);

// Several files as one float32 batch (N, channels, H, W), each read with load_image.
Tensor load_images(const std::vector<std::string>& paths, int64_t channels, int64_t H, int64_t W);

// Every image of the manifest, as uint8 (N, channels, H, W): the float result of load_image
// rounded to the nearest of 0..255 (exact when no resize happens). num_classes = 0 takes
// max label + 1. Errors name the manifest, the row (1-based, the header is row 1) and,
// for a bad image, the image file.
Dataset load_image_folder(const std::string& manifest, int64_t channels, int64_t H, int64_t W,
                          int64_t num_classes = 0);

}  // namespace ml
