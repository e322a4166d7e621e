// kernels/cuda/layer_norm.cu — fused layer normalisation over rows of C (kernels/layer_norm.h),
// the CUDA side of kernels/cpu/layer_norm.cpp, formula for formula:
//   m = sum x / C and ss = sum (x - m)^2 in double; mh = float(m), mlo = float(m - mh);
//   rstd = float(1 / sqrt(ss / C + eps)); y = ((x - mh) - mlo) rstd w + b in float.
// The backward recomputes mlo from the row (the forward keeps only the float mean) and forms
//   gx = rstd (gw - a - xhat bq), a = float(sum gw / C), bq = float(sum gw xhat / C), gw = gy w,
// with the sums in double, and gweight = sum_rows gy xhat, gbias = sum_rows gy in double.
// The only differences from the CPU are the association order of the double sums (far below
// float resolution) and where each compiler contracts a * b + c into an FMA (<= 1 ulp per
// operation): tests/cuda/test_parity.cpp states the resulting tolerance.
//
// Layout: TPR threads per row (a warp when C <= 1024, ViT's 768 and ConvNeXt's 96..768; else a
// block of 256), the row's sums warp-shuffle or block reductions, x re-read from L1/L2 for the
// second statistic and the output (a row is at most a few KB). The parameter gradients are one
// block per 32 columns: a warp reads 32 adjacent columns of a row (one 128-byte line), the 8
// warps take rows w, w + 8, ..., and the 8 partial sums are added in warp order. Fixed orders
// everywhere and no atomics, so reruns are bit-identical and no result depends on the SM count.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/layer_norm.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::row_sum;
using cuda::stream_of;

// The row's mean as float + float residual (see the CPU file for why the residual).
template <int TPR>
__device__ __forceinline__ double row_mean(const float* xr, int64_t C, int t, double* smem) {
  double s = 0.0;
  for (int64_t c = t; c < C; c += TPR) s += xr[c];
  return row_sum<TPR>(s, smem) / static_cast<double>(C);
}

template <int TPR>
__global__ void layer_norm_forward_kernel(float* y, float* mean, float* rstd, const float* x, const float* w,
                                          const float* b, int64_t rows, int64_t C, float eps) {
  ML_SHARED(double, dsm, [kThreads / 32]);
  constexpr int kRowsPerBlock = kThreads / TPR;
  const int t = threadIdx.x % TPR;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; r < rows; r += step) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    const double m = row_mean<TPR>(xr, C, t, dsm);
    double ss = 0.0;
    for (int64_t c = t; c < C; c += TPR) {
      const double d = static_cast<double>(xr[c]) - m;
      ss += d * d;
    }
    ss = row_sum<TPR>(ss, dsm);
    const double var = ss / static_cast<double>(C);  // biased, as PyTorch
    const float mh = static_cast<float>(m), mlo = static_cast<float>(m - static_cast<double>(mh));
    const float rs = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
    if (t == 0) {
      if (mean) mean[r] = mh;
      if (rstd) rstd[r] = rs;
    }
    for (int64_t c = t; c < C; c += TPR) {
      float v = ((xr[c] - mh) - mlo) * rs;
      if (w) v = v * w[c];
      if (b) v = v + b[c];
      yr[c] = v;
    }
  }
}

// Per row: mls[r] = float(mean in double - mean[r]) when mls is given (for the parameter
// gradients), and gx when gx is given.
template <int TPR>
__global__ void layer_norm_backward_rows_kernel(float* gx, float* mls, const float* gy, const float* x,
                                                const float* w, const float* mean, const float* rstd, int64_t rows,
                                                int64_t C) {
  ML_SHARED(double, dsm, [kThreads / 32]);
  constexpr int kRowsPerBlock = kThreads / TPR;
  const int t = threadIdx.x % TPR;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / TPR; r < rows; r += step) {
    const float* xr = x + r * C;
    const float m = mean[r], rs = rstd[r];
    const float mlo = static_cast<float>(row_mean<TPR>(xr, C, t, dsm) - static_cast<double>(m));
    if (mls && t == 0) mls[r] = mlo;
    if (!gx) continue;
    const float* gr = gy + r * C;
    float* gxr = gx + r * C;
    double s1 = 0.0, s2 = 0.0;  // sum gw, sum gw xhat
    for (int64_t c = t; c < C; c += TPR) {
      const double gw = static_cast<double>(gr[c]) * static_cast<double>(w ? w[c] : 1.f);  // exact, as the CPU's
      s1 += gw;
      s2 += gw * static_cast<double>(((xr[c] - m) - mlo) * rs);
    }
    s1 = row_sum<TPR>(s1, dsm);
    s2 = row_sum<TPR>(s2, dsm);
    const float a = static_cast<float>(s1 / static_cast<double>(C));
    const float bq = static_cast<float>(s2 / static_cast<double>(C));
    for (int64_t c = t; c < C; c += TPR) {
      const float gw = gr[c] * (w ? w[c] : 1.f);
      gxr[c] = rs * (gw - a - ((xr[c] - m) - mlo) * rs * bq);
    }
  }
}

