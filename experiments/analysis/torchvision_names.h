// experiments/analysis/torchvision_names.h — which engine model a weights file holds when it
// carries no "model" metadata (a torchvision state_dict saved as safetensors by other means than
// tools/export_torchvision_weights.py). The rule, from the state_dict's names and shapes only:
//   alexnet  features.0.weight (64, 3, 11, 11), features.10.weight (256, 256, 3, 3), classifier.6.weight (K, 4096)
//   vgg16    features.0.weight (64, 3, 3, 3),   features.28.weight (512, 512, 3, 3), classifier.6.weight (K, 4096)
// with K the class count. Anything else is an error naming the file and what to do.
#pragma once
#include <cstdint>
#include <string>

#include "engine/io/safetensors.h"

namespace ml::analysis {

struct TorchvisionModel {
  std::string name;         // "alexnet" or "vgg16"
  int64_t num_classes = 0;  // rows of classifier.6.weight
};

// The model of `weights` (read from `file`, named in errors) by the rule above.
TorchvisionModel torchvision_model_from_names(const SafetensorsFile& weights, const std::string& file);

}  // namespace ml::analysis
