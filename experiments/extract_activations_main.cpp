// extract_activations — a network's post-ReLU activations at named layers for every image of
// a manifest, one NPY per layer (n_images x n_units, manifest order) and layers.json with each
// layer's per-image shape (experiments/analysis/activations.h). Streams in batches; CPU or
// CUDA. Example:
//   extract_activations --weights out/train/sym/final.safetensors --manifest stim/manifest.csv --out acts/
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "experiments/net_options.h"

using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Write a network's activations at named layers for every image of a manifest (NPY per layer)"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  std::string manifest, out;
  bool quiet = false;
  app.add_option("--manifest", manifest, "CSV with a 'file' column (paths relative to its folder)")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    experiments::apply_threads(net_o);
    analysis::AnalysisNet net = experiments::load_net(net_o);
    const auto layers = analysis::resolve_layers(net.model, net_o.layers);
    const std::vector<std::string> files = experiments::manifest_files(manifest, "extract_activations");
    analysis::write_activations(net, files, layers, out, net_o.batch > 0 ? net_o.batch : 64, !quiet);
    std::fprintf(stderr, "extract_activations: %s: %zu layers of %zu images -> %s\n", net.description.c_str(), layers.size(),
                 files.size(), out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "extract_activations: %s\n", e.what());
    return 1;
  }
  return 0;
}
