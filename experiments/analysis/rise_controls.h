// experiments/analysis/rise_controls.h — the controls of Figure 5 over a RISE map
// (../shared/science/farzmahdi2024-more.md §3, §7): insertion and deletion of the most
// important pixels, the patch-shuffle control, and the per-object unit selections of 5C / 5D.
//
// Pixels are ranked by |map| among the map's non-zero pixels (the dilated object mask after
// the pinned post-processing: mean subtraction makes negative pixels salient too, as the
// released code does). Level p in 1..100 keeps round((p − 1)/99 · N) of those N pixels (the
// released mapping: "25 %" keeps 24.24 %); `exact_percent` keeps round(p/100 · N).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace ml::analysis {

enum class LevelMapping { Released, ExactPercent };

// Pixel indices (into H*W) of the `level` most important pixels of map (H, W).
std::vector<int64_t> top_pixels(const Tensor& map, int level, LevelMapping mapping = LevelMapping::Released);

// Insertion: a gray canvas with the kept pixels of image (C, H, W) copied in.
Tensor insertion_image(const Tensor& image, const std::vector<int64_t>& kept, float gray);
// Deletion: the image with the kept pixels set to gray.
Tensor deletion_image(const Tensor& image, const std::vector<int64_t>& kept, float gray);

// 8-connected components of a pixel set (H*W 0/1): each component's pixel indices.
std::vector<std::vector<int64_t>> connected_components8(const std::vector<uint8_t>& set, int64_t h, int64_t w);

struct ShuffleResult {
  Tensor image;          // (C, H, W): the patches on a gray canvas
  int64_t placed = 0;    // components placed
  int64_t dropped = 0;   // components with no free spot after max_tries
};
// The patch-shuffle control: the kept pixels' 8-connected components, largest bounding box
// first, each cut out (the box's other pixels gray) and dropped at a random spot wholly inside
// the image whose component pixels overlap no pixel placed before (<= max_tries draws), on a
// gray canvas. legacy_offset shifts the cut-outs by (−1, −1) as the released code does.
ShuffleResult shuffle_patches(const Tensor& image, const std::vector<int64_t>& kept, float gray, Generator& gen,
                              int max_tries = 1000, bool legacy_offset = false);

// Unit selection over one object's view curves: responses (views, units), views ordered by
// angle (view j and n-1-j mirror images), angles in degrees.
//   V correlation   r(curve, |angle|)
//   reflection corr r(curve, reversed curve)   (the frontal view included)
struct UnitCurveStats {
  std::vector<double> v_corr, reflection_corr;
};
UnitCurveStats unit_curve_stats(const Tensor& responses, const std::vector<double>& angles);
// 5C: among units with a positive V correlation, the one whose curve best matches its
// reversal; -1 when no unit qualifies.
int64_t select_unit_5c(const UnitCurveStats& s);
// 5D: units with a positive V correlation whose reflection correlation is above the given
// percentile (95 in the paper) of the reflection correlations among those units.
std::vector<int64_t> select_units_5d(const UnitCurveStats& s, double percentile = 95.0);

}  // namespace ml::analysis
