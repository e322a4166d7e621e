// models/alexnet.h — AlexNet in torchvision's layout and names (224x224 input):
//   features: 0 conv 3->64 k11 s4 p2, 1 ReLU, 2 maxpool 3/2, 3 conv 64->192 k5 p2, 4 ReLU,
//             5 maxpool 3/2, 6 conv 192->384 k3 p1, 7 ReLU, 8 conv 384->256 k3 p1, 9 ReLU,
//             10 conv 256->256 k3 p1, 11 ReLU, 12 maxpool 3/2
//   avgpool: adaptive 6x6
//   classifier: 0 dropout, 1 linear 9216->4096, 2 ReLU, 3 dropout, 4 linear 4096->4096, 5 ReLU,
//               6 linear 4096->classes
// and the original (Krizhevsky et al. 2012, Caffe's bvlc_alexnet) with local response
// normalisation, 227x227 input, 96/256/384/384/256 channels, two-group conv2/4/5:
//   features: 0 conv 3->96 k11 s4, 1 ReLU, 2 LRN(5, 1e-4, 0.75, k=1), 3 maxpool 3/2,
//             4 conv 96->256 k5 p2 g2, 5 ReLU, 6 LRN, 7 maxpool 3/2, 8 conv 256->384 k3 p1, 9 ReLU,
//             10 conv 384->384 k3 p1 g2, 11 ReLU, 12 conv 384->256 k3 p1 g2, 13 ReLU, 14 maxpool 3/2
//   classifier as above (9216 inputs).
#pragma once
#include "models/model.h"

namespace ml::models {

Model alexnet(int64_t num_classes, Generator& gen, uint64_t dropout_seed);
Model alexnet_lrn(int64_t num_classes, Generator& gen, uint64_t dropout_seed);

}  // namespace ml::models
