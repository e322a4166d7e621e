// kernels/cuda/correlation.cu — z-scoring of columns and centring/normalising of rows, the
// building blocks of correlation matrices and RDMs (kernels/correlation.h).
// x: (rows, cols), row-major.
//
// Accuracy. As on the CPU, every statistic is accumulated and applied in double: RDM entries are
// 1 - r with r near 1, where float sums would lose the digits that matter. The formulas are the
// CPU reference's, operation for operation; only the order of the sums differs, which moves a
// double result by ~1e-16 relative, far below the final float rounding.
//
// Why it is fast.
//  - zscore (statistics per column): a block owns 32 consecutive columns and runs 8 stripes
//    over the rows; at every step a warp reads 32 consecutive floats of one row (coalesced).
//    The 8 stripes' double sums are added in stripe order through shared memory
//    (deterministic), then the same block writes its columns' z values, so x is read three
//    times from L2 rather than once per statistic from DRAM.
//  - row_normalize (statistics per row): one warp per row for rows of up to 1024 features,
//    one block of 256 threads per row beyond that; butterfly warp sums (fixed order).
#include <cmath>

#include "kernels/correlation.h"
#include "kernels/cuda/common.cuh"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::row_sum;
using cuda::stream_of;

constexpr int kStripes = kThreads / 32;  // 8

// Sum over the 8 stripes of a (32 columns x 8 stripes) block, in stripe order; every thread of
// column tx gets the result.
__device__ __forceinline__ double column_sum(double v, double (*smem)[33], double* result) {
  const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
  smem[ty][tx] = v;
  __syncthreads();
  if (ty == 0) {
    double s = smem[0][tx];
#pragma unroll
    for (int j = 1; j < kStripes; ++j) s += smem[j][tx];
    result[tx] = s;
  }
  __syncthreads();
  return result[tx];
}

__global__ void zscore_forward_kernel(float* z, float* mean, float* stdv, const float* x, int64_t rows,
                                      int64_t cols) {
  ML_SHARED(double, smem, [kStripes][33]);
  ML_SHARED(double, res, [32]);
  const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
  const int64_t u = static_cast<int64_t>(blockIdx.x) * 32 + tx;
  const bool active = u < cols;
  double acc = 0.0;
  if (active)
    for (int64_t i = ty; i < rows; i += kStripes) acc += x[i * cols + u];
  const double m = column_sum(acc, smem, res) / static_cast<double>(rows);
  acc = 0.0;
  if (active)
    for (int64_t i = ty; i < rows; i += kStripes) {
      const double d = x[i * cols + u] - m;
      acc += d * d;
    }
  const double v = column_sum(acc, smem, res);
  if (!active) return;
  const double sd = sqrt(v / static_cast<double>(rows));
  if (ty == 0) {
    mean[u] = static_cast<float>(m);
    stdv[u] = static_cast<float>(sd);
  }
  const double inv = sd > 0.0 ? 1.0 / sd : 0.0;  // a constant column carries no information: z = 0
  for (int64_t i = ty; i < rows; i += kStripes) z[i * cols + u] = static_cast<float>((x[i * cols + u] - m) * inv);
}

// gx = (gz - mean_i gz - z * mean_i(gz z)) / std   (0 where std == 0)
__global__ void zscore_backward_kernel(float* gx, const float* gz, const float* z, const float* stdv, int64_t rows,
                                       int64_t cols) {
  ML_SHARED(double, smem, [kStripes][33]);
  ML_SHARED(double, res, [32]);
  const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
  const int64_t u = static_cast<int64_t>(blockIdx.x) * 32 + tx;
  const bool active = u < cols;
  double ag = 0.0, agz = 0.0;
  if (active)
    for (int64_t i = ty; i < rows; i += kStripes) {
      const int64_t k = i * cols + u;
      ag += gz[k];
      agz += static_cast<double>(gz[k]) * z[k];
    }
  const double mg = column_sum(ag, smem, res) / static_cast<double>(rows);
  const double mgz = column_sum(agz, smem, res) / static_cast<double>(rows);
  if (!active) return;
  const float sd = stdv[u];
  for (int64_t i = ty; i < rows; i += kStripes) {
    const int64_t k = i * cols + u;
    gx[k] = sd > 0.f ? static_cast<float>((gz[k] - mg - z[k] * mgz) / sd) : 0.f;
  }
}

