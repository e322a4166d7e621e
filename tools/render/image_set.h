// tools/render/image_set.h — an existing stimulus folder as the source of a new set: its
// images are loaded as gray, resized to the new size and re-equalised (stimulus_set.h).
//
// The folder is described by a manifest with the columns file, category, exemplar, view_deg
// (label optional and ignored: labels are re-derived from the categories' order of first
// appearance). Foreground, since no coverage is known: a pixel whose value after loading and
// resizing, rounded to 8 bits, differs from the background's 128 (coverage 1); every other
// pixel is background (coverage 0) and stays 128. An anti-aliased edge pixel that happens to
// round to 128 therefore counts as background.
#pragma once
#include <string>
#include <vector>

#include "tools/render/stimulus_set.h"

namespace ml::render {

struct ImageSet {
  std::string manifest;
  std::vector<CategorySpec> categories;
  std::vector<StimulusItem> items;
  std::vector<std::string> paths;  // one per item, resolved against the manifest's folder
};

// Errors name the manifest and the row.
ImageSet read_image_set(const std::string& manifest);

// Loads item i at size x size (engine/data/image_folder.h, load_image; bilinear resize).
ImageSource image_source(const ImageSet& set, int size);

}  // namespace ml::render
