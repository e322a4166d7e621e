// simulate_population — face-patch-like populations with a known answer for neural_alignment
// (experiments/analysis/neural_sim.h): view-tuned, mirror-symmetric and view-invariant neurons
// over a rendered stimulus set's identities x views, Poisson counts with repeats, a known mix
// per area. Writes the format neural_alignment reads (neural_data.h): <out>/manifest.csv
// (file, identity, view_deg), <out>/<area>.npy (stimuli, neurons, repeats), and beside them
// <out>/truth.json (the mixes, options and the known answer) and <out>/truth/<area>_expected.npy
// (noise-free expected counts) and <area>_kinds.npy (0 view-tuned, 1 mirror, 2 invariant).
// Example (the FIV-like 25 identities x 5 views from the rendered faces):
//   render_stimuli --out stim --size 32 --families face
//   simulate_population --stimuli stim/manifest.csv --category face --views -90,-45,0,45,90 --out neural
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "experiments/analysis/neural_sim.h"
#include "experiments/analysis/stimulus_set.h"

namespace fs = std::filesystem;
using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Simulated face-patch populations with a known mix of view-tuned, mirror-symmetric and invariant neurons"};
  std::string stimuli, out, category = "face";
  std::vector<double> views = {-90, -45, 0, 45, 90};
  std::vector<std::string> area_specs = {"ML_MF:120:0.7,0.2,0.1", "AL:80:0.15,0.7,0.15", "AM:100:0.1,0.2,0.7"};
  int64_t identities = 25;
  analysis::SimOptions o;
  app.add_option("--stimuli", stimuli, "render_stimuli manifest (file, category, exemplar, view_deg)")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--category", category, "the category whose exemplars are the identities")->capture_default_str();
  app.add_option("--views", views, "the yaws to use (each must be in the set)")->delimiter(',')->capture_default_str();
  app.add_option("--identities", identities, "number of identities (the first exemplars)")->capture_default_str();
  app.add_option("--area", area_specs, "name:neurons:view_tuned,mirror,invariant (repeatable)")->capture_default_str();
  app.add_option("--repeats", o.repeats, "presentations per stimulus")->capture_default_str();
  app.add_option("--baseline-hz", o.baseline_hz, "baseline rate")->capture_default_str();
  app.add_option("--peak-hz", o.peak_hz, "rate at the preferred view, before identity gain")->capture_default_str();
  app.add_option("--window-s", o.window_s, "counting window (s)")->capture_default_str();
  app.add_option("--width-deg", o.width_deg, "view tuning width (SD, degrees)")->capture_default_str();
  app.add_option("--identity-beta", o.identity_beta, "identity gain exp(beta z) spread")->capture_default_str();
  app.add_option("--seed", o.seed, "seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    for (const auto& s : area_specs) o.areas.push_back(analysis::parse_area_mix(s));
    const analysis::StimulusSet set = analysis::read_stimulus_set(stimuli);
    ML_CHECK(identities >= 2, "--identities must be >= 2, got ", identities);
    for (double v : views) {
      ML_CHECK(std::any_of(set.views_deg.begin(), set.views_deg.end(), [&](double w) { return std::abs(w - v) < 1e-6; }), "--views: ",
               v, " is not a view of '", stimuli, "'");
      ML_CHECK(std::any_of(views.begin(), views.end(), [&](double w) { return std::abs(w + v) < 1e-6; }), "--views: ", v,
               " has no mirror partner ", -v, " among the views");
    }
    std::vector<std::string> files;
    std::vector<int64_t> identity;
    std::vector<double> view;
    std::vector<std::string> id_names;
    for (const auto& obj : set.objects) {
      if (obj.category != category || static_cast<int64_t>(id_names.size()) >= identities) continue;
      id_names.push_back(obj.category + "_" + std::to_string(obj.exemplar));
      for (int64_t row : obj.views)
        for (double v : views)
          if (std::abs(set.view_deg[static_cast<size_t>(row)] - v) < 1e-6) {
            files.push_back(set.files[static_cast<size_t>(row)]);
            identity.push_back(static_cast<int64_t>(id_names.size()) - 1);
            view.push_back(v);
          }
    }
    ML_CHECK(static_cast<int64_t>(id_names.size()) == identities, "--identities: '", stimuli, "' has only ", id_names.size(),
             " exemplars of '", category, "'");
    const auto sims = analysis::simulate_populations(identity, view, o);
    analysis::write_simulation(out, files, id_names, identity, view, sims, o,
                               {{"stimuli", stimuli}, {"category", category}, {"identities", identities}, {"views_deg", views}});
    const auto n = files.size();
    std::fprintf(stderr, "simulate_population: %zu areas over %lld stimuli (%lld identities x %zu views) in %s\n", sims.size(),
                 static_cast<long long>(n), static_cast<long long>(identities), views.size(), out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simulate_population: %s\n", e.what());
    return 1;
  }
  return 0;
}
