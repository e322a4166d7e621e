// bench/cuda/bench_pool.cu — our CUDA pooling and flips (kernels/cuda/pool.cu, flip.cu) beside
// cuDNN's pooling and beside a device-to-device copy of the same bytes, on the pooling layers
// of AlexNet (3x3 stride 2, batch 128) and of the small VGG net (2x2 stride 2, batch 256), and
// on flips and quarter turns of the small VGG net's input-sized batches.
//
// Why these references. Pooling and flips are memory-bound: their floor is the time to read
// the input and write the output once. cudaMemcpyAsync of exactly those bytes
// (device-to-device) is the bandwidth any kernel of ours can hope for ("copy" rows); cuDNN's
// cudnnPoolingForward/Backward (CUDNN_POOLING_MAX_DETERMINISTIC, the max-pool with a fixed
// tie rule, like ours) is the library answer to the same problem ("cudnn" rows). Our max-pool
// also writes its argmax (int32, same count as the output), which cuDNN does not: the
// "GB/s" counter counts our real traffic, so the comparison with the copy is fair; cuDNN's
// backward instead re-reads x and y to find the maximum.
//
// Checked before timed: our forward output is compared with cuDNN's (bit-exact: a max is a
// max), and our backward with cuDNN's (bit-exact for windows without ties: the inputs are
// distinct random floats), once per layer; a mismatch turns the rows into errors.
// Timing as bench_conv.cu: CUDA events, warm-up, ML_BENCH_REPS repetitions of
// ML_BENCH_MIN_TIME seconds, inputs rotated over sets whose total exceeds twice the L2.
// Compiled with the CUDA build (bench/CMakeLists.txt); its figures wait for a device.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/flip.h"
#include "kernels/pool.h"

namespace {

using ml::kernels::Pool2dParams;

[[noreturn]] void pool_fail(const char* file, int line, const char* what, const std::string& why) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " + why);
}
#define POOL_CUDA(call)                                                                  \
  do {                                                                                   \
    const cudaError_t e_ = (call);                                                       \
    if (e_ != cudaSuccess) pool_fail(__FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
  } while (0)
#define POOL_CUDNN(call)                                                                    \
  do {                                                                                      \
    const cudnnStatus_t s_ = (call);                                                        \
    if (s_ != CUDNN_STATUS_SUCCESS) pool_fail(__FILE__, __LINE__, #call, cudnnGetErrorString(s_)); \
  } while (0)

struct PoolLayer {
  const char* net;
  const char* name;
  int N, C, H, W, k, stride;
};
// AlexNet (torchvision, 224x224 input): the three 3x3/2 max-pools; vgg_small (32x32x3 input):
// its two 2x2/2 max-pools.
const PoolLayer kPoolLayers[] = {
    {"alexnet", "pool1", 128, 64, 55, 55, 3, 2},   {"alexnet", "pool2", 128, 192, 27, 27, 3, 2},
    {"alexnet", "pool5", 128, 256, 13, 13, 3, 2},  {"vgg_small", "pool1", 256, 32, 28, 28, 2, 2},
    {"vgg_small", "pool2", 256, 128, 10, 10, 2, 2},
};
constexpr int kNumPoolLayers = static_cast<int>(sizeof(kPoolLayers) / sizeof(kPoolLayers[0]));

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}
double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atof(v) : fallback;
}

template <class T>
T* dev_alloc(size_t n) {
  void* p = nullptr;
  POOL_CUDA(cudaMalloc(&p, n * sizeof(T)));
  return static_cast<T*>(p);
}

