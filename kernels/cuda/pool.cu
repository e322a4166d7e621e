// kernels/cuda/pool.cu — max, average and adaptive-average pooling over (N, C, H, W) and
// their gradients (kernels/pool.h; window and divisor rules in kernels/cpu/pool.cpp).
//
// Forward: one thread per output element (n, c, p, q), flat index in NCHW order, so a warp
// writes 32 consecutive outputs and reads 32 windows that sit side by side in the same rows.
// The window scan is the CPU reference's, in the same row-major order: max pooling keeps the
// first maximum (strict '>', first NaN wins) and so returns the same argmax; average pooling
// sums in double and divides once, as the CPU does.
//
// Backward as a gather, not a scatter: one thread per INPUT element (h, w) visits the few
// outputs whose windows contain it, p in [p0, p1] x q in [q0, q1] in row-major order, and adds
// their contributions starting from 0. That is exactly the order in which the CPU's scatter
// (outputs in row-major order) adds into that element, so the gradients are bit-identical to
// the CPU's, and no atomics are needed (overlapping windows, stride < kernel, just mean more
// candidates). Each input is written once, coalesced.
//   Candidates of input row h for windows [p*sh - ph, p*sh - ph + kh):
//     p0 = h + ph < kh ? 0 : (h + ph - kh) / sh + 1,   p1 = min(P - 1, (h + ph) / sh)
//   Adaptive windows [floor(p*H/P), ceil((p+1)*H/P)):
//     p0 = floor(h*P/H),                                 p1 = min(P - 1, ((h+1)*P - 1) / H)
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/elementwise.h"
#include "kernels/pool.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

struct Window {
  int64_t h0, h1, w0, w1;  // clipped to the real input: [h0, h1) x [w0, w1)
};

__device__ __forceinline__ Window real_window(const Pool2dParams& p, int64_t op, int64_t oq) {
  const int64_t hs = op * p.sh - p.ph, ws = oq * p.sw - p.pw;
  return {max(hs, int64_t(0)), min(hs + p.kh, p.H), max(ws, int64_t(0)), min(ws + p.kw, p.W)};
}

__device__ __forceinline__ int64_t avg_divisor(const Pool2dParams& p, int64_t op, int64_t oq) {
  if (!p.count_include_pad) {
    const Window w = real_window(p, op, oq);
    return (w.h1 - w.h0) * (w.w1 - w.w0);
  }
  const int64_t hs = op * p.sh - p.ph, ws = oq * p.sw - p.pw;
  const int64_t he = min(hs + p.kh, p.H + p.ph), we = min(ws + p.kw, p.W + p.pw);
  return (he - hs) * (we - ws);
}

__device__ __forceinline__ int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
__device__ __forceinline__ int64_t adaptive_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// Output rows (or columns) whose window contains input row h.
__device__ __forceinline__ void candidates(int64_t h, int64_t k, int64_t s, int64_t pad, int64_t P, int64_t& p0,
                                           int64_t& p1) {
  p0 = h + pad < k ? 0 : (h + pad - k) / s + 1;
  p1 = min(P - 1, (h + pad) / s);
}
__device__ __forceinline__ void adaptive_candidates(int64_t h, int64_t H, int64_t P, int64_t& p0, int64_t& p1) {
  p0 = (h * P) / H;
  p1 = min(P - 1, ((h + 1) * P - 1) / H);
}

#define ML_GRID_STRIDE(i, n)                                                                     \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x, ml_stride_ =     \
                   static_cast<int64_t>(gridDim.x) * blockDim.x;                                  \
       i < (n); i += ml_stride_)

// ---- max -----------------------------------------------------------------------------------

