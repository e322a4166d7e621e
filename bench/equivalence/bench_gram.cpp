// bench_equivalence — the conv-shared equivariance map's offline solve (Lenc & Vedaldi §4;
// experiments/analysis/equivariance_maps.h) on vgg_small's conv2_2 shape: 1,000 images of
// 128 x 8 x 8 features, m = 3, so 64,000 rows x 1,153 columns. Times (a) the neighbourhoods,
// the float64 Gram and cross-covariance, (b) one ridge solve (Cholesky), (c) the whole path.
// The peer is bench/equivalence/gram_numpy.py on the same shape and threads (run both with
// bench/equivalence/run_compare.sh).
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "engine/generator.h"
#include "experiments/analysis/equivariance_maps.h"
#include "experiments/analysis/spatial_transform.h"

using namespace ml;
using namespace ml::analysis;

namespace {

// BENCH_EQ_IMAGES=N: N images instead of 1,000 (the peer's --images), for a loaded machine.
int64_t images() {
  const char* v = std::getenv("BENCH_EQ_IMAGES");
  return v != nullptr && std::atoll(v) > 0 ? std::atoll(v) : 1000;
}

struct Data {
  Tensor phi_x, phi_gx, pg;
  Data() {
    Generator gen(0);
    phi_x = Tensor::normal({images(), 128, 8, 8}, 0.f, 1.f, gen);
    phi_gx = Tensor::normal({images(), 128, 8, 8}, 0.f, 1.f, gen);
    // vgg_small conv2_2 at 28 px: centres 6.5 + 2i, 8 sites; the vertical flip is exact.
    pg = pg_matrix({6.5, 2.0, 8, 8}, parse_transform("vflip"), 28, true, "conv2_2");
  }
};

const Data& data() {
  static const Data d;
  return d;
}

void BM_gram(benchmark::State& state) {
  const Data& d = data();
  for (auto _ : state) {
    GramSystem s = map_gram(d.phi_x, d.phi_gx, d.pg, 3);
    benchmark::DoNotOptimize(s.G().data());
  }
  state.counters["rows"] = static_cast<double>(64 * images());
  state.counters["cols"] = 1153;
}

void BM_ridge_solve(benchmark::State& state) {
  const Data& d = data();
  const GramSystem s = map_gram(d.phi_x, d.phi_gx, d.pg, 3);
  for (auto _ : state) {
    Eigen::MatrixXd w = ridge_solve(s, 1e-2);
    benchmark::DoNotOptimize(w.data());
  }
}

void BM_whole_path(benchmark::State& state) {
  const Data& d = data();
  for (auto _ : state) {
    GramSystem s = map_gram(d.phi_x, d.phi_gx, d.pg, 3);
    Eigen::MatrixXd w = ridge_solve(s, 1e-2);
    benchmark::DoNotOptimize(w.data());
  }
}

}  // namespace

// A warm-up call first: one Gram is ~1 s, so without it the 1-2 timed calls of the first benchmark
// also paid the first touch of its buffers (session 7, quiet: BM_gram 2,082 ms against BM_whole_path's
// 1,176 ms, which contains the same Gram).
BENCHMARK(BM_gram)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(1.0)->MinTime(2.0);
BENCHMARK(BM_ridge_solve)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(1.0)->MinTime(2.0);
BENCHMARK(BM_whole_path)->Unit(benchmark::kMillisecond)->UseRealTime()->MinWarmUpTime(1.0)->MinTime(2.0);
