// engine/cuda/runtime.cpp — the CUDA side of engine/device.h: is there a device, memory
// (a caching allocator), the one stream, copies. Built only with MIRRORLAB_CUDA.
//
// Availability. cudaGetDeviceCount answering anything but success with a count > 0 means
// "no device", never an exception: a machine without a GPU says "CUDA driver version is
// insufficient for CUDA runtime version" (no driver at all), a container without the GPU
// exposed says "no CUDA-capable device is detected". The answer is computed once.
//
// Memory. cudaMalloc and cudaFree are slow (cudaFree synchronises the whole device), and a
// training step frees and allocates the same sizes every iteration. So freed blocks are kept
// in free lists keyed by size class and handed out again for the same class:
//   below 1 MiB: rounded up to 512 B  (activations of small layers, biases, scalars)
//   above:       rounded up to 2 MiB  (the driver's own large-page granularity)
// The most recently freed block of a class is reused first (it is likely still in L2).
// Reuse is safe without events because all kernels run on the one stream: work that reads a
// freed block was queued before any work that writes its next owner.
// When cudaMalloc fails, every cached block is returned to the device and the allocation is
// tried once more; then ml::Error says how many bytes were asked for and what is in use.
//
// Stream. One non-blocking stream per process, so our work never waits on (or for) the legacy
// default stream that libraries may use. Copies that touch host memory synchronise before
// returning (the host must see the data, or may reuse its buffer); device-to-device copies are
// ordered on the stream like kernels and return at once.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(ML_INTERPRET) && defined(__SANITIZE_ADDRESS__)
// The interpret mode (tests/interpret/) runs the kernels on the host, where AddressSanitizer
// sees their accesses: the slack between a tensor's bytes and its size class is poisoned, so
// a kernel reading or writing past its tensor is caught although the block is larger.
#include <sanitizer/asan_interface.h>
#define ML_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ML_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ML_POISON(p, n) ((void)(p), (void)(n))
#define ML_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#include "engine/cuda/allocator_stats.h"
#include "engine/device.h"
#include "engine/error.h"
#include "kernels/cuda/check.h"

namespace ml {
namespace cuda {

namespace {

struct Availability {
  bool ok = false;
  std::string reason;  // "" when ok
};

const Availability& availability() {
  // A function-local static is initialised once, thread-safely (C++11 "magic statics").
  static const Availability a = [] {
    Availability r;
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    (void)cudaGetLastError();  // clear the error so later calls are not blamed for it
    if (e != cudaSuccess) {
      r.reason = detail::cat("no CUDA device: ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ")");
      return r;
    }
    if (count <= 0) {
      r.reason = "no CUDA device: cudaGetDeviceCount found none";
      return r;
    }
    // Create the context now, so a device that is listed but unusable (exclusive mode taken,
    // out of memory at start-up) also reads as "no device" rather than failing later.
    const cudaError_t f = cudaFree(nullptr);
    (void)cudaGetLastError();
    if (f != cudaSuccess) {
      r.reason = detail::cat("no usable CUDA device: ", cudaGetErrorString(f), " (", cudaGetErrorName(f), ")");
      return r;
    }
    r.ok = true;
    return r;
  }();
  return a;
}

void require_device(const char* what) {
  const Availability& a = availability();
  ML_CHECK(a.ok, what, ": ", a.reason);
}

// ---- caching allocator -----------------------------------------------------------------

constexpr size_t kSmallGranule = 512;             // bytes
constexpr size_t kSmallLimit = size_t(1) << 20;   // 1 MiB
constexpr size_t kLargeGranule = size_t(2) << 20;  // 2 MiB

size_t size_class(size_t bytes) {
  const size_t g = bytes <= kSmallLimit ? kSmallGranule : kLargeGranule;
  return (bytes + g - 1) / g * g;
}

class CachingAllocator {
 public:
  void* alloc(size_t bytes) {
    if (bytes == 0) return nullptr;  // an empty tensor owns no memory; kernels skip n == 0
    const size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      cached_ -= cls;
    } else {
      p = device_malloc(bytes, cls);
    }
    live_.emplace(p, cls);
    ML_UNPOISON(p, cls);
    ML_POISON(static_cast<char*>(p) + bytes, cls - bytes);
    current_ += cls;
    if (current_ > peak_) peak_ = current_;
    return p;
  }