__global__ void max_pool_forward_kernel(float* y, int32_t* argmax, const float* x, Pool2dParams p) {
  const int64_t PQ = p.P * p.Q, total = p.N * p.C * PQ;
  ML_GRID_STRIDE(o, total) {
    const int64_t nc = o / PQ, pq = o - nc * PQ, op = pq / p.Q, oq = pq - op * p.Q;
    const float* xp = x + nc * p.H * p.W;
    const Window w = real_window(p, op, oq);
    // As the CPU: the first element is taken, then strictly greater values; a NaN is taken
    // and ends the scan (the first NaN wins). A window wholly in the padding gives -inf, -1.
    float best = -INFINITY;
    int64_t best_i = -1;
    for (int64_t h = w.h0; h < w.h1 && !isnan(best); ++h)
      for (int64_t c = w.w0; c < w.w1; ++c) {
        const float v = xp[h * p.W + c];
        if (best_i < 0 || v > best || isnan(v)) {
          best = v;
          best_i = h * p.W + c;
          if (isnan(v)) break;
        }
      }
    y[o] = best;
    if (argmax) argmax[o] = static_cast<int32_t>(best_i);
  }
}

__global__ void max_pool_backward_kernel(float* gx, const float* gy, const int32_t* argmax, Pool2dParams p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, total = p.N * p.C * HW;
  ML_GRID_STRIDE(i, total) {
    const int64_t nc = i / HW, hw = i - nc * HW, h = hw / p.W, w = hw - h * p.W;
    int64_t p0, p1, q0, q1;
    candidates(h, p.kh, p.sh, p.ph, p.P, p0, p1);
    candidates(w, p.kw, p.sw, p.pw, p.Q, q0, q1);
    const float* gyp = gy + nc * PQ;
    const int32_t* ap = argmax + nc * PQ;
    float acc = 0.f;
    for (int64_t op = p0; op <= p1; ++op)
      for (int64_t oq = q0; oq <= q1; ++oq)
        if (ap[op * p.Q + oq] == hw) acc += gyp[op * p.Q + oq];
    gx[i] = acc;
  }
}

// ---- average ---------------------------------------------------------------------------------

__global__ void avg_pool_forward_kernel(float* y, const float* x, Pool2dParams p) {
  const int64_t PQ = p.P * p.Q, total = p.N * p.C * PQ;
  ML_GRID_STRIDE(o, total) {
    const int64_t nc = o / PQ, pq = o - nc * PQ, op = pq / p.Q, oq = pq - op * p.Q;
    const float* xp = x + nc * p.H * p.W;
    const Window w = real_window(p, op, oq);
    const int64_t div = avg_divisor(p, op, oq);
    double acc = 0.0;
    for (int64_t h = w.h0; h < w.h1; ++h)
      for (int64_t c = w.w0; c < w.w1; ++c) acc += xp[h * p.W + c];
    y[o] = div > 0 ? static_cast<float>(acc / static_cast<double>(div)) : 0.f;
  }
}

__global__ void avg_pool_backward_kernel(float* gx, const float* gy, Pool2dParams p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, total = p.N * p.C * HW;
  ML_GRID_STRIDE(i, total) {
    const int64_t nc = i / HW, hw = i - nc * HW, h = hw / p.W, w = hw - h * p.W;
    int64_t p0, p1, q0, q1;
    candidates(h, p.kh, p.sh, p.ph, p.P, p0, p1);
    candidates(w, p.kw, p.sw, p.pw, p.Q, q0, q1);
    const float* gyp = gy + nc * PQ;
    float acc = 0.f;
    for (int64_t op = p0; op <= p1; ++op)
      for (int64_t oq = q0; oq <= q1; ++oq) {
        const int64_t div = avg_divisor(p, op, oq);
        if (div > 0) acc += gyp[op * p.Q + oq] / static_cast<float>(div);
      }
    gx[i] = acc;
  }
}

// ---- adaptive average -------------------------------------------------------------------------