// Random floats in [-1, 1), distinct with probability ~1 (no ties in a window).
void fill_random(float* d, size_t n, unsigned seed) {
  std::vector<float> h(n);
  uint64_t s = 0x9E3779B97F4A7C15ull ^ seed;
  for (auto& v : h) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    v = static_cast<float>(static_cast<double>(s >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  }
  POOL_CUDA(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
}

struct Ctx {
  cudaStream_t stream = nullptr;
  cudaEvent_t e0 = nullptr, e1 = nullptr;
  cudnnHandle_t cudnn = nullptr;
  Ctx() {
    POOL_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    POOL_CUDA(cudaEventCreate(&e0));
    POOL_CUDA(cudaEventCreate(&e1));
    POOL_CUDNN(cudnnCreate(&cudnn));
    POOL_CUDNN(cudnnSetStream(cudnn, stream));
  }
};
Ctx& ctx() {
  static Ctx* c = new Ctx();
  return *c;
}

// Sets of buffers for one layer, rotated so that the timed calls do not hit L2 (50 MB on an
// H100/H200): at least 4 sets and at least 2 x 50 MB in all.
struct PoolSets {
  Pool2dParams p{};
  size_t nx = 0, ny = 0;
  int sets = 0;
  std::vector<float*> x, y, gx, gy;
  std::vector<int32_t*> arg;
};

PoolSets make_sets(const PoolLayer& l) {
  PoolSets s;
  s.p.N = l.N, s.p.C = l.C, s.p.H = l.H, s.p.W = l.W;
  s.p.kh = s.p.kw = l.k;
  s.p.sh = s.p.sw = l.stride;
  s.p.ph = s.p.pw = 0;
  if (!ml::kernels::pool2d_output_size(s.p)) throw std::runtime_error("pool layer with an empty output");
  s.nx = static_cast<size_t>(l.N) * l.C * l.H * l.W;
  s.ny = static_cast<size_t>(l.N) * l.C * s.p.P * s.p.Q;
  const double set_bytes = (2.0 * s.nx + 2.0 * s.ny) * sizeof(float) + s.ny * sizeof(int32_t);
  s.sets = std::max(4, static_cast<int>(std::ceil(100e6 / set_bytes)));
  for (int i = 0; i < s.sets; ++i) {
    s.x.push_back(dev_alloc<float>(s.nx));
    s.gx.push_back(dev_alloc<float>(s.nx));
    s.y.push_back(dev_alloc<float>(s.ny));
    s.gy.push_back(dev_alloc<float>(s.ny));
    s.arg.push_back(dev_alloc<int32_t>(s.ny));
    fill_random(s.x.back(), s.nx, 2 * i + 1);
    fill_random(s.gy.back(), s.ny, 2 * i + 2);
  }
  return s;
}

struct CudnnPool {
  cudnnPoolingDescriptor_t pool = nullptr;
  cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
  explicit CudnnPool(const PoolSets& s) {
    POOL_CUDNN(cudnnCreatePoolingDescriptor(&pool));
    POOL_CUDNN(cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_NOT_PROPAGATE_NAN,
                                           static_cast<int>(s.p.kh), static_cast<int>(s.p.kw), 0, 0,
                                           static_cast<int>(s.p.sh), static_cast<int>(s.p.sw)));
    POOL_CUDNN(cudnnCreateTensorDescriptor(&xd));
    POOL_CUDNN(cudnnCreateTensorDescriptor(&yd));
    POOL_CUDNN(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(s.p.N),
                                          static_cast<int>(s.p.C), static_cast<int>(s.p.H), static_cast<int>(s.p.W)));
    POOL_CUDNN(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(s.p.N),
                                          static_cast<int>(s.p.C), static_cast<int>(s.p.P), static_cast<int>(s.p.Q)));
  }
  void forward(float* y, const float* x) const {
    const float one = 1.f, zero = 0.f;
    POOL_CUDNN(cudnnPoolingForward(ctx().cudnn, pool, &one, xd, x, &zero, yd, y));
  }
  void backward(float* gx, const float* gy, const float* y, const float* x) const {
    const float one = 1.f, zero = 0.f;
    POOL_CUDNN(cudnnPoolingBackward(ctx().cudnn, pool, &one, yd, y, yd, gy, xd, x, &zero, xd, gx));
  }
};

enum class Impl { Ours, Cudnn, Copy };
const char* impl_name(Impl i) { return i == Impl::Ours ? "ours" : i == Impl::Cudnn ? "cudnn" : "copy"; }

