// tests/interpret/test_emulator.cc — the interpret mode's own checks: that it runs correct
// kernels correctly (block sums through shared memory, barriers, __syncthreads_or, warp
// shuffles, 2-D and 3-D blocks, grid-stride loops), and that it reports as an error, naming the
// kernel, what a GPU would hang on or silently get wrong: barrier divergence, a thread exiting
// while others wait, a shuffle with missing lanes, launch configurations over the device limits,
// reads of shared memory nobody wrote; and that reversing the thread order exposes a race.
// Built only in the interpret mode (tests/interpret/CMakeLists.txt; .cc: not in the main glob).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/common.cuh"

namespace {

using ml::kernels::cuda::block_sum;
using ml::kernels::cuda::warp_sum;

// Sets ML_INTERP_REVERSE for the scope.
struct Reverse {
  explicit Reverse(bool on) {
    if (on) setenv("ML_INTERP_REVERSE", "1", 1);
    else unsetenv("ML_INTERP_REVERSE");
  }
  ~Reverse() { unsetenv("ML_INTERP_REVERSE"); }
};

std::string error_of(void (*f)()) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// ---- correct kernels -------------------------------------------------------------------------

// One block per row: a block sum (warp shuffles, then shared memory and two barriers).
__global__ void row_sum_kernel(double* out, const double* x, int cols) {
  ML_SHARED(double, smem, [256 / 32]);
  double s = 0;
  for (int j = static_cast<int>(threadIdx.x); j < cols; j += static_cast<int>(blockDim.x))
    s += x[static_cast<size_t>(blockIdx.x) * static_cast<size_t>(cols) + static_cast<size_t>(j)];
  s = block_sum<256>(s, smem);
  if (threadIdx.x == 0) out[blockIdx.x] = s;
}

// Stage through shared memory, barrier, read the mirror element: needs the barrier.
__global__ void reverse_in_block_kernel(float* y, const float* x) {
  ML_SHARED(float, t, [128]);
  t[threadIdx.x] = x[blockIdx.x * 128 + threadIdx.x];
  __syncthreads();
  y[blockIdx.x * 128 + threadIdx.x] = t[127 - threadIdx.x];
}

// The same without the barrier: a race on a GPU; here its result depends on the order.
__global__ void racy_reverse_kernel(float* y, const float* x) {
  ML_SHARED(float, t, [128]);
  t[threadIdx.x] = x[blockIdx.x * 128 + threadIdx.x];
  y[blockIdx.x * 128 + threadIdx.x] = t[127 - threadIdx.x];
}

__global__ void any_kernel(int* out, int who) {
  const int r = __syncthreads_or(static_cast<int>(threadIdx.x) == who);
  out[threadIdx.x] = r;
}

// 3-D block (8, 4, 2) and 2-D grid: every thread writes its linear id.
__global__ void ids_kernel(int* out) {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned b = blockIdx.x + gridDim.x * blockIdx.y;
  out[b * blockDim.x * blockDim.y * blockDim.z + t] = static_cast<int>(b * 1000 + t);
}

__global__ void warp_sum_kernel(float* out) {
  const float v = warp_sum(static_cast<float>(threadIdx.x));
  out[threadIdx.x] = v;
}

// ---- buggy kernels -----------------------------------------------------------------------------

__global__ void divergent_barrier_kernel(float* y) {
  if (threadIdx.x < 16) __syncthreads();
  y[threadIdx.x] = 1.f;
}

__global__ void two_barriers_kernel(float* y) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  y[threadIdx.x] = 1.f;
}

__global__ void early_exit_kernel(float* y, int n) {
  ML_SHARED(float, t, [64]);
  if (static_cast<int>(threadIdx.x) >= n) return;  // the classic bug: barrier below
  t[threadIdx.x] = 1.f;
  __syncthreads();
  y[threadIdx.x] = t[(threadIdx.x + 1) % n];
}

__global__ void partial_warp_shuffle_kernel(float* y) {
  // 48 threads: warp 1 has lanes 0..15 only, but the mask names all 32.
  y[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<float>(threadIdx.x), 16);
}

__global__ void exited_lane_shuffle_kernel(float* y) {
  if (threadIdx.x == 5) return;
  y[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<float>(threadIdx.x), 1);
}

__global__ void big_shared_kernel(float* y) {
  ML_SHARED(float, t, [12 * 1024 + 1]);  // 48 KiB + 4 bytes
  t[threadIdx.x] = 0.f;
  y[threadIdx.x] = t[threadIdx.x];
}

__global__ void unwritten_shared_kernel(float* y) {
  ML_SHARED(float, t, [64]);
  if (threadIdx.x < 32) t[threadIdx.x] = 2.f;
  __syncthreads();
  y[threadIdx.x] = t[threadIdx.x];  // threads 32..63 read what nobody wrote
}

__global__ void noop_kernel(float*) {}

float* device_floats(size_t n) {
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, n * sizeof(float)) == cudaSuccess);
  return static_cast<float*>(p);
}

}  // namespace

