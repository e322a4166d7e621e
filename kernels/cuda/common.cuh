// kernels/cuda/common.cuh — what the CUDA kernel families share: the stream cast, launch
// sizes for grid-stride loops, deterministic warp and block sums, and the collapse of
// broadcast/reduce index maps to as few dimensions as possible.
//
// Determinism. Every sum here has a fixed association order that depends only on the shape
// and the compile-time block size, never on timing: a warp sum is a butterfly (__shfl_xor),
// a block sum is warp sums then one warp over them, and a two-pass reduction adds its partials
// in index order. No float atomics anywhere, so repeated runs match bit for bit.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>
#include <cstdint>

#include "kernels/common.h"
#include "kernels/cuda/check.h"

// Launches and static shared memory are written through two macros, so that the same source
// builds with nvcc and, as host C++, in the interpret mode (tests/interpret/cuda_emu.h defines
// both for the emulator; its <cuda_runtime.h> is included above):
//   ML_LAUNCH(grid, block, shared bytes, stream, kernel<...>)(args...);
//   ML_SHARED(type, name, [dims]...);   // a __shared__ array
// The kernel comes last because a template-id may hold commas.
#ifndef ML_LAUNCH
#define ML_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#endif
#ifndef ML_SHARED
#define ML_SHARED(type, name, ...) __shared__ type name __VA_ARGS__
#endif

namespace ml::kernels::cuda {

inline cudaStream_t stream_of(Stream s) { return static_cast<cudaStream_t>(s.handle); }

constexpr int kThreads = 256;  // default block size: 8 warps, 8 blocks fill an SM's 2048 threads

// The device's SM count: it may size grids, never a result (a sum's association order must
// not change between GPU models; reduce.cu and conv2d.cu size their splits by constants).
inline int query_sm_count() {
  int dev = 0, sms = 0;
  ML_CUDA_CHECK(cudaGetDevice(&dev));
  ML_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  return sms > 0 ? sms : 1;
}
inline int sm_count() {
#if defined(ML_INTERPRET)
  // The interpret mode asks every time: its tests change the SM count (ML_INTERP_SMS) within
  // one process to check that no result depends on it.
  return query_sm_count();
#else
  static const int n = query_sm_count();
  return n;
#endif
}

// Blocks for a grid-stride loop over `items` work items with `threads` per block: one item
// per thread when that is few, else a few full waves (each thread then loops, which keeps
// more loads in flight per thread and amortises the index arithmetic).
inline unsigned grid_for(int64_t items, int threads = kThreads) {
  const int64_t want = (items + threads - 1) / threads;
  const int64_t cap = static_cast<int64_t>(sm_count()) * (2048 / threads) * 4;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(want, cap)));
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// ---- deterministic sums -------------------------------------------------------------------

// Butterfly sum: after it every lane holds the same value (a + b == b + a exactly in IEEE),
// and the association order is fixed.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of THREADS threads (a multiple of 32, at most 1024); every thread gets the
// result. `smem` holds THREADS/32 values. Ends with a barrier, so it may be called repeatedly
// with the same smem.
template <int THREADS, class T>
__device__ __forceinline__ T block_sum(T v, T* smem) {
  static_assert(THREADS % 32 == 0 && THREADS <= 1024, "block size");
  constexpr int kWarps = THREADS / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if constexpr (kWarps == 1) {
    return v;
  } else {
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    T r = lane < kWarps ? smem[lane] : T(0);
    r = warp_sum(r);
    __syncthreads();  // smem may be reused by the caller's next block_sum
    return r;
  }
}

template <int THREADS>
__device__ __forceinline__ float block_max(float v, float* smem) {
  constexpr int kWarps = THREADS / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_max(v);
  if constexpr (kWarps == 1) {
    return v;
  } else {
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    float r = lane < kWarps ? smem[lane] : -INFINITY;
    r = warp_max(r);
    __syncthreads();
    return r;
  }
}

// Sum over the TPR threads that share a row: one warp (TPR 32, shuffles only) or the whole block
// (TPR = the block size, through `smem` as block_sum). The row kernels (correlation.cu, layer_norm.cu,
// softmax.cu) pick TPR by the row length.
template <int TPR, class T>
__device__ __forceinline__ T row_sum(T v, T* smem) {
  if constexpr (TPR == 32) return warp_sum(v);
  else return block_sum<TPR>(v, smem);
}

