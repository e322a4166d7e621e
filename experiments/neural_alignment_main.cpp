// neural_alignment — a network's layers against face-patch populations (Farzmahdi et al. 2024,
// Fig. 6; experiments/analysis/alignment_study.h): per layer and area the RDM correlation with
// its stimulus-bootstrap SD and 95 % interval, the area's split-half noise ceiling, and the
// Shapley split into reflection-invariant and -sensitive parts. Writes alignment.csv,
// areas.csv, neural_rdms.npy, alignment.json, alignment.png and alignment_report.md/.html
// (tools/plot_alignment.py; several result folders can be drawn together). Examples:
//   neural_alignment --neural neural/ --model vgg_small --untrained --image-size 32 --out out/align/untrained --preset ci
//   neural_alignment --neural my_recordings/ --weights alexnet.safetensors --out out/align/alexnet
#include <CLI/CLI.hpp>

#include <cstdio>

#include "experiments/analysis/alignment_study.h"
#include "experiments/net_options.h"

using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"RDM alignment of a network's layers with neural populations, with bootstrap, noise ceiling and Shapley split"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  analysis::AlignmentProgram p;
  std::string distance = "correlation", comparison = "pearson", shapley = "features";
  bool no_plot = false, quiet = false;
  app.add_option("--neural", p.neural, "folder with manifest.csv (file, identity, view_deg) and one <area>.npy per area")->required();
  app.add_option("--out", p.out, "output folder")->required();
  app.add_option("--label", p.label, "the model column of the CSV (default: the model's name)");
  app.add_option("--areas", p.areas, "areas to use, in this order (default: every <area>.npy)")->delimiter(',');
  app.add_option("--preset", p.preset, "ci (100 bootstrap samples, 10 splits) | cpu | full (1000, 100)")->capture_default_str();
  auto* boot = app.add_option("--bootstrap", p.options.bootstrap, "bootstrap samples (overrides the preset)");
  auto* splits = app.add_option("--splits", p.options.splits, "noise-ceiling splits (overrides the preset)");
  app.add_option("--distance", distance, "correlation | euclidean | sq_euclidean_per_unit")->capture_default_str();
  app.add_option("--comparison", comparison, "pearson | spearman | kendall_tau_a")->capture_default_str();
  app.add_option("--shapley-sum", shapley, "features (the paper's wording) | shapley_rdm_sum (the released code's form)")
      ->capture_default_str();
  app.add_flag("--zscore-neural", p.options.zscore_neural, "z-score each neuron over the stimuli before the area's RDM");
  app.add_flag("--rezscore-bootstrap", p.options.rezscore_bootstrap,
               "z-score the units again inside every bootstrap sample and rebuild the RDMs (default: once over all stimuli)");
  app.add_flag("--no-plot", no_plot, "write the numbers only");
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    experiments::apply_threads(net_o);
    p.net = net_o.spec;
    p.layers = net_o.layers;
    if (net_o.batch > 0) p.batch = net_o.batch;
    p.options.seed = net_o.spec.seed;
    p.options.distance = analysis::parse_rdm_distance(distance);
    p.options.comparison = analysis::parse_rdm_comparison(comparison);
    p.options.shapley = analysis::parse_shapley_sum(shapley);
    p.bootstrap_set = boot->count() > 0;
    p.splits_set = splits->count() > 0;
    p.plot = !no_plot;
    p.progress = !quiet;
    const auto summary = analysis::run_alignment_program(p);
    if (summary.contains("verdicts"))
      for (const auto& v : summary["verdicts"])
        std::fprintf(stderr, "neural_alignment: [%s] %s\n", v["agrees"].get<bool>() ? "agrees" : "does not agree",
                     v["claim"].get<std::string>().c_str());
    std::fprintf(stderr, "neural_alignment: wrote %s/alignment.csv\n", p.out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "neural_alignment: %s\n", e.what());
    return 1;
  }
  return 0;
}
