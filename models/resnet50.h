// models/resnet50.h — ResNet-50 (He et al. 2016) in torchvision's layout and parameter names, so
// a state dict exported by tools/export_torchvision_weights.py loads unchanged:
//   conv1 7x7/2 p3 (no bias), bn1, relu, maxpool 3/2 p1,
//   layer1..layer4: 3, 4, 6, 3 Bottleneck blocks of widths 64, 128, 256, 512 (out = 4 x width),
//     each conv1 1x1, bn1, conv2 3x3 (stride 2 in the first block of layer2-4: torchvision's
//     "ResNet v1.5" puts the stride on the 3x3), bn2, conv3 1x1, bn3, + identity or
//     downsample (1x1 conv with the block's stride, bn), relu;
//   avgpool adaptive 1x1, fc 2048 -> classes.
// 25,557,032 parameters at 1000 classes (batch-norm running statistics are buffers).
// Analysis taps: the stem (relu after bn1), the output of each stage, the pooled features and fc.
#pragma once
#include "models/model.h"

namespace ml::models {

Model resnet50(int64_t num_classes, Generator& gen);

}  // namespace ml::models
