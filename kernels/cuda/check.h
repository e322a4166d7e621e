// kernels/cuda/check.h — every CUDA runtime and cuBLAS call is checked, and a failure names
// the file, the line and the call (DESIGN.md, "Errors"; llm.c's cudaCheck).
//
// Kernels must not depend on the engine, so these throw std::runtime_error; ml::Error derives
// from it, so a caller that catches either sees CUDA failures too. The message reads
//   "kernels/cuda/pool.cu:212: cudaLaunchKernel failed: invalid configuration argument"
// A kernel launch reports its configuration errors only through cudaGetLastError, hence
// ML_CUDA_CHECK_LAST() right after every <<<...>>>. Errors raised while a kernel runs
// (an illegal address) surface at the next synchronising call, which is checked too.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace ml::cuda_detail {

[[noreturn]] inline void throw_cuda(const char* file, int line, const char* what, cudaError_t e) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + " failed: " +
                           cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
}

[[noreturn]] inline void throw_cublas(const char* file, int line, const char* what, cublasStatus_t st) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + " failed: " +
                           cublasGetStatusString(st) + " (" + cublasGetStatusName(st) + ")");
}

}  // namespace ml::cuda_detail

// ML_CUDA_CHECK(cudaMemcpyAsync(...));
#define ML_CUDA_CHECK(call)                                                          \
  do {                                                                               \
    const cudaError_t ml_cuda_err_ = (call);                                         \
    if (ml_cuda_err_ != cudaSuccess) {                                               \
      (void)cudaGetLastError(); /* clear a non-sticky error so later calls start clean */ \
      ::ml::cuda_detail::throw_cuda(__FILE__, __LINE__, #call, ml_cuda_err_);        \
    }                                                                                \
  } while (0)

// After a kernel launch: catches a bad grid/block size or too much shared memory.
#define ML_CUDA_CHECK_LAST()                                                         \
  do {                                                                               \
    const cudaError_t ml_cuda_err_ = cudaGetLastError();                             \
    if (ml_cuda_err_ != cudaSuccess)                                                 \
      ::ml::cuda_detail::throw_cuda(__FILE__, __LINE__, "kernel launch", ml_cuda_err_); \
  } while (0)

#define ML_CUBLAS_CHECK(call)                                                        \
  do {                                                                               \
    const cublasStatus_t ml_cublas_st_ = (call);                                     \
    if (ml_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                      \
      ::ml::cuda_detail::throw_cublas(__FILE__, __LINE__, #call, ml_cublas_st_);     \
  } while (0)