// ---- index maps -----------------------------------------------------------------------------

// A strided view over up to 5 dimensions with two operands' strides (in elements), after
// dropping size-1 dimensions and merging neighbours that are contiguous for both operands:
// (N, C, H, W) + (1, C, 1, 1) becomes (N, C, H*W) with strides (C*HW, HW, 1) and (0, 1, 0).
// Fewer dimensions mean fewer divisions per element in the kernels.
struct Collapsed {
  int ndim = 0;
  int64_t shape[5];
  int64_t sa[5], sb[5];
};

inline Collapsed collapse_dims(const int64_t* shape, const int64_t* sa, const int64_t* sb, int n) {
  Collapsed c;
  for (int d = 0; d < n; ++d) {
    if (shape[d] == 1) continue;
    if (c.ndim > 0) {
      const int k = c.ndim - 1;
      // Merge d into the previous dimension k if stepping k once equals stepping d shape[d] times.
      if (c.sa[k] == sa[d] * shape[d] && c.sb[k] == sb[d] * shape[d]) {
        c.shape[k] *= shape[d];
        c.sa[k] = sa[d];
        c.sb[k] = sb[d];
        continue;
      }
    }
    c.shape[c.ndim] = shape[d];
    c.sa[c.ndim] = sa[d];
    c.sb[c.ndim] = sb[d];
    ++c.ndim;
  }
  if (c.ndim == 0) {  // a single element
    c.ndim = 1;
    c.shape[0] = 1;
    c.sa[0] = c.sb[0] = 0;
  }
  return c;
}

// Passed by value to kernels (a few hundred bytes of kernel parameters at most).
template <int NDIM>
struct IndexMap {
  int64_t shape[NDIM];
  int64_t sa[NDIM], sb[NDIM];
};

template <int NDIM>
IndexMap<NDIM> index_map(const Collapsed& c) {
  IndexMap<NDIM> m;
  for (int d = 0; d < NDIM; ++d) {
    m.shape[d] = c.shape[d];
    m.sa[d] = c.sa[d];
    m.sb[d] = c.sb[d];
  }
  return m;
}

// Offsets of flat (row-major) index i in both operands.
template <int NDIM>
__device__ __forceinline__ void offsets(const IndexMap<NDIM>& m, int64_t i, int64_t& oa, int64_t& ob) {
  oa = 0;
  ob = 0;
#pragma unroll
  for (int d = NDIM - 1; d > 0; --d) {
    const int64_t q = i / m.shape[d];
    const int64_t idx = i - q * m.shape[d];
    oa += idx * m.sa[d];
    ob += idx * m.sb[d];
    i = q;
  }
  oa += i * m.sa[0];
  ob += i * m.sb[0];
}

// Calls f(std::integral_constant<int, NDIM>) for the collapsed rank (1..5).
template <class F>
void with_ndim(int ndim, F&& f) {
  switch (ndim) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    default: f(std::integral_constant<int, 5>{}); break;
  }
}

// ---- scratch for two-pass reductions ------------------------------------------------------

// A grow-only device buffer per host thread for the partial sums of two-pass reductions.
// Per thread, because two host threads queueing reductions on the one stream could otherwise
// interleave and overwrite each other's partials; work from one thread is stream-ordered, so
// its buffer is free again for its next reduction. It lives outside the engine's caching
// allocator (kernels own no allocation policy); growing it synchronises the device.
inline void* scratch(size_t bytes) {
  struct Buffer {
    void* p = nullptr;
    size_t n = 0;
    ~Buffer() {
      if (p) (void)cudaFree(p);  // at thread exit; errors after runtime teardown are moot
    }
  };
  thread_local Buffer b;
  if (b.n < bytes) {
    if (b.p) {
      ML_CUDA_CHECK(cudaDeviceSynchronize());  // queued kernels may still read the old buffer
      ML_CUDA_CHECK(cudaFree(b.p));
      b.p = nullptr;
      b.n = 0;
    }
    const size_t grown = std::max(bytes, size_t(1) << 16);
    ML_CUDA_CHECK(cudaMalloc(&b.p, grown));
    b.n = grown;
  }
  return b.p;
}

}  // namespace ml::kernels::cuda