__global__ void adaptive_avg_forward_kernel(float* y, const float* x, Pool2dParams p) {
  const int64_t PQ = p.P * p.Q, total = p.N * p.C * PQ;
  ML_GRID_STRIDE(o, total) {
    const int64_t nc = o / PQ, pq = o - nc * PQ, op = pq / p.Q, oq = pq - op * p.Q;
    const float* xp = x + nc * p.H * p.W;
    const int64_t h0 = adaptive_start(op, p.H, p.P), h1 = adaptive_end(op, p.H, p.P);
    const int64_t w0 = adaptive_start(oq, p.W, p.Q), w1 = adaptive_end(oq, p.W, p.Q);
    double acc = 0.0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t c = w0; c < w1; ++c) acc += xp[h * p.W + c];
    y[o] = static_cast<float>(acc / static_cast<double>((h1 - h0) * (w1 - w0)));
  }
}

__global__ void adaptive_avg_backward_kernel(float* gx, const float* gy, Pool2dParams p) {
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, total = p.N * p.C * HW;
  ML_GRID_STRIDE(i, total) {
    const int64_t nc = i / HW, hw = i - nc * HW, h = hw / p.W, w = hw - h * p.W;
    int64_t p0, p1, q0, q1;
    adaptive_candidates(h, p.H, p.P, p0, p1);
    adaptive_candidates(w, p.W, p.Q, q0, q1);
    const float* gyp = gy + nc * PQ;
    float acc = 0.f;
    for (int64_t op = p0; op <= p1; ++op) {
      const int64_t rows = adaptive_end(op, p.H, p.P) - adaptive_start(op, p.H, p.P);
      for (int64_t oq = q0; oq <= q1; ++oq) {
        const int64_t cols = adaptive_end(oq, p.W, p.Q) - adaptive_start(oq, p.W, p.Q);
        acc += gyp[op * p.Q + oq] / static_cast<float>(rows * cols);
      }
    }
    gx[i] = acc;
  }
}

#undef ML_GRID_STRIDE

int64_t outputs(const Pool2dParams& p) { return p.N * p.C * p.P * p.Q; }
int64_t inputs(const Pool2dParams& p) { return p.N * p.C * p.H * p.W; }

}  // namespace

template <>
void max_pool2d_forward<Device::CUDA>(float* y, int32_t* argmax, const float* x, const Pool2dParams& p, Stream s) {
  const int64_t n = outputs(p);
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), max_pool_forward_kernel)(y, argmax, x, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void max_pool2d_backward<Device::CUDA>(float* gx, const float* gy, const int32_t* argmax, const Pool2dParams& p,
                                       Stream s) {
  const int64_t n = inputs(p);
  if (n <= 0) return;
  if (p.P <= 0 || p.Q <= 0) {  // nothing pooled: the gradient is zero
    fill<Device::CUDA>(gx, n, 0.f, s);
    return;
  }
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), max_pool_backward_kernel)(gx, gy, argmax, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void avg_pool2d_forward<Device::CUDA>(float* y, const float* x, const Pool2dParams& p, Stream s) {
  const int64_t n = outputs(p);
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), avg_pool_forward_kernel)(y, x, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void avg_pool2d_backward<Device::CUDA>(float* gx, const float* gy, const Pool2dParams& p, Stream s) {
  const int64_t n = inputs(p);
  if (n <= 0) return;
  if (p.P <= 0 || p.Q <= 0) {
    fill<Device::CUDA>(gx, n, 0.f, s);
    return;
  }
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), avg_pool_backward_kernel)(gx, gy, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void adaptive_avg_pool2d_forward<Device::CUDA>(float* y, const float* x, const Pool2dParams& p, Stream s) {
  const int64_t n = outputs(p);
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), adaptive_avg_forward_kernel)(y, x, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void adaptive_avg_pool2d_backward<Device::CUDA>(float* gx, const float* gy, const Pool2dParams& p, Stream s) {
  const int64_t n = inputs(p);
  if (n <= 0) return;
  if (p.P <= 0 || p.Q <= 0) {
    fill<Device::CUDA>(gx, n, 0.f, s);
    return;
  }
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), adaptive_avg_backward_kernel)(gx, gy, p);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
