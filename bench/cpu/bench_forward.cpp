// bench/cpu/bench_forward.cpp — inference of the two ImageNet nets the studies read features
// from, AlexNet and VGG16 (torchvision's layouts, models/alexnet.cpp, models/vgg16.cpp), at
// 224x224x3 on the CPU, in images/s: the figure issue 13 compares with PyTorch
// (bench/pytorch/forward.py is the same forward; bench/pytorch/run_compare.sh runs both).
//
// One forward in eval mode (dropout off) without autograd (NoGradGuard), batch 16 and 4, random
// inputs uniform in [-1, 1) (seeded), default initialisation. Timing: wall clock (UseRealTime;
// OpenMP threads), two untimed warm-up forwards, then 7 repetitions of one forward each; the
// median repetition is the figure, as forward.py reports the median of 7 after 2 warm-up.
//
// Names: BM_forward/<net>/<batch>; counter images/s.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "engine/autograd.h"
#include "engine/tensor.h"
#include "models/model.h"

namespace {

constexpr int kWarmup = 2;
constexpr int kTimed = 7;

struct ForwardState {
  std::string net;
  int64_t batch = 0;
  ml::models::Model model;
  ml::Tensor x;
};

// One model alive at a time (VGG16's weights are 528 MB).
ForwardState& state_for(const std::string& net, int64_t batch) {
  static std::unique_ptr<ForwardState> current;
  if (current && current->net == net && current->batch == batch) return *current;
  current.reset();
  auto s = std::make_unique<ForwardState>();
  s->net = net;
  s->batch = batch;
  ml::models::ModelOptions o;
  o.seed = 1;
  s->model = ml::models::make_model(net, o);
  s->model.net->eval();
  ml::Generator gen(2);
  s->x = ml::Tensor::uniform({batch, 3, 224, 224}, -1.f, 1.f, gen);
  ml::NoGradGuard guard;
  for (int i = 0; i < kWarmup; ++i) (void)(*s->model.net)(s->x);
  current = std::move(s);
  return *current;
}

void bm_forward(benchmark::State& state, std::string net, int64_t batch) {
  ForwardState* s = nullptr;
  try {
    s = &state_for(net, batch);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  ml::NoGradGuard guard;
  for (auto _ : state) {
    ml::Tensor y = (*s->model.net)(s->x);
    benchmark::DoNotOptimize(y);
    benchmark::ClobberMemory();
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsRate);
}

const bool kRegistered = [] {
  // ResNet-50 and ViT-B/16 (issue 22, "Speed"): the same forward, compared by run_compare.sh
  // --forward-nets resnet50,vit_b_16.
  for (const char* net : {"alexnet", "vgg16", "resnet50", "vit_b_16"})
    for (int64_t batch : {16, 4}) {
      const std::string name = std::string("BM_forward/") + net + "/" + std::to_string(batch);
      benchmark::RegisterBenchmark(name.c_str(), bm_forward, std::string(net), batch)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->Iterations(1)
          ->Repetitions(kTimed)
          ->ReportAggregatesOnly(true);
    }
  return true;
}();

}  // namespace
