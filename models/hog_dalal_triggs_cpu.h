// models/hog_dalal_triggs_cpu.h — the Dalal–Triggs HOG of one image on the host (scikit-image's
// hog; see models/hog.h for the definition). A profile of the per-pixel version (atan2, hypot,
// fmod and a bin search per pixel, two 8-byte maps per pixel) put 62 % of its time in libm's
// atan2/fmod and 20 % in hypot: 80 images/s on 2 threads against scikit-image's 37.
//
// Here one pixel row at a time: central differences in double (as scikit-image's float64
// gradients), the magnitude with glibc's own hypot algorithm written out in AVX2 (so the values
// are the bits np.hypot gives: the build is without FMA contraction), and the bin from the signs
// of n - 1 cross products with the bin edges instead of an angle. A pixel whose gradient lies
// within 1e-9 (relative) of an edge, or of 0/180 deg, takes the exact scikit-image path
// (rad2deg(atan2) % 180 against 180 i / n), so the bins are those of the per-pixel formula: the
// rounding of atan2 is ~1e-16 relative, far inside the margin. Cells are summed in float in
// row-major order within the cell, as cell_hog does, and divided by the cell area in float.
// Plain loops (std::hypot, the same binning) where the build targets no AVX2.
#pragma once
#include <cstdint>

namespace ml::models {

// image (C, H, W), C = 1 or 3 -> out (bs*bs*n, BR, BC), BR = H/cs - bs + 1, BC = W/cs - bs + 1;
// channel (a*bs + b)*n + i = cell (a, b) of the block, orientation bin i.
void hog_dalal_triggs_cpu(const float* image, int64_t C, int64_t H, int64_t W, int64_t n, int64_t cs, int64_t bs,
                          float* out);

// The two per-pixel steps, exposed for the tests. mag[j] = hypot(gc[j], gr[j]), bit for bit
// glibc's (and so np.hypot's) value.
void hog_gradient_magnitude(const double* gc, const double* gr, int64_t count, double* mag);
// bins[j] = scikit-image's orientation bin of the gradient (gc[j], gr[j]) for n bins:
// i with 180 i / n <= rad2deg(atan2(gr, gc)) % 180 < 180 (i+1) / n, or -1 in no bin (the angle
// rounds to 180).
void hog_orientation_bins(const double* gc, const double* gr, int64_t count, int64_t n, int32_t* bins);

}  // namespace ml::models
