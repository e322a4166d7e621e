// kernels/cuda/reduce.cu — sums over any set of dimensions, their adjoint (expand), and the
// row-wise argmax (kernels/reduce.h).
// Layout: x contiguous with shape p.shape (5-D, left-padded with 1s); y is x's shape with the
// reduced dimensions set to 1, i.e. one output per combination of the kept indices.
//
// Accuracy and determinism. Like the CPU reference, every output is accumulated in double and
// rounded once, so the two agree except when the exact sum lies within a double's rounding
// error of a float rounding boundary (then they differ by one float ulp). The association order
// is fixed by the shape alone (fixed stripes per thread, butterfly warp sums, fixed-size
// chunks added in index order): no atomics, so reruns are bit-identical. H100 runs double
// adds at half the float rate, far above what memory can feed, so the doubles cost nothing.
//
// Why it is fast. The index maps are collapsed first (size-1 dims dropped, neighbours merged)
// and then one of two shapes of work is picked, so that a warp always reads contiguous memory:
//  - "rows": the innermost (stride-1) dimension is reduced (row sums, per-channel sums of
//    (N, C, H, W) over N, H, W). The lanes of a warp stride along the reduced elements: one
//    warp per output for short rows, one block per output (or per fixed-size chunk of it)
//    for long ones.
//  - "columns": the innermost dimension is kept (sums over the batch, (N, C) -> (C)). A block
//    is 32 consecutive outputs x 8 stripes of the reduced index; the 32 lanes of a warp read
//    32 consecutive floats, and the 8 stripes are added in order through shared memory.
// When there are too few outputs to fill the GPU (a full sum, a bias gradient of a few
// channels) the reduced range is cut into chunks whose partial sums (double) go to a scratch
// buffer, and a second pass adds each output's partials in chunk order.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/reduce.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

// Up to 5 (merged) dimensions with strides into x.
struct Dims {
  int n = 0;
  int64_t shape[kMaxDims];
  int64_t stride[kMaxDims];
};

// Offset in x of flat (row-major over d) index i. The loop is unrolled with compile-time
// indices so the arrays stay in parameter/register space.
__device__ __forceinline__ int64_t offset_of(int64_t i, const Dims& d) {
  int64_t off = 0;
#pragma unroll
  for (int j = kMaxDims - 1; j >= 0; --j) {
    if (j < d.n) {
      const int64_t q = i / d.shape[j];
      off += (i - q * d.shape[j]) * d.stride[j];
      i = q;
    }
  }
  return off;
}

struct Plan {
  Dims kept, red;
  int64_t kept_n = 1, red_n = 1;
  bool rows = true;  // the stride-1 dimension is reduced (or nothing is kept)
};

void push_dim(Dims& d, int64_t shape, int64_t stride) {
  if (d.n > 0 && d.stride[d.n - 1] == stride * shape) {  // adjacent in memory: merge
    d.shape[d.n - 1] *= shape;
    d.stride[d.n - 1] = stride;
    return;
  }
  d.shape[d.n] = shape;
  d.stride[d.n] = stride;
  ++d.n;
}

Plan make_plan(const ReduceParams& p) {
  Plan pl;
  int64_t strides[kMaxDims], s = 1;
  for (int d = kMaxDims - 1; d >= 0; --d) {
    strides[d] = s;
    s *= p.shape[d];
  }
  int last = -1;  // innermost dimension of size > 1
  for (int d = 0; d < kMaxDims; ++d) {
    if (p.reduce[d]) pl.red_n *= p.shape[d];
    else pl.kept_n *= p.shape[d];
    if (p.shape[d] == 1) continue;
    last = d;
    if (p.reduce[d]) push_dim(pl.red, p.shape[d], strides[d]);
    else push_dim(pl.kept, p.shape[d], strides[d]);
  }
  pl.rows = last < 0 || p.reduce[last];
  return pl;
}

// ---- rows: the reduced elements of one output include the contiguous innermost dimension ----

// One warp per output (short rows): lanes stride over the reduced index.
__global__ void sum_rows_warp_kernel(float* y, const float* x, Dims kept, Dims red, int64_t kept_n, int64_t red_n) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); k < kept_n;
       k += warps) {
    const float* xk = x + offset_of(k, kept);
    double acc = 0.0;
    for (int64_t r = lane; r < red_n; r += 32) acc += xk[offset_of(r, red)];
    acc = cuda::warp_sum(acc);
    if (lane == 0) y[k] = static_cast<float>(acc);
  }
}

