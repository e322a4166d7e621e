// tools/render/equalize.h — SHINE-style luminance matching (lumMatch with a mask) over a
// whole stimulus set: every image's foreground gets the same mean luminance and the same
// contrast (std), the background stays at its gray.
//
// Definitions (the test checks exactly these):
//   gray value      the composited picture in [0, 1]: c * shade + (1 - c) * background,
//                   c = the pixel's coverage (rasterizer.h); what the PNG stores, / 255.
//   foreground F    pixels with coverage >= 0.5 (kForegroundCoverage). For sets read back
//                   from PNGs (no coverage known) coverage is 1 on pixels whose 8-bit value
//                   differs from the background's 128 and 0 elsewhere (image_set.h).
//   targets         m* = the mean over images of each image's F-mean of the gray value;
//                   s* = the mean over images of each image's F-std (population std).
//   the change      per image, the object's shade is mapped by
//                       shade' = clamp(alpha * shade + beta, 0, 1),   alpha > 0,
//                   and re-composited with the same coverage, so the background and the
//                   anti-aliased silhouette stay as rendered.
//   solving         Without clipping, an F pixel's gray value alpha*(c*shade) + beta*c +
//                   bg*(1-c) has an F-mean linear and an F-variance quadratic in (alpha,
//                   beta), so the pair giving exactly (m*, s*) comes in closed form from the
//                   image's first and second moments. Clipping would break that equality, so
//                   where the closed-form shade' leaves [0, 1] on F (low-contrast images that
//                   need a large gain: flat box faces seen head-on) the clamped map is solved:
//                   beta by bisection for the mean at a given alpha, alpha by bisection for the
//                   std (both continuous and monotone), to 1e-10. Such images keep the exact
//                   targets but have some pixels saturated at 0 or 1 — as SHINE would, minus
//                   SHINE's change of mean and std; their number is reported. Lowering s* until
//                   nothing clips was tried and rejected: a few flat chairs cut the whole set's
//                   contrast to a quarter.
// Residual bound: rounding to 8 bits moves each pixel by at most 0.5/255, so an exactly
// solved image's F-mean is within 0.5/255 (+1e-10) of m*, and its F-std within 0.5/255 of s*
// (the std of a sum differs from the std of one term by at most the std of the other, here
// <= 0.5/255). Between two images: 1/255.
#pragma once
#include <Eigen/Core>

#include <cstdint>
#include <vector>

#include "tools/render/rasterizer.h"

namespace ml::render {

constexpr double kForegroundCoverage = 0.5;
constexpr double kBackground = 128.0 / 255.0;  // the study's uniform gray

// One image's moments (pass 1).
struct ForegroundStats {
  int64_t n = 0;                                   // foreground pixels
  Eigen::Vector3d mean = Eigen::Vector3d::Zero();  // of u = (c * shade, c, bg * (1 - c)) over F
  Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();   // population covariance of u over F
  double shade_min = 0.0, shade_max = 0.0;         // of shade over F
  double gray_mean = 0.0, gray_std = 0.0;          // of the gray value over F
};
ForegroundStats foreground_stats(const Rendering& r);

struct EqualizationTargets {
  double mean = 0.0, std = 0.0;
};
// The means over images of the F-means and F-stds. Images with an empty F (a thin object seen
// edge-on at a tiny size, e.g. an airplane head-on at 8 px) are left out, and solve_gain leaves
// them as rendered and not exact; at least one image must have a foreground.
EqualizationTargets equalization_targets(const std::vector<ForegroundStats>& stats);

struct Gain {
  double alpha = 1.0, beta = 0.0;  // shade' = clamp(alpha * shade + beta, 0, 1)
  bool exact = true;               // the targets are met (before 8-bit rounding)
  int64_t clipped = 0;             // foreground pixels whose shade' was clamped
};
Gain solve_gain(const Rendering& r, const ForegroundStats& st, const EqualizationTargets& t);

// The equalised 8-bit picture (row-major gray): round(255 * gray').
std::vector<uint8_t> equalized_pixels(const Rendering& r, const Gain& g);

// Mean and population std of pixel / 255 over F (coverage >= 0.5) — what the residuals report.
struct MeasuredStats {
  double mean = 0.0, std = 0.0;
  int64_t n = 0;
};
MeasuredStats measure_foreground(const std::vector<uint8_t>& pixels, const Rendering& r);

}  // namespace ml::render
