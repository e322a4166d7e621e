// models/vgg16.h — VGG16 (Simonyan & Zisserman 2015, configuration D) in torchvision's layout
// and names: features = 13 conv 3x3 p1 + ReLU in blocks 64,64 | 128,128 | 256x3 | 512x3 | 512x3,
// each block ended by max-pool 2/2 (indices 0..30); avgpool adaptive 7x7; classifier: 0 linear
// 25088->4096, 1 ReLU, 2 dropout, 3 linear 4096->4096, 4 ReLU, 5 dropout, 6 linear 4096->classes.
#pragma once
#include "models/model.h"

namespace ml::models {

Model vgg16(int64_t num_classes, Generator& gen, uint64_t dropout_seed);

}  // namespace ml::models
