// models/vgg16.h — VGG16 (Simonyan & Zisserman 2015, configuration D) in torchvision's layout
// and names: features = 13 conv 3x3 p1 + ReLU in blocks 64,64 | 128,128 | 256x3 | 512x3 | 512x3,
// each block ended by max-pool 2/2 (indices 0..30); avgpool adaptive 7x7; classifier: 0 linear
// 25088->4096, 1 ReLU, 2 dropout, 3 linear 4096->4096, 4 ReLU, 5 dropout, 6 linear 4096->classes.
#pragma once
#include "models/model.h"

namespace ml::models {

// The widths of configuration D: channels of the five conv blocks, the two hidden fully connected
// layers, and the side of the adaptive average pool before them (fc6 sees pool x pool x block[4]).
// VGG-Face (Parkhi et al. 2015) is configuration D with these widths and 2,622 outputs; a
// narrower copy serves the MatConvNet converter's tests (tools/vggface_convert.cpp).
struct Vgg16Widths {
  int64_t block[5] = {64, 128, 256, 512, 512};
  int64_t fc = 4096;
  int64_t pool = 7;
};

Model vgg16(int64_t num_classes, Generator& gen, uint64_t dropout_seed, const Vgg16Widths& widths = {});

}  // namespace ml::models
