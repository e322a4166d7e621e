// models/convnext_tiny.h — ConvNeXt-Tiny (Liu et al. 2022) in torchvision's layout and
// parameter names (torchvision/models/convnext.py), so a state dict exported by
// tools/export_torchvision_weights.py loads unchanged:
//   features.0: stem, 0 = conv 4x4/4 3 -> 96 (bias), 1 = LayerNorm2d (over channels);
//   features.1, .3, .5, .7: stages of 3, 3, 9, 3 CNBlocks at 96, 192, 384, 768 channels; a CNBlock is
//     block.0 depthwise conv 7x7 p3 (bias), permute to (N, H, W, C), block.2 LayerNorm,
//     block.3 Linear C -> 4C, GELU (exact), block.5 Linear 4C -> C, permute back,
//     layer_scale (C, 1, 1) times that, stochastic depth (the identity at inference) and the
//     residual add;
//   features.2, .4, .6: downsampling, 0 = LayerNorm2d, 1 = conv 2x2/2 (bias);
//   avgpool adaptive 1x1; classifier 0 = LayerNorm2d, 1 = flatten, 2 = Linear 768 -> classes.
// Every LayerNorm has eps 1e-6, as torchvision. 28,589,128 parameters at 1000 classes.
// Stochastic depth is not implemented for training (this model is for analysis: forward in eval).
// Analysis taps: the stem, the output of each stage, the pooled features and the logits.
#pragma once
#include "models/model.h"

namespace ml::models {

Model convnext_tiny(int64_t num_classes, Generator& gen);

}  // namespace ml::models
