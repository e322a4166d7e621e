// extract_features — the encoding study's per-layer features (eickenberg2017-encoding.md §2,
// experiments/analysis/encoding_features.h) for every image of a manifest: one NPY per layer
// (n_images x kept features, manifest order) and features.json (raw shape, d, kept per layer). Streams in batches; CPU or
// CUDA. Example:
//   extract_features --weights out/train/sym/final.safetensors --manifest stim/manifest.csv --out acts/
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "experiments/analysis/encoding_features.h"
#include "experiments/net_options.h"

using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Per-layer encoding-model features (blurred, subsampled, signed log1p) for every image of a manifest (NPY per layer)"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  std::string manifest, out;
  bool quiet = false;
  app.add_option("--manifest", manifest, "CSV with a 'file' column (paths relative to its folder)")->required();
  app.add_option("--out", out, "output folder")->required();
  int64_t max_features = 25000;
  app.add_option("--max-features", max_features, "features kept per layer at most (stride d, Gaussian blur 0.35 d)")->capture_default_str();
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    experiments::apply_threads(net_o);
    analysis::AnalysisNet net = experiments::load_net(net_o);
    const auto layers = analysis::resolve_layers(net.model, net_o.layers);
    const std::vector<std::string> files = experiments::manifest_files(manifest, "extract_features");
    analysis::write_encoding_features(net, files, layers, out, net_o.batch > 0 ? net_o.batch : 64, max_features, !quiet);
    std::fprintf(stderr, "extract_features: %s: %zu layers of %zu images -> %s\n", net.description.c_str(), layers.size(),
                 files.size(), out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "extract_features: %s\n", e.what());
    return 1;
  }
  return 0;
}
