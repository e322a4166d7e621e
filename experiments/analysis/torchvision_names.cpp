#include "experiments/analysis/torchvision_names.h"

#include "engine/error.h"

namespace ml::analysis {

namespace {

bool has_shape(const SafetensorsFile& w, const std::string& name, const Shape& shape) {
  const Tensor* t = w.find(name);
  return t != nullptr && t->shape() == shape;
}

}  // namespace

TorchvisionModel torchvision_model_from_names(const SafetensorsFile& w, const std::string& file) {
  const Tensor* fc8 = w.find("classifier.6.weight");
  const bool head = fc8 != nullptr && fc8->dim() == 2 && fc8->size(1) == 4096 && fc8->size(0) >= 1;
  if (head && has_shape(w, "features.0.weight", {64, 3, 11, 11}) && has_shape(w, "features.10.weight", {256, 256, 3, 3}))
    return {"alexnet", fc8->size(0)};
  if (head && has_shape(w, "features.0.weight", {64, 3, 3, 3}) && has_shape(w, "features.28.weight", {512, 512, 3, 3}))
    return {"vgg16", fc8->size(0)};
  throw Error(detail::cat("'", file, "' has no \"model\" metadata and its tensor names and shapes are neither "
                          "torchvision's AlexNet (features.0.weight 64x3x11x11, features.10.weight 256x256x3x3, "
                          "classifier.6.weight Kx4096) nor VGG16 (features.0.weight 64x3x3x3, features.28.weight "
                          "512x512x3x3, classifier.6.weight Kx4096); convert it with tools/export_torchvision_weights.py, "
                          "which records the model"));
}

}  // namespace ml::analysis
