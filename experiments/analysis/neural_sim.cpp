#include "experiments/analysis/neural_sim.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <cmath>
#include <numbers>
#include <sstream>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"

namespace ml::analysis {

const char* name_of(NeuronKind k) {
  switch (k) {
    case NeuronKind::ViewTuned: return "view_tuned";
    case NeuronKind::Mirror: return "mirror";
    case NeuronKind::Invariant: return "invariant";
  }
  return "?";
}

AreaMix parse_area_mix(const std::string& spec) {
  const auto c1 = spec.find(':'), c2 = c1 == std::string::npos ? c1 : spec.find(':', c1 + 1);
  ML_CHECK(c2 != std::string::npos, "--area '", spec, "': expected name:neurons:view_tuned,mirror,invariant");
  AreaMix m;
  m.name = spec.substr(0, c1);
  ML_CHECK(!m.name.empty(), "--area '", spec, "': empty name");
  try {
    m.neurons = std::stoll(spec.substr(c1 + 1, c2 - c1 - 1));
    std::stringstream ss(spec.substr(c2 + 1));
    std::string part;
    std::vector<double> f;
    while (std::getline(ss, part, ',')) f.push_back(std::stod(part));
    ML_CHECK(f.size() == 3, "--area '", spec, "': three fractions view_tuned,mirror,invariant expected");
    m.view_tuned = f[0];
    m.mirror = f[1];
    m.invariant = f[2];
  } catch (const std::logic_error&) {
    throw Error("--area '" + spec + "': expected name:neurons:view_tuned,mirror,invariant with numbers");
  }
  const double sum = m.view_tuned + m.mirror + m.invariant;
  ML_CHECK(m.neurons >= 2 && m.view_tuned >= 0 && m.mirror >= 0 && m.invariant >= 0 && sum > 0, "--area '", spec,
           "': needs >= 2 neurons and non-negative fractions with a positive sum");
  m.view_tuned /= sum;
  m.mirror /= sum;
  m.invariant /= sum;
  return m;
}

int64_t poisson(double lambda, Generator& g) {
  ML_CHECK(lambda >= 0 && lambda <= 700, "poisson: rate ", lambda, " outside [0, 700]");
  const double u = g.next_uniform();
  double p = std::exp(-lambda), cdf = p;
  int64_t k = 0;
  while (u > cdf && k < 100000) {
    ++k;
    p *= lambda / static_cast<double>(k);
    cdf += p;
    if (p < 1e-300 && static_cast<double>(k) > lambda) break;
  }
  return k;
}

namespace {
double normal(Generator& g) {  // Box-Muller
  const double u1 = std::max(g.next_uniform(), 1e-300), u2 = g.next_uniform();
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}
}  // namespace

std::vector<SimulatedArea> simulate_populations(const std::vector<int64_t>& identity, const std::vector<double>& view_deg,
                                                const SimOptions& o) {
  const auto n = static_cast<int64_t>(identity.size());
  ML_CHECK(n >= 3 && view_deg.size() == identity.size(), "simulate_populations: ", n, " identities and ", view_deg.size(), " views");
  ML_CHECK(o.repeats >= 1, "simulate_populations: repeats must be >= 1, got ", o.repeats);
  ML_CHECK(o.width_deg > 0 && o.peak_hz > o.baseline_hz && o.baseline_hz >= 0 && o.window_s > 0,
           "simulate_populations: needs width > 0, peak > baseline >= 0, window > 0");
  const int64_t I = *std::max_element(identity.begin(), identity.end()) + 1;
  Generator g(o.seed);
  std::vector<SimulatedArea> out;
  for (const AreaMix& mix : o.areas) {
    SimulatedArea a;
    a.name = mix.name;
    a.mix = mix;
    a.repeats = o.repeats;
    const int64_t N = mix.neurons;
    // Exact counts per kind (largest shares first), in a fixed order: view-tuned, mirror, invariant.
    const auto n_view = static_cast<int64_t>(std::llround(mix.view_tuned * static_cast<double>(N)));
    const auto n_mirror = std::min(N - n_view, static_cast<int64_t>(std::llround(mix.mirror * static_cast<double>(N))));
    for (int64_t k = 0; k < N; ++k)
      a.kinds.push_back(k < n_view ? NeuronKind::ViewTuned : k < n_view + n_mirror ? NeuronKind::Mirror : NeuronKind::Invariant);
    a.expected.resize(n, N);
    a.counts.assign(static_cast<size_t>(n * N * o.repeats), 0.f);
    for (int64_t k = 0; k < N; ++k) {
      for (int attempt = 0;; ++attempt) {
        ML_CHECK(attempt < 100, "simulate_populations: area '", mix.name, "' neuron ", k, " stays constant; raise the rates");
        const NeuronKind kind = a.kinds[static_cast<size_t>(k)];
        const double pref = kind == NeuronKind::ViewTuned ? -90 + 180 * g.next_uniform() : 30 + 60 * g.next_uniform();
        std::vector<double> gain(static_cast<size_t>(I));
        for (auto& v : gain) v = std::exp(o.identity_beta * normal(g));
        for (int64_t i = 0; i < n; ++i) {
          const double v = view_deg[static_cast<size_t>(i)];
          const double d = kind == NeuronKind::ViewTuned ? v - pref : kind == NeuronKind::Mirror ? std::abs(v) - pref : 0.0;
          const double h = std::exp(-d * d / (2 * o.width_deg * o.width_deg));
          const double rate = o.baseline_hz + (o.peak_hz - o.baseline_hz) * gain[static_cast<size_t>(identity[static_cast<size_t>(i)])] * h;
          a.expected(i, k) = rate * o.window_s;
        }
        double lo = 1e300, hi = -1e300;
        for (int64_t i = 0; i < n; ++i) {
          double s = 0;
          for (int64_t r = 0; r < o.repeats; ++r) {
            const auto c = static_cast<float>(poisson(a.expected(i, k), g));
            a.counts[static_cast<size_t>((i * N + k) * o.repeats + r)] = c;
            s += c;
          }
          lo = std::min(lo, s);
          hi = std::max(hi, s);
        }
        if (lo < hi) break;
      }
    }
    out.push_back(std::move(a));
  }
  return out;
}

void write_simulation(const std::string& out, const std::vector<std::string>& files, const std::vector<std::string>& identity_names,
                      const std::vector<int64_t>& identity, const std::vector<double>& view_deg, const std::vector<SimulatedArea>& sims,
                      const SimOptions& o, nlohmann::json meta) {
  namespace fs = std::filesystem;
  ML_CHECK(files.size() == identity.size() && files.size() == view_deg.size(), "write_simulation: ", files.size(), " files, ",
           identity.size(), " identities, ", view_deg.size(), " views");
  fs::create_directories(fs::path(out) / "truth");
  const auto n = static_cast<int64_t>(files.size());
  nlohmann::json areas = nlohmann::json::array();
  for (const auto& a : sims) {
    const int64_t N = a.mix.neurons;
    save_npy((fs::path(out) / (a.name + ".npy")).string(), Tensor::from_vector({n, N, a.repeats}, a.counts));
    std::vector<float> expected(static_cast<size_t>(n * N)), kinds(static_cast<size_t>(N));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < N; ++k) expected[static_cast<size_t>(i * N + k)] = static_cast<float>(a.expected(i, k));
    std::map<std::string, int64_t> counts;
    for (int64_t k = 0; k < N; ++k) {
      kinds[static_cast<size_t>(k)] = static_cast<float>(static_cast<int>(a.kinds[static_cast<size_t>(k)]));
      ++counts[analysis::name_of(a.kinds[static_cast<size_t>(k)])];
    }
    save_npy((fs::path(out) / "truth" / (a.name + "_expected.npy")).string(), Tensor::from_vector({n, N}, expected));
    save_npy((fs::path(out) / "truth" / (a.name + "_kinds.npy")).string(), Tensor::from_vector({N}, kinds));
    areas.push_back({{"name", a.name}, {"neurons", N}, {"view_tuned", a.mix.view_tuned}, {"mirror", a.mix.mirror},
                     {"invariant", a.mix.invariant}, {"neuron_counts", counts}});
  }
  nlohmann::json truth = {
      {"generator", "simulate_population"},
      {"areas", areas},
      {"options",
       {{"repeats", o.repeats}, {"baseline_hz", o.baseline_hz}, {"peak_hz", o.peak_hz}, {"window_s", o.window_s},
        {"width_deg", o.width_deg}, {"identity_beta", o.identity_beta}, {"seed", o.seed}}},
      {"known_answer",
       "view-tuned neurons respond differently to a view and its mirror image, mirror-symmetric and invariant ones do not: "
       "an area with more view-tuned neurons must draw a larger share of its alignment from the reflection-sensitive part S, "
       "areas of mostly mirror-symmetric/invariant neurons mainly from the invariant part I, and an area with more "
       "mirror-symmetric neurons must have a higher mirror-symmetry index"}};
  for (auto& [k, v] : meta.items()) truth[k] = v;
  write_text_atomic((fs::path(out) / "truth.json").string(), truth.dump(1));
  // The manifest last: a folder without it is visibly incomplete.
  std::ostringstream csv;
  csv << "file,identity,view_deg\n";
  for (int64_t i = 0; i < n; ++i) {
    const fs::path f = fs::absolute(files[static_cast<size_t>(i)]);
    csv << fs::relative(f, fs::absolute(out)).string() << "," << identity_names[static_cast<size_t>(identity[static_cast<size_t>(i)])] << ","
        << view_deg[static_cast<size_t>(i)] << "\n";
  }
  write_text_atomic((fs::path(out) / "manifest.csv").string(), csv.str());
}

}  // namespace ml::analysis
