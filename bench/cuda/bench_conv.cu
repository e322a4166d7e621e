// bench/cuda/bench_conv.cu — our CUDA convolution (kernels/cuda/conv2d.cu) beside cuDNN and
// beside im2col + cuBLAS SGEMM, on every convolution layer of AlexNet (torchvision shapes,
// batch 128) and of the small VGG net (batch 256): forward, backward-data, backward-weight.
//
// Honest-benchmark rules (shared/STYLE.md §4), and how each is kept here:
//  - Same math: FP32 everywhere. cuDNN's convolution descriptor is pinned to CUDNN_FMA_MATH
//    (no TF32 tensor cores; Hopper would otherwise use them for float32), and only algorithms
//    whose reported math type is FMA are accepted. cuBLAS runs in CUBLAS_PEDANTIC_MATH.
//  - cuDNN at its best: the algorithm is the fastest one cudnnFind*AlgorithmEx measures on
//    the real buffers (with up to 1 GiB of workspace), found once per layer and pass.
//  - Checked before timed: each path's output on the same inputs is compared with cuDNN's
//    (and ours with cuBLAS's) once; a mismatch skips the benchmark with the error.
//  - Not the cache: the inputs rotate over >= 4 sets whose total is at least twice the L2
//    (H100: 50 MB), as device memory allows; inputs are random in [-1, 1), never zeros.
//  - Device time: CUDA events around each call (manual time), after a warm-up; repetitions
//    report mean/median/stddev (read the _median rows); a summary table at exit gives the
//    medians of all timed iterations, TFLOP/s and the speed ratio against cuDNN.
// FLOPs of a pass (forward, backward-data or backward-weight alike): 2*N*K*P*Q*(C/groups)*R*S.
// The cuBLAS path's time includes its im2col/col2im/transpose kernels: that is its real cost.
//
// Environment: ML_BENCH_REPS (repetitions, default 5), ML_BENCH_MIN_TIME (seconds of timed
// work per repetition, default 0.1). Filter layers with --benchmark_filter=alexnet/conv2 etc.
#include <benchmark/benchmark.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/conv2d.h"

