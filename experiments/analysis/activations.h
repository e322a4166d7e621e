// experiments/analysis/activations.h — a network as the analyses see it: rebuilt from a
// weights file (or untrained with a seed), fed images in [0, 1] normalised as in its
// training, and read out at named analysis layers after their ReLU (SCIENCE.md,
// "Activations and RDMs" step 1). No autograd graph is kept; callers stream image batches.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"
#include "models/model.h"

namespace ml::analysis {

// Per-channel input normalisation (x - mean[c]) / std[c] of images in [0, 1].
struct Normalization {
  std::vector<float> mean, std;
  std::string source;  // where it came from, for the outputs' provenance
};

struct NetSpec {
  std::string model;          // "" = the weights file's (metadata "model"), else required
  std::string weights;        // safetensors (train's best/final, or an exported torchvision file)
  bool untrained = false;     // the study's N(0, 1/fan_in) net, seeded (SCIENCE.md)
  uint64_t seed = 0;
  int64_t num_classes = 0, in_channels = 0, image_size = 0;  // 0 = from the weights or the model's default
  std::string normalization;  // "" = from the weights; a train final.json or weights file; "none"; "imagenet"
  std::string device = "cpu";
};

struct AnalysisNet {
  models::Model model;
  Normalization norm;
  Device device = Device::CPU;
  std::string description;  // "vgg_small from out/train/sym/final.safetensors (epoch 3)"
};

// Errors name the weights file, the option, or the model.
AnalysisNet load_analysis_net(const NetSpec& spec);

// What a weights file's "model" metadata (JSON written by train: name, in_channels,
// image_size, num_classes, normalization {mean, std}) says about the net. Every field is
// optional; one that is present is checked for its type and a sane range before anything is
// built from it (a num_classes of 2^40 would otherwise be a 2^52-byte layer). Errors name
// `file` and the field.
struct NetMetadata {
  std::string name;                                    // "" when absent
  int64_t num_classes = 0, in_channels = 0, image_size = 0;  // 0 when absent
  bool has_normalization = false;
  Normalization normalization;                         // source = `file`
};
NetMetadata parse_net_metadata(const std::string& text, const std::string& file);

// --normalization FILE: a train final.json ("normalization": {mean, std}) or a weights file
// whose "model" metadata carries one. Errors name the file and the field.
Normalization read_normalization(const std::string& path);

// The outputs of `layers` (names of net.model.layers) for images (B, in_channels, S, S) in
// [0, 1] on the CPU, S = the model's image size: one CPU tensor per layer, (B, C, H, W) for a
// convolutional layer and (B, U) for a fully connected one, after the layer's analysis ReLU.
std::vector<Tensor> layer_outputs(AnalysisNet& net, const Tensor& images, const std::vector<std::string>& layers);

// Per-image shape of each layer's output ({C, H, W} or {U}), from one forward pass.
std::vector<Shape> layer_shapes(AnalysisNet& net, const std::vector<std::string>& layers);

// extract_activations: the outputs of `layers` for every image file (read with load_image at
// the model's input size), streamed `batch` images at a time into one NPY per layer,
// `<dir>/<layer>.npy` (n_images, units) in file order, plus `<dir>/layers.json` with each
// layer's per-image shape. Every file is written atomically.
void write_activations(AnalysisNet& net, const std::vector<std::string>& files, const std::vector<std::string>& layers,
                       const std::string& dir, int64_t batch, bool progress = true);

// Seeded uniform-noise images in [0, 1], (n, channels, size, size): the study's noise set.
Tensor noise_images(int64_t n, int64_t channels, int64_t size, Generator& gen);

// All analysis layers of the model when `requested` is empty; otherwise `requested`, checked.
std::vector<std::string> resolve_layers(const models::Model& m, const std::vector<std::string>& requested);

}  // namespace ml::analysis
