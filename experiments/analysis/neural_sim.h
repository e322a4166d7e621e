// experiments/analysis/neural_sim.h — simulated face-patch populations with a known answer
// (farzmahdi2024-more.md §4, §8: the recordings are not public). Over stimuli given by
// identity and yaw, each neuron is one of three kinds:
//   view_tuned   rate = b + A g(id) exp(-(v - p)^2 / 2w^2),   p uniform in [-90, 90]   (ML/MF-like)
//   mirror       rate = b + A g(id) exp(-(|v| - p)^2 / 2w^2), p uniform in [30, 90]   (AL-like:
//                the same response to a view and its mirror image)
//   invariant    rate = b + A g(id)                                                     (AM-like)
// with g(id) = exp(beta z), z ~ N(0, 1) per neuron and identity (identity tuning; it also keeps
// invariant neurons from being constant). Counts are Poisson(rate * window) per repeat. An area
// is a number of neurons and the known mix of the three kinds. Everything is drawn from one
// seeded Generator, so a simulation is reproducible.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generator.h"
#include "experiments/analysis/rsa.h"

namespace ml::analysis {

enum class NeuronKind { ViewTuned = 0, Mirror = 1, Invariant = 2 };
const char* name_of(NeuronKind k);

struct AreaMix {
  std::string name;
  int64_t neurons = 100;
  double view_tuned = 1, mirror = 0, invariant = 0;  // fractions, normalised to sum 1
};
// "ML_MF:120:0.7,0.2,0.1" (name:neurons:view_tuned,mirror,invariant)
AreaMix parse_area_mix(const std::string& spec);

struct SimOptions {
  std::vector<AreaMix> areas;
  int64_t repeats = 8;
  double baseline_hz = 5, peak_hz = 40, window_s = 0.2;
  double width_deg = 30, identity_beta = 0.6;
  uint64_t seed = 0;
};

struct SimulatedArea {
  std::string name;
  std::vector<NeuronKind> kinds;  // per neuron
  RowMatrixXd expected;           // (stimuli, neurons): expected counts per repeat (noise-free)
  std::vector<float> counts;      // (stimuli, neurons, repeats) C order
  int64_t repeats = 0;
  AreaMix mix;
};

// identity: per stimulus an index 0..I-1; view_deg: per stimulus. A neuron whose mean count
// comes out the same for every stimulus (possible at low rates) is drawn again, so the arrays
// always pass read_neural_area's checks.
std::vector<SimulatedArea> simulate_populations(const std::vector<int64_t>& identity, const std::vector<double>& view_deg,
                                                const SimOptions& o);

// Writes a simulation in neural_data.h's format: <out>/manifest.csv (file relative to <out>,
// identity name, view_deg; written last), <out>/<area>.npy (stimuli, neurons, repeats),
// <out>/truth.json (`meta` plus the mixes, options and the known answer) and
// <out>/truth/<area>_expected.npy (noise-free expected counts, (stimuli, neurons)) and
// <area>_kinds.npy (0 view-tuned, 1 mirror, 2 invariant). Files are written atomically.
void write_simulation(const std::string& out, const std::vector<std::string>& files, const std::vector<std::string>& identity_names,
                      const std::vector<int64_t>& identity, const std::vector<double>& view_deg, const std::vector<SimulatedArea>& sims,
                      const SimOptions& o, nlohmann::json meta);

// Poisson(lambda) by inversion of the cumulative distribution (lambda <= 700).
int64_t poisson(double lambda, Generator& g);

}  // namespace ml::analysis
