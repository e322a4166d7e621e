// models/model.h — what an experiment needs to know about a network: the module tree, the
// input it expects, and its named analysis layers (which module's output, and whether the
// analysis applies a ReLU to it, as the studies analyse post-ReLU activations).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/io/safetensors.h"
#include "engine/nn/module.h"

namespace ml::models {

struct AnalysisLayer {
  std::string name;    // the paper's name: "conv1", "fc6", "conv1_1", ...
  std::string module;  // the submodule whose output it is: "features.1", "relu1_1", ...
  bool relu = false;   // apply a ReLU to that output before analysis
};

struct Model {
  std::string name;
  std::shared_ptr<nn::Module> net;
  int64_t in_channels = 3, image_size = 224, num_classes = 1000;
  std::vector<AnalysisLayer> layers;
  const AnalysisLayer& layer(const std::string& name) const;  // throws, listing the valid names
};

struct ModelOptions {
  int64_t num_classes = 0;   // 0: the model's default (1000, or 10 for vgg_small)
  int64_t in_channels = 0;   // 0: default (3)
  int64_t image_size = 0;    // 0: default (224 / 227 / 32)
  uint64_t seed = 0;         // initialisation and dropout masks
  bool untrained = false;    // the studies' untrained network: N(0, 1/fan_in) weights and biases
};

// "vgg_small", "vgg_small_paper", "alexnet", "alexnet_lrn", "vgg16", "resnet50", "convnext_tiny",
// "vit_b_16", "vggface".
Model make_model(const std::string& name, const ModelOptions& options = {});
std::vector<std::string> model_names();

// Zero-mean Gaussian weights and biases with variance 1/fan_in for every Conv2d and Linear
// (SCIENCE.md, "Untrained networks"); batch norm keeps its identity initialisation.
void init_untrained(nn::Module& net, Generator& gen);

// Loads a safetensors state dict (PyTorch names) into the model; every missing, unexpected
// or mis-shaped name is reported at once, naming the file.
void load_weights(nn::Module& net, const std::string& path);
// The same for a file already read (its metadata was needed first); `path` names it in errors.
void load_weights(nn::Module& net, const SafetensorsFile& file, const std::string& path);

}  // namespace ml::models
