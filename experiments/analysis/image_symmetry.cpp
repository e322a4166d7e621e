#include "experiments/analysis/image_symmetry.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace ml::analysis {

SymmetryPlane symmetry_plane_score(const float* img, int64_t H, int64_t W) {
  ML_CHECK(H >= 2 && W >= 2, "symmetry_plane_score: image of ", H, " x ", W, " pixels; needs >= 2 x 2");
  const int64_t h = std::max<int64_t>(1, H / 2);
  auto px = [&](int64_t y, int64_t x) { return static_cast<double>(img[y * W + std::clamp<int64_t>(x, 0, W - 1)]); };  // edge copy
  SymmetryPlane best;
  // Twice the axis position: even = through a column (2c), odd = between columns c and c + 1 (2c + 1).
  for (int64_t a2 = 0; a2 <= 2 * (W - 1); ++a2) {
    const bool through = a2 % 2 == 0;
    const int64_t left0 = through ? a2 / 2 - 1 : a2 / 2, right0 = through ? a2 / 2 + 1 : a2 / 2 + 1;
    double sl = 0, sr = 0, sll = 0, srr = 0, slr = 0;
    const auto n = static_cast<double>(H * h);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t k = 0; k < h; ++k) {
        const double l = px(y, left0 - k), r = px(y, right0 + k);  // column left0 - k mirrors right0 + k
        sl += l;
        sr += r;
        sll += l * l;
        srr += r * r;
        slr += l * r;
      }
    const double vl = sll - sl * sl / n, vr = srr - sr * sr / n;
    const double r = vl > 1e-12 * std::max(1.0, sll) && vr > 1e-12 * std::max(1.0, srr) ? (slr - sl * sr / n) / std::sqrt(vl * vr) : -1.0;
    if (r > best.score) {
      best.score = r;
      best.axis = static_cast<double>(a2) / 2.0;
    }
  }
  return best;
}

}  // namespace ml::analysis