namespace {

using ml::kernels::Conv2dParams;

// ---- error checks: every CUDA, cuDNN and cuBLAS call, with file and line --------------------
[[noreturn]] void fail(const char* file, int line, const char* what, const std::string& why) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " + why);
}
#define BENCH_CUDA(call)                                                                 \
  do {                                                                                   \
    const cudaError_t e_ = (call);                                                       \
    if (e_ != cudaSuccess) fail(__FILE__, __LINE__, #call, cudaGetErrorString(e_));      \
  } while (0)
#define BENCH_CUDNN(call)                                                                \
  do {                                                                                   \
    const cudnnStatus_t s_ = (call);                                                     \
    if (s_ != CUDNN_STATUS_SUCCESS) fail(__FILE__, __LINE__, #call, cudnnGetErrorString(s_)); \
  } while (0)
#define BENCH_CUBLAS(call)                                                               \
  do {                                                                                   \
    const cublasStatus_t s_ = (call);                                                    \
    if (s_ != CUBLAS_STATUS_SUCCESS) fail(__FILE__, __LINE__, #call, cublasGetStatusString(s_)); \
  } while (0)
#define BENCH_LAUNCHED() BENCH_CUDA(cudaGetLastError())

// ---- the layers ---------------------------------------------------------------------------
struct Layer {
  const char* net;
  const char* name;
  int N, C, H, W, K, R, S, stride, pad;
};
// AlexNet as torchvision builds it (224x224 input), and the small VGG net on 32x32x3 images:
// conv1_1, conv1_2, max-pool, conv2_1, conv2_2, all 3x3 without padding.
const Layer kLayers[] = {
    {"alexnet", "conv1", 128, 3, 224, 224, 64, 11, 11, 4, 2},
    {"alexnet", "conv2", 128, 64, 27, 27, 192, 5, 5, 1, 2},
    {"alexnet", "conv3", 128, 192, 13, 13, 384, 3, 3, 1, 1},
    {"alexnet", "conv4", 128, 384, 13, 13, 256, 3, 3, 1, 1},
    {"alexnet", "conv5", 128, 256, 13, 13, 256, 3, 3, 1, 1},
    {"vgg_small", "conv1_1", 256, 3, 32, 32, 32, 3, 3, 1, 0},
    {"vgg_small", "conv1_2", 256, 32, 30, 30, 32, 3, 3, 1, 0},
    {"vgg_small", "conv2_1", 256, 32, 14, 14, 64, 3, 3, 1, 0},
    {"vgg_small", "conv2_2", 256, 64, 12, 12, 128, 3, 3, 1, 0},
};
constexpr int kNumLayers = sizeof(kLayers) / sizeof(kLayers[0]);

enum class Pass { Fwd, BwdData, BwdWeight };
enum class Impl { Cudnn, Cublas, Ours };
const char* pass_name(Pass p) { return p == Pass::Fwd ? "fwd" : p == Pass::BwdData ? "bwd_data" : "bwd_weight"; }
const char* impl_name(Impl i) { return i == Impl::Cudnn ? "cudnn" : i == Impl::Cublas ? "cublas" : "ours"; }

Conv2dParams params_of(const Layer& l) {
  Conv2dParams p{};
  p.N = l.N, p.C = l.C, p.H = l.H, p.W = l.W, p.K = l.K, p.R = l.R, p.S = l.S;
  p.stride_h = p.stride_w = l.stride;
  p.pad_h = p.pad_w = l.pad;
  p.dil_h = p.dil_w = 1;
  p.groups = 1;
  if (!ml::kernels::conv2d_output_size(p)) throw std::runtime_error(std::string("empty output for ") + l.name);
  return p;
}

double flops_of(const Conv2dParams& p) {
  return 2.0 * p.N * p.K * p.P * p.Q * (p.C / p.groups) * p.R * p.S;
}

// ---- small kernels: random fill, the im2col path's data movement, the FMA peak ---------------

// Uniform in [-1, 1) from a counter hash (splitmix64): reproducible, no library needed.
__global__ void fill_uniform(float* p, int64_t n, uint64_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint64_t z = seed + static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    p[i] = static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
  }
}

struct Geo {  // the geometry in 64-bit for the helper kernels
  int64_t N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, dh, dw, groups, Cg, Kg, CRS, PQ, NPQ;
};
Geo geo_of(const Conv2dParams& p) {
  Geo g{};
  g.N = p.N, g.C = p.C, g.H = p.H, g.W = p.W, g.K = p.K, g.R = p.R, g.S = p.S, g.P = p.P, g.Q = p.Q;
  g.sh = p.stride_h, g.sw = p.stride_w, g.ph = p.pad_h, g.pw = p.pad_w, g.dh = p.dil_h, g.dw = p.dil_w;
  g.groups = p.groups, g.Cg = p.C / p.groups, g.Kg = p.K / p.groups;
  g.CRS = g.Cg * g.R * g.S, g.PQ = g.P * g.Q, g.NPQ = g.N * g.PQ;
  return g;
}

// col[g][crs][n*PQ + pq] = x[n, g*Cg + c, p*sh - ph + r*dh, q*sw - pw + s*dw] (0 in the padding).
__global__ void im2col_kernel(float* col, const float* x, Geo g) {
  const int64_t total = g.groups * g.CRS * g.NPQ;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t pq = i % g.PQ, n = (i / g.PQ) % g.N, crs = (i / g.NPQ) % g.CRS, gi = i / (g.NPQ * g.CRS);
    const int64_t s = crs % g.S, r = (crs / g.S) % g.R, c = crs / (g.R * g.S);
    const int64_t h = (pq / g.Q) * g.sh - g.ph + r * g.dh, w = (pq % g.Q) * g.sw - g.pw + s * g.dw;
    col[i] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? x[((n * g.C + gi * g.Cg + c) * g.H + h) * g.W + w] : 0.f;
  }
}

// The adjoint, as a gather: gx[n, c, h, w] = sum of dcol over the (r, s) whose window covers (h, w).
__global__ void col2im_kernel(float* gx, const float* dcol, Geo g) {
  const int64_t total = g.N * g.C * g.H * g.W;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = i % g.W, h = (i / g.W) % g.H, c = (i / (g.W * g.H)) % g.C, n = i / (g.W * g.H * g.C);
    const int64_t gi = c / g.Cg, cl = c % g.Cg;
    float acc = 0.f;
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t hp = h + g.ph - r * g.dh;
      if (hp < 0 || hp % g.sh != 0 || hp / g.sh >= g.P) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t wq = w + g.pw - s * g.dw;
        if (wq < 0 || wq % g.sw != 0 || wq / g.sw >= g.Q) continue;
        const int64_t crs = (cl * g.R + r) * g.S + s;
        acc += dcol[(gi * g.CRS + crs) * g.NPQ + n * g.PQ + (hp / g.sh) * g.Q + wq / g.sw];
      }
    }
    gx[i] = acc;
  }
}

// gyT[k][n*PQ + pq] = gy[n][k][pq], so backward-weight is one GEMM reducing over n*PQ.
__global__ void transpose_gy_kernel(float* gyT, const float* gy, Geo g) {
  const int64_t total = g.K * g.NPQ;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k = i / g.NPQ, rem = i % g.NPQ, n = rem / g.PQ, pq = rem % g.PQ;
    gyT[i] = gy[(n * g.K + k) * g.PQ + pq];
  }
}

// Eight independent FMA chains per thread: the FP32 rate every TFLOP/s is compared with.
constexpr int kPeakIters = 1 << 14;
__global__ void fma_peak_kernel(float* out, float a, float b) {
  float v[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) v[j] = threadIdx.x * 1e-3f + j;
  for (int it = 0; it < kPeakIters; ++it)
#pragma unroll
    for (int j = 0; j < 8; ++j) v[j] = fmaf(v[j], a, b);
  float s = 0.f;
#pragma unroll
  for (int j = 0; j < 8; ++j) s += v[j];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 1 << 16)); }

