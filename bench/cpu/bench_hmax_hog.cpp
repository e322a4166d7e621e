// bench/cpu/bench_hmax_hog.cpp — the two fixed models on the CPU (issue 17):
//   hmax_s1_c1/B    S1 + C1 of B 227x227 gray images (all 8 bands), images/s
//   hmax_to_c2/B    the whole model to C2 with 1000 prototypes (250 of each size 4, 8, 12, 16)
//   hog_uoctti/S    UoCTTI HOG (n = 9, cell 8) of 16 S x S gray images, megapixels/s
//   hog_dalal_triggs/S   scikit-image's variant (n = 9, cell 8, 2x2 blocks), megapixels/s
// bench/hmax_hog_peers.py times the same work with PyTorch (HMAX) and scikit-image (HOG) for the
// ratio. Inputs are seeded uniform noise in [0, 1) (never zeros). Wall-clock (UseRealTime):
// the work is spread over OpenMP threads. One untimed warm-up call per benchmark.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "models/hmax.h"
#include "models/hog.h"

namespace {

using namespace ml;

models::HmaxPrototypes random_prototypes(Generator& g) {
  models::HmaxPrototypes p;
  for (int64_t n : {4, 8, 12, 16}) {
    p.sizes.push_back(n);
    p.patches.push_back(Tensor::uniform({250, 4, n, n}, 0.f, 0.5f, g));
  }
  return p;
}

void hmax_s1_c1(benchmark::State& state) {
  const int64_t B = state.range(0);
  Generator g(1);
  const Tensor x = Tensor::uniform({B, 1, 227, 227}, 0.f, 1.f, g);
  models::HmaxOptions o;
  models::hmax_c1_bands(x, o);
  for (auto _ : state) benchmark::DoNotOptimize(models::hmax_c1_bands(x, o));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(B * state.iterations()), benchmark::Counter::kIsRate);
}

void hmax_to_c2(benchmark::State& state) {
  const int64_t B = state.range(0);
  Generator g(2);
  const Tensor x = Tensor::uniform({B, 1, 227, 227}, 0.f, 1.f, g);
  models::Model m = models::hmax_model({}, random_prototypes(g));
  (*m.net)(x);
  for (auto _ : state) benchmark::DoNotOptimize((*m.net)(x));
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(B * state.iterations()), benchmark::Counter::kIsRate);
}

void hog_bench(benchmark::State& state, models::HogVariant v) {
  const int64_t S = state.range(0), B = 16;
  Generator g(3);
  const Tensor x = Tensor::uniform({B, 1, S, S}, 0.f, 1.f, g);
  models::HogOptions o;
  o.variant = v;
  models::hog(x, o);
  for (auto _ : state) benchmark::DoNotOptimize(models::hog(x, o));
  state.counters["Mpx/s"] =
      benchmark::Counter(static_cast<double>(B * S * S * state.iterations()) / 1e6, benchmark::Counter::kIsRate);
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(B * state.iterations()), benchmark::Counter::kIsRate);
}

void hog_uoctti(benchmark::State& s) { hog_bench(s, models::HogVariant::UoCTTI); }
void hog_dalal_triggs(benchmark::State& s) { hog_bench(s, models::HogVariant::DalalTriggs); }

}  // namespace

BENCHMARK(hmax_s1_c1)->Arg(16)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(hmax_to_c2)->Arg(16)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(hog_uoctti)->Arg(224)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(hog_dalal_triggs)->Arg(224)->UseRealTime()->Unit(benchmark::kMillisecond);
