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

}  // namespace ml::kernels
