// kernels/cpu/elementwise.cpp — reference pointwise kernels. Plain loops the compiler
// vectorises (-march), split across threads with OpenMP for large n.
#include "kernels/elementwise.h"

#include "kernels/cpu/fast_math.h"
#include "kernels/cpu/gelu.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ml::kernels {

namespace {
constexpr int64_t kParallelMin = 1 << 15;  // below this, thread start-up costs more than it saves

inline float unary_value(UnaryOp op, float x, float a) {
  switch (op) {
    case UnaryOp::Relu: return x > 0.f ? x : 0.f;
    case UnaryOp::Elu: return x > 0.f ? x : a * std::expm1(x);
    case UnaryOp::Sigmoid: return 1.f / (1.f + std::exp(-x));
    case UnaryOp::Tanh: return std::tanh(x);
    // fast_math (std::log1p and std::exp are scalar libm calls); above the threshold x itself, as
    // PyTorch. The loops below take the vector form of the same function.
    case UnaryOp::Softplus: return a * x > 20.f ? x : fast_math::softplus_value(a * x) / a;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Log1p: return std::log1p(x);
    case UnaryOp::Abs: return std::fabs(x);
    case UnaryOp::Square: return x * x;
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Pow: return std::pow(x, a);
    case UnaryOp::Neg: return -x;
    case UnaryOp::Scale: return a * x;
    case UnaryOp::AddScalar: return x + a;
    case UnaryOp::Gelu: return gelu_value(x);
  }
  return 0.f;
}

// d f / d x, from x and (where cheaper) y = f(x).
inline float unary_derivative(UnaryOp op, float x, float y, float a) {
  switch (op) {
    case UnaryOp::Relu: return x > 0.f ? 1.f : 0.f;
    case UnaryOp::Elu: return x > 0.f ? 1.f : y + a;
    case UnaryOp::Sigmoid: return y * (1.f - y);
    case UnaryOp::Tanh: return 1.f - y * y;
    case UnaryOp::Softplus: return a * x > 20.f ? 1.f : fast_math::sigmoid_value(a * x);
    case UnaryOp::Exp: return y;
    case UnaryOp::Log: return 1.f / x;
    case UnaryOp::Log1p: return 1.f / (1.f + x);
    case UnaryOp::Abs: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case UnaryOp::Square: return 2.f * x;
    case UnaryOp::Sqrt: return 0.5f / y;
    case UnaryOp::Pow: return a * std::pow(x, a - 1.f);
    case UnaryOp::Neg: return -1.f;
    case UnaryOp::Scale: return a;
    case UnaryOp::AddScalar: return 1.f;
    // Phi(x) + x phi(x), phi the standard normal density.
    case UnaryOp::Gelu:
      return static_cast<float>(0.5 * (1.0 + erf_rational(x * 0.70710678118654752))) +
             x * 0.39894228040143268f * std::exp(-0.5f * x * x);
  }
  return 0.f;
}

// f(i, m) for the runs [i, i + m) of one hardware vector each (m < kLanes only for the last),
// split across threads for large n.
template <class F>
void for_each_vector(int64_t n, F&& f) {
  const int64_t blocks = (n + lanes::kLanes - 1) / lanes::kLanes;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i = b * lanes::kLanes;
    f(i, static_cast<int>(std::min<int64_t>(lanes::kLanes, n - i)));
  }
}

// Softplus and its derivative one hardware vector at a time (kernels/cpu/fast_math.h: the same
// values as unary_value / unary_derivative, which GCC left as scalar code with branches).
void softplus_forward_lanes(float* y, const float* x, int64_t n, float a) {
  for_each_vector(n, [&](int64_t i, int m) {
    const lanes::vf v = lanes::load(x + i, m), z = v * a;
    const lanes::vf s = fast_math::softplus_value(z) / a;
    lanes::store(y + i, z > 20.f ? v : s, m);
  });
}

void softplus_backward_lanes(float* gx, const float* gy, const float* x, int64_t n, float a) {
  for_each_vector(n, [&](int64_t i, int m) {
    const lanes::vf z = lanes::load(x + i, m) * a;
    const lanes::vf d = z > 20.f ? lanes::broadcast(1.f) : fast_math::sigmoid_value(z);
    lanes::store(gx + i, lanes::load(gy + i, m) * d, m);
  });
}

// The op is a template parameter so the switch disappears from the loop and the loop
// vectorises (chosen per element, ReLU's backward ran 4x slower than its forward).
template <UnaryOp OP>
void unary_forward_loop(float* y, const float* x, int64_t n, float alpha) {
  if constexpr (OP == UnaryOp::Softplus) {
    softplus_forward_lanes(y, x, n, alpha);
  } else {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) y[i] = unary_value(OP, x[i], alpha);
  }
}