constexpr int kParamCols = 32;                     // columns per block: one per lane
constexpr int kParamWarps = kThreads / kParamCols;  // row groups per block, summed in order

// gweight[c] = sum_r gy[r, c] xhat[r, c], gbias[c] = sum_r gy[r, c]; block = 32 columns x 8 row
// groups (grid-stride over column blocks).
__global__ void layer_norm_params_kernel(float* gweight, float* gbias, const float* gy, const float* x,
                                         const float* mean, const float* rstd, const float* mls, int64_t rows,
                                         int64_t C) {
  ML_SHARED(double, pw, [kParamWarps][kParamCols]);
  ML_SHARED(double, pb, [kParamWarps][kParamCols]);
  const int lane = threadIdx.x % kParamCols, warp = threadIdx.x / kParamCols;
  const int64_t col_blocks = (C + kParamCols - 1) / kParamCols;
  for (int64_t cb = blockIdx.x; cb < col_blocks; cb += gridDim.x) {
    const int64_t c = cb * kParamCols + lane;
    double aw = 0.0, ab = 0.0;
    if (c < C) {
      for (int64_t r = warp; r < rows; r += kParamWarps) {
        const float g = gy[r * C + c];
        aw += static_cast<double>(g) * static_cast<double>(((x[r * C + c] - mean[r]) - mls[r]) * rstd[r]);
        ab += g;
      }
    }
    pw[warp][lane] = aw;
    pb[warp][lane] = ab;
    __syncthreads();
    if (warp == 0 && c < C) {
      double sw = 0.0, sb = 0.0;
      for (int k = 0; k < kParamWarps; ++k) {
        sw += pw[k][lane];
        sb += pb[k][lane];
      }
      if (gweight) gweight[c] = static_cast<float>(sw);
      if (gbias) gbias[c] = static_cast<float>(sb);
    }
    __syncthreads();  // pw/pb are rewritten by the next column block
  }
}

}  // namespace

template <>
void layer_norm_forward<Device::CUDA>(float* y, float* mean, float* rstd, const float* x, const float* w,
                                      const float* b, const LayerNormParams& p, Stream s) {
  if (p.rows <= 0 || p.C <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (p.C <= 1024)
    ML_LAUNCH(grid_for(p.rows * 32), kThreads, 0, st, layer_norm_forward_kernel<32>)(y, mean, rstd, x, w, b, p.rows,
                                                                                     p.C, p.eps);
  else
    ML_LAUNCH(grid_for(p.rows * kThreads), kThreads, 0, st, layer_norm_forward_kernel<kThreads>)(
        y, mean, rstd, x, w, b, p.rows, p.C, p.eps);
  ML_CUDA_CHECK_LAST();
}

template <>
void layer_norm_backward<Device::CUDA>(float* gx, float* gweight, float* gbias, const float* gy, const float* x,
                                       const float* w, const float* mean, const float* rstd,
                                       const LayerNormParams& p, Stream s) {
  if (p.rows <= 0 || p.C <= 0) return;
  const bool params = gweight || gbias;
  if (!gx && !params) return;
  const cudaStream_t st = stream_of(s);
  float* mls = params ? static_cast<float*>(cuda::scratch(sizeof(float) * static_cast<size_t>(p.rows))) : nullptr;
  if (p.C <= 1024)
    ML_LAUNCH(grid_for(p.rows * 32), kThreads, 0, st, layer_norm_backward_rows_kernel<32>)(gx, mls, gy, x, w, mean,
                                                                                           rstd, p.rows, p.C);
  else
    ML_LAUNCH(grid_for(p.rows * kThreads), kThreads, 0, st, layer_norm_backward_rows_kernel<kThreads>)(
        gx, mls, gy, x, w, mean, rstd, p.rows, p.C);
  ML_CUDA_CHECK_LAST();
  if (params) {
    const int64_t col_blocks = (p.C + kParamCols - 1) / kParamCols;
    ML_LAUNCH(grid_for(col_blocks * kThreads), kThreads, 0, st, layer_norm_params_kernel)(gweight, gbias, gy, x, mean,
                                                                                          rstd, mls, p.rows, p.C);
    ML_CUDA_CHECK_LAST();
  }
}

}  // namespace ml::kernels
