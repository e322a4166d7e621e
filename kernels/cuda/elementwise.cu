// kernels/cuda/elementwise.cu — pointwise maps y = f(x) and their derivatives, broadcasting
// binary ops, fills, arange, int->float casts and pitched 2-D copies (kernels/elementwise.h).
// Layout: flat contiguous float buffers; broadcasting by per-dimension strides (0 = broadcast).
//
// Why it is fast: these are memory-bound, so the work is to keep the memory system busy.
//  - Grid-stride loops over a few waves of blocks (common.cuh, grid_for): each thread loops,
//    so index arithmetic and launch cost are amortised and many loads are in flight.
//  - 16-byte accesses (float4) when every pointer is 16-byte aligned (cudaMalloc gives 256,
//    a view at an odd offset does not: then the scalar loop runs), plus a scalar tail for the
//    last n % 4 elements. A warp then moves 512 contiguous bytes per instruction.
//  - The op is a template parameter, so each kernel is straight-line code with no switch.
//  - Broadcasting first collapses the index map (size-1 dimensions dropped, contiguous
//    neighbours merged; common.cuh), so a bias add over (N, C, H, W) costs two divisions per
//    element, not four.
//
// Accuracy against the CPU reference: the same formulas in float. Add/sub/mul/div, fills,
// casts and copies are bit-exact (IEEE division and sqrt: nvcc's defaults -prec-div=true,
// -prec-sqrt=true; this code is never built with --use_fast_math). expf, logf, tanhf, powf,
// expm1f and log1pf are CUDA's accurate versions (a few ulp at most, CUDA Math API appendix),
// not the __expf intrinsics.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/elementwise.h"

namespace ml::kernels {

namespace {

using cuda::aligned16;
using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

// ---- the formulas (same as kernels/cpu/elementwise.cpp) ------------------------------------

template <UnaryOp OP>
__device__ __forceinline__ float unary_value(float x, float a) {
  if constexpr (OP == UnaryOp::Relu) return x > 0.f ? x : 0.f;
  else if constexpr (OP == UnaryOp::Elu) return x > 0.f ? x : a * expm1f(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return 1.f / (1.f + expf(-x));
  else if constexpr (OP == UnaryOp::Tanh) return tanhf(x);
  else if constexpr (OP == UnaryOp::Softplus) return a * x > 20.f ? x : log1pf(expf(a * x)) / a;
  else if constexpr (OP == UnaryOp::Exp) return expf(x);
  else if constexpr (OP == UnaryOp::Log) return logf(x);
  else if constexpr (OP == UnaryOp::Log1p) return log1pf(x);
  else if constexpr (OP == UnaryOp::Abs) return fabsf(x);
  else if constexpr (OP == UnaryOp::Square) return x * x;
  else if constexpr (OP == UnaryOp::Sqrt) return sqrtf(x);
  else if constexpr (OP == UnaryOp::Pow) return powf(x, a);
  else if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Scale) return a * x;
  else if constexpr (OP == UnaryOp::AddScalar) return x + a;
  else return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));  // Gelu (exact, erf form)
}

// d f / d x from x and (where cheaper) y = f(x).
template <UnaryOp OP>
__device__ __forceinline__ float unary_derivative(float x, float y, float a) {
  if constexpr (OP == UnaryOp::Relu) return x > 0.f ? 1.f : 0.f;
  else if constexpr (OP == UnaryOp::Elu) return x > 0.f ? 1.f : y + a;
  else if constexpr (OP == UnaryOp::Sigmoid) return y * (1.f - y);
  else if constexpr (OP == UnaryOp::Tanh) return 1.f - y * y;
  else if constexpr (OP == UnaryOp::Softplus) return a * x > 20.f ? 1.f : 1.f / (1.f + expf(-a * x));
  else if constexpr (OP == UnaryOp::Exp) return y;
  else if constexpr (OP == UnaryOp::Log) return 1.f / x;
  else if constexpr (OP == UnaryOp::Log1p) return 1.f / (1.f + x);
  else if constexpr (OP == UnaryOp::Abs) return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
  else if constexpr (OP == UnaryOp::Square) return 2.f * x;
  else if constexpr (OP == UnaryOp::Sqrt) return 0.5f / y;
  else if constexpr (OP == UnaryOp::Pow) return a * powf(x, a - 1.f);
  else if constexpr (OP == UnaryOp::Neg) return -1.f;
  else if constexpr (OP == UnaryOp::Scale) return a;
  else if constexpr (OP == UnaryOp::AddScalar) return 1.f;
  else return 0.5f * (1.f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);  // Gelu
}

