// kernels/cuda/softmax.cu — softmax / log-softmax over the middle axis of (outer, dim, inner),
// and the negative log-likelihood of integer labels (kernels/softmax.h).
//
// Formulas as the CPU reference, step for step: m = max; z = sum exp(double(x - m)) in double;
// log-softmax y = (x - m) - float(log z); softmax y = float(exp(double(x - m)) / z). The exps
// are in double, as on the CPU: the engine's softmaxes are classification-sized (C <= 1000
// classes), where double math costs nothing measurable on an H100 (FP64 at half the FP32
// rate), and it keeps the GPU within one float rounding of the CPU. The only difference left is
// the order of the double sum, far below float resolution.
//
// Why it is fast. Two layouts:
//  - inner == 1 (logits (N, C), the common case): each row is contiguous; one warp per row
//    when dim <= 1024, else one block of 256 threads per row. The row's max and sums are
//    warp-shuffle (or block) reductions; x is read three times, but a row is a few KB and the
//    second and third reads hit L1/L2.
//  - inner > 1 (softmax over channels of (N, C, H, W)): one thread per (outer, inner) column;
//    adjacent threads read adjacent addresses at every step of the loop over dim, so each warp
//    access is one coalesced 128-byte line. The loop adds in d order, exactly the CPU's order.
// Deterministic: fixed-order butterfly and block sums, no atomics.
//
// nll_loss_forward is one block whose threads stride over the batch, summing in double,
// then a fixed-order block sum: deterministic.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/softmax.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::row_sum;
using cuda::stream_of;

// The max over the TPR threads that share a row (a warp, or the whole block); their sum is
// cuda::row_sum (common.cuh).
template <int TPR>
__device__ __forceinline__ float row_max(float v, float* smem) {
  if constexpr (TPR == 32) return cuda::warp_max(v);
  else return cuda::block_max<TPR>(v, smem);
}

// Contiguous rows: TPR threads per row, kThreads / TPR rows per block.
template <int TPR>
__global__ void softmax_rows_kernel(float* y, const float* x, int64_t rows, int64_t dim, bool log_softmax) {
  ML_SHARED(double, dsm, [kThreads / 32]);
  ML_SHARED(float, fsm, [kThreads / 32]);
  constexpr int kRowsPerBlock = kThreads / TPR;
  const int t = threadIdx.x % TPR;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; r < rows; r += step) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    float m = -INFINITY;
    for (int64_t d = t; d < dim; d += TPR) m = fmaxf(m, xr[d]);  // NaN ignored, as std::max(m, x)
    m = row_max<TPR>(m, fsm);
    double z = 0.0;
    for (int64_t d = t; d < dim; d += TPR) z += exp(static_cast<double>(xr[d] - m));
    z = row_sum<TPR>(z, dsm);
    if (log_softmax) {
      const float lz = static_cast<float>(log(z));
      for (int64_t d = t; d < dim; d += TPR) yr[d] = xr[d] - m - lz;
    } else {
      const double inv = 1.0 / z;
      for (int64_t d = t; d < dim; d += TPR) yr[d] = static_cast<float>(exp(static_cast<double>(xr[d] - m)) * inv);
    }
  }
}

// Strided columns: one thread per (o, i), looping over d with stride inner.
__global__ void softmax_cols_kernel(float* y, const float* x, int64_t outer, int64_t dim, int64_t inner,
                                    bool log_softmax) {
  const int64_t n = outer * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += stride) {
    const int64_t o = j / inner, i = j - o * inner;
    const float* xs = x + o * dim * inner + i;
    float* ys = y + o * dim * inner + i;
    float m = -INFINITY;
    for (int64_t d = 0; d < dim; ++d) m = fmaxf(m, xs[d * inner]);
    double z = 0.0;
    for (int64_t d = 0; d < dim; ++d) z += exp(static_cast<double>(xs[d * inner] - m));
    if (log_softmax) {
      const float lz = static_cast<float>(log(z));
      for (int64_t d = 0; d < dim; ++d) ys[d * inner] = xs[d * inner] - m - lz;
    } else {
      const double inv = 1.0 / z;
      for (int64_t d = 0; d < dim; ++d) ys[d * inner] = static_cast<float>(exp(static_cast<double>(xs[d * inner] - m)) * inv);
    }
  }
}

// gx from gy and the forward's output y:
//   softmax:     gx = y * (gy - sum(gy * y))
//   log-softmax: gx = gy - exp(y) * sum(gy)   (one fused multiply-add, as GCC compiles the CPU's)
__device__ __forceinline__ float softmax_grad(float gy, float y, float acc, bool log_softmax) {
  return log_softmax ? __fmaf_rn(-expf(y), acc, gy) : y * (gy - acc);
}

template <int TPR>
__global__ void softmax_backward_rows_kernel(float* gx, const float* gy, const float* y, int64_t rows, int64_t dim,
                                             bool log_softmax) {
  ML_SHARED(double, dsm, [kThreads / 32]);
  constexpr int kRowsPerBlock = kThreads / TPR;
  const int t = threadIdx.x % TPR;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; r < rows; r += step) {
    const float* gyr = gy + r * dim;
    const float* yr = y + r * dim;
    float* gxr = gx + r * dim;
    double acc = 0.0;
    if (log_softmax)
      for (int64_t d = t; d < dim; d += TPR) acc += gyr[d];
    else
      for (int64_t d = t; d < dim; d += TPR) acc += static_cast<double>(gyr[d]) * yr[d];
    const float a = static_cast<float>(row_sum<TPR>(acc, dsm));
    for (int64_t d = t; d < dim; d += TPR) gxr[d] = softmax_grad(gyr[d], yr[d], a, log_softmax);
  }
}

