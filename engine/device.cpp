#include "engine/device.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/error.h"

namespace ml {

bool cuda_available() {
#if MIRRORLAB_CUDA
  const char* reason = nullptr;
  return cuda::available(&reason);
#else
  return false;
#endif
}

const char* cuda_unavailable_reason() {
#if MIRRORLAB_CUDA
  const char* reason = "";
  cuda::available(&reason);
  return reason;
#else
  return "this build has no CUDA backend (configure with -DMIRRORLAB_CUDA=ON)";
#endif
}

namespace {

// A training step frees and re-allocates the same activation buffers every step. glibc serves
// blocks above its mmap threshold (128 KiB, rising to at most 32 MiB as it sees them freed)
// with fresh pages from the kernel, which must be faulted in and zeroed each time: 5 % of a
// vgg_small step on the CPU. Raising the threshold to its maximum and not trimming the heap
// keeps freed blocks for reuse; memory in use is unchanged, the process keeps its peak.
void keep_freed_host_memory() {
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)once;
}

}  // namespace

void* device_alloc(size_t bytes, Device d) {
  if (d == Device::CPU) {
    keep_freed_host_memory();
    // 64-byte alignment: one AVX-512 vector, and what Eigen's aligned loads like.
    const size_t rounded = ((bytes + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!p) throw Error(detail::cat("out of host memory allocating ", bytes, " bytes"));
    return p;
  }
#if MIRRORLAB_CUDA
  return cuda::alloc(bytes);
#else
  throw Error(cuda_unavailable_reason());
#endif
}

void device_free(void* p, size_t bytes, Device d) {
  if (!p) return;
  if (d == Device::CPU) {
    std::free(p);
    return;
  }
#if MIRRORLAB_CUDA
  cuda::free(p, bytes);
#else
  (void)bytes;
#endif
}

void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if MIRRORLAB_CUDA
  cuda::copy(dst, dst_dev == Device::CUDA, src, src_dev == Device::CUDA, bytes);
#else
  throw Error(cuda_unavailable_reason());
#endif
}

Stream device_stream(Device d) {
#if MIRRORLAB_CUDA
  if (d == Device::CUDA) return cuda::stream();
#else
  (void)d;
#endif
  return Stream{};
}

void device_synchronize(Device d) {
#if MIRRORLAB_CUDA
  if (d == Device::CUDA) cuda::synchronize();
#else
  (void)d;
#endif
}

}  // namespace ml
