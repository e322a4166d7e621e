// kernels/cuda/gemm.cu — the one dense matrix product on the GPU, through cuBLAS (the only
// place the engine uses it, DESIGN.md): C[b] = alpha op(A[b]) op(B[b]) + beta C[b], row-major.
//
// Row-major through a column-major library (the swap trick). A row-major M x N matrix with
// row pitch ld is, byte for byte, the column-major N x M matrix (its transpose) with leading
// dimension ld. So instead of C = op(A) op(B) we ask cuBLAS for
//     C^T = op(B)^T op(A)^T      (N x M, column-major, leading dimension ldc)
// passing B where cuBLAS expects its first operand and A as its second, each with the same
// transpose flag as ours: B stored row-major is B^T column-major, so op(B)^T is B^T (no
// transpose) when trans_b is false and B (transpose) when it is true.
//
// Math mode. CUBLAS_DEFAULT_MATH: plain FP32 FMA arithmetic. TF32 tensor cores are used only
// when asked for (CUBLAS_TF32_TENSOR_OP_MATH, or NVIDIA_TF32_OVERRIDE); we never ask, so
// results keep FP32's 24-bit significand, as the CPU reference (Eigen) does. A TF32 variant, if
// added, must be named as such (DESIGN.md, "Convolution"; STYLE.md §4).
//
// Determinism. cuBLAS gives bit-identical results run to run for the same problem on the same
// GPU and stream (atomics mode stays off); the order of the K-sum differs from Eigen's, hence
// the parity tests' tolerance of a few K*eps.
//
// Why it is fast. cuBLAS picks a tuned FP32 kernel for the shape; the batched form
// (cublasSgemmStridedBatched) runs all batch items in one launch.
//
// One cuBLAS handle per process, created on first use and never destroyed (the process may
// end after the CUDA runtime is torn down); it is bound to the stream passed in before each
// call, so the product is ordered with the rest of our work on that stream.
#include <cublas_v2.h>

#include <climits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/gemm.h"

namespace ml::kernels {

namespace {

using cuda::grid_for;
using cuda::kThreads;
using cuda::stream_of;

cublasHandle_t cublas_handle() {
  static const cublasHandle_t h = [] {
    cublasHandle_t handle = nullptr;
    ML_CUBLAS_CHECK(cublasCreate(&handle));
    ML_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
    ML_CUBLAS_CHECK(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST));  // alpha, beta on the host
    return handle;
  }();
  return h;
}

// The handle is shared; a call is "bind stream, enqueue", which must not interleave with
// another host thread's bind.
std::mutex& cublas_mutex() {
  static std::mutex m;
  return m;
}

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::runtime_error(std::string("gemm (cuda): ") + what + " = " + std::to_string(v) +
                             " is outside cuBLAS's 32-bit range");
  return static_cast<int>(v);
}

// C[b] = beta * C[b] for a product with K = 0 (nothing to multiply). beta == 0 writes zeros
// (BLAS semantics: C's old values, NaN included, are not read).
__global__ void scale_c_kernel(float* C, int64_t M, int64_t N, int64_t ldc, int64_t batch, int64_t stride_c,
                               float beta) {
  const int64_t n = batch * M * N;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t b = i / (M * N), rc = i - b * M * N, r = rc / N, c = rc - r * N;
    float* p = C + b * stride_c + r * ldc + c;
    *p = beta == 0.f ? 0.f : beta * *p;
  }
}

}  // namespace

template <>
void gemm<Device::CUDA>(float* C, const float* A, const float* B, const GemmParams& p, Stream s) {
  if (p.M <= 0 || p.N <= 0 || p.batch <= 0) return;
  const cudaStream_t st = stream_of(s);
  if (p.K <= 0) {
    if (p.beta == 1.f) return;
    ML_LAUNCH(grid_for(p.batch * p.M * p.N), kThreads, 0, st, scale_c_kernel)(
        C, p.M, p.N, p.ldc, p.batch, p.stride_c, p.beta);
    ML_CUDA_CHECK_LAST();
    return;
  }
  const int m = to_int(p.N, "N"), n = to_int(p.M, "M"), k = to_int(p.K, "K");
  const int ldb = to_int(p.ldb, "ldb"), lda = to_int(p.lda, "lda"), ldc = to_int(p.ldc, "ldc");
  const cublasOperation_t op_b = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const float alpha = p.alpha, beta = p.beta;

  std::lock_guard<std::mutex> lock(cublas_mutex());
  const cublasHandle_t h = cublas_handle();
  ML_CUBLAS_CHECK(cublasSetStream(h, st));
  if (p.batch == 1) {
    ML_CUBLAS_CHECK(cublasSgemm(h, op_b, op_a, m, n, k, &alpha, B, ldb, A, lda, &beta, C, ldc));
  } else {
    ML_CUBLAS_CHECK(cublasSgemmStridedBatched(h, op_b, op_a, m, n, k, &alpha, B, ldb, p.stride_b, A, lda,
                                              p.stride_a, &beta, C, ldc, p.stride_c,
                                              to_int(p.batch, "batch")));
  }
}

}  // namespace ml::kernels
