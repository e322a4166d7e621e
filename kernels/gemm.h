// kernels/gemm.h — the one dense matrix product. Row-major, like the rest of the engine:
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b],  op(X) = X or X^T,
// with op(A): M x K, op(B): K x N, C: M x N, for b in [0, batch).
// CPU: Eigen (its blocked, vectorised GEMM). CUDA: cuBLAS, and only here (DESIGN.md).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct GemmParams {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;  // row pitch of A, B, C as stored
  float alpha = 1.f, beta = 0.f;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch items
};

template <Device D>
void gemm(float* C, const float* A, const float* B, const GemmParams& p, Stream s);

// Whether gemm<Device::CPU> computes this product by its streaming path for C = A B^T with few
// rows (a fully connected layer at small batch; kernels/cpu/gemm.cpp) instead of Eigen: exposed
// so that tests can check that their shapes reach both paths.
bool gemm_takes_thin_path(const GemmParams& p);

// A linear layer's forward with what precedes and follows it in a transformer block, CPU only:
//   y (M, N) = epilogue(prologue(x) (M, K) w (N, K)^T + b (N)),
// prologue none or a layer norm of x's rows (kernels/layer_norm.h's forward, written to xn (M, K),
// which the product then reads); epilogue none, GELU (exact, as UnaryOp::Gelu) or + residual
// (M, N); b may be null. Where gemm<CPU> splits the rows of C over the threads
// (kernels/cpu/gemm.cpp), each thread's rows go through the prologue, the bias fill, the product
// and the epilogue in that one parallel region: the composite is up to four regions (layer_norm,
// expand, gemm, the pointwise op), and every region's end is a barrier where a descheduled
// thread keeps the other waiting. Elsewhere it is that composite. The result is the composite's
// bit for bit: the layer norm row by row, the same row blocks, the same Eigen product
// accumulated onto the bias, the same GELU function, and a + r = r + a in float. No backward:
// the engine uses it when no gradient is recorded (engine/ops/linear.cpp), the composite
// otherwise and on CUDA.
enum class LinearEpilogue : int { None, Gelu, Residual };

struct LinearParams {
  int64_t M = 0, N = 0, K = 0;  // rows of x, outputs (rows of w), inputs
  LinearEpilogue epilogue = LinearEpilogue::None;
  bool layer_norm = false;                        // the prologue; its weight and bias may be null
  const float* ln_weight = nullptr;               // (K)
  const float* ln_bias = nullptr;                 // (K)
  float ln_eps = 0.f;
};

// x, xn, w, y, residual contiguous row-major. residual is read only for LinearEpilogue::Residual,
// xn written only with the layer norm (may be null without).
void linear_forward_cpu(float* y, float* xn, const float* x, const float* w, const float* b, const float* residual,
                        const LinearParams& p);

}  // namespace ml::kernels
