// kernels/cuda/rise_masks.cu — RISE masks and the response-weighted mask sum on the GPU
// (kernels/rise_masks.h). The per-element arithmetic is kernels/rise_masks_impl.h, the same
// header the CPU reference runs: the grid draw is integer Philox arithmetic and one exact
// double comparison (bit-exact with the host's Generator), the upsampling two explicit fused
// multiply-adds per lerp on identical operands (bit-exact with the CPU reference), the sum one
// Kahan step per mask in mask order (bit-exact too: fmaf, +, − on identical operands).
//
// Why it is fast enough: the draw is one thread per mask (s² + 2 Philox blocks, ~100 at most:
// microseconds); the upsampling one thread per output pixel, whose four grid reads hit L1; the
// sum one thread per (unit, pixel), consecutive threads on consecutive pixels, so each mask
// row is read coalesced and the sum and compensation stay in registers over the B masks.
#include "kernels/cuda/common.cuh"
#include "kernels/rise_masks.h"
#include "kernels/rise_masks_impl.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

__global__ void rise_draw_kernel(float* grids, int32_t* shifts, RiseMaskParams p, int64_t first, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t cells = p.grid * p.grid;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < count; k += stride)
    rise::draw(grids + k * cells, shifts + 2 * k, p, first + k);
}

__global__ void rise_upsample_kernel(float* masks, const float* grids, const int32_t* shifts, RiseMaskParams p,
                                     int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t hw = p.h * p.w, cells = p.grid * p.grid;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    const int64_t k = o / hw, r = o - k * hw, y = r / p.w, x = r - y * p.w;
    masks[o] = rise::pixel(grids + k * cells, shifts + 2 * k, p, y, x);
  }
}

__global__ void rise_accumulate_kernel(float* sum, float* comp, const float* masks, const float* weights, int64_t B,
                                       int64_t n, int64_t U) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < U * n; o += stride) {
    const int64_t k = o / n, i = o - k * n;
    float s = sum[o], c = comp[o];
    for (int64_t b = 0; b < B; ++b) rise::kahan(&s, &c, masks[b * n + i], weights[b * U + k]);
    sum[o] = s;
    comp[o] = c;
  }
}

}  // namespace

template <>
void rise_grid_draw<Device::CUDA>(float* grids, int32_t* shifts, const RiseMaskParams& p, int64_t first, int64_t count,
                                  Stream s) {
  if (count <= 0) return;
  ML_LAUNCH(grid_for(count), kThreads, 0, stream_of(s), rise_draw_kernel)(grids, shifts, p, first, count);
  ML_CUDA_CHECK_LAST();
}

template <>
void rise_upsample_crop<Device::CUDA>(float* masks, const float* grids, const int32_t* shifts, const RiseMaskParams& p,
                                      int64_t count, Stream s) {
  const int64_t n = count * p.h * p.w;
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), rise_upsample_kernel)(masks, grids, shifts, p, n);
  ML_CUDA_CHECK_LAST();
}

template <>
void rise_accumulate<Device::CUDA>(float* sum, float* comp, const float* masks, const float* weights, int64_t B,
                                   int64_t n, int64_t U, Stream s) {
  if (B <= 0 || n * U <= 0) return;
  ML_LAUNCH(grid_for(n * U), kThreads, 0, stream_of(s), rise_accumulate_kernel)(sum, comp, masks, weights, B, n, U);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
