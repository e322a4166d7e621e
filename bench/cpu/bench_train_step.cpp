// bench/cpu/bench_train_step.cpp — one whole training step of the small VGG-like net
// (SCIENCE.md, Figure 4) on the CPU, in images/s: the figure issue 5 compares with PyTorch.
// bench/pytorch/train_step.py is the same step in PyTorch and bench/pytorch/run_compare.sh runs
// the two side by side (same machine, batch, thread count) and prints the ratio.
//
// One step, as experiments/training/train.cpp runs it:
//   zero_grad -> forward in train mode (batch-norm batch statistics, dropout masks drawn)
//   -> cross_entropy -> backward -> SGD(lr 1e-3, momentum 0.9) step.
// Batch 256 (the notebooks' batch), random inputs uniform in [-1, 1) and random labels in
// [0, 10), both seeded; the same batch every step, as train_step.py does, so neither side pays
// for data loading. Inputs are random, never zeros (a kernel that skipped zeros would look fast).
//
// Timing: wall-clock (UseRealTime; the work is spread over OpenMP threads, CPU time would add
// them up). Three untimed warm-up steps first (first-touch page faults, the OpenMP pool, the
// momentum buffers' allocation), then 17 repetitions of one step each; the median repetition is
// the figure, as train_step.py reports the median of 17 steps after 3 warm-up steps.
//
// Counters: images/s (256 per step over the step's real time) and GFLOP/s, the FLOPs of the
// convolutions' and linear layers' GEMMs only (forward, backward-weight, and backward-data except
// into the input image, which needs no gradient), counted from the shapes the model produced, so
// the number can be set beside bench/peak_cpu's FP32 peak. Element-wise work (ReLU, batch norm,
// pooling, dropout, loss, optimizer) is timed but not counted.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/tensor.h"
#include "models/model.h"

namespace {

constexpr int64_t kBatch = 256;
constexpr int64_t kClasses = 10;
constexpr int kWarmupSteps = 3;
constexpr int kTimedSteps = 17;

// Everything one shape needs, built once and kept across the 17 repetitions (Google Benchmark
// calls the function once per repetition; rebuilding would time the set-up and redo the warm-up).
struct TrainState {
  int64_t channels = 0, size = 0;
  ml::models::Model model;
  std::unique_ptr<ml::optim::SGD> opt;
  ml::Tensor x, y;           // (N, C, S, S) float32, (N) int32
  double step_flops = 0;     // GEMM FLOPs of one training step
};

void train_step(TrainState& s) {
  s.opt->zero_grad();
  const ml::Tensor logits = (*s.model.net)(s.x);
  const ml::Tensor loss = ml::cross_entropy(logits, s.y);
  loss.backward();
  s.opt->step();
}

// GEMM FLOPs of one step, from the output shapes one forward produces: a Conv2d with output
// (N, K, P, Q) and weight (K, C, R, S) costs 2*N*K*P*Q*C*R*S per pass, a Linear with output
// (N, out) and weight (out, in) costs 2*N*out*in. Three passes (forward, backward-weight,
// backward-data), except that the layer reading the input image has no backward-data.
double count_step_flops(TrainState& s) {
  std::vector<std::pair<ml::nn::Module*, const ml::Tensor*>> gemm_layers;
  for (auto& [name, mod] : s.model.net->named_modules()) {
    if (auto* c = dynamic_cast<ml::nn::Conv2d*>(mod)) gemm_layers.emplace_back(mod, &c->weight);
    if (auto* l = dynamic_cast<ml::nn::Linear*>(mod)) gemm_layers.emplace_back(mod, &l->weight);
  }
  double flops = 0;
  bool first = true;
  for (auto& [mod, weight] : gemm_layers) {
    const ml::Tensor* w = weight;
    const bool is_first = first;
    first = false;
    mod->set_forward_hook([&flops, w, is_first](const ml::Tensor& out) {
      // weight numel / out-channels = the GEMM's inner dimension (C*R*S, or in_features)
      const double inner = static_cast<double>(w->numel()) / static_cast<double>(w->size(0));
      const double per_pass = 2.0 * static_cast<double>(out.numel()) * inner;
      flops += per_pass * (is_first ? 2.0 : 3.0);
    });
  }
  train_step(s);  // counts as the first warm-up step
  for (auto& [mod, weight] : gemm_layers) mod->clear_forward_hook();
  return flops;
}

// Only one shape is alive at a time, so each shape's resident memory is its own.
TrainState& state_for(int64_t channels, int64_t size) {
  static std::unique_ptr<TrainState> current;
  if (current && current->channels == channels && current->size == size) return *current;
  current.reset();
  auto s = std::make_unique<TrainState>();
  s->channels = channels;
  s->size = size;
  ml::models::ModelOptions o;
  o.in_channels = channels;
  o.image_size = size;
  o.num_classes = kClasses;
  o.seed = 1;
  s->model = ml::models::make_model("vgg_small", o);
  s->model.net->train();
  // The notebooks' CIFAR-10 recipe: SGD, lr 1e-3, momentum 0.9.
  s->opt = std::make_unique<ml::optim::SGD>(s->model.net->parameters(), 1e-3f, 0.9f);
  ml::Generator gen(2);
  s->x = ml::Tensor::uniform({kBatch, channels, size, size}, -1.f, 1.f, gen);
  std::vector<int32_t> labels(static_cast<size_t>(kBatch));
  for (auto& l : labels) l = static_cast<int32_t>(gen.next_below(kClasses));
  s->y = ml::Tensor::from_vector_i32({kBatch}, labels);
  s->step_flops = count_step_flops(*s);
  for (int i = 1; i < kWarmupSteps; ++i) train_step(*s);
  current = std::move(s);
  return *current;
}

void bm_vgg_small_train_step(benchmark::State& state, int64_t channels, int64_t size) {
  TrainState* s = nullptr;
  try {
    s = &state_for(channels, size);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) {
    train_step(*s);
    benchmark::ClobberMemory();
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(s->step_flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  char label[96];
  std::snprintf(label, sizeof label, "vgg_small batch %lld, %lldx%lldx%lld, %.1f MFLOP/image/step",
                static_cast<long long>(kBatch), static_cast<long long>(size), static_cast<long long>(size),
                static_cast<long long>(channels), s->step_flops / static_cast<double>(kBatch) * 1e-6);
  state.SetLabel(label);
}

const bool kRegistered = [] {
  struct Shape {
    const char* name;
    int64_t channels, size;
  };
  for (const Shape& sh : {Shape{"28x28x1", 1, 28}, Shape{"32x32x3", 3, 32}}) {
    const std::string name = std::string("BM_vgg_small_train_step/") + sh.name;
    benchmark::RegisterBenchmark(name.c_str(), bm_vgg_small_train_step, sh.channels, sh.size)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        // One step per repetition, 17 repetitions, their median reported: the same statistic
        // as train_step.py's median of 17 steps.
        ->Iterations(1)
        ->Repetitions(kTimedSteps)
        ->ReportAggregatesOnly(true);
  }
  return true;
}();

}  // namespace
