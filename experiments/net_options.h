// experiments/net_options.h — the command-line options every analysis program shares to name
// the network it reads out (experiments/analysis/activations.h, NetSpec).
#pragma once
#include <CLI/CLI.hpp>
#include <omp.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/csv.h"
#include "experiments/analysis/activations.h"
#include "experiments/fixed_models.h"

namespace ml::experiments {

struct NetOptions {
  analysis::NetSpec spec;
  std::vector<std::string> layers;
  int threads = 0;
  int64_t batch = 0;  // 0: the program's default
  FixedModelOptions fixed;  // --model hmax | hog (experiments/fixed_models.h)
};

inline void add_net_options(CLI::App& app, NetOptions& o) {
  app.add_option("--model", o.spec.model, "vgg_small | vgg_small_paper | alexnet | alexnet_lrn | vgg16 | resnet50 | convnext_tiny | vit_b_16 | vggface (default: the weights file's)");
  app.add_option("--weights", o.spec.weights, "safetensors weights (train's final/best.safetensors, or exported torchvision)");
  app.add_flag("--untrained", o.spec.untrained, "the study's untrained net: N(0, 1/fan_in) weights and biases");
  app.add_option("--seed", o.spec.seed, "seed of the untrained net and of every random draw")->capture_default_str();
  app.add_option("--num-classes", o.spec.num_classes, "untrained nets: outputs (default the model's)");
  app.add_option("--in-channels", o.spec.in_channels, "untrained nets: input channels (1 for Fashion-MNIST nets)");
  app.add_option("--image-size", o.spec.image_size, "untrained nets: input size (28 for Fashion-MNIST nets)");
  app.add_option("--normalization", o.spec.normalization,
                 "input normalisation: a train final.json or weights file, 'none', 'imagenet' or 'vggface' (default: the weights')");
  app.add_option("--layers", o.layers, "analysis layers (default: all of the model's)")->delimiter(',');
  app.add_option("--device", o.spec.device, "cpu | cuda")->capture_default_str();
  app.add_option("--threads", o.threads, "OpenMP threads (0: all)");
  app.add_option("--batch", o.batch, "images per forward pass");
  add_fixed_model_options(app, o.fixed);
}

// The network to analyse: HMAX or HOG (fixed models, no weights) or a CNN (load_analysis_net).
// HMAX's default batch is 16 images: its S1 maps are 13 MB an image.
inline analysis::AnalysisNet load_net(NetOptions& o) {
  if (is_fixed_model(o.spec.model)) {
    if (o.batch == 0 && o.spec.model == "hmax") o.batch = 16;
    return load_fixed_model(o.spec, o.fixed);
  }
  return analysis::load_analysis_net(o.spec);
}

// The image files of a manifest CSV's 'file' column, relative paths taken from its folder;
// errors name `program`, the manifest and the line.
inline std::vector<std::string> manifest_files(const std::string& manifest, const char* program) {
  const CsvTable t = read_csv(manifest, program);
  const int64_t c_file = t.column("file", program);
  const std::filesystem::path folder = std::filesystem::path(manifest).parent_path();
  std::vector<std::string> files;
  for (const CsvRow& r : t.rows) {
    ML_CHECK(static_cast<int64_t>(r.fields.size()) > c_file, program, ": '", manifest, "' line ", r.line,
             " has no 'file' field");
    const std::filesystem::path f = trim(r.fields[static_cast<size_t>(c_file)]);
    files.push_back((f.is_absolute() ? f : folder / f).string());
  }
  return files;
}

inline void apply_threads(const NetOptions& o) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
}

}  // namespace ml::experiments