// ---- the process-wide context -------------------------------------------------------------
struct Ctx {
  bool ok = false;
  std::string why;
  cudaDeviceProp prop{};
  cudaStream_t stream = nullptr;
  cudnnHandle_t dnn = nullptr;
  cublasHandle_t blas = nullptr;
  cudaEvent_t e0 = nullptr, e1 = nullptr;
};

Ctx& ctx() {
  static Ctx c = [] {
    Ctx r;
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
      (void)cudaGetLastError();
      r.why = std::string("no CUDA device: ") + (e != cudaSuccess ? cudaGetErrorString(e) : "none found");
      return r;
    }
    BENCH_CUDA(cudaGetDeviceProperties(&r.prop, 0));
    BENCH_CUDA(cudaStreamCreateWithFlags(&r.stream, cudaStreamNonBlocking));
    BENCH_CUDNN(cudnnCreate(&r.dnn));
    BENCH_CUDNN(cudnnSetStream(r.dnn, r.stream));
    BENCH_CUBLAS(cublasCreate(&r.blas));
    BENCH_CUBLAS(cublasSetStream(r.blas, r.stream));
    BENCH_CUBLAS(cublasSetMathMode(r.blas, CUBLAS_PEDANTIC_MATH));  // FP32 as written: no TF32
    BENCH_CUDA(cudaEventCreate(&r.e0));
    BENCH_CUDA(cudaEventCreate(&r.e1));
    r.ok = true;
    return r;
  }();
  return c;
}

// ---- results, for counters and the closing summary ------------------------------------------
double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct Summary {
  std::map<std::string, std::vector<double>> ms;  // "net/layer/pass/impl" -> every timed iteration
  std::map<std::string, std::string> algo;        // "net/layer/pass" -> cuDNN's pick
  double peak_tflops = NAN, copy_gbs = NAN;
  ~Summary() {
    if (ms.empty()) return;
    std::printf("\nConvolution summary (median of all timed iterations; x_cudnn = cuDNN time / ours, > 1 is faster)\n");
    if (!std::isnan(peak_tflops)) std::printf("FP32 FMA peak measured: %.1f TFLOP/s\n", peak_tflops);
    std::printf("%-10s %-8s %-10s %10s %10s %10s %9s %9s %9s %8s %7s  %s\n", "net", "layer", "pass", "ours_ms",
                "cudnn_ms", "cublas_ms", "ours_TF", "cudnn_TF", "cublas_TF", "x_cudnn", "%peak", "cudnn_algo");
    for (const Layer& l : kLayers)
      for (Pass pass : {Pass::Fwd, Pass::BwdData, Pass::BwdWeight}) {
        const std::string key = std::string(l.net) + "/" + l.name + "/" + pass_name(pass);
        auto get = [&](Impl i) {
          auto it = ms.find(key + "/" + impl_name(i));
          return it == ms.end() ? NAN : median(it->second);
        };
        const double o = get(Impl::Ours), d = get(Impl::Cudnn), b = get(Impl::Cublas);
        if (std::isnan(o) && std::isnan(d) && std::isnan(b)) continue;
        const double f = flops_of(params_of(l));
        auto tf = [&](double t) { return f / (t * 1e-3) / 1e12; };
        std::printf("%-10s %-8s %-10s %10.4f %10.4f %10.4f %9.2f %9.2f %9.2f %8.3f %7.1f  %s\n", l.net, l.name,
                    pass_name(pass), o, d, b, tf(o), tf(d), tf(b), d / o, 100.0 * tf(o) / peak_tflops,
                    algo.count(key) ? algo[key].c_str() : "");
      }
  }
};
Summary& summary() {
  static Summary s;
  return s;
}

// ---- one layer and pass: buffers, cuDNN's choice, the cuBLAS path's workspaces ----------------
struct Workload {
  int layer = -1;
  Pass pass = Pass::Fwd;
  Conv2dParams p{};
  Geo g{};
  int64_t n_x = 0, n_w = 0, n_y = 0;
  int sets = 0;
  // Per set: the pass's two inputs and its output. fwd: (x, w) -> y; bwd_data: (gy, w) -> gx;
  // bwd_weight: (x, gy) -> gw.
  std::vector<float*> in0, in1, out;
  int64_t n_in0 = 0, n_in1 = 0, n_out = 0;
  // cuDNN
  cudnnTensorDescriptor_t xD = nullptr, yD = nullptr;
  cudnnFilterDescriptor_t wD = nullptr;
  cudnnConvolutionDescriptor_t cD = nullptr;
  int algo = -1;
  std::string algo_name;
  void* ws = nullptr;
  size_t ws_bytes = 0;
  // cuBLAS path
  float* col = nullptr;  // (groups, CRS, N*PQ)
  float* gyT = nullptr;  // (K, N*PQ), backward-weight only
  // Check of the paths against each other, done once.
  std::string mismatch;