  // Called from Storage's destructor: must not throw.
  void free(void* p, size_t bytes) noexcept {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) {
      std::fprintf(stderr, "mirrorlab: cuda::free of %p (%zu bytes), which this allocator did not hand out; ignored\n",
                   p, bytes);
      return;
    }
    const size_t cls = it->second;
    live_.erase(it);
    ML_UNPOISON(p, cls);
    current_ -= cls;
    try {
      free_[cls].push_back(p);
      cached_ += cls;
    } catch (...) {
      // Out of host memory for the free list: give the block back to the device instead.
      // Synchronise first: queued kernels may still use it.
      (void)cudaDeviceSynchronize();
      (void)cudaFree(p);
      (void)cudaGetLastError();
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached_locked();
  }

  CudaMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    CudaMemoryStats s;
    s.current_bytes = current_;
    s.peak_bytes = peak_;
    s.cached_bytes = cached_;
    return s;
  }

 private:
  // mu_ is held.
  void* device_malloc(size_t bytes, size_t cls) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, cls);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // not sticky, but leave no trace for the next checked call
      release_cached_locked();
      e = cudaMalloc(&p, cls);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      const bool have_info = cudaMemGetInfo(&free_b, &total_b) == cudaSuccess;
      (void)cudaGetLastError();
      throw Error(detail::cat("cuda: allocating ", bytes, " bytes (size class ", cls, ") failed: ",
                              cudaGetErrorString(e), "; this process holds ", current_, " bytes in tensors (peak ",
                              peak_, ")",
                              have_info ? detail::cat(", the device has ", free_b, " of ", total_b, " bytes free")
                                        : std::string()));
    }
    return p;
  }

  // mu_ is held. Waits for the stream first: a cached block may still be read by queued work.
  void release_cached_locked() {
    if (cached_ == 0) return;
    ML_CUDA_CHECK(cudaDeviceSynchronize());
    for (auto& [cls, blocks] : free_) {
      for (void* p : blocks) ML_CUDA_CHECK(cudaFree(p));
      blocks.clear();
    }
    free_.clear();
    cached_ = 0;
  }

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> cached blocks (LIFO)
  std::unordered_map<void*, size_t> live_;               // handed-out block -> its size class
  size_t current_ = 0, peak_ = 0, cached_ = 0;
};

// Never destroyed: tensors held in static objects are freed during static destruction, after
// which the CUDA runtime may already be gone. The free lists then only grow; the process ends.
CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

cudaStream_t the_stream() {
  static const cudaStream_t s = [] {
    require_device("cuda stream");
    cudaStream_t st = nullptr;
    ML_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    return st;
  }();
  return s;
}

}  // namespace

bool available(const char** reason) {
  const Availability& a = availability();
  if (reason) *reason = a.reason.c_str();
  return a.ok;
}

void* alloc(size_t bytes) {
  require_device("device_alloc on cuda");
  return allocator().alloc(bytes);
}

void free(void* p, size_t bytes) { allocator().free(p, bytes); }

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes) {
  if (bytes == 0) return;
  if (!dst_on_device && !src_on_device) {
    std::memcpy(dst, src, bytes);
    return;
  }
  require_device("device_copy");
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : cudaMemcpyDeviceToHost;
  const cudaStream_t st = the_stream();
  ML_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, st));
  // Host memory involved: the host must see the data (D2H) or may reuse its buffer at once (H2D;
  // from pinned memory the copy would otherwise still be in flight).
  if (kind != cudaMemcpyDeviceToDevice) ML_CUDA_CHECK(cudaStreamSynchronize(st));
}

Stream stream() { return Stream{static_cast<void*>(the_stream())}; }

void synchronize() {
  if (!availability().ok) return;
  ML_CUDA_CHECK(cudaStreamSynchronize(the_stream()));
}

}  // namespace cuda

CudaMemoryStats cuda_memory_stats() { return cuda::allocator().stats(); }

void cuda_empty_cache() {
  if (!cuda::availability().ok) return;
  cuda::allocator().empty_cache();
}

}  // namespace ml
