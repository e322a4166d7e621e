// fit_v1 — fits the rotation-equivariant V1 model of Ecker et al. 2019, its CNN controls, the
// true-rate model and the shuffled-response control to a V1 dataset folder, scores them and
// (simulated data) checks the recovery of the cells (experiments/analysis/v1_study.h). Example:
//   simulate_v1 --preset ci --out out/v1_ci/data
//   fit_v1 --data out/v1_ci/data --preset ci --out out/v1_ci --threads 2
//   python3 tools/v1_report.py out/v1_ci
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "experiments/analysis/v1_study.h"

int main(int argc, char** argv) {
  ml::analysis::V1StudyConfig c;
  CLI::App app{"Fit the rotation-equivariant V1 model and its controls; writes results.json, neurons.csv, log_<model>.csv, weights, predictions"};
  app.add_option("--data", c.data_dir, "dataset folder (manifest.json + NPY; simulate_v1 writes one)")->required();
  app.add_option("--out", c.out, "results folder")->required();
  app.add_option("--preset", c.preset, "ci | small | paper (architecture, schedule, regularisers)")->capture_default_str();
  app.add_option("--seed", c.seed)->capture_default_str();
  app.add_option("--threads", c.threads, "OpenMP threads (0: all)")->capture_default_str();
  app.add_option("--max-steps", c.max_steps, "cap on optimiser steps per model (0: the preset's)");
  app.add_option("--time-limit", c.time_limit_s, "seconds per model before stopping with the best weights (0: none)");
  app.add_flag("--resume", c.resume, "load models already fitted in --out instead of refitting them");
  app.add_flag("--skip-cnns", c.skip_cnns, "fit only the equivariant model and the shuffled control");
  app.add_option("--device", c.device, "cpu | cuda")->capture_default_str();
  app.add_flag("--bn-tied-rotations", c.bn_tied_rotations, "pool batch norm over each feature's rotations");
  app.add_option("--last-features", c.last_features, "the equivariant core's last-layer feature count (0: the preset's)");
  app.add_option("--train-fraction", c.train_fraction, "fit on the first fraction (0, 1] of the training images")
      ->capture_default_str();
  app.add_flag("--equal-channel-cnn-only", c.equal_channel_cnn_only, "of the CNN controls fit only the equal-channel one");
  app.add_flag("--skip-shuffled", c.skip_shuffled, "no shuffled-response control (pass check 7 is then absent)");
  app.add_option("--centre-features", c.centring,
                 "weight of a centring penalty on every core filter's energy centroid (not in the paper; 0: off)")
      ->capture_default_str();
  app.add_option("--centre-composite", c.composite_centring,
                 "weight of a penalty on the energy centroid of each last-layer channel's receptive field composed "
                 "through the layers (not in the paper; 0: off)")
      ->capture_default_str();
  app.add_option("--centre-blank-rf", c.blank_rf_centring,
                 "weight of a penalty on the centroid of each last-layer channel's gradient receptive field at a "
                 "blank image (not in the paper; 0: off)")
      ->capture_default_str();
  app.add_option("--grating-centre-window", c.grating_centre_window,
                 "odd side (px) of the square around each model neuron's gradient-RF peak whose energy centroid "
                 "is its centre for the in-silico grating cell types (the 5 x 5 result is reported beside)")
      ->capture_default_str();
  std::string sweep;
  app.add_option("--sweep", sweep,
                 "features: the equivariant model per last-layer feature count (Fig. 2); data: it and the "
                 "equal-channel CNN per training fraction; one sub-folder per point, OUT/sweep_<kind>.json");
  app.add_option("--sweep-values", c.sweep_values, "with --sweep: these feature counts or fractions instead of the preset's");
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);
  c.progress = !quiet;
  const auto t0 = std::chrono::steady_clock::now();
  // Wall and CPU time of the whole run (every model, every thread), printed last: on a shared
  // machine the wall time is inflated by other work and the CPU time is the figure to compare.
  auto print_times = [&] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    const double cpu = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
                       1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
    std::fprintf(stderr, "fit_v1: wall %.1f s, CPU %.1f s (user + system, all threads)\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), cpu);
  };
  try {
    if (!sweep.empty()) {
      const auto r = ml::analysis::run_v1_sweep(c, sweep);
      for (const auto& p : r["points"]) std::fprintf(stderr, "sweep point: %s\n", p.dump().c_str());
      print_times();
      return 0;
    }
    const auto r = ml::analysis::run_v1_study(c);
    for (const auto& chk : r["pass_checks"])
      std::fprintf(stderr, "check %d: %s -> %s (%s)\n", chk["id"].get<int>(), chk["check"].get<std::string>().c_str(),
                   chk["pass"].get<bool>() ? "PASS" : "FAIL", chk["detail"].get<std::string>().c_str());
    print_times();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fit_v1: %s\n", e.what());
    return 1;
  }
  return 0;
}
