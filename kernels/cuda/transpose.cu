// kernels/cuda/transpose.cu — y (A, N, B, M, C) from x (A, M, B, N, C) (kernels/transpose.h).
// Pure data movement, so CPU and GPU agree bit for bit.
//
// Why it is this way. One thread per output element in a grid-stride loop: the writes are
// coalesced, and the reads are too whenever C (the contiguous run after the second swapped
// dimension) is 32 floats or more, as for attention heads (C = head dim 64). The patch
// embedding's (B, 768, 196) -> (B, 196, 768) has C = 1 and reads with stride 196; a tiled
// shared-memory transpose (as rot90 in flip.cu) would make those reads coalesced too; it is
// left for when a profile says this copy matters next to the convolutions and matmuls.
#include "kernels/cuda/common.cuh"
#include "kernels/transpose.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

__global__ void transpose_kernel(float* y, const float* x, int64_t n, int64_t M, int64_t B, int64_t N, int64_t C) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    // o = (((a * N + j) * B + b) * M + i) * C + c
    int64_t r = o;
    const int64_t c = r % C;
    r /= C;
    const int64_t i = r % M;
    r /= M;
    const int64_t b = r % B;
    r /= B;
    const int64_t j = r % N;
    const int64_t a = r / N;
    y[o] = x[(((a * M + i) * B + b) * N + j) * C + c];
  }
}

}  // namespace

template <>
void transpose<Device::CUDA>(float* y, const float* x, const TransposeParams& p, Stream s) {
  const int64_t n = p.A * p.M * p.B * p.N * p.C;
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), transpose_kernel)(y, x, n, p.M, p.B, p.N, p.C);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
