// tools/render/stimulus_set.h — writing a stimulus set: every image rendered (or loaded),
// equalised across the whole set (equalize.h) and stored as an 8-bit gray PNG, then
// stimuli.json and, last, manifest.csv.
//
// Two passes over the images: the first measures each image's foreground moments, the
// targets are planned from all of them, the second applies each image's gain and writes it.
// Between the passes the images are kept in memory (5 bytes a pixel) while they fit in
// kCacheBytes (a 227-px set of 2025 images takes 520 MB); beyond that the source is asked
// again (rendering is deterministic, so it returns the same bits).
//
// Files: <out>/<category>_<exemplar>_<view>.png (manifest.h, image_name), <out>/stimuli.json,
// <out>/manifest.csv. Each is written atomically, and manifest.csv after everything else, so
// a folder without manifest.csv is visibly incomplete. An old manifest.csv in <out> is removed
// before the first image is written.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "tools/render/equalize.h"
#include "tools/render/rasterizer.h"

namespace ml::render {

// The study's 9 yaws, left profile to right profile: -90, -67.5, ..., 90.
const std::vector<double>& study_views();

struct CategorySpec {
  std::string name;
  std::string symmetry;  // "one_plane", "two_planes", "none", or "unknown" (user meshes, loaded images)
  std::string source;    // "procedural", "obj" or "manifest"
};

struct StimulusItem {
  int64_t category = 0;  // index into the categories; also the manifest's label
  int64_t exemplar = 0;
  double view_deg = 0.0;
};

// The picture of item i (its coverage tells the foreground; see equalize.h).
using ImageSource = std::function<Rendering(size_t item)>;

struct SetSummary {
  EqualizationTargets targets;
  int64_t images = 0;
  int64_t inexact = 0;               // images whose targets could not be met (0 at 28 px and up; thin
                                     // objects at 8 px have too few foreground pixels)
  int64_t clipping_images = 0;       // images with some shade clamped at 0 or 1
  double max_clipped_fraction = 0.0; // the largest share of an image's foreground pixels clamped
  double max_mean_error = 0.0, max_std_error = 0.0;  // over exactly solved images, measured on the 8-bit files
};

constexpr int64_t kCacheBytes = int64_t{1} << 30;

// Writes the set to out_dir (created if needed). Images are processed and listed in the
// order category, exemplar, view; two items with the same triple are an error. `meta` is
// written into stimuli.json together with the categories and the equalisation's targets and
// residuals. `log` (may be null) receives progress lines. `cache_bytes` bounds the memory kept
// between the passes (0: always ask the source again).
SetSummary write_stimulus_set(const std::vector<CategorySpec>& categories, const std::vector<StimulusItem>& items,
                              const ImageSource& source, const std::string& out_dir, nlohmann::json meta,
                              std::FILE* log, int64_t cache_bytes = kCacheBytes);

}  // namespace ml::render