// TPR threads per row; kThreads / TPR rows per block.
template <int TPR>
__global__ void row_normalize_forward_kernel(float* u, float* norm, const float* x, int64_t rows, int64_t cols) {
  ML_SHARED(double, smem, [kThreads / 32]);
  constexpr int kRowsPerBlock = kThreads / TPR;
  const int t = threadIdx.x % TPR;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; i < rows; i += step) {
    const float* xr = x + i * cols;
    double m = 0.0;
    for (int64_t j = t; j < cols; j += TPR) m += xr[j];
    m = row_sum<TPR>(m, smem) / static_cast<double>(cols);
    double ss = 0.0;
    for (int64_t j = t; j < cols; j += TPR) ss += (xr[j] - m) * (xr[j] - m);
    const double nrm = sqrt(row_sum<TPR>(ss, smem));
    if (t == 0) norm[i] = static_cast<float>(nrm);
    const double inv = nrm > 0.0 ? 1.0 / nrm : 0.0;  // a constant row gives u = 0
    for (int64_t j = t; j < cols; j += TPR) u[i * cols + j] = static_cast<float>((xr[j] - m) * inv);
  }
}

// gc = (gu - u <u, gu>) / norm;  gx = gc - mean(gc)   (0 where norm == 0)
template <int TPR>
__global__ void row_normalize_backward_kernel(float* gx, const float* gu, const float* u, const float* norm,
                                              int64_t rows, int64_t cols) {
  ML_SHARED(double, smem, [kThreads / 32]);
  constexpr int kRowsPerBlock = kThreads / TPR;
  const int t = threadIdx.x % TPR;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; i < rows; i += step) {
    const float* ur = u + i * cols;
    const float* gr = gu + i * cols;
    float* gxr = gx + i * cols;
    const float nrm = norm[i];  // uniform over the row's threads, so the branch is too
    if (nrm <= 0.f) {
      for (int64_t j = t; j < cols; j += TPR) gxr[j] = 0.f;
      continue;
    }
    double dot = 0.0;
    for (int64_t j = t; j < cols; j += TPR) dot += static_cast<double>(ur[j]) * gr[j];
    dot = row_sum<TPR>(dot, smem);
    double mgc = 0.0;
    for (int64_t j = t; j < cols; j += TPR) mgc += (gr[j] - ur[j] * dot);
    mgc = row_sum<TPR>(mgc, smem) / static_cast<double>(cols);
    for (int64_t j = t; j < cols; j += TPR) gxr[j] = static_cast<float>((gr[j] - ur[j] * dot - mgc) / nrm);
  }
}

unsigned column_blocks(int64_t cols) {
  const int64_t b = (cols + 31) / 32;
  if (b > 0x7fffffff) throw std::runtime_error("zscore (cuda): too many columns for one launch");
  return static_cast<unsigned>(b);
}

}  // namespace

template <>
void zscore_columns_forward<Device::CUDA>(float* z, float* mean, float* std, const float* x, int64_t rows,
                                          int64_t cols, Stream s) {
  if (rows <= 0 || cols <= 0) return;
  ML_LAUNCH(column_blocks(cols), kThreads, 0, stream_of(s), zscore_forward_kernel)(z, mean, std, x, rows, cols);
  ML_CUDA_CHECK_LAST();
}

template <>
void zscore_columns_backward<Device::CUDA>(float* gx, const float* gz, const float* z, const float* std, int64_t rows,
                                           int64_t cols, Stream s) {
  if (rows <= 0 || cols <= 0) return;
  ML_LAUNCH(column_blocks(cols), kThreads, 0, stream_of(s), zscore_backward_kernel)(gx, gz, z, std, rows, cols);
  ML_CUDA_CHECK_LAST();
}

template <>
void row_normalize_forward<Device::CUDA>(float* u, float* norm, const float* x, int64_t rows, int64_t cols,
                                         Stream s) {
  if (rows <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (cols <= 1024)
    ML_LAUNCH(grid_for(rows * 32), kThreads, 0, st, row_normalize_forward_kernel<32>)(u, norm, x, rows, cols);
  else
    ML_LAUNCH(grid_for(rows * kThreads), kThreads, 0, st, row_normalize_forward_kernel<kThreads>)(
        u, norm, x, rows, cols);
  ML_CUDA_CHECK_LAST();
}

template <>
void row_normalize_backward<Device::CUDA>(float* gx, const float* gu, const float* u, const float* norm, int64_t rows,
                                          int64_t cols, Stream s) {
  if (rows <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (cols <= 1024)
    ML_LAUNCH(grid_for(rows * 32), kThreads, 0, st, row_normalize_backward_kernel<32>)(gx, gu, u, norm, rows, cols);
  else
    ML_LAUNCH(grid_for(rows * kThreads), kThreads, 0, st, row_normalize_backward_kernel<kThreads>)(
        gx, gu, u, norm, rows, cols);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