// One block per (output k, chunk g), b = k*G + g: sums r in [g*chunk, (g+1)*chunk).
// G == 1 writes y; otherwise the double partial goes to part[k*G + g].
__global__ void sum_rows_block_kernel(float* y, double* part, const float* x, Dims kept, Dims red, int64_t kept_n,
                                      int64_t red_n, int64_t chunk, int64_t G) {
  ML_SHARED(double, smem, [kThreads / 32]);
  for (int64_t b = blockIdx.x; b < kept_n * G; b += gridDim.x) {
    const int64_t k = b / G, g = b - k * G;
    const float* xk = x + offset_of(k, kept);
    const int64_t r0 = g * chunk, r1 = min(red_n, r0 + chunk);
    double acc = 0.0;
    for (int64_t r = r0 + threadIdx.x; r < r1; r += kThreads) acc += xk[offset_of(r, red)];
    acc = cuda::block_sum<kThreads>(acc, smem);
    if (threadIdx.x == 0) {
      if (G == 1) y[k] = static_cast<float>(acc);
      else part[k * G + g] = acc;
    }
  }
}

// ---- columns: consecutive outputs are consecutive in memory ------------------------------------

constexpr int kColStripes = kThreads / 32;  // 8

// Block: 32 consecutive outputs (blockIdx.x) x 8 stripes of the reduced range of chunk blockIdx.y.
__global__ void sum_cols_kernel(float* y, double* part, const float* x, Dims kept, Dims red, int64_t kept_n,
                                int64_t red_n, int64_t chunk, int64_t G) {
  ML_SHARED(double, smem, [kColStripes][33]);
  const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
  const int64_t k = static_cast<int64_t>(blockIdx.x) * 32 + tx;
  const int64_t g = blockIdx.y;
  double acc = 0.0;
  if (k < kept_n) {
    const float* xk = x + offset_of(k, kept);
    const int64_t r1 = min(red_n, (g + 1) * chunk);
    for (int64_t r = g * chunk + ty; r < r1; r += kColStripes) acc += xk[offset_of(r, red)];
  }
  smem[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && k < kept_n) {
    double s = smem[0][tx];
#pragma unroll
    for (int j = 1; j < kColStripes; ++j) s += smem[j][tx];  // stripes in order
    if (G == 1) y[k] = static_cast<float>(s);
    else part[k * G + g] = s;
  }
}

// Second pass: y[k] = sum of its G partials in chunk order.
__global__ void sum_partials_kernel(float* y, const double* part, int64_t kept_n, int64_t G) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < kept_n; k += stride) {
    double s = 0.0;
    for (int64_t g = 0; g < G; ++g) s += part[k * G + g];
    y[k] = static_cast<float>(s);
  }
}

// Enough blocks in flight to fill an H100 (132 SMs x 8 resident blocks) about once; a
// constant rather than the device's SM count, so the chunking (and with it every sum's
// rounding) depends on the shape alone and is the same on every GPU.
constexpr int64_t kTargetBlocks = 1024;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- expand -----------------------------------------------------------------------------------

template <int NDIM>
__global__ void expand_kernel(float* y, const float* x, cuda::IndexMap<NDIM> m, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t oy, ox;
    cuda::offsets(m, i, oy, ox);
    y[i] = x[ox];
  }
}

// ---- argmax ------------------------------------------------------------------------------------

// One warp per row. The CPU reference scans c = 1, 2, ... keeping `best` while row[c] >
// row[best]: the first maximum wins, a NaN never wins, except that a NaN in column 0 is never
// replaced (every comparison with it is false). Here each lane keeps the first maximum of its
// stripe (NaNs skipped), and lanes combine by (larger value, then smaller index); column 0's NaN
// is checked separately.
__global__ void argmax_rows_kernel(int32_t* idx, const float* x, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5);
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
    const float* row = x + r * cols;
    float bv = -INFINITY;
    int64_t bi = -1;  // -1: no candidate in this lane yet
    for (int64_t c = lane; c < cols; c += 32) {
      const float v = row[c];
      if (!isnan(v) && (bi < 0 || v > bv)) {
        bv = v;
        bi = c;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      const int64_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
      const bool better = oi >= 0 && (bi < 0 || ov > bv || (ov == bv && oi < bi));
      if (better) {
        bv = ov;
        bi = oi;
      }
    }
    if (lane == 0) idx[r] = (cols == 0 || bi < 0 || isnan(row[0])) ? 0 : static_cast<int32_t>(bi);
  }
}

}  // namespace

