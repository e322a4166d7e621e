// engine/cuda/allocator_stats.h — what the CUDA caching allocator (engine/cuda/runtime.cpp)
// holds, for tests, benchmarks and out-of-memory diagnostics. CUDA builds only.
#pragma once
#include <cstddef>

#if MIRRORLAB_CUDA
namespace ml {

struct CudaMemoryStats {
  size_t current_bytes = 0;  // in blocks handed out to tensors (size-class bytes, not requested bytes)
  size_t peak_bytes = 0;     // the most current_bytes has been since the process started
  size_t cached_bytes = 0;   // in freed blocks kept for reuse (still reserved from the device)
};

CudaMemoryStats cuda_memory_stats();
// Returns every cached block to the device (cudaFree). Blocks in use are untouched.
void cuda_empty_cache();

}  // namespace ml
#endif