  ~Workload() {
    for (auto* v : {&in0, &in1, &out})
      for (float* ptr : *v) cudaFree(ptr);
    cudaFree(ws);
    cudaFree(col);
    cudaFree(gyT);
    if (xD) cudnnDestroyTensorDescriptor(xD);
    if (yD) cudnnDestroyTensorDescriptor(yD);
    if (wD) cudnnDestroyFilterDescriptor(wD);
    if (cD) cudnnDestroyConvolutionDescriptor(cD);
  }
};

const char* fwd_algo_name(int a) {
  static const char* n[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
                            "WINOGRAD", "WINOGRAD_NONFUSED"};
  return a >= 0 && a < 8 ? n[a] : "?";
}
const char* bwd_data_algo_name(int a) {
  static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  return a >= 0 && a < 6 ? n[a] : "?";
}
const char* bwd_filter_algo_name(int a) {
  static const char* n[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  return a >= 0 && a < 7 ? n[a] : "?";
}

// Runs one implementation of the workload's pass on input/output set `s`.
void run(Impl impl, Workload& wl, int s) {
  Ctx& c = ctx();
  const Conv2dParams& p = wl.p;
  const Geo& g = wl.g;
  const float one = 1.f, zero = 0.f;
  float* o = wl.out[static_cast<size_t>(s)];
  const float* a = wl.in0[static_cast<size_t>(s)];
  const float* b = wl.in1[static_cast<size_t>(s)];
  const ml::Stream st{c.stream};
  if (impl == Impl::Ours) {
    if (wl.pass == Pass::Fwd)
      ml::kernels::conv2d_forward<ml::Device::CUDA>(o, a, b, nullptr, p, st);
    else if (wl.pass == Pass::BwdData)
      ml::kernels::conv2d_backward_data<ml::Device::CUDA>(o, a, b, p, st);
    else
      ml::kernels::conv2d_backward_weight<ml::Device::CUDA>(o, nullptr, b, a, p, st);
    return;
  }
  if (impl == Impl::Cudnn) {
    if (wl.pass == Pass::Fwd)
      BENCH_CUDNN(cudnnConvolutionForward(c.dnn, &one, wl.xD, a, wl.wD, b, wl.cD,
                                          static_cast<cudnnConvolutionFwdAlgo_t>(wl.algo), wl.ws, wl.ws_bytes, &zero,
                                          wl.yD, o));
    else if (wl.pass == Pass::BwdData)
      BENCH_CUDNN(cudnnConvolutionBackwardData(c.dnn, &one, wl.wD, b, wl.yD, a, wl.cD,
                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(wl.algo), wl.ws,
                                               wl.ws_bytes, &zero, wl.xD, o));
    else
      BENCH_CUDNN(cudnnConvolutionBackwardFilter(c.dnn, &one, wl.xD, a, wl.yD, b, wl.cD,
                                                 static_cast<cudnnConvolutionBwdFilterAlgo_t>(wl.algo), wl.ws,
                                                 wl.ws_bytes, &zero, wl.wD, o));
    return;
  }
  // im2col + cuBLAS, per group; cuBLAS is column-major, so each row-major product
  // C = A * B is issued as C^T = B^T * A^T.
  const int PQ = static_cast<int>(g.PQ), CRS = static_cast<int>(g.CRS), Kg = static_cast<int>(g.Kg);
  const int NPQ = static_cast<int>(g.NPQ), N = static_cast<int>(g.N);
  if (wl.pass == Pass::Fwd) {
    im2col_kernel<<<blocks_for(g.groups * g.CRS * g.NPQ), 256, 0, c.stream>>>(wl.col, a, g);
    BENCH_LAUNCHED();
    for (int64_t gi = 0; gi < g.groups; ++gi)  // y_n (Kg x PQ) = W_g (Kg x CRS) * col_g[:, n] (CRS x PQ)
      BENCH_CUBLAS(cublasSgemmStridedBatched(c.blas, CUBLAS_OP_N, CUBLAS_OP_N, PQ, Kg, CRS, &one,
                                             wl.col + gi * g.CRS * g.NPQ, NPQ, g.PQ, b + gi * g.Kg * g.CRS, CRS, 0,
                                             &zero, o + gi * g.Kg * g.PQ, PQ, g.K * g.PQ, N));
  } else if (wl.pass == Pass::BwdData) {
    for (int64_t gi = 0; gi < g.groups; ++gi)  // dcol_g[:, n] (CRS x PQ) = W_g^T (CRS x Kg) * gy_n (Kg x PQ)
      BENCH_CUBLAS(cublasSgemmStridedBatched(c.blas, CUBLAS_OP_N, CUBLAS_OP_T, PQ, CRS, Kg, &one,
                                             a + gi * g.Kg * g.PQ, PQ, g.K * g.PQ, b + gi * g.Kg * g.CRS, CRS, 0,
                                             &zero, wl.col + gi * g.CRS * g.NPQ, NPQ, g.PQ, N));
    col2im_kernel<<<blocks_for(g.N * g.C * g.H * g.W), 256, 0, c.stream>>>(o, wl.col, g);
    BENCH_LAUNCHED();
  } else {
    im2col_kernel<<<blocks_for(g.groups * g.CRS * g.NPQ), 256, 0, c.stream>>>(wl.col, a, g);
    BENCH_LAUNCHED();
    transpose_gy_kernel<<<blocks_for(g.K * g.NPQ), 256, 0, c.stream>>>(wl.gyT, b, g);
    BENCH_LAUNCHED();
    for (int64_t gi = 0; gi < g.groups; ++gi)  // gW_g (Kg x CRS) = gyT_g (Kg x NPQ) * col_g^T (NPQ x CRS)
      BENCH_CUBLAS(cublasSgemm(c.blas, CUBLAS_OP_T, CUBLAS_OP_N, CRS, Kg, NPQ, &one, wl.col + gi * g.CRS * g.NPQ,
                               NPQ, wl.gyT + gi * g.Kg * g.NPQ, NPQ, &zero, o + gi * g.Kg * g.CRS, CRS));
  }
}

float* device_alloc(int64_t n) {
  void* ptr = nullptr;
  BENCH_CUDA(cudaMalloc(&ptr, static_cast<size_t>(n) * sizeof(float)));
  return static_cast<float*>(ptr);
}

void fill(float* ptr, int64_t n, uint64_t seed) {
  fill_uniform<<<blocks_for(n), 256, 0, ctx().stream>>>(ptr, n, seed);
  BENCH_LAUNCHED();
}

// cuDNN's fastest FMA-math algorithm for the pass, measured on set 0.
void find_cudnn_algo(Workload& wl) {
  Ctx& c = ctx();
  size_t free_b = 0, total_b = 0;
  BENCH_CUDA(cudaMemGetInfo(&free_b, &total_b));
  const size_t find_ws = std::min<size_t>(size_t{1} << 30, free_b / 4);
  void* ws = nullptr;
  BENCH_CUDA(cudaMalloc(&ws, find_ws));
  int returned = 0;
  int best = -1;
  size_t best_mem = 0;
  bool det = true;
  if (wl.pass == Pass::Fwd) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    BENCH_CUDNN(cudnnFindConvolutionForwardAlgorithmEx(c.dnn, wl.xD, wl.in0[0], wl.wD, wl.in1[0], wl.cD, wl.yD,
                                                       wl.out[0], CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf,
                                                       ws, find_ws));
    for (int i = 0; i < returned && best < 0; ++i)  // sorted fastest first
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == CUDNN_FMA_MATH)
        best = perf[i].algo, best_mem = perf[i].memory, det = perf[i].determinism == CUDNN_DETERMINISTIC;
    wl.algo_name = fwd_algo_name(best);
  } else if (wl.pass == Pass::BwdData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    BENCH_CUDNN(cudnnFindConvolutionBackwardDataAlgorithmEx(c.dnn, wl.wD, wl.in1[0], wl.yD, wl.in0[0], wl.cD, wl.xD,
                                                            wl.out[0], CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                            &returned, perf, ws, find_ws));
    for (int i = 0; i < returned && best < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == CUDNN_FMA_MATH)
        best = perf[i].algo, best_mem = perf[i].memory, det = perf[i].determinism == CUDNN_DETERMINISTIC;
    wl.algo_name = bwd_data_algo_name(best);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    BENCH_CUDNN(cudnnFindConvolutionBackwardFilterAlgorithmEx(c.dnn, wl.xD, wl.in0[0], wl.yD, wl.in1[0], wl.cD,
                                                              wl.wD, wl.out[0], CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                              &returned, perf, ws, find_ws));
    for (int i = 0; i < returned && best < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == CUDNN_FMA_MATH)
        best = perf[i].algo, best_mem = perf[i].memory, det = perf[i].determinism == CUDNN_DETERMINISTIC;
    wl.algo_name = bwd_filter_algo_name(best);
  }
  BENCH_CUDA(cudaFree(ws));
  if (best < 0) throw std::runtime_error("cuDNN found no FMA-math algorithm for this layer");
  wl.algo = best;
  wl.algo_name += det ? " (deterministic)" : " (non-deterministic)";
  wl.ws_bytes = best_mem;
  if (best_mem) BENCH_CUDA(cudaMalloc(&wl.ws, best_mem));
}

