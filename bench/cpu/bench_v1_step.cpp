// bench/cpu/bench_v1_step.cpp — one training step of the V1 study's ci model (issue 21;
// ../shared/science/ecker2019-v1-model.md §6: 20 x 20 images, 128 neurons, the rotation-equivariant
// core with K 9 then 3 and 4 features x 8 rotations, batch 64), and its parts, so a change to the
// step's speed can be located. tools/v1_compare_peers.sh sets the whole fit beside PyTorch's.
//
//   BM_v1_step/equivariant     zero_grad, forward (train mode), Poisson loss + the three
//                              regularisers, backward, Adam: what fit_v1 does per update
//   BM_v1_step/cnn             the same for the equal-channel CNN control (32-32)
//   BM_v1_forward/...          forward + Poisson loss only
//   BM_v1_forward_backward/... forward, loss + regularisers and backward, no optimizer
//   BM_v1_regularizer/...      the regularisers and their backward alone (weights only)
//   BM_v1_readout/...          the readout, Poisson loss and backward on the core's (fixed) output
//   BM_v1_core/...             the core forward and backward alone (loss: the sum of its output)
//
// Inputs are random (images uniform in [-1, 1), counts 0..3), never zeros, seeded; the same batch
// every step, so no data loading is timed. Wall-clock (UseRealTime: OpenMP threads), three untimed
// warm-up steps, then 15 repetitions of 10 steps; the median repetition is the figure.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/tensor.h"
#include "models/v1_model.h"

namespace {

constexpr int64_t kBatch = 64, kSize = 20, kNeurons = 128;
constexpr int kStepsPerRep = 10;

struct V1State {
  std::unique_ptr<ml::models::V1Model> model;
  std::unique_ptr<ml::optim::Adam> opt;
  ml::Tensor x, y;
  ml::Tensor features;  // the core's output on x, detached (the readout-alone part's input)
};

V1State& state(const std::string& kind) {
  static std::map<std::string, V1State> states;
  auto it = states.find(kind);
  if (it != states.end()) return it->second;
  V1State s;
  ml::models::V1ModelOptions o;
  o.core.kind = kind;
  o.core.kernels = {9, 3};
  o.core.features = kind == "equivariant" ? std::vector<int64_t>{4, 4} : std::vector<int64_t>{32, 32};
  o.core.rotations = 8;
  o.height = o.width = kSize;
  o.neurons = kNeurons;
  o.smooth = 0.01f, o.sparse = 0.01f, o.readout = 0.015f;  // the ci preset's weights
  ml::Generator gen(1);
  s.model = std::make_unique<ml::models::V1Model>(o, std::vector<float>(kNeurons, 0.7f), gen);
  s.model->train();
  s.opt = std::make_unique<ml::optim::Adam>(s.model->parameters(), 0.005f);
  std::vector<float> img(static_cast<size_t>(kBatch * kSize * kSize)), counts(static_cast<size_t>(kBatch * kNeurons));
  for (auto& v : img) v = static_cast<float>(gen.next_uniform() * 2.0 - 1.0);
  for (auto& v : counts) v = static_cast<float>(gen.next_below(4));
  s.x = ml::Tensor::from_vector({kBatch, 1, kSize, kSize}, img);
  s.y = ml::Tensor::from_vector({kBatch, kNeurons}, counts);
  return states.emplace(kind, std::move(s)).first->second;
}

enum class Part { Step, Forward, ForwardBackward, Regularizer, Readout, Core };

void run(V1State& s, Part part) {
  if (part == Part::Regularizer) {
    s.opt->zero_grad();
    s.model->regularizer().backward();
    return;
  }
  if (part == Part::Readout || part == Part::Core) {
    // The readout (or the core) alone, forward and backward, on the core's output shape.
    if (!s.features.defined()) {
      ml::NoGradGuard ng;
      s.features = (*s.model->core)(s.x).detach();
      s.features.requires_grad_(true);
    }
    s.opt->zero_grad();
    if (part == Part::Readout)
      ml::models::v1_poisson_loss((*s.model->readout)(s.features), s.y).backward();
    else
      ml::sum((*s.model->core)(s.x)).backward();
    return;
  }
  if (part == Part::Step || part == Part::ForwardBackward) s.opt->zero_grad();
  const ml::Tensor loss = ml::models::v1_poisson_loss((*s.model)(s.x), s.y);
  if (part == Part::Forward) return;
  ml::add(loss, s.model->regularizer()).backward();
  if (part == Part::Step) s.opt->step();
}

void bench(benchmark::State& st, const std::string& kind, Part part) {
  V1State& s = state(kind);
  for (int i = 0; i < 3; ++i) run(s, part);
  for (auto _ : st)
    for (int i = 0; i < kStepsPerRep; ++i) run(s, part);
  st.counters["steps/s"] = benchmark::Counter(static_cast<double>(kStepsPerRep), benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  const std::pair<const char*, Part> parts[] = {{"BM_v1_step", Part::Step},
                                                {"BM_v1_forward", Part::Forward},
                                                {"BM_v1_forward_backward", Part::ForwardBackward},
                                                {"BM_v1_regularizer", Part::Regularizer},
                                                {"BM_v1_readout", Part::Readout},
                                                {"BM_v1_core", Part::Core}};
  for (const auto& [name, part] : parts)
    for (const char* kind : {"equivariant", "cnn"})
      benchmark::RegisterBenchmark((std::string(name) + "/" + kind).c_str(),
                                   [kind = std::string(kind), part = part](benchmark::State& st) { bench(st, kind, part); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond)
          ->Iterations(1)
          ->Repetitions(15)
          ->ReportAggregatesOnly(true);
}

const bool registered = (register_all(), true);

}  // namespace
