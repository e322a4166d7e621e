// mirror_symmetry — the mirror-symmetric viewpoint tuning of one network's layers over a
// stimulus set (Farzmahdi et al. 2024, Figure 2 / 4; experiments/analysis/msvt_study.h).
// Writes msvt.csv, msvt_floor.csv, msvt_exemplars.csv, rdms.npy + rdms.json, msvt.json and the
// figures msvt.png and rdm_grid.png (tools/plot_msvt.py). Examples:
//   mirror_symmetry --weights out/train/sym/final.safetensors --stimuli stim/manifest.csv --out out/msvt/sym
//   mirror_symmetry --model vgg_small --untrained --in-channels 1 --image-size 28 --stimuli ... --out ...
//   mirror_symmetry --activations acts/ --stimuli stim/manifest.csv --out ...   (extract_activations' NPYs)
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "experiments/analysis/msvt_study.h"
#include "experiments/analysis/plot_script.h"
#include "experiments/analysis/run_summary.h"
#include "experiments/analysis/unit_stats.h"
#include "experiments/net_options.h"

namespace fs = std::filesystem;
using namespace ml;

namespace {

// Rows of NPY activations written by extract_activations for the same manifest.
analysis::ActivationFn npy_activations(const std::string& dir, const analysis::StimulusSet& set,
                                       std::vector<std::string>& layers) {
  const auto bytes = read_file((fs::path(dir) / "layers.json").string());
  const auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  ML_CHECK(!j.is_discarded() && j.contains("layers"), "--activations: '", dir, "/layers.json' is not extract_activations' output");
  auto arrays = std::make_shared<std::vector<Tensor>>();
  std::vector<std::string> all;
  for (const auto& l : j["layers"]) all.push_back(l["name"].get<std::string>());
  if (layers.empty()) layers = all;
  for (const auto& name : layers) {
    ML_CHECK(std::find(all.begin(), all.end(), name) != all.end(), "--layers: '", name, "' is not in '", dir, "/layers.json'");
    Tensor a = load_npy((fs::path(dir) / (name + ".npy")).string());
    ML_CHECK(a.dim() == 2 && a.size(0) == set.size(), "--activations: '", dir, "/", name, ".npy' is ", a.str(), " but '",
             set.manifest, "' has ", set.size(), " images");
    arrays->push_back(a);
  }
  return [arrays](const std::vector<int64_t>& rows) {
    std::vector<Tensor> out;
    for (const Tensor& a : *arrays) out.push_back(analysis::gather_rows(a, rows));
    return out;
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Mirror-symmetric viewpoint tuning of a network's layers (Farzmahdi et al. 2024)"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  std::string stimuli, out, label, activations;
  analysis::MsvtOptions mo;
  bool no_plot = false, quiet = false;
  app.add_option("--stimuli", stimuli, "stimulus manifest (file,category,exemplar,view_deg)")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--label", label, "the model column of the CSV files (default: the model's name)");
  app.add_option("--activations", activations, "read extract_activations' NPYs from this folder instead of running a net");
  app.add_option("--shuffles", mo.shuffles_per_object, "shuffled-view null draws per object")->capture_default_str();
  app.add_option("--noise-draws", mo.noise_draws, "noise-representation null draws per layer")->capture_default_str();
  bool raw = false;
  app.add_flag("--no-zscore", raw, "RDMs of the raw activations of every unit, not z-scored (Fig. 2-S7)");
  app.add_flag("--no-plot", no_plot, "write the numbers only");
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    experiments::apply_threads(net_o);
    mo.seed = net_o.spec.seed;
    mo.progress = !quiet;
    mo.zscore = !raw;
    const analysis::StimulusSet set = analysis::read_stimulus_set(stimuli);
    std::vector<std::string> layers = net_o.layers;
    analysis::ActivationFn acts;
    std::string description;
    std::unique_ptr<analysis::AnalysisNet> net;
    if (!activations.empty()) {
      acts = npy_activations(activations, set, layers);
      description = "activations from " + activations;
      if (label.empty()) label = fs::path(activations).filename().string();
    } else {
      net = std::make_unique<analysis::AnalysisNet>(experiments::load_net(net_o));
      layers = analysis::resolve_layers(net->model, layers);
      const int64_t C = net->model.in_channels, S = net->model.image_size;
      acts = [&, C, S](const std::vector<int64_t>& rows) {
        return analysis::layer_outputs(*net, analysis::load_stimuli(set, rows, C, S), layers);
      };
      description = net->description;
      if (label.empty()) label = net->model.name;
    }
    if (net_o.batch > 0) mo.batch_objects = std::max<int64_t>(1, net_o.batch / static_cast<int64_t>(set.views_deg.size()));
    std::fprintf(stderr, "mirror_symmetry: %s; %zu objects x %zu views from %s\n", description.c_str(), set.objects.size(),
                 set.views_deg.size(), stimuli.c_str());
    const analysis::MsvtResult r = analysis::run_msvt(set, layers, acts, mo);
    analysis::write_msvt(r, set, label, out);
    const nlohmann::json summary = {
        {"model", label},
        {"network", description},
        {"stimuli", stimuli},
        {"objects", set.objects.size()},
        {"views_deg", set.views_deg},
        {"layers", layers},
        {"seed", mo.seed},
        {"zscored", mo.zscore},
        {"null_draws", {{"shuffles_per_object", mo.shuffles_per_object}, {"noise_draws", mo.noise_draws}}},
        {"definitions", {{"released", "Pearson r of D and D^H without the frontal column, 72 entries, diagonal included (SCIENCE.md)"},
                         {"no_diagonal", "the same without every entry diagonal in D or D^H (56 entries)"}}}};
    analysis::write_run_summary((fs::path(out) / "msvt.json").string(), summary, t0);
    if (!no_plot) analysis::run_plot_script("plot_msvt.py", "'" + out + "'");
    std::fprintf(stderr, "mirror_symmetry: wrote %s/msvt.csv\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mirror_symmetry: %s\n", e.what());
    return 1;
  }
  return 0;
}
