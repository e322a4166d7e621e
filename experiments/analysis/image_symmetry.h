// experiments/analysis/image_symmetry.h — the symmetry-plane score of an image (Farzmahdi et
// al. 2024, Fig. 2—S1; farzmahdi2024-more.md §5): pad h = H/2 columns on each side by copying
// the edge column; for each candidate vertical axis, the Pearson r between the h columns left
// of it and the mirrored h columns right of it; the score is the largest r, the axis where it
// is reached is reported beside it.
// Axes (our choice, the released text says "each column"): every column (that column left out
// of both sides) and every boundary between two columns, so that an even-width image symmetric
// about its centre line scores exactly 1.
#pragma once
#include <cstdint>

namespace ml::analysis {

struct SymmetryPlane {
  double score = -1;  // max r over axes (a constant pair of blocks counts as r = -1: no evidence)
  double axis = 0;    // in pixel columns; x.5 = between columns x and x + 1
};

// img: (H, W) row-major gray values.
SymmetryPlane symmetry_plane_score(const float* img, int64_t H, int64_t W);

}  // namespace ml::analysis
