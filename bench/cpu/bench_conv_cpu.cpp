// bench/cpu/bench_conv_cpu.cpp — the CPU convolution kernels (kernels/cpu/conv2d.cpp: im2col +
// GEMM, or Winograd F(2x2, 3x3) for 3x3 stride-1 layers with >= 16 channels in and out where the
// dispatch takes it, kernels/cpu/winograd.cpp) on the shapes our models actually run, in GFLOP/s.
// bench/run_cpu.sh divides these by the FP32 peak that bench/peak_cpu measures in the same run.
//
// The kernels are called directly on raw buffers (no tensors, no autograd, no allocation in the
// timed loop beyond the kernels' own column buffers, which are part of their cost). Inputs are
// random (Philox uniform in [-1, 1)), never zeros: all three passes do the same arithmetic on
// any values, but random data keeps the timing honest should a kernel ever skip zeros.
//
// FLOPs counted, per pass, are those of the convolution's GEMM:
//   2 * N * K * P * Q * (C/groups) * R * S
// also for the layers that run by Winograd, which do 4/9 of those multiplications: their
// GFLOP/s is an effective rate (direct-convolution work per second) and can exceed the peak.
// Forward, backward-data and backward-weight are each one GEMM of that size (with the operands
// swapped), so the same count serves all three. The bias add (forward), col2im's scatter
// (backward-data) and the bias gradient (backward-weight) are timed but not counted: they are
// O(N*K*P*Q) or O(N*C*H*W*R*S) adds beside the GEMM's O(N*K*P*Q*C*R*S) FMAs.
//
// Which path: the label ends in "path=..." (kernels/cpu/conv2d_path.h: winograd, im2col+eigen or
// im2col+tile_gemm), the one conv2d_*<Device::CPU> takes for that layer and pass on the ISA this
// binary was built for (context "isa"). Where that is not im2col + Eigen, the same layer and pass
// is also registered as "im2col_<pass>/<net>/<layer>", the im2col + Eigen reference called
// directly, so one run shows the chosen path beside the one it must beat (issue 13); run_cpu.sh
// filters them out (^conv2d_), bench/cpu/compare_paths.sh prints the ratios.
//
// Timing: wall-clock (UseRealTime), since the work is spread over OpenMP threads and CPU time
// would add the threads up; 3 repetitions, the median reported. The machine is shared, so
// read a single run with care; run_cpu.sh is meant to be run twice.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_path.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/winograd.h"
#include "kernels/random.h"

