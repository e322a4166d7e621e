// kernels/cpu/rise_masks.cpp — the CPU reference of kernels/rise_masks.h: one mask per
// iteration (draw, then upsample), one pixel per iteration for the weighted sum.
#include "kernels/rise_masks.h"

#include "kernels/rise_masks_impl.h"

namespace ml::kernels {

template <>
void rise_grid_draw<Device::CPU>(float* grids, int32_t* shifts, const RiseMaskParams& p, int64_t first, int64_t count,
                                 Stream) {
  const int64_t cells = p.grid * p.grid;
#pragma omp parallel for schedule(static) if (count * cells > 4096)
  for (int64_t k = 0; k < count; ++k) rise::draw(grids + k * cells, shifts + 2 * k, p, first + k);
}

template <>
void rise_upsample_crop<Device::CPU>(float* masks, const float* grids, const int32_t* shifts, const RiseMaskParams& p,
                                     int64_t count, Stream) {
  const int64_t cells = p.grid * p.grid, hw = p.h * p.w;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < count; ++k)
    for (int64_t y = 0; y < p.h; ++y)
      for (int64_t x = 0; x < p.w; ++x)
        masks[k * hw + y * p.w + x] = rise::pixel(grids + k * cells, shifts + 2 * k, p, y, x);
}

template <>
void rise_accumulate<Device::CPU>(float* sum, float* comp, const float* masks, const float* weights, int64_t B,
                                  int64_t n, int64_t U, Stream) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < B; ++b) {
      const float m = masks[b * n + i];
      for (int64_t k = 0; k < U; ++k) rise::kahan(&sum[k * n + i], &comp[k * n + i], m, weights[b * U + k]);
    }
}

}  // namespace ml::kernels