TEST_CASE("interpret: block sums, barriers, __syncthreads_or and shuffles run correctly in both orders") {
  for (bool rev : {false, true}) {
    INFO("reverse order: ", rev);
    Reverse r(rev);
    // Block sums over rows of 1000 doubles (integers: exact in any order).
    const int rows = 5, cols = 1000;
    std::vector<double> x(rows * cols);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i % 7);
    double *dx = nullptr, *dy = nullptr;
    REQUIRE(cudaMalloc(&dx, x.size() * sizeof(double)) == cudaSuccess);
    REQUIRE(cudaMalloc(&dy, rows * sizeof(double)) == cudaSuccess);
    REQUIRE(cudaMemcpy(dx, x.data(), x.size() * sizeof(double), cudaMemcpyHostToDevice) == cudaSuccess);
    ML_LAUNCH(rows, 256, 0, nullptr, row_sum_kernel)(dy, dx, cols);
    std::vector<double> y(rows);
    REQUIRE(cudaMemcpy(y.data(), dy, rows * sizeof(double), cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int i = 0; i < rows; ++i) {
      double ref = 0;
      for (int j = 0; j < cols; ++j) ref += x[static_cast<size_t>(i * cols + j)];
      CHECK(y[static_cast<size_t>(i)] == ref);
    }
    cudaFree(dx);
    cudaFree(dy);

    // Staging through shared memory with a barrier: the mirror of each block.
    float* a = device_floats(256);
    float* b = device_floats(256);
    std::vector<float> h(256);
    for (int i = 0; i < 256; ++i) h[static_cast<size_t>(i)] = static_cast<float>(i);
    cudaMemcpy(a, h.data(), 256 * sizeof(float), cudaMemcpyHostToDevice);
    ML_LAUNCH(2, 128, 0, nullptr, reverse_in_block_kernel)(b, a);
    cudaMemcpy(h.data(), b, 256 * sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(h[0] == 127.f);
    CHECK(h[127] == 0.f);
    CHECK(h[128] == 255.f);

    // __syncthreads_or: 1 everywhere when one thread's predicate holds, else 0.
    int* o = nullptr;
    REQUIRE(cudaMalloc(&o, 96 * sizeof(int)) == cudaSuccess);
    std::vector<int> ho(96);
    ML_LAUNCH(1, 96, 0, nullptr, any_kernel)(o, 77);
    cudaMemcpy(ho.data(), o, 96 * sizeof(int), cudaMemcpyDeviceToHost);
    CHECK(ho == std::vector<int>(96, 1));
    ML_LAUNCH(1, 96, 0, nullptr, any_kernel)(o, 1000);
    cudaMemcpy(ho.data(), o, 96 * sizeof(int), cudaMemcpyDeviceToHost);
    CHECK(ho == std::vector<int>(96, 0));
    cudaFree(o);

    // 3-D blocks and a 2-D grid: every (block, thread) once.
    int* ids = nullptr;
    REQUIRE(cudaMalloc(&ids, 6 * 64 * sizeof(int)) == cudaSuccess);
    ML_LAUNCH(dim3(3, 2), dim3(8, 4, 2), 0, nullptr, ids_kernel)(ids);
    std::vector<int> hid(6 * 64);
    cudaMemcpy(hid.data(), ids, hid.size() * sizeof(int), cudaMemcpyDeviceToHost);
    for (int bk = 0; bk < 6; ++bk)
      for (int t = 0; t < 64; ++t) CHECK(hid[static_cast<size_t>(bk * 64 + t)] == bk * 1000 + t);
    cudaFree(ids);

    // A butterfly warp sum: every lane holds 0 + 1 + ... + 31 = 496.
    float* ws = device_floats(64);
    ML_LAUNCH(1, 64, 0, nullptr, warp_sum_kernel)(ws);
    std::vector<float> hw(64);
    cudaMemcpy(hw.data(), ws, 64 * sizeof(float), cudaMemcpyDeviceToHost);
    CHECK(hw[0] == 496.f);
    CHECK(hw[31] == 496.f);
    CHECK(hw[32] == 32.f * 32.f + 496.f);  // lanes of warp 1 hold 32..63
    cudaFree(ws);
    cudaFree(a);
    cudaFree(b);
  }
}

TEST_CASE(
    "interpret: barrier divergence, exits at barriers and shuffles with missing lanes are errors naming the kernel") {
  const std::string div = error_of([] {
    float* y = device_floats(64);
    ML_LAUNCH(1, 64, 0, nullptr, divergent_barrier_kernel)(y);
  });
  INFO(div);
  CHECK(div.find("divergent_barrier_kernel") != std::string::npos);
  CHECK(div.find("barrier divergence") != std::string::npos);
  CHECK(div.find("test_emulator.cc:") != std::string::npos);  // the launch's file and line

  const std::string two = error_of([] {
    float* y = device_floats(64);
    ML_LAUNCH(1, 64, 0, nullptr, two_barriers_kernel)(y);
  });
  INFO(two);
  CHECK(two.find("two_barriers_kernel") != std::string::npos);
  CHECK(two.find("different barriers") != std::string::npos);

  const std::string exit = error_of([] {
    float* y = device_floats(64);
    ML_LAUNCH(1, 64, 0, nullptr, early_exit_kernel)(y, 40);
  });
  INFO(exit);
  CHECK(exit.find("early_exit_kernel") != std::string::npos);
  CHECK(exit.find("exited") != std::string::npos);
  // The same kernel with every thread taking part is fine.
  CHECK(error_of([] {
          float* y = device_floats(64);
          ML_LAUNCH(1, 64, 0, nullptr, early_exit_kernel)(y, 64);
        }) == "");

  const std::string partial = error_of([] {
    float* y = device_floats(64);
    ML_LAUNCH(1, 48, 0, nullptr, partial_warp_shuffle_kernel)(y);
  });
  INFO(partial);
  CHECK(partial.find("partial_warp_shuffle_kernel") != std::string::npos);
  CHECK(partial.find("shuffle with missing lanes") != std::string::npos);
  CHECK(partial.find("no such thread") != std::string::npos);

  const std::string exited = error_of([] {
    float* y = device_floats(64);
    ML_LAUNCH(1, 32, 0, nullptr, exited_lane_shuffle_kernel)(y);
  });
  INFO(exited);
  CHECK(exited.find("exited_lane_shuffle_kernel") != std::string::npos);
  CHECK(exited.find("lane 5 (exited)") != std::string::npos);
}

TEST_CASE("interpret: launches over the device limits are errors naming the kernel") {
  const std::string threads = error_of([] { ML_LAUNCH(1, 1025, 0, nullptr, noop_kernel)(nullptr); });
  INFO(threads);
  CHECK(threads.find("noop_kernel") != std::string::npos);
  CHECK(threads.find("1025") != std::string::npos);
  CHECK(error_of([] { ML_LAUNCH(1, dim3(32, 32, 2), 0, nullptr, noop_kernel)(nullptr); })
            .find("2048 threads per block") != std::string::npos);
  CHECK(error_of([] { ML_LAUNCH(dim3(1, 65536), 32, 0, nullptr, noop_kernel)(nullptr); })
            .find("grid dimension y = 65536") != std::string::npos);
  CHECK(error_of([] { ML_LAUNCH(0, 32, 0, nullptr, noop_kernel)(nullptr); }).find("grid dimension x = 0") !=
        std::string::npos);
  CHECK(error_of([] { ML_LAUNCH(1, 32, 49 * 1024, nullptr, noop_kernel)(nullptr); })
            .find("dynamic shared memory") != std::string::npos);
  const std::string shared = error_of([] {
    float* y = device_floats(64);
    ML_LAUNCH(1, 64, 0, nullptr, big_shared_kernel)(y);
  });
  INFO(shared);
  CHECK(shared.find("big_shared_kernel") != std::string::npos);
  CHECK(shared.find("49156 bytes of static shared memory") != std::string::npos);
  // At the limits, fine.
  CHECK(error_of([] { ML_LAUNCH(dim3(1, 65535), 1, 0, nullptr, noop_kernel)(nullptr); }) == "");
  CHECK(error_of([] { ML_LAUNCH(1, dim3(16, 1, 64), 48 * 1024, nullptr, noop_kernel)(nullptr); }) == "");
}

TEST_CASE("interpret: shared memory starts as NaN, and the reverse order exposes a missing barrier") {
  float* y = device_floats(64);
  ML_LAUNCH(1, 64, 0, nullptr, unwritten_shared_kernel)(y);
  std::vector<float> h(64);
  cudaMemcpy(h.data(), y, 64 * sizeof(float), cudaMemcpyDeviceToHost);
  CHECK(h[0] == 2.f);
  CHECK(std::isnan(h[40]));

  // Without its barrier the mirror kernel reads t[127 - i] before thread 127 - i wrote it
  // (forward order, i < 64) or after (reverse order): the two orders disagree.
  float* a = device_floats(128);
  float* b = device_floats(128);
  std::vector<float> hx(128), r[2];
  for (int i = 0; i < 128; ++i) hx[static_cast<size_t>(i)] = static_cast<float>(i);
  cudaMemcpy(a, hx.data(), 128 * sizeof(float), cudaMemcpyHostToDevice);
  for (int rev = 0; rev < 2; ++rev) {
    Reverse o(rev != 0);
    ML_LAUNCH(1, 128, 0, nullptr, racy_reverse_kernel)(b, a);
    r[rev].resize(128);
    cudaMemcpy(r[rev].data(), b, 128 * sizeof(float), cudaMemcpyDeviceToHost);
  }
  CHECK(std::isnan(r[0][0]));    // forward: thread 0 reads t[127] before thread 127 ran
  CHECK(r[0][127] == 0.f);       // thread 127 reads t[0], written
  CHECK(r[1][0] == 127.f);       // reverse: thread 127 ran first
  CHECK(std::isnan(r[1][127]));  // thread 127 reads t[0] before thread 0 ran
  cudaFree(a);
  cudaFree(b);
  cudaFree(y);
}
