// models/hog.h — histograms of oriented gradients as a fixed engine model (layers image, hog),
// and the exact permutations that map HOG(x) to HOG(g x) under flips and rotations
// (../shared/science/lenc-vedaldi-equivariance.md §7).
//
// UoCTTI (default; VLFeat's vl/hog.c, Felzenszwalb et al.'s variant): n orientations give
// 3n + 4 values per cell: 2n directed bins at k pi / n (clockwise from +x, y down), n undirected
// (bins k and k + n summed), 4 texture values; floor((W + c/2) / c) cells per axis; central
// differences at interior pixels, colour takes the channel with the largest gradient; each
// gradient goes to the bin of largest |projection| (hard) or is split between the two nearest
// (bilinear), its magnitude split bilinearly over the 4 nearest cell centres; four 2 x 2 block
// normalisers 1/sqrt(energy + 1e-4), values capped at 0.2.
//
// DalalTriggs (scikit-image's hog, Dalal & Triggs 2005 R-HOG): n undirected bins of equal
// width from 0 deg (hard), a cell = the mean magnitude of its c x c pixels, floor(W / c) cells,
// b x b blocks at every cell step, L2-Hys (normalise, cap 0.2, renormalise; eps 1e-5). Output
// (B, b*b*n, blocks_y, blocks_x), channel = (cell row, cell column, orientation) in the block.
//
// Computed on the host (the loops are cheap beside any CNN; Dalal–Triggs in
// models/hog_dalal_triggs_cpu.h, vectorised); a CUDA input is copied there and back.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "models/model.h"

namespace ml::models {

enum class HogVariant { UoCTTI, DalalTriggs };

struct HogOptions {
  HogVariant variant = HogVariant::UoCTTI;
  int64_t cell_size = 8;
  int64_t orientations = 9;
  bool bilinear_orientations = false;  // UoCTTI only (VLFeat's useBilinearOrientationAssigment)
  int64_t block_size = 2;              // DalalTriggs: cells per block side
};

HogVariant parse_hog_variant(const std::string& name);  // "uoctti" | "dalal_triggs"
const char* hog_variant_name(HogVariant v);

// Values per cell (UoCTTI) or per block (DalalTriggs).
int64_t hog_dimension(const HogOptions& o);
// The output grid {rows, cols} for an H x W image; throws (naming the sizes) when the image
// is smaller than one block.
std::pair<int64_t, int64_t> hog_grid(int64_t H, int64_t W, const HogOptions& o);

// images (B, C, H, W), C = 1 (gray) or 3 (colour) -> (B, D, rows, cols).
Tensor hog(const Tensor& images, const HogOptions& o);

// ---- symmetries (UoCTTI) ----
enum class HogTransform { HFlip, VFlip, Rot180, Rot90 };
const char* hog_transform_name(HogTransform g);
// g applied to the spatial grid of an (N, C, H, W) tensor: an image, or HOG's cell grid.
Tensor hog_move(const Tensor& x, HogTransform g);
// perm[k] = k': channel k of HOG(x) is channel k' of HOG(g x) (after the cell grid is moved
// as g moves pixels). Rot90 (counter-clockwise as displayed) needs an even orientation count.
std::vector<int64_t> hog_channel_permutation(HogTransform g, int64_t orientations);
// HOG(x) (B, 3n+4, R, C) -> the prediction of HOG(g x): the grid transformed as g, channels
// permuted. Exact (to float rounding) when H and W are multiples of the cell size and the
// orientations are bilinear or n is even; Rot90 needs R == C.
Tensor hog_apply_transform(const Tensor& features, HogTransform g, int64_t orientations);

// ---- symmetries (either variant) ----
// As above for o.variant; for DalalTriggs channel (a*bs + b)*n + i (cell (a, b) of the block,
// bin i) goes to: hflip (a, bs-1-b, n-1-i), vflip (bs-1-a, b, n-1-i), rot180 (bs-1-a, bs-1-b, i),
// rot90 (bs-1-b, a, (i + n/2) mod n), rot90 needing an even n (a bin edge at 90 deg).
// Dalal–Triggs bins are half-open, [180 i/n, 180 (i+1)/n): a flip turns them into
// (.., ..], so a gradient exactly on an edge lands one bin off. Exact (to float rounding) for
// rot180 and even-n rot90 on any image whose sides are multiples of the cell; for the flips only
// when no gradient lies exactly on an edge, which includes 0 deg: scikit-image's zero row
// derivative on the first and last row puts every gradient there at 0 deg, so flips are exact
// for images with a constant 1-px frame (objects on a uniform background) and not on 8-bit
// images, where many interior gradients are horizontal.
std::vector<int64_t> hog_channel_permutation(HogTransform g, const HogOptions& o);
Tensor hog_apply_transform(const Tensor& features, HogTransform g, const HogOptions& o);

// The model: layers image (B, C, S, S) and hog (B, D, R, R).
Model hog_model(const HogOptions& o, int64_t in_channels, int64_t image_size);

}  // namespace ml::models