template <>
void sum_reduce<Device::CUDA>(float* y, const float* x, const ReduceParams& p, Stream s) {
  const Plan pl = make_plan(p);
  if (pl.kept_n <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (pl.red_n <= 0) {  // an empty sum is 0
    fill<Device::CUDA>(y, pl.kept_n, 0.f, s);
    return;
  }
  if (pl.rows) {
    if (pl.red_n <= 1024) {
      ML_LAUNCH(grid_for(pl.kept_n * 32), kThreads, 0, st, sum_rows_warp_kernel)(
          y, x, pl.kept, pl.red, pl.kept_n, pl.red_n);
      ML_CUDA_CHECK_LAST();
      return;
    }
    // Chunks of at least 16 elements per thread, and only as many as needed to fill the GPU.
    int64_t G = 1;
    if (pl.kept_n < kTargetBlocks)
      G = std::max<int64_t>(1, std::min(ceil_div(pl.red_n, 16 * kThreads), ceil_div(kTargetBlocks, pl.kept_n)));
    const int64_t chunk = ceil_div(pl.red_n, G);
    double* part = G > 1 ? static_cast<double*>(cuda::scratch(sizeof(double) * pl.kept_n * G)) : nullptr;
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(pl.kept_n * G, int64_t(1) << 20));
    ML_LAUNCH(blocks, kThreads, 0, st, sum_rows_block_kernel)(
        y, part, x, pl.kept, pl.red, pl.kept_n, pl.red_n, chunk, G);
    ML_CUDA_CHECK_LAST();
    if (G > 1) {
      ML_LAUNCH(grid_for(pl.kept_n), kThreads, 0, st, sum_partials_kernel)(y, part, pl.kept_n, G);
      ML_CUDA_CHECK_LAST();
    }
    return;
  }
  // Columns. Each chunk covers at least 8 stripes x 32 elements.
  const int64_t bx = ceil_div(pl.kept_n, 32);
  int64_t G = 1;
  if (bx < kTargetBlocks)
    G = std::max<int64_t>(1, std::min(ceil_div(pl.red_n, 32 * kColStripes), ceil_div(kTargetBlocks, bx)));
  G = std::min<int64_t>(G, 65535);  // gridDim.y limit
  const int64_t chunk = ceil_div(pl.red_n, G);
  double* part = G > 1 ? static_cast<double*>(cuda::scratch(sizeof(double) * pl.kept_n * G)) : nullptr;
  ML_LAUNCH(dim3(static_cast<unsigned>(bx), static_cast<unsigned>(G)), kThreads, 0, st, sum_cols_kernel)(
      y, part, x, pl.kept, pl.red, pl.kept_n, pl.red_n, chunk, G);
  ML_CUDA_CHECK_LAST();
  if (G > 1) {
    ML_LAUNCH(grid_for(pl.kept_n), kThreads, 0, st, sum_partials_kernel)(y, part, pl.kept_n, G);
    ML_CUDA_CHECK_LAST();
  }
}

template <>
void expand<Device::CUDA>(float* y, const float* x, const ReduceParams& p, Stream s) {
  // y (full shape, contiguous) against x (reduced dims of size 1, contiguous): x's stride is
  // 0 along every reduced dimension, which makes this a broadcast copy.
  int64_t ystride[kMaxDims], xstride[kMaxDims], n = 1, sy = 1, sx = 1;
  for (int d = kMaxDims - 1; d >= 0; --d) {
    ystride[d] = sy;
    sy *= p.shape[d];
    xstride[d] = p.reduce[d] ? 0 : sx;
    if (!p.reduce[d]) sx *= p.shape[d];
    n *= p.shape[d];
  }
  if (n <= 0) return;
  const cuda::Collapsed c = cuda::collapse_dims(p.shape, ystride, xstride, kMaxDims);
  const cudaStream_t st = stream_of(s);
  cuda::with_ndim(c.ndim, [&](auto ND) {
    constexpr int kNd = decltype(ND)::value;
    ML_LAUNCH(grid_for(n), kThreads, 0, st, expand_kernel<kNd>)(y, x, cuda::index_map<kNd>(c), n);
    ML_CUDA_CHECK_LAST();
  });
}

template <>
void argmax_rows<Device::CUDA>(int32_t* idx, const float* x, int64_t rows, int64_t cols, Stream s) {
  if (rows <= 0) return;
  ML_LAUNCH(grid_for(rows * 32), kThreads, 0, stream_of(s), argmax_rows_kernel)(idx, x, rows, cols);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