std::vector<float> to_host(const float* d, size_t n) {
  std::vector<float> h(n);
  POOL_CUDA(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}

// "" when ours equals cuDNN's, forward and backward, on set 0.
std::string check_against_cudnn(PoolSets& s, const CudnnPool& c) {
  const ml::Stream st{ctx().stream};
  ml::kernels::max_pool2d_forward<ml::Device::CUDA>(s.y[0], s.arg[0], s.x[0], s.p, st);
  ml::kernels::max_pool2d_backward<ml::Device::CUDA>(s.gx[0], s.gy[0], s.arg[0], s.p, st);
  POOL_CUDA(cudaStreamSynchronize(ctx().stream));
  const auto y = to_host(s.y[0], s.ny), gx = to_host(s.gx[0], s.nx);
  float *yc = dev_alloc<float>(s.ny), *gxc = dev_alloc<float>(s.nx);
  c.forward(yc, s.x[0]);
  c.backward(gxc, s.gy[0], yc, s.x[0]);
  POOL_CUDA(cudaStreamSynchronize(ctx().stream));
  const auto yr = to_host(yc, s.ny), gxr = to_host(gxc, s.nx);
  cudaFree(yc);
  cudaFree(gxc);
  if (std::memcmp(y.data(), yr.data(), s.ny * sizeof(float)) != 0) return "forward differs from cuDNN's";
  if (std::memcmp(gx.data(), gxr.data(), s.nx * sizeof(float)) != 0) return "backward differs from cuDNN's";
  return "";
}

// Runs call(set) once per iteration between two events; returns the mean device time (s).
// (Google Benchmark's rate counters divide by CPU time, meaningless here: the host waits.)
template <class F>
double timed_loop(benchmark::State& state, int sets, F&& call) {
  Ctx& c = ctx();
  double total = 0.0;
  int64_t iters = 0;
  for (int i = 0; i < sets; ++i) call(i);  // warm-up over every set
  POOL_CUDA(cudaStreamSynchronize(c.stream));
  int i = 0;
  for (auto _ : state) {
    POOL_CUDA(cudaEventRecord(c.e0, c.stream));
    call(i);
    POOL_CUDA(cudaEventRecord(c.e1, c.stream));
    POOL_CUDA(cudaEventSynchronize(c.e1));
    float ms = 0.f;
    POOL_CUDA(cudaEventElapsedTime(&ms, c.e0, c.e1));
    state.SetIterationTime(ms * 1e-3);
    total += ms * 1e-3;
    ++iters;
    i = (i + 1) % sets;
  }
  return iters > 0 ? total / static_cast<double>(iters) : 0.0;
}

void bench_pool(benchmark::State& state, int layer, bool backward, Impl impl) {
  static std::vector<PoolSets*> all(kNumPoolLayers, nullptr);
  static std::vector<std::string> verdict(kNumPoolLayers);
  if (!all[static_cast<size_t>(layer)]) {
    all[static_cast<size_t>(layer)] = new PoolSets(make_sets(kPoolLayers[layer]));
    const CudnnPool c(*all[static_cast<size_t>(layer)]);
    verdict[static_cast<size_t>(layer)] = check_against_cudnn(*all[static_cast<size_t>(layer)], c);
  }
  PoolSets& s = *all[static_cast<size_t>(layer)];
  if (!verdict[static_cast<size_t>(layer)].empty()) {
    state.SkipWithError(verdict[static_cast<size_t>(layer)].c_str());
    return;
  }
  const CudnnPool c(s);
  const ml::Stream st{ctx().stream};
  // Bytes each path must move at least. Forward: x read, y written (+ argmax for ours);
  // backward: gy (+ argmax) read, gx written (ours zero-fills gx; cuDNN also reads x and y).
  double bytes = 0, t = 0;
  if (!backward) {
    bytes = (s.nx + s.ny) * 4.0 + (impl == Impl::Ours ? s.ny * 4.0 : 0.0);
    t = timed_loop(state, s.sets, [&](int i) {
      if (impl == Impl::Ours) ml::kernels::max_pool2d_forward<ml::Device::CUDA>(s.y[i], s.arg[i], s.x[i], s.p, st);
      else if (impl == Impl::Cudnn) c.forward(s.y[i], s.x[i]);
      else POOL_CUDA(cudaMemcpyAsync(s.gx[i], s.x[i], (s.nx + s.ny) * 2, cudaMemcpyDeviceToDevice, ctx().stream));
    });
  } else {
    bytes = (s.nx + s.ny) * 4.0 + (impl == Impl::Ours ? s.ny * 4.0 : impl == Impl::Cudnn ? (s.nx + s.ny) * 4.0 : 0.0);
    t = timed_loop(state, s.sets, [&](int i) {
      if (impl == Impl::Ours) ml::kernels::max_pool2d_backward<ml::Device::CUDA>(s.gx[i], s.gy[i], s.arg[i], s.p, st);
      else if (impl == Impl::Cudnn) c.backward(s.gx[i], s.gy[i], s.y[i], s.x[i]);
      else POOL_CUDA(cudaMemcpyAsync(s.gx[i], s.x[i], (s.nx + s.ny) * 2, cudaMemcpyDeviceToDevice, ctx().stream));
    });
  }
  // The copy rows move (nx + ny) * 4 bytes in all, x into gx (both hold nx floats >= the
  // (nx + ny) * 2 bytes copied): half read, half written; its GB/s counts both.
  if (impl == Impl::Copy) bytes = (s.nx + s.ny) * 4.0;
  if (t > 0) state.counters["GB/s"] = bytes / t / 1e9;
  state.counters["sets"] = s.sets;
}

// Flips and quarter turns of a (256, 32, 28, 28) batch (vgg_small's conv1 activations): each
// reads and writes every element once, exactly what a copy of the tensor does.
enum class FlipOp { H, V, Rot90, Copy };
const char* flip_name(FlipOp f) {
  return f == FlipOp::H ? "hflip" : f == FlipOp::V ? "vflip" : f == FlipOp::Rot90 ? "rot90" : "copy";
}

void bench_flip(benchmark::State& state, FlipOp op) {
  constexpr int64_t N = 256, C = 32, H = 28, W = 28;
  const size_t n = static_cast<size_t>(N * C * H * W);
  static std::vector<float*> xs, ys;
  const int sets = std::max(4, static_cast<int>(std::ceil(100e6 / (2.0 * n * sizeof(float)))));
  if (xs.empty())
    for (int i = 0; i < sets; ++i) {
      xs.push_back(dev_alloc<float>(n));
      ys.push_back(dev_alloc<float>(n));
      fill_random(xs.back(), n, 100 + i);
    }
  const ml::Stream st{ctx().stream};
  const double t = timed_loop(state, sets, [&](int i) {
    switch (op) {
      case FlipOp::H: ml::kernels::flip<ml::Device::CUDA>(ys[i], xs[i], N * C, H, W, true, false, st); break;
      case FlipOp::V: ml::kernels::flip<ml::Device::CUDA>(ys[i], xs[i], N * C, H, W, false, true, st); break;
      case FlipOp::Rot90: ml::kernels::rot90<ml::Device::CUDA>(ys[i], xs[i], N * C, H, W, 1, st); break;
      case FlipOp::Copy:
        POOL_CUDA(cudaMemcpyAsync(ys[i], xs[i], n * sizeof(float), cudaMemcpyDeviceToDevice, ctx().stream));
        break;
    }
  });
  if (t > 0) state.counters["GB/s"] = 2.0 * n * sizeof(float) / t / 1e9;  // read + write
  state.counters["sets"] = sets;
}

const bool registered = [] {
  const int reps = env_int("ML_BENCH_REPS", 5);
  const double min_time = env_double("ML_BENCH_MIN_TIME", 0.1);
  for (int l = 0; l < kNumPoolLayers; ++l)
    for (bool backward : {false, true})
      for (Impl impl : {Impl::Cudnn, Impl::Ours, Impl::Copy}) {
        const std::string name = std::string("pool/") + kPoolLayers[l].net + "/" + kPoolLayers[l].name + "/" +
                                 (backward ? "bwd" : "fwd") + "/" + impl_name(impl);
        benchmark::RegisterBenchmark(name.c_str(), [l, backward, impl](benchmark::State& st) {
          bench_pool(st, l, backward, impl);
        })
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->Repetitions(reps)
            ->ReportAggregatesOnly(true)
            ->MinTime(min_time);
      }
  for (FlipOp op : {FlipOp::Copy, FlipOp::H, FlipOp::V, FlipOp::Rot90})
    benchmark::RegisterBenchmark((std::string("flip/vgg_small_conv1/") + flip_name(op)).c_str(),
                                 [op](benchmark::State& st) { bench_flip(st, op); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->Repetitions(reps)
        ->ReportAggregatesOnly(true)
        ->MinTime(min_time);
  return true;
}();

}  // namespace