template <BinaryOp OP>
__device__ __forceinline__ float binary_value(float a, float b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else return a / b;
}

// ---- one pointwise kernel for K inputs -------------------------------------------------------

template <int K>
struct Inputs {
  const float* p[K];
};

template <UnaryOp OP>
struct UnaryForward {
  float a;
  __device__ float operator()(const float (&v)[1]) const { return unary_value<OP>(v[0], a); }
};
// v = (gy, x, y)
template <UnaryOp OP>
struct UnaryBackward {
  float a;
  __device__ float operator()(const float (&v)[3]) const { return v[0] * unary_derivative<OP>(v[1], v[2], a); }
};
// v = (gy, x), for a caller that passes y = null: the derivative then sees y = 0, so only ops
// whose derivative ignores y are meaningful this way. The CPU reference does not accept a null
// y (it reads y[i] for every op), and the engine always passes it; this variant only spares a
// direct caller a crash.
template <UnaryOp OP>
struct UnaryBackwardNoY {
  float a;
  __device__ float operator()(const float (&v)[2]) const { return v[0] * unary_derivative<OP>(v[1], 0.f, a); }
};
template <BinaryOp OP>
struct BinarySame {
  __device__ float operator()(const float (&v)[2]) const { return binary_value<OP>(v[0], v[1]); }
};

// y may alias an input (in-place use), so no __restrict__: each element is read and then
// written by the same thread, which is safe.
template <int K, bool VEC, class F>
__global__ void pointwise_kernel(float* y, Inputs<K> in, int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t tail = 0;
  if constexpr (VEC) {
    const int64_t n4 = n >> 2;
    for (int64_t i = start; i < n4; i += stride) {
      float4 v[K];
#pragma unroll
      for (int k = 0; k < K; ++k) v[k] = reinterpret_cast<const float4*>(in.p[k])[i];
      float a[K];
      float4 r;
#pragma unroll
      for (int k = 0; k < K; ++k) a[k] = v[k].x;
      r.x = f(a);
#pragma unroll
      for (int k = 0; k < K; ++k) a[k] = v[k].y;
      r.y = f(a);
#pragma unroll
      for (int k = 0; k < K; ++k) a[k] = v[k].z;
      r.z = f(a);
#pragma unroll
      for (int k = 0; k < K; ++k) a[k] = v[k].w;
      r.w = f(a);
      reinterpret_cast<float4*>(y)[i] = r;
    }
    tail = n4 * 4;
  }
  for (int64_t i = tail + start; i < n; i += stride) {
    float a[K];
#pragma unroll
    for (int k = 0; k < K; ++k) a[k] = in.p[k][i];
    y[i] = f(a);
  }
}

template <int K, class F>
void launch_pointwise(float* y, Inputs<K> in, int64_t n, F f, cudaStream_t st) {
  if (n <= 0) return;
  bool vec = aligned16(y) && n >= 4;
  for (int k = 0; k < K; ++k) vec = vec && aligned16(in.p[k]);
  if (vec)
    ML_LAUNCH(grid_for(n / 4), kThreads, 0, st, pointwise_kernel<K, true>)(y, in, n, f);
  else
    ML_LAUNCH(grid_for(n), kThreads, 0, st, pointwise_kernel<K, false>)(y, in, n, f);
  ML_CUDA_CHECK_LAST();
}