namespace {

using ml::Device;
using ml::Stream;
namespace kn = ml::kernels;

// One convolution layer: square input (H = W), square kernel (R = S), symmetric stride/padding,
// no dilation, no groups (none of these models uses them).
struct ConvLayer {
  const char* net;
  const char* layer;
  int64_t N, C, H, K, R, stride, pad;
};

constexpr ConvLayer kLayers[] = {
    // torchvision AlexNet (features.0, 3, 6, 8, 10), batch 16, 224x224x3 input.
    {"alexnet", "conv1", 16, 3, 224, 64, 11, 4, 2},    // 224 -> 55
    {"alexnet", "conv2", 16, 64, 27, 192, 5, 1, 2},    // 27 (3x3/2 max-pool of 55) -> 27
    {"alexnet", "conv3", 16, 192, 13, 384, 3, 1, 1},   // 13 (pool of 27) -> 13
    {"alexnet", "conv4", 16, 384, 13, 256, 3, 1, 1},   // 13 -> 13
    {"alexnet", "conv5", 16, 256, 13, 256, 3, 1, 1},   // 13 -> 13
    // The small VGG-like net (SCIENCE.md, Figure 4), batch 256, 32x32x3 input, no padding.
    {"vgg_small", "conv1_1", 256, 3, 32, 32, 3, 1, 0},    // 32 -> 30
    {"vgg_small", "conv1_2", 256, 32, 30, 32, 3, 1, 0},   // 30 -> 28
    {"vgg_small", "conv2_1", 256, 32, 14, 64, 3, 1, 0},   // 14 (2x2 max-pool of 28) -> 12
    {"vgg_small", "conv2_2", 256, 64, 12, 128, 3, 1, 0},  // 12 -> 10
    // The same net on the studies' 28x28x1 stimuli (the demo's shape), batch 256.
    {"vgg_small28", "conv1_1", 256, 1, 28, 32, 3, 1, 0},    // 28 -> 26
    {"vgg_small28", "conv1_2", 256, 32, 26, 32, 3, 1, 0},   // 26 -> 24
    {"vgg_small28", "conv2_1", 256, 32, 12, 64, 3, 1, 0},   // 12 (pool of 24) -> 10
    {"vgg_small28", "conv2_2", 256, 64, 10, 128, 3, 1, 0},  // 10 -> 8
    // torchvision VGG16's 3x3 layers of each stage (the studies' feature extractor), batch 4,
    // 224x224x3 input, padding 1 (the second and third convs of a stage repeat these shapes).
    {"vgg16", "conv1_1", 4, 3, 224, 64, 3, 1, 1},
    {"vgg16", "conv1_2", 4, 64, 224, 64, 3, 1, 1},
    {"vgg16", "conv2_1", 4, 64, 112, 128, 3, 1, 1},
    {"vgg16", "conv2_2", 4, 128, 112, 128, 3, 1, 1},
    {"vgg16", "conv3_1", 4, 128, 56, 256, 3, 1, 1},
    {"vgg16", "conv3_2", 4, 256, 56, 256, 3, 1, 1},
    {"vgg16", "conv4_1", 4, 256, 28, 512, 3, 1, 1},
    {"vgg16", "conv4_2", 4, 512, 28, 512, 3, 1, 1},
    {"vgg16", "conv5_1", 4, 512, 14, 512, 3, 1, 1},
    // The V1 study's ci core (issue 21; science file §6), batch 64, 20x20x1 images, SAME padding:
    // the equivariant layers assemble their weights, then run these plain convolutions.
    {"v1_ci", "conv1", 64, 1, 20, 32, 9, 1, 4},
    {"v1_ci", "conv2", 64, 32, 20, 32, 3, 1, 1},
};

using Pass = kn::cpu_conv::Pass;

const char* pass_name(Pass pass) {
  switch (pass) {
    case Pass::Forward: return "forward";
    case Pass::BackwardData: return "backward_data";
    case Pass::BackwardWeight: return "backward_weight";
  }
  return "?";
}

kn::Conv2dParams make_params(const ConvLayer& L) {
  kn::Conv2dParams p{};
  p.N = L.N;
  p.C = L.C;
  p.H = p.W = L.H;
  p.K = L.K;
  p.R = p.S = L.R;
  p.stride_h = p.stride_w = L.stride;
  p.pad_h = p.pad_w = L.pad;
  p.dil_h = p.dil_w = 1;
  p.groups = 1;
  kn::conv2d_output_size(p);
  return p;
}

double gemm_flops(const kn::Conv2dParams& p) {
  return 2.0 * static_cast<double>(p.N * p.K * p.P * p.Q) * static_cast<double>(p.C / p.groups * p.R * p.S);
}

std::vector<float> random_buffer(int64_t n, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  kn::uniform<Device::CPU>(v.data(), n, -1.f, 1.f, seed, 0, Stream{});
  return v;
}

// Which code a benchmark calls: the dispatch (conv2d_*<Device::CPU>), the im2col + Eigen reference,
// or (forward only) the direct kernel or Winograd, so that a forward the dispatch sends to one of
// them shows the other's time beside it too (the evidence for the dispatch's forward rule).
enum class Variant { Chosen, Im2col, Direct, Winograd };

void bm_conv(benchmark::State& state, ConvLayer L, Pass pass, Variant variant) {
  const bool reference = variant == Variant::Im2col;
  const kn::Conv2dParams p = make_params(L);
  if (p.P <= 0 || p.Q <= 0) {
    state.SkipWithError("empty output: the layer table is wrong");
    return;
  }
  // x: (N, C, H, W), w: (K, C, R, S), b: (K), y and gy: (N, K, P, Q)
  const int64_t x_n = p.N * p.C * p.H * p.W, w_n = p.K * (p.C / p.groups) * p.R * p.S, y_n = p.N * p.K * p.P * p.Q;
  const Stream s{};
  std::vector<float> w = random_buffer(w_n, 2);
  std::vector<float> b = random_buffer(p.K, 3);

  if (pass == Pass::Forward) {
    std::vector<float> x = random_buffer(x_n, 1);
    std::vector<float> y(static_cast<size_t>(y_n));
    for (auto _ : state) {
      if (reference)
        kn::cpu_conv::im2col_forward(y.data(), x.data(), w.data(), b.data(), p);
      else if (variant == Variant::Direct)
        kn::direct_conv::forward(y.data(), x.data(), w.data(), b.data(), p);
      else if (variant == Variant::Winograd)
        kn::winograd::forward(y.data(), x.data(), w.data(), b.data(), p);
      else
        kn::conv2d_forward<Device::CPU>(y.data(), x.data(), w.data(), b.data(), p, s);
      benchmark::DoNotOptimize(y.data());
      benchmark::ClobberMemory();
    }
  } else if (pass == Pass::BackwardData) {
    std::vector<float> gy = random_buffer(y_n, 4);
    std::vector<float> gx(static_cast<size_t>(x_n));
    for (auto _ : state) {
      if (reference)
        kn::cpu_conv::im2col_backward_data(gx.data(), gy.data(), w.data(), p);
      else
        kn::conv2d_backward_data<Device::CPU>(gx.data(), gy.data(), w.data(), p, s);
      benchmark::DoNotOptimize(gx.data());
      benchmark::ClobberMemory();
    }
  } else {
    std::vector<float> x = random_buffer(x_n, 1);
    std::vector<float> gy = random_buffer(y_n, 4);
    std::vector<float> gw(static_cast<size_t>(w_n)), gb(static_cast<size_t>(p.K));
    for (auto _ : state) {
      // With the bias gradient, as a training step computes it.
      if (reference)
        kn::cpu_conv::im2col_backward_weight(gw.data(), gb.data(), gy.data(), x.data(), p);
      else
        kn::conv2d_backward_weight<Device::CPU>(gw.data(), gb.data(), gy.data(), x.data(), p, s);
      benchmark::DoNotOptimize(gw.data());
      benchmark::ClobberMemory();
    }
  }

  // Counted per iteration, reported per second: kIsIterationInvariantRate multiplies by the
  // iteration count and divides by the (real) time. In units of 1e9 so the number reads as GFLOP/s.
  state.counters["GFLOP/s"] = benchmark::Counter(gemm_flops(p) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  // snprintf rather than string concatenation: GCC 12 warns falsely (-Wrestrict) on "N" + to_string.
  const kn::cpu_conv::Path path = variant == Variant::Im2col     ? kn::cpu_conv::Path::Im2col
                                  : variant == Variant::Direct   ? kn::cpu_conv::Path::Direct
                                  : variant == Variant::Winograd ? kn::cpu_conv::Path::Winograd
                                                                 : kn::cpu_conv::chosen(p, pass);
  char label[160];
  std::snprintf(label, sizeof label, "N%lld C%lld %lldx%lld K%lld %lldx%lld s%lld p%lld -> %lldx%lld path=%s",
                static_cast<long long>(p.N), static_cast<long long>(p.C), static_cast<long long>(p.H),
                static_cast<long long>(p.W), static_cast<long long>(p.K), static_cast<long long>(p.R),
                static_cast<long long>(p.S), static_cast<long long>(p.stride_h), static_cast<long long>(p.pad_h),
                static_cast<long long>(p.P), static_cast<long long>(p.Q), kn::cpu_conv::name(path));
  state.SetLabel(label);
}

// Registered at start-up, before benchmark_main's main() runs them. Names are
// "<kernel>/<net>/<layer>", which run_cpu.sh splits to build its table.
const bool kRegistered = [] {
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  // The kernels' vector ISA (the library's build; this binary is built with the same -march).
  benchmark::AddCustomContext("isa", kn::cpu_conv::isa());
  // Each reference right after the chosen path it is compared with, so the two run close in time.
  for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight})
    for (const ConvLayer& L : kLayers)
      for (Variant variant : {Variant::Chosen, Variant::Im2col, Variant::Direct, Variant::Winograd}) {
        const kn::cpu_conv::Path chosen = kn::cpu_conv::chosen(make_params(L), pass);
        if (variant == Variant::Im2col && chosen == kn::cpu_conv::Path::Im2col) continue;
        // The direct forward beside the forwards of AlexNet and VGG16 that go elsewhere
        // (vgg_small's small maps are the training helper's; not timed here).
        const bool imagenet = std::string(L.net) == "alexnet" || std::string(L.net) == "vgg16" ||
                              std::string(L.net) == "v1_ci";
        if (variant == Variant::Direct && (pass != Pass::Forward || chosen == kn::cpu_conv::Path::Direct || !imagenet))
          continue;
        // Winograd beside the Winograd-able forwards sent to the direct kernel.
        if (variant == Variant::Winograd && (pass != Pass::Forward || chosen != kn::cpu_conv::Path::Direct ||
                                             !kn::winograd::preferred(make_params(L))))
          continue;
        const char* prefix = variant == Variant::Chosen   ? "conv2d_"
                             : variant == Variant::Im2col ? "im2col_"
                             : variant == Variant::Direct ? "direct_"
                                                          : "winograd_";
        const std::string name = std::string(prefix) + pass_name(pass) + "/" + L.net + "/" + L.layer;
        benchmark::RegisterBenchmark(name.c_str(), bm_conv, L, pass, variant)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            // One call takes 5-60 ms here; 1 s gives 17-200 calls per repetition and keeps the
            // whole program near 2 minutes on 2 cores. The warm-up takes the first call's page
            // faults and thread start-up out of the measurement.
            ->MinWarmUpTime(0.1)
            ->MinTime(1.0)
            ->Repetitions(3)
            ->ReportAggregatesOnly(true);
      }
  return true;
}();

}  // namespace