// Max |a - b| and ||a - b|| / ||b||, with b the reference.
std::string compare(const std::vector<float>& got, const std::vector<float>& ref, const char* who) {
  double num = 0, den = 0, max_err = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(got[i]) - ref[i];
    if (std::isnan(d)) return std::string(who) + ": NaN at element " + std::to_string(i) + " (unwritten or invalid)";
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
    max_err = std::max(max_err, std::fabs(d));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref[i])));
  }
  const double rel = std::sqrt(num / std::max(den, 1e-300));
  // FP32 sums of these lengths (<= 4e5 terms) stay near 1e-6 relative (FFT and Winograd
  // algorithms near 1e-5); a wrong tap or element moves the output by O(1) relative.
  if (rel > 1e-4 || max_err > 1e-3 * max_ref) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s: relative L2 error %.3g, max error %.3g (max |ref| %.3g)", who, rel, max_err,
                  max_ref);
    return buf;
  }
  return "";
}

std::vector<float> output_of(Impl impl, Workload& wl) {
  Ctx& c = ctx();
  BENCH_CUDA(cudaMemsetAsync(wl.out[0], 0xFF, static_cast<size_t>(wl.n_out) * sizeof(float), c.stream));  // NaN
  run(impl, wl, 0);
  std::vector<float> h(static_cast<size_t>(wl.n_out));
  BENCH_CUDA(cudaStreamSynchronize(c.stream));
  BENCH_CUDA(cudaMemcpy(h.data(), wl.out[0], h.size() * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}

// The one live workload. Never freed at exit on purpose: by then the CUDA runtime and cuDNN
// may already be torn down, and the process's memory goes back with it anyway.
std::unique_ptr<Workload>& current() {
  static auto* w = new std::unique_ptr<Workload>();
  return *w;
}

// The workload of (layer, pass), built on first use; the previous one is freed.
Workload& workload(int layer, Pass pass) {
  auto& cur = current();
  if (cur && cur->layer == layer && cur->pass == pass) return *cur;
  cur.reset();
  Ctx& c = ctx();
  auto wl = std::make_unique<Workload>();
  wl->layer = layer;
  wl->pass = pass;
  wl->p = params_of(kLayers[layer]);
  wl->g = geo_of(wl->p);
  const Conv2dParams& p = wl->p;
  wl->n_x = p.N * p.C * p.H * p.W;
  wl->n_w = p.K * (p.C / p.groups) * p.R * p.S;
  wl->n_y = p.N * p.K * p.P * p.Q;
  if (pass == Pass::Fwd) wl->n_in0 = wl->n_x, wl->n_in1 = wl->n_w, wl->n_out = wl->n_y;
  if (pass == Pass::BwdData) wl->n_in0 = wl->n_y, wl->n_in1 = wl->n_w, wl->n_out = wl->n_x;
  if (pass == Pass::BwdWeight) wl->n_in0 = wl->n_x, wl->n_in1 = wl->n_y, wl->n_out = wl->n_w;

  // Workspaces of the cuBLAS path, then as many rotating sets as the L2 rule asks and memory allows.
  wl->col = device_alloc(wl->g.groups * wl->g.CRS * wl->g.NPQ);
  if (pass == Pass::BwdWeight) wl->gyT = device_alloc(wl->g.K * wl->g.NPQ);
  const double set_bytes = 4.0 * static_cast<double>(wl->n_in0 + wl->n_in1 + wl->n_out);
  const double l2 = c.prop.l2CacheSize > 0 ? c.prop.l2CacheSize : 50e6;
  size_t free_b = 0, total_b = 0;
  BENCH_CUDA(cudaMemGetInfo(&free_b, &total_b));
  const double budget = 0.5 * static_cast<double>(free_b) - (size_t{1} << 30);  // leave room for cuDNN's search
  int sets = std::max(4, static_cast<int>(std::ceil(2.0 * l2 / set_bytes)));
  sets = std::min({sets, 64, std::max(1, static_cast<int>(budget / set_bytes))});
  wl->sets = sets;
  uint64_t seed = 1000 * static_cast<uint64_t>(layer) + 10 * static_cast<uint64_t>(pass);
  for (int s = 0; s < sets; ++s) {
    wl->in0.push_back(device_alloc(wl->n_in0));
    wl->in1.push_back(device_alloc(wl->n_in1));
    wl->out.push_back(device_alloc(wl->n_out));
    fill(wl->in0.back(), wl->n_in0, ++seed);
    fill(wl->in1.back(), wl->n_in1, ++seed);
    fill(wl->out.back(), wl->n_out, ++seed);
  }

  // cuDNN descriptors, FMA math pinned.
  BENCH_CUDNN(cudnnCreateTensorDescriptor(&wl->xD));
  BENCH_CUDNN(cudnnCreateTensorDescriptor(&wl->yD));
  BENCH_CUDNN(cudnnCreateFilterDescriptor(&wl->wD));
  BENCH_CUDNN(cudnnCreateConvolutionDescriptor(&wl->cD));
  BENCH_CUDNN(cudnnSetTensor4dDescriptor(wl->xD, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(p.N),
                                         static_cast<int>(p.C), static_cast<int>(p.H), static_cast<int>(p.W)));
  BENCH_CUDNN(cudnnSetTensor4dDescriptor(wl->yD, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(p.N),
                                         static_cast<int>(p.K), static_cast<int>(p.P), static_cast<int>(p.Q)));
  BENCH_CUDNN(cudnnSetFilter4dDescriptor(wl->wD, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, static_cast<int>(p.K),
                                         static_cast<int>(p.C / p.groups), static_cast<int>(p.R),
                                         static_cast<int>(p.S)));
  BENCH_CUDNN(cudnnSetConvolution2dDescriptor(wl->cD, static_cast<int>(p.pad_h), static_cast<int>(p.pad_w),
                                              static_cast<int>(p.stride_h), static_cast<int>(p.stride_w),
                                              static_cast<int>(p.dil_h), static_cast<int>(p.dil_w),
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  BENCH_CUDNN(cudnnSetConvolutionGroupCount(wl->cD, static_cast<int>(p.groups)));
  BENCH_CUDNN(cudnnSetConvolutionMathType(wl->cD, CUDNN_FMA_MATH));
  int dn = 0, dk = 0, dp = 0, dq = 0;
  BENCH_CUDNN(cudnnGetConvolution2dForwardOutputDim(wl->cD, wl->xD, wl->wD, &dn, &dk, &dp, &dq));
  if (dn != p.N || dk != p.K || dp != p.P || dq != p.Q) throw std::runtime_error("cuDNN disagrees on the output size");
  find_cudnn_algo(*wl);
  summary().algo[std::string(kLayers[layer].net) + "/" + kLayers[layer].name + "/" + pass_name(pass)] =
      wl->algo_name;

  // The three paths on the same inputs, once.
  const std::vector<float> ref = output_of(Impl::Cudnn, *wl);
  const std::vector<float> ours = output_of(Impl::Ours, *wl);
  const std::vector<float> blas = output_of(Impl::Cublas, *wl);
  wl->mismatch = compare(ours, ref, "ours vs cuDNN");
  if (wl->mismatch.empty()) wl->mismatch = compare(blas, ref, "im2col+cuBLAS vs cuDNN");
  if (wl->mismatch.empty()) wl->mismatch = compare(ours, blas, "ours vs im2col+cuBLAS");
  cur = std::move(wl);
  return *cur;
}

void bench_conv(benchmark::State& state, int layer, Pass pass, Impl impl) {
  try {
    Ctx& c = ctx();
    if (!c.ok) {
      state.SkipWithError(c.why.c_str());
      return;
    }
    Workload& wl = workload(layer, pass);
    if (!wl.mismatch.empty()) {
      state.SkipWithError(wl.mismatch.c_str());
      return;
    }
    for (int s = 0; s < std::max(wl.sets, 3); ++s) run(impl, wl, s % wl.sets);  // warm-up
    BENCH_CUDA(cudaStreamSynchronize(c.stream));

    const Layer& l = kLayers[layer];
    const std::string key = std::string(l.net) + "/" + l.name + "/" + pass_name(pass);
    auto& times = summary().ms[key + "/" + impl_name(impl)];
    std::vector<double> mine;
    int s = 0;
    for (auto _ : state) {
      BENCH_CUDA(cudaEventRecord(c.e0, c.stream));
      run(impl, wl, s);
      BENCH_CUDA(cudaEventRecord(c.e1, c.stream));
      BENCH_CUDA(cudaEventSynchronize(c.e1));
      float ms = 0.f;
      BENCH_CUDA(cudaEventElapsedTime(&ms, c.e0, c.e1));
      state.SetIterationTime(ms * 1e-3);
      mine.push_back(ms);
      s = (s + 1) % wl.sets;
    }
    times.insert(times.end(), mine.begin(), mine.end());
    const double t = median(mine) * 1e-3;
    const double bytes = 4.0 * static_cast<double>(wl.n_in0 + wl.n_in1 + wl.n_out);
    state.counters["TFLOP/s"] = flops_of(wl.p) / t / 1e12;
    state.counters["GB/s"] = bytes / t / 1e9;  // inputs read once, output written once
    state.counters["sets"] = wl.sets;
    if (impl != Impl::Cudnn) {
      auto it = summary().ms.find(key + "/cudnn");
      if (it != summary().ms.end() && !it->second.empty()) state.counters["x_cudnn"] = median(it->second) * 1e-3 / t;
    }
    state.SetLabel(impl == Impl::Cudnn ? wl.algo_name : impl == Impl::Cublas ? "im2col+sgemm pedantic" : "fp32 ffma");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The FP32 FMA rate and device-to-device copy bandwidth of this GPU, measured the same way.
void bench_peak_fma(benchmark::State& state) {
  try {
    Ctx& c = ctx();
    if (!c.ok) {
      state.SkipWithError(c.why.c_str());
      return;
    }
    const int blocks = c.prop.multiProcessorCount * 8, threads = 256;
    float* out = device_alloc(static_cast<int64_t>(blocks) * threads);
    fma_peak_kernel<<<blocks, threads, 0, c.stream>>>(out, 0.999999f, 1e-7f);  // warm-up
    BENCH_LAUNCHED();
    std::vector<double> mine;
    for (auto _ : state) {
      BENCH_CUDA(cudaEventRecord(c.e0, c.stream));
      fma_peak_kernel<<<blocks, threads, 0, c.stream>>>(out, 0.999999f, 1e-7f);
      BENCH_CUDA(cudaEventRecord(c.e1, c.stream));
      BENCH_CUDA(cudaEventSynchronize(c.e1));
      float ms = 0.f;
      BENCH_CUDA(cudaEventElapsedTime(&ms, c.e0, c.e1));
      state.SetIterationTime(ms * 1e-3);
      mine.push_back(ms);
    }
    BENCH_CUDA(cudaFree(out));
    const double flops = 2.0 * 8 * kPeakIters * static_cast<double>(blocks) * threads;
    const double tf = flops / (median(mine) * 1e-3) / 1e12;
    state.counters["TFLOP/s"] = tf;
    summary().peak_tflops = std::isnan(summary().peak_tflops) ? tf : std::max(summary().peak_tflops, tf);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void bench_copy(benchmark::State& state) {
  try {
    Ctx& c = ctx();
    if (!c.ok) {
      state.SkipWithError(c.why.c_str());
      return;
    }
    const int64_t n = int64_t{1} << 28;  // 1 GiB each way
    float* src = device_alloc(n);
    float* dst = device_alloc(n);
    fill(src, n, 7);
    BENCH_CUDA(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, c.stream));  // warm-up
    std::vector<double> mine;
    for (auto _ : state) {
      BENCH_CUDA(cudaEventRecord(c.e0, c.stream));
      BENCH_CUDA(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, c.stream));
      BENCH_CUDA(cudaEventRecord(c.e1, c.stream));
      BENCH_CUDA(cudaEventSynchronize(c.e1));
      float ms = 0.f;
      BENCH_CUDA(cudaEventElapsedTime(&ms, c.e0, c.e1));
      state.SetIterationTime(ms * 1e-3);
      mine.push_back(ms);
    }
    BENCH_CUDA(cudaFree(src));
    BENCH_CUDA(cudaFree(dst));
    state.counters["GB/s"] = 2.0 * n * sizeof(float) / (median(mine) * 1e-3) / 1e9;  // read + write
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

double env_double(const char* name, double dflt) {
  const char* e = std::getenv(name);
  return e && *e ? std::atof(e) : dflt;
}

// Registration (static initialisation; the main is benchmark::benchmark_main's).
const bool kRegistered = [] {
  const int reps = static_cast<int>(env_double("ML_BENCH_REPS", 5));
  const double min_time = env_double("ML_BENCH_MIN_TIME", 0.1);
  // What the numbers were measured on, in the report's context header.
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
      benchmark::AddCustomContext("gpu", prop.name);
      benchmark::AddCustomContext("gpu_sms", std::to_string(prop.multiProcessorCount));
      benchmark::AddCustomContext("gpu_l2_MiB", std::to_string(prop.l2CacheSize >> 20));
    }
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    benchmark::AddCustomContext("cuda_driver", std::to_string(drv));
    benchmark::AddCustomContext("cuda_runtime", std::to_string(rt));
  } else {
    (void)cudaGetLastError();
  }
  benchmark::AddCustomContext("cudnn", std::to_string(cudnnGetVersion()));
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  benchmark::AddCustomContext("cublas", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch));
  benchmark::AddCustomContext("math", "FP32 FFMA everywhere: cuDNN CUDNN_FMA_MATH, cuBLAS CUBLAS_PEDANTIC_MATH");

  benchmark::RegisterBenchmark("peak/fp32_fma", bench_peak_fma)
      ->UseManualTime()->Unit(benchmark::kMillisecond)->Repetitions(reps)->ReportAggregatesOnly(true)->MinTime(min_time);
  benchmark::RegisterBenchmark("peak/d2d_copy", bench_copy)
      ->UseManualTime()->Unit(benchmark::kMillisecond)->Repetitions(reps)->ReportAggregatesOnly(true)->MinTime(min_time);
  for (int l = 0; l < kNumLayers; ++l)
    for (Pass pass : {Pass::Fwd, Pass::BwdData, Pass::BwdWeight})
      for (Impl impl : {Impl::Cudnn, Impl::Cublas, Impl::Ours}) {  // cuDNN first: "x_cudnn" needs its time
        const std::string name = std::string("conv/") + kLayers[l].net + "/" + kLayers[l].name + "/" +
                                 pass_name(pass) + "/" + impl_name(impl);
        benchmark::RegisterBenchmark(name.c_str(), [l, pass, impl](benchmark::State& st) {
          bench_conv(st, l, pass, impl);
        })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Repetitions(reps)
            ->ReportAggregatesOnly(true)
            ->MinTime(min_time);
      }
  return true;
}();

}  // namespace