// Calls f(std::integral_constant<UnaryOp, op>).
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
#define ML_UNARY_CASE(NAME) \
  case UnaryOp::NAME: f(std::integral_constant<UnaryOp, UnaryOp::NAME>{}); break;
    ML_UNARY_CASE(Relu)
    ML_UNARY_CASE(Elu)
    ML_UNARY_CASE(Sigmoid)
    ML_UNARY_CASE(Tanh)
    ML_UNARY_CASE(Softplus)
    ML_UNARY_CASE(Exp)
    ML_UNARY_CASE(Log)
    ML_UNARY_CASE(Log1p)
    ML_UNARY_CASE(Abs)
    ML_UNARY_CASE(Square)
    ML_UNARY_CASE(Sqrt)
    ML_UNARY_CASE(Pow)
    ML_UNARY_CASE(Neg)
    ML_UNARY_CASE(Scale)
    ML_UNARY_CASE(AddScalar)
    ML_UNARY_CASE(Gelu)
#undef ML_UNARY_CASE
  }
}

template <class F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add: f(std::integral_constant<BinaryOp, BinaryOp::Add>{}); break;
    case BinaryOp::Sub: f(std::integral_constant<BinaryOp, BinaryOp::Sub>{}); break;
    case BinaryOp::Mul: f(std::integral_constant<BinaryOp, BinaryOp::Mul>{}); break;
    case BinaryOp::Div: f(std::integral_constant<BinaryOp, BinaryOp::Div>{}); break;
  }
}

// ---- broadcasting ------------------------------------------------------------------------------

// Thread per output element; the collapsed index map gives both operands' offsets.
template <int NDIM, BinaryOp OP>
__global__ void binary_broadcast_kernel(float* y, const float* a, const float* b, cuda::IndexMap<NDIM> m,
                                        int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t oa, ob;
    cuda::offsets(m, i, oa, ob);
    y[i] = binary_value<OP>(a[oa], b[ob]);
  }
}

// ---- fills, ranges, casts, copies ----------------------------------------------------------------

__global__ void fill_kernel(float* y, int64_t n, float value, bool vec) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t tail = 0;
  if (vec) {
    const float4 v = make_float4(value, value, value, value);
    for (int64_t i = start; i < n / 4; i += stride) reinterpret_cast<float4*>(y)[i] = v;
    tail = n / 4 * 4;
  }
  for (int64_t i = tail + start; i < n; i += stride) y[i] = value;
}

__global__ void fill_i32_kernel(int32_t* y, int64_t n, int32_t value) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = value;
}

__global__ void arange_kernel(float* y, int64_t n, float start, float step) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    // One rounding, as the CPU reference: GCC contracts start + i*step into an FMA there
    // (-std=gnu++20 implies -ffp-contract=fast, and -march has FMA). Written out so that
    // nvcc's own contraction choices cannot change it.
    y[i] = __fmaf_rn(static_cast<float>(i), step, start);
}

__global__ void cast_i32_to_f32_kernel(float* y, const int32_t* x, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = static_cast<float>(x[i]);  // round to nearest, as the CPU's conversion
}

// Copies rows of `units` words of type T; pitches in words. Thread per word over the flat
// (row, word) index, so short rows still fill whole warps.
template <class T>
__global__ void copy2d_kernel(T* dst, int64_t dpitch, const T* src, int64_t spitch, int64_t rows, int64_t units) {
  const int64_t n = rows * units;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t r = i / units, u = i - r * units;
    dst[r * dpitch + u] = src[r * spitch + u];
  }
}

}  // namespace

// ---- the kernels of kernels/elementwise.h ---------------------------------------------------------

template <>
void unary_forward<Device::CUDA>(float* y, const float* x, int64_t n, UnaryOp op, float alpha, Stream s) {
  with_unary_op(op, [&](auto OP) {
    launch_pointwise<1>(y, Inputs<1>{{x}}, n, UnaryForward<decltype(OP)::value>{alpha}, stream_of(s));
  });
}