template <UnaryOp OP>
void unary_backward_loop(float* gx, const float* gy, const float* x, const float* y, int64_t n, float alpha) {
  if constexpr (OP == UnaryOp::Softplus) {
    softplus_backward_lanes(gx, gy, x, n, alpha);
  } else {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (OP == UnaryOp::Relu) {
        // A select, not gy * (x > 0 ? 1 : 0): GCC compiled the product to a scalar loop with a
        // data-dependent branch (16 % of a vgg_small training step on one AVX2 thread, 5x the
        // forward); the select vectorises to a compare and a mask. Also what torch's
        // threshold_backward computes (x <= 0 -> exactly 0, whatever gy is).
        gx[i] = x[i] > 0.f ? gy[i] : 0.f;
      } else if constexpr (OP == UnaryOp::Abs) {
        // Selects again: gy * sign(x) through unary_derivative's nested ?: stayed a scalar loop
        // with branches (13 % of the V1 model's regularisers, whose L1 terms take |mask|).
        gx[i] = x[i] > 0.f ? gy[i] : (x[i] < 0.f ? -gy[i] : 0.f);
      } else {
        gx[i] = gy[i] * unary_derivative(OP, x[i], y[i], alpha);
      }
    }
  }
}

// Calls f.template operator()<OP>() for the runtime op.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
#define ML_UNARY_CASE(name) \
  case UnaryOp::name: return f.template operator()<UnaryOp::name>();
    ML_UNARY_CASE(Relu) ML_UNARY_CASE(Elu) ML_UNARY_CASE(Sigmoid) ML_UNARY_CASE(Tanh) ML_UNARY_CASE(Softplus)
    ML_UNARY_CASE(Exp) ML_UNARY_CASE(Log) ML_UNARY_CASE(Log1p) ML_UNARY_CASE(Abs) ML_UNARY_CASE(Square)
    ML_UNARY_CASE(Sqrt) ML_UNARY_CASE(Pow) ML_UNARY_CASE(Neg) ML_UNARY_CASE(Scale) ML_UNARY_CASE(AddScalar)
    ML_UNARY_CASE(Gelu)
#undef ML_UNARY_CASE
  }
}
}  // namespace

template <>
void unary_forward<Device::CPU>(float* y, const float* x, int64_t n, UnaryOp op, float alpha, Stream) {
  with_unary_op(op, [&]<UnaryOp OP>() { unary_forward_loop<OP>(y, x, n, alpha); });
}

template <>
void unary_backward<Device::CPU>(float* gx, const float* gy, const float* x, const float* y, int64_t n, UnaryOp op,
                                 float alpha, Stream) {
  with_unary_op(op, [&]<UnaryOp OP>() { unary_backward_loop<OP>(gx, gy, x, y, n, alpha); });
}

namespace {
inline float binary_value(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return 0.f;
}

template <BinaryOp OP>
void binary_same(float* y, const float* a, const float* b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = binary_value(OP, a[i], b[i]);
}
}  // namespace

template <>
void binary_forward<Device::CPU>(float* y, const float* a, const float* b, const BroadcastParams& p, BinaryOp op,
                                 Stream) {
  if (p.same_shape) {
    switch (op) {
      case BinaryOp::Add: return binary_same<BinaryOp::Add>(y, a, b, p.numel);
      case BinaryOp::Sub: return binary_same<BinaryOp::Sub>(y, a, b, p.numel);
      case BinaryOp::Mul: return binary_same<BinaryOp::Mul>(y, a, b, p.numel);
      case BinaryOp::Div: return binary_same<BinaryOp::Div>(y, a, b, p.numel);
    }
  }
  // General broadcast: walk the innermost dimension as a strided loop, the outer four by index.
  const int64_t inner = p.out_shape[kMaxDims - 1];
  const int64_t sa = p.a_stride[kMaxDims - 1], sb = p.b_stride[kMaxDims - 1];
  const int64_t outer = inner ? p.numel / inner : 0;
#pragma omp parallel for schedule(static) if (p.numel > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, ia = 0, ib = 0;
    for (int d = kMaxDims - 2; d >= 0; --d) {
      const int64_t idx = rem % p.out_shape[d];
      rem /= p.out_shape[d];
      ia += idx * p.a_stride[d];
      ib += idx * p.b_stride[d];
    }
    float* yo = y + o * inner;
    for (int64_t i = 0; i < inner; ++i) yo[i] = binary_value(op, a[ia + i * sa], b[ib + i * sb]);
  }
}

template <>
void fill<Device::CPU>(float* y, int64_t n, float value, Stream) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

template <>
void fill_i32<Device::CPU>(int32_t* y, int64_t n, int32_t value, Stream) {
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

template <>
void arange<Device::CPU>(float* y, int64_t n, float start, float step, Stream) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(static_cast<float>(i), step, start);  // as the CUDA kernel
}

template <>
void cast_i32_to_f32<Device::CPU>(float* y, const int32_t* x, int64_t n, Stream) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i]);
}

template <>
void copy2d<Device::CPU>(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows,
                         int64_t row_bytes, Stream) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
#pragma omp parallel for schedule(static) if (rows * row_bytes > (1 << 20))
  for (int64_t r = 0; r < rows; ++r) std::memcpy(d + r * dst_pitch, s + r * src_pitch, static_cast<size_t>(row_bytes));
}

}  // namespace ml::kernels
