// kernels/cuda/flip.cu — horizontal/vertical mirror and quarter turns of (planes, H, W)
// (kernels/flip.h, which gives the exact index maps). Pure data movement: every output is one
// input value copied, so CPU and GPU agree bit for bit.
//
// Why it is fast.
//  - flip: one thread per output element; a warp writes 32 consecutive floats and reads 32
//    consecutive floats (in reverse order for a horizontal flip, which is still one coalesced
//    access: the hardware only cares which 32-byte sectors are touched).
//  - rot90 (k odd) is a transpose with a mirror, and a naive transpose makes either the reads
//    or the writes strided (one 32-byte sector per float). Each block instead loads a 32 x 32
//    tile with coalesced row reads into shared memory and writes it out with coalesced row
//    writes of the turned plane. The tile is padded to 33 columns so that reading it by
//    column hits 32 different banks (no bank conflicts).
//  - k = 0 is a copy (copy engine); k = 2 is the flip in both directions.
#include "kernels/cuda/common.cuh"
#include "kernels/flip.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

__global__ void flip_kernel(float* y, const float* x, int64_t n, int64_t H, int64_t W, bool horizontal,
                            bool vertical) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    const int64_t row = o / W, j = o - row * W;  // row = plane * H + i
    const int64_t pl = row / H, i = row - pl * H;
    const int64_t si = vertical ? H - 1 - i : i, sj = horizontal ? W - 1 - j : j;
    y[o] = x[(pl * H + si) * W + sj];
  }
}

constexpr int kTile = 32;
constexpr int kTileRows = 8;  // block = 32 x 8 threads; each thread moves 4 values

// k = 1: y[i, j] = x[j, W-1-i];  k = 3: y[i, j] = x[H-1-j, i];  y is (planes, W, H).
// Block (bx, by) holds x's tile rows [r0, r0+32) x columns [c0, c0+32).
template <int K>
__global__ void rot90_odd_kernel(float* y, const float* x, int64_t planes, int64_t H, int64_t W) {
  ML_SHARED(float, tile, [kTile][kTile + 1]);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) * kTile, r0 = static_cast<int64_t>(blockIdx.y) * kTile;
  for (int64_t pl = blockIdx.z; pl < planes; pl += gridDim.z) {
    const float* xp = x + pl * H * W;
    float* yp = y + pl * H * W;
    // Coalesced reads along x's rows: tile[r][c] = x[r0 + r, c0 + c].
#pragma unroll
    for (int rr = 0; rr < kTile; rr += kTileRows) {
      const int64_t r = r0 + ty + rr, c = c0 + tx;
      if (r < H && c < W) tile[ty + rr][tx] = xp[r * W + c];
    }
    __syncthreads();
    // Coalesced writes along y's rows; y's column index j runs with tx, i.e. with x's row r0 + tx.
#pragma unroll
    for (int cc = 0; cc < kTile; cc += kTileRows) {
      const int64_t r = r0 + tx, c = c0 + ty + cc;
      if (r < H && c < W) {
        if constexpr (K == 1) yp[(W - 1 - c) * H + r] = tile[tx][ty + cc];  // i = W-1-c, j = r
        else yp[c * H + (H - 1 - r)] = tile[tx][ty + cc];                  // i = c, j = H-1-r
      }
    }
    __syncthreads();  // the tile is reused for the next plane
  }
}

}  // namespace

template <>
void flip<Device::CUDA>(float* y, const float* x, int64_t planes, int64_t H, int64_t W, bool horizontal, bool vertical,
                        Stream s) {
  const int64_t n = planes * H * W;
  if (n <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (!horizontal && !vertical) {
    ML_CUDA_CHECK(cudaMemcpyAsync(y, x, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice, st));
    return;
  }
  ML_LAUNCH(grid_for(n), kThreads, 0, st, flip_kernel)(y, x, n, H, W, horizontal, vertical);
  ML_CUDA_CHECK_LAST();
}

template <>
void rot90<Device::CUDA>(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int k, Stream s) {
  k = ((k % 4) + 4) % 4;
  if (k == 0 || k == 2) {
    flip<Device::CUDA>(y, x, planes, H, W, k == 2, k == 2, s);
    return;
  }
  if (planes * H * W <= 0) return;
  const int64_t tiles_w = (W + kTile - 1) / kTile, tiles_h = (H + kTile - 1) / kTile;
  if (tiles_w > 0x7fffffff || tiles_h > 65535)
    throw std::runtime_error("rot90 (cuda): plane of " + std::to_string(H) + " x " + std::to_string(W) +
                             " is too large for one launch");
  const dim3 grid(static_cast<unsigned>(tiles_w), static_cast<unsigned>(tiles_h),
                  static_cast<unsigned>(std::min<int64_t>(planes, 65535)));
  const dim3 block(kTile, kTileRows);
  if (k == 1) ML_LAUNCH(grid, block, 0, stream_of(s), rot90_odd_kernel<1>)(y, x, planes, H, W);
  else ML_LAUNCH(grid, block, 0, stream_of(s), rot90_odd_kernel<3>)(y, x, planes, H, W);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