__global__ void softmax_backward_cols_kernel(float* gx, const float* gy, const float* y, int64_t outer, int64_t dim,
                                             int64_t inner, bool log_softmax) {
  const int64_t n = outer * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += stride) {
    const int64_t o = j / inner, i = j - o * inner;
    const int64_t base = o * dim * inner + i;
    double acc = 0.0;
    if (log_softmax)
      for (int64_t d = 0; d < dim; ++d) acc += gy[base + d * inner];
    else
      for (int64_t d = 0; d < dim; ++d) acc += static_cast<double>(gy[base + d * inner]) * y[base + d * inner];
    const float a = static_cast<float>(acc);
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t k = base + d * inner;
      gx[k] = softmax_grad(gy[k], y[k], a, log_softmax);
    }
  }
}

// One block: loss[0] = -(sum_n logp[n, labels[n]]) / N. A label outside [0, C) (the engine
// checks before the call) gives NaN rather than a read out of bounds.
__global__ void nll_forward_kernel(float* loss, const float* logp, const int32_t* labels, int64_t N, int64_t C) {
  ML_SHARED(double, smem, [kThreads / 32]);
  double acc = 0.0;
  bool bad = false;
  for (int64_t n = threadIdx.x; n < N; n += kThreads) {
    const int32_t c = labels[n];
    if (c < 0 || c >= C) bad = true;
    else acc += logp[n * C + c];
  }
  acc = cuda::block_sum<kThreads>(acc, smem);
  const int any_bad = __syncthreads_or(bad);
  if (threadIdx.x == 0) loss[0] = any_bad ? NAN : static_cast<float>(-acc / static_cast<double>(N));
}

// glogp[n, c] = -gloss[0] / N where c == labels[n], else 0 (thread per element).
__global__ void nll_backward_kernel(float* glogp, const float* gloss, const int32_t* labels, int64_t N, int64_t C) {
  const float g = -gloss[0] / static_cast<float>(N);
  const int64_t n_el = N * C;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n_el; i += stride) {
    const int64_t n = i / C, c = i - n * C;
    glogp[i] = labels[n] == c ? g : 0.f;
  }
}

}  // namespace

template <>
void softmax_forward<Device::CUDA>(float* y, const float* x, const SoftmaxParams& p, Stream s) {
  if (p.outer <= 0 || p.inner <= 0 || p.dim <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (p.inner == 1) {
    if (p.dim <= 1024)
      ML_LAUNCH(grid_for(p.outer * 32), kThreads, 0, st, softmax_rows_kernel<32>)(y, x, p.outer, p.dim, p.log);
    else
      ML_LAUNCH(grid_for(p.outer * kThreads), kThreads, 0, st, softmax_rows_kernel<kThreads>)(
          y, x, p.outer, p.dim, p.log);
  } else {
    ML_LAUNCH(grid_for(p.outer * p.inner), kThreads, 0, st, softmax_cols_kernel)(y, x, p.outer, p.dim, p.inner, p.log);
  }
  ML_CUDA_CHECK_LAST();
}

template <>
void softmax_backward<Device::CUDA>(float* gx, const float* gy, const float* y, const SoftmaxParams& p, Stream s) {
  if (p.outer <= 0 || p.inner <= 0 || p.dim <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (p.inner == 1) {
    if (p.dim <= 1024)
      ML_LAUNCH(grid_for(p.outer * 32), kThreads, 0, st, softmax_backward_rows_kernel<32>)(
          gx, gy, y, p.outer, p.dim, p.log);
    else
      ML_LAUNCH(grid_for(p.outer * kThreads), kThreads, 0, st, softmax_backward_rows_kernel<kThreads>)(
          gx, gy, y, p.outer, p.dim, p.log);
  } else {
    ML_LAUNCH(grid_for(p.outer * p.inner), kThreads, 0, st, softmax_backward_cols_kernel)(
        gx, gy, y, p.outer, p.dim, p.inner, p.log);
  }
  ML_CUDA_CHECK_LAST();
}

template <>
void nll_loss_forward<Device::CUDA>(float* loss, const float* logp, const int32_t* labels, int64_t N, int64_t C,
                                    Stream s) {
  // N == 0 gives 0/0 = NaN, as the CPU reference (and PyTorch's mean over nothing).
  ML_LAUNCH(1, kThreads, 0, stream_of(s), nll_forward_kernel)(loss, logp, labels, N, C);
  ML_CUDA_CHECK_LAST();
}

template <>
void nll_loss_backward<Device::CUDA>(float* glogp, const float* gloss, const int32_t* labels, int64_t N, int64_t C,
                                     Stream s) {
  if (N <= 0 || C <= 0) return;
  ML_LAUNCH(grid_for(N * C), kThreads, 0, stream_of(s), nll_backward_kernel)(glogp, gloss, labels, N, C);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
