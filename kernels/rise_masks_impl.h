// kernels/rise_masks_impl.h — the per-element functions of kernels/rise_masks.h, shared by the
// CPU reference (kernels/cpu/rise_masks.cpp) and the CUDA kernels (kernels/cuda/rise_masks.cu)
// so the two devices compute the same integers and the same IEEE operations.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/philox.h"
#include "kernels/rise_masks.h"

namespace ml::kernels::rise {

// Generator::next_uniform's 53-bit uniform from one Philox block.
ML_HD double uniform53(uint64_t counter, uint64_t seed) {
  const Philox4 r = philox4x32(counter, seed);
  const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  return static_cast<double>(bits & ((1ULL << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Generator::next_below(n) starting at counter *c (advanced past the draws it used).
ML_HD int64_t below(uint64_t* c, int64_t n, uint64_t seed) {
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  for (;;) {
    const Philox4 r = philox4x32((*c)++, seed);
    const uint64_t x = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    if (x < limit) return static_cast<int64_t>(x % un);
  }
}

// ndimage's 'mirror' about the edge cell centres: ... c b | a b c | b a ...
ML_HD int64_t mirror(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// The two grid cells and the weight of the second for upsampled coordinate o of `up`.
ML_HD void axis(int64_t o, int64_t in, int64_t up, bool nearest, int64_t* i0, int64_t* i1, float* w1) {
  const double src = (static_cast<double>(o) + 0.5) * (static_cast<double>(in) / static_cast<double>(up)) - 0.5;
  if (nearest) {
    int64_t k = static_cast<int64_t>(floor(src + 0.5));
    k = k < 0 ? 0 : (k > in - 1 ? in - 1 : k);
    *i0 = *i1 = k;
    *w1 = 0.f;
  } else {
    const double f = floor(src);
    *i0 = mirror(static_cast<int64_t>(f), in);
    *i1 = mirror(static_cast<int64_t>(f) + 1, in);
    *w1 = static_cast<float>(src - f);
  }
}

// Draws mask k's grid (s² floats) and shift.
ML_HD void draw(float* grid, int32_t* shift, const RiseMaskParams& p, int64_t mask) {
  uint64_t c = static_cast<uint64_t>(mask) * p.counters_per_mask;
  const int64_t cells = p.grid * p.grid;
  for (int64_t j = 0; j < cells; ++j) grid[j] = uniform53(c++, p.seed) < p.keep ? 1.f : 0.f;
  shift[0] = static_cast<int32_t>(below(&c, p.cell_h, p.seed));
  shift[1] = static_cast<int32_t>(below(&c, p.cell_w, p.seed));
}

// Pixel (y, x) of a mask from its grid and shift. The two lerps are written as fused
// multiply-adds so the compilers cannot contract them differently on the two devices.
ML_HD float pixel(const float* grid, const int32_t* shift, const RiseMaskParams& p, int64_t y, int64_t x) {
  int64_t y0, y1, x0, x1;
  float wy, wx;
  axis(y + shift[0], p.grid, p.up_h, p.nearest, &y0, &y1, &wy);
  axis(x + shift[1], p.grid, p.up_w, p.nearest, &x0, &x1, &wx);
  const float* r0 = grid + y0 * p.grid;
  const float* r1 = grid + y1 * p.grid;
  const float top = fmaf(wx, r0[x1], (1.f - wx) * r0[x0]);
  const float bot = fmaf(wx, r1[x1], (1.f - wx) * r1[x0]);
  return fmaf(wy, bot, (1.f - wy) * top);
}

// One Kahan step: s += v·w, the lost low-order part kept (negated) in c.
ML_HD void kahan(float* s, float* c, float v, float w) {
  const float y = fmaf(v, w, -*c);
  const float t = *s + y;
  *c = (t - *s) - y;
  *s = t;
}

}  // namespace ml::kernels::rise