template <>
void unary_backward<Device::CUDA>(float* gx, const float* gy, const float* x, const float* y, int64_t n, UnaryOp op,
                                  float alpha, Stream s) {
  with_unary_op(op, [&](auto OP) {
    constexpr UnaryOp kOp = decltype(OP)::value;
    if (y)
      launch_pointwise<3>(gx, Inputs<3>{{gy, x, y}}, n, UnaryBackward<kOp>{alpha}, stream_of(s));
    else
      launch_pointwise<2>(gx, Inputs<2>{{gy, x}}, n, UnaryBackwardNoY<kOp>{alpha}, stream_of(s));
  });
}

template <>
void binary_forward<Device::CUDA>(float* y, const float* a, const float* b, const BroadcastParams& p, BinaryOp op,
                                  Stream s) {
  if (p.numel <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (p.same_shape) {
    with_binary_op(op, [&](auto OP) {
      launch_pointwise<2>(y, Inputs<2>{{a, b}}, p.numel, BinarySame<decltype(OP)::value>{}, st);
    });
    return;
  }
  const cuda::Collapsed c = cuda::collapse_dims(p.out_shape, p.a_stride, p.b_stride, kMaxDims);
  with_binary_op(op, [&](auto OP) {
    cuda::with_ndim(c.ndim, [&](auto ND) {
      constexpr int kNd = decltype(ND)::value;
      ML_LAUNCH(grid_for(p.numel), kThreads, 0, st, binary_broadcast_kernel<kNd, decltype(OP)::value>)(
          y, a, b, cuda::index_map<kNd>(c), p.numel);
      ML_CUDA_CHECK_LAST();
    });
  });
}

template <>
void fill<Device::CUDA>(float* y, int64_t n, float value, Stream s) {
  if (n <= 0) return;
  const bool vec = aligned16(y) && n >= 4;
  ML_LAUNCH(grid_for(vec ? n / 4 : n), kThreads, 0, stream_of(s), fill_kernel)(y, n, value, vec);
  ML_CUDA_CHECK_LAST();
}

template <>
void fill_i32<Device::CUDA>(int32_t* y, int64_t n, int32_t value, Stream s) {
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), fill_i32_kernel)(y, n, value);
  ML_CUDA_CHECK_LAST();
}

template <>
void arange<Device::CUDA>(float* y, int64_t n, float start, float step, Stream s) {
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), arange_kernel)(y, n, start, step);
  ML_CUDA_CHECK_LAST();
}

template <>
void cast_i32_to_f32<Device::CUDA>(float* y, const int32_t* x, int64_t n, Stream s) {
  if (n <= 0) return;
  ML_LAUNCH(grid_for(n), kThreads, 0, stream_of(s), cast_i32_to_f32_kernel)(y, x, n);
  ML_CUDA_CHECK_LAST();
}

template <>
void copy2d<Device::CUDA>(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows,
                          int64_t row_bytes, Stream s) {
  if (rows <= 0 || row_bytes <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (rows == 1 || (dst_pitch == row_bytes && src_pitch == row_bytes)) {
    // One contiguous run: the copy engine's own device-to-device path.
    ML_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(rows * row_bytes), cudaMemcpyDeviceToDevice, st));
    return;
  }
  // The widest word (16, 8, 4, 2 or 1 bytes) that divides both addresses, both pitches and
  // the row length, so that concat along channels of float tensors moves 16 bytes per thread.
  const uint64_t bits = reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src) |
                        static_cast<uint64_t>(dst_pitch) | static_cast<uint64_t>(src_pitch) |
                        static_cast<uint64_t>(row_bytes);
  auto launch = [&](auto word) {
    using T = decltype(word);
    const int64_t w = sizeof(T);
    const int64_t units = row_bytes / w;
    ML_LAUNCH(grid_for(rows * units), kThreads, 0, st, copy2d_kernel<T>)(
        static_cast<T*>(dst), dst_pitch / w, static_cast<const T*>(src), src_pitch / w, rows, units);
    ML_CUDA_CHECK_LAST();
  };
  if (bits % 16 == 0) launch(int4{});
  else if (bits % 8 == 0) launch(int2{});
  else if (bits % 4 == 0) launch(int32_t{});
  else if (bits % 2 == 0) launch(int16_t{});
  else launch(int8_t{});
}

}  // namespace ml::kernels
