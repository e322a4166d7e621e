// importance_maps — RISE importance maps and the Figure 5 controls of the mirror study
// (Farzmahdi et al. 2024; experiments/analysis/rise_study.h, ../shared/science/farzmahdi2024-more.md §3).
// Writes curves.csv, levels.csv, summary_5c.csv, index_5d.csv, maps_5c.npy, maps_5d.npy,
// overlays/*.png, rise.json and the figures rise.png (tools/plot_rise.py). Examples:
//   importance_maps --weights out/demo/train/sym/final.safetensors --stimuli stim/manifest.csv --layer fc1 --out out/rise
//   importance_maps --model alexnet --weights alexnet.safetensors --stimuli stim227/manifest.csv --layer fc6 --preset full --out ...
// Presets: ci (100 masks, 5 shuffles: seconds, run by the test suite), cpu (1000 masks,
// 50 shuffles, one object per category: about a minute for vgg_small at 28 px on 2 cores),
// full (the paper's 5000 masks and 1000 shuffles: a GPU's work for AlexNet).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "experiments/analysis/plot_script.h"
#include "experiments/analysis/rise_study.h"
#include "experiments/analysis/run_summary.h"
#include "experiments/net_options.h"

namespace fs = std::filesystem;
using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"RISE importance maps with the Figure 5 controls (Farzmahdi et al. 2024)"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  analysis::RiseStudyOptions o;
  std::string stimuli, out, preset = "cpu", objects = "one-per-category";
  bool no_plot = false, quiet = false, exact_percent = false;
  int64_t masks = 0, shuffles = 0;
  app.add_option("--stimuli", stimuli, "stimulus manifest (file,category,exemplar,view_deg)")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--layer", o.layer, "the explained layer (an analysis layer name, e.g. fc1, fc6)")->required();
  app.add_option("--unit", o.unit, "explain this unit for every object (default: each object's 5C unit)");
  app.add_option("--preset", preset, "ci | cpu | full (masks and shuffles; explicit options win)")->capture_default_str();
  app.add_option("--masks", masks, "RISE masks N (preset: ci 100, cpu 1000, full 5000)");
  app.add_option("--grid", o.rise.grid, "random grid s (s x s cells)")->capture_default_str();
  app.add_option("--keep", o.rise.keep, "keep probability p of a grid cell, in (0, 1)")->capture_default_str();
  app.add_flag("--rise-binary", o.rise.binary, "nearest upsampling: binary masks");
  app.add_option("--mask-seed", o.rise.seed, "seed of the mask set and the shuffles")->capture_default_str();
  app.add_flag("--post-relu", o.rise.post_relu, "explain the post-ReLU output (default: pre-ReLU, as the paper)");
  app.add_option("--shuffles", shuffles, "patch shuffles per view (preset: ci 5, cpu 50, full 1000)");
  app.add_option("--objects", objects, "one-per-category | all | comma-separated object indices")->capture_default_str();
  app.add_option("--control-level", o.control_level, "the level of 5A/5B/5D (25 = the paper's '25 %')")->capture_default_str();
  app.add_flag("--exact-percent", exact_percent, "level p keeps round(p/100 N) pixels (default: the code's (p-1)/99)");
  app.add_flag("--shuffle-legacy-offset", o.shuffle_legacy_offset, "shift cut-outs by (-1, -1) as the released code");
  app.add_flag("--no-plot", no_plot, "write the numbers only");
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    experiments::apply_threads(net_o);
    ML_CHECK(preset == "ci" || preset == "cpu" || preset == "full", "--preset must be ci, cpu or full, got '", preset, "'");
    o.rise.masks = masks > 0 ? masks : preset == "ci" ? 100 : preset == "cpu" ? 1000 : 5000;
    o.shuffles = shuffles > 0 ? shuffles : preset == "ci" ? 5 : preset == "cpu" ? 50 : 1000;
    ML_CHECK(masks >= 0, "--masks must be > 0, got ", masks);
    ML_CHECK(shuffles >= 0, "--shuffles must be > 0, got ", shuffles);
    if (net_o.batch > 0) o.rise.batch = net_o.batch;
    o.mapping = exact_percent ? analysis::LevelMapping::ExactPercent : analysis::LevelMapping::Released;
    o.progress = !quiet;
    const analysis::StimulusSet set = analysis::read_stimulus_set(stimuli);
    if (objects == "all") {
      for (size_t i = 0; i < set.objects.size(); ++i) o.objects.push_back(static_cast<int64_t>(i));
    } else if (objects != "one-per-category") {
      std::stringstream ss(objects);
      std::string tok;
      while (std::getline(ss, tok, ',')) {
        try {
          o.objects.push_back(std::stoll(tok));
        } catch (const std::exception&) {
          throw Error(detail::cat("--objects: '", tok, "' is not an object index"));
        }
      }
    }
    analysis::AnalysisNet net = analysis::load_analysis_net(net_o.spec);
    std::fprintf(stderr, "importance_maps: %s, layer %s; %lld masks (grid %lld, p %.2f), %lld shuffles\n",
                 net.description.c_str(), o.layer.c_str(), static_cast<long long>(o.rise.masks),
                 static_cast<long long>(o.rise.grid), o.rise.keep, static_cast<long long>(o.shuffles));
    const analysis::RiseStudyResult r = analysis::run_rise_study(net, set, o);
    analysis::write_rise_study(r, set, o, out);
    nlohmann::json objs = nlohmann::json::array();
    for (const auto& ob : r.objects) {
      const auto& so = set.objects[static_cast<size_t>(ob.object)];
      objs.push_back({{"index", ob.object}, {"category", so.category}, {"exemplar", so.exemplar}, {"unit_5c", ob.unit_5c},
                      {"units_5d", ob.units_5d}});
    }
    const nlohmann::json summary = {
        {"network", net.description},
        {"model", net.model.name},
        {"stimuli", stimuli},
        {"layer", o.layer},
        {"explained_module", r.module},
        {"score", o.rise.post_relu ? "post-ReLU" : "pre-ReLU"},
        {"units_in_layer", r.units},
        {"rise", {{"masks", o.rise.masks}, {"grid", o.rise.grid}, {"keep", o.rise.keep}, {"binary", o.rise.binary},
                  {"seed", o.rise.seed}, {"gray", o.rise.gray}}},
        {"shuffles", o.shuffles},
        {"control_level", o.control_level},
        {"levels", o.levels},
        {"level_mapping", exact_percent ? "exact_percent: round(p/100 N)" : "released: round((p-1)/99 N)"},
        {"shuffle_legacy_offset", o.shuffle_legacy_offset},
        {"objects", objs}};
    analysis::write_run_summary((fs::path(out) / "rise.json").string(), summary, t0);
    if (!no_plot) analysis::run_plot_script("plot_rise.py", "'" + out + "'");
    std::fprintf(stderr, "importance_maps: wrote %s/curves.csv\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "importance_maps: %s\n", e.what());
    return 1;
  }
  return 0;
}
