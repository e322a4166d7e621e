// models/matconvnet.h — reads a MatConvNet "simplenn" VGG16 (such as the published
// vgg-face.mat of Parkhi et al. 2015) through libmatio into torchvision's VGG16 state-dict
// names, so the engine's vgg16/vggface model loads it unchanged (tools/vggface_convert.cpp).
//
// The layout read (MatConvNet 1.0-beta, `net = load('vgg-face.mat')`): the file's variables
// are the network struct's fields — `layers` (a cell array of structs with fields name, type
// ('conv' | 'relu' | 'pool' | 'dropout' | 'softmax'), and for a conv `weights` = {filters, biases},
// `pad` [top bottom left right], `stride`; for a pool `method`, `pool`, `stride`, `pad`) and
// `meta` (`meta.normalization.averageImage`, `.imageSize`); older files hold `normalization`
// at the top level, and a file saved as one variable `net` holds them as its fields. Filters
// are single H x W x in x out (HWIO, MATLAB's column-major order); fc6..fc8 are convolutions
// whose kernels cover the whole pool5 map (7x7) or 1x1. Images enter in [0, 255] minus the
// average image (RGB).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "models/vgg16.h"

namespace ml::models {

struct MatConvNetVgg16 {
  Vgg16Widths widths;            // read from the filters' shapes
  int64_t num_classes = 0;       // fc8's outputs
  int64_t image_size = 0;        // meta.normalization.imageSize(1) (0 when absent)
  std::vector<float> average_image;  // per RGB channel, on MatConvNet's [0, 255] scale
  std::string average_image_note;    // how it was reduced to per-channel values
  // features.N.weight (O, I, 3, 3), ..., classifier.{0,3,6}.{weight,bias}, as vgg16() names them.
  std::vector<std::pair<std::string, Tensor>> state;
};

// Errors name the file and what was expected: not a readable .mat, not a MatConvNet network
// (no `layers` cell of structs), or another architecture (the expected VGG16 layer sequence
// is listed beside what the file holds).
MatConvNetVgg16 read_matconvnet_vgg16(const std::string& path);

// VGG-Face's own shape: VGG16's widths (64..512, 4096), 2,622 outputs, 224x224 input. Throws,
// naming `path` and each difference.
void check_vggface(const MatConvNetVgg16& net, const std::string& path);

// The engine's weights file: the state dict plus metadata "model" = {"name": model_name,
// num_classes, image_size, normalization {mean = average/255, std = 1/255}} (the engine feeds
// images in [0, 1]; (x - avg/255) / (1/255) = 255 x - avg, MatConvNet's input) and "source".
void write_matconvnet_weights(const MatConvNetVgg16& net, const std::string& model_name, const std::string& out,
                              const std::string& source);

}  // namespace ml::models
