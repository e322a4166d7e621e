// simulate_v1 — writes a simulated V1 dataset with known cell types, orientations and positions
// (science file §6; experiments/analysis/v1_simulate.h). Example:
//   simulate_v1 --preset ci --seed 0 --out out/v1_ci/data
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "experiments/analysis/v1_metrics.h"
#include "experiments/analysis/v1_simulate.h"

int main(int argc, char** argv) {
  CLI::App app{"Simulate a V1 population (dead-leaves + 1/f images, five cell types, Poisson counts); writes NPY arrays, truth and manifest.json"};
  std::string preset = "ci", out;
  uint64_t seed = 0;
  int64_t train = 0, reference = 0;
  app.add_option("--preset", preset, "ci | small | paper")->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("--out", out, "dataset folder")->required();
  app.add_option("--train", train, "override the preset's training-image count (quick checks)");
  app.add_option("--reference-images", reference, "override the 10,000 reference images (quick checks)");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    auto p = ml::analysis::v1_sim_preset(preset);
    if (train > 0) p.train = train;
    if (reference > 0) p.reference_images = reference;
    const auto s = ml::analysis::simulate_v1(p, seed, true);
    ml::analysis::write_v1_simulation(s, out);
    const auto fev = ml::analysis::analytic_fev(s.rates_test, p.repeats);
    double mean_sqrt = 0;
    for (double f : fev) mean_sqrt += std::sqrt(f) / static_cast<double>(fev.size());
    std::fprintf(stderr, "simulate_v1: %s preset, %lld neurons, mean analytic sqrt(FEV) %.3f, %.1f s -> %s\n",
                 preset.c_str(), static_cast<long long>(p.neurons), mean_sqrt,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simulate_v1: %s\n", e.what());
    return 1;
  }
  return 0;
}
