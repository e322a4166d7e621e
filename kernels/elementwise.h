// kernels/elementwise.h — pointwise maps, broadcasting binary ops, fills and copies.
// Layout: flat contiguous buffers of n elements; broadcasting is described by
// per-dimension strides with stride 0 on a broadcast dimension (numpy semantics).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

// y = f(x). `alpha` is the op's scalar: Elu's alpha, Pow's exponent, Scale's factor,
// AddScalar's addend, Softplus's beta (threshold fixed at 20 as in PyTorch).
enum class UnaryOp : int {
  Relu, Elu, Sigmoid, Tanh, Softplus, Exp, Log, Log1p, Abs, Square, Sqrt, Pow, Neg, Scale, AddScalar,
  // The exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), torch.nn.GELU's default
  // (approximate='none'), which ConvNeXt and ViT use; not the tanh approximation.
  Gelu
};
const char* unary_op_name(UnaryOp op);

template <Device D>
void unary_forward(float* y, const float* x, int64_t n, UnaryOp op, float alpha, Stream s);
// gx = gy * f'(x). `y` is f(x) (some derivatives are cheaper from the output).
template <Device D>
void unary_backward(float* gx, const float* gy, const float* x, const float* y, int64_t n, UnaryOp op,
                    float alpha, Stream s);

enum class BinaryOp : int { Add, Sub, Mul, Div };

constexpr int kMaxDims = 5;

// Shapes padded on the left to kMaxDims; strides in elements, 0 where the operand is broadcast.
struct BroadcastParams {
  int64_t out_shape[kMaxDims];
  int64_t a_stride[kMaxDims];
  int64_t b_stride[kMaxDims];
  int64_t numel;
  bool same_shape;  // fast path: a, b and y all have numel elements
};

// y[i] = a[ia(i)] op b[ib(i)] over the broadcast output shape.
template <Device D>
void binary_forward(float* y, const float* a, const float* b, const BroadcastParams& p, BinaryOp op, Stream s);

template <Device D>
void fill(float* y, int64_t n, float value, Stream s);
template <Device D>
void fill_i32(int32_t* y, int64_t n, int32_t value, Stream s);
// y[i] = start + i * step
template <Device D>
void arange(float* y, int64_t n, float start, float step, Stream s);
template <Device D>
void cast_i32_to_f32(float* y, const int32_t* x, int64_t n, Stream s);

// A pitched 2-D copy in bytes: `rows` rows of `row_bytes`, source rows `src_pitch` apart,
// destination rows `dst_pitch` apart. Concat, split and slicing are this one copy.
template <Device D>
void copy2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows, int64_t row_bytes,
            Stream s);

}  // namespace ml::kernels
