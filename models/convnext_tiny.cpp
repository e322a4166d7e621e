#include "models/convnext_tiny.h"

#include "engine/nn/layers.h"

namespace ml::models {

using namespace ml::nn;

namespace {

constexpr float kLayerNormEps = 1e-6f;  // torchvision: partial(LayerNorm2d / nn.LayerNorm, eps=1e-6)

// LayerNorm over the channels of (N, C, H, W), as torchvision's LayerNorm2d: permute to
// (N, H, W, C), layer_norm over C, permute back.
class LayerNorm2d : public Module {
 public:
  explicit LayerNorm2d(int64_t channels) {
    weight = register_parameter("weight", Tensor::ones({channels}));
    bias = register_parameter("bias", Tensor::zeros({channels}));
  }
  Tensor forward(const Tensor& x) override {  // (N, C, H, W) -> (N, C, H, W)
    ML_CHECK(x.dim() == 4 && x.size(1) == weight.size(0), "convnext LayerNorm2d: expected (N, ", weight.size(0),
             ", H, W), got ", x.str());
    const Tensor nhwc = transpose(transpose(x, 1, 2), 2, 3);  // (N, H, W, C)
    const Tensor y = layer_norm(nhwc, weight, bias, kLayerNormEps);
    return transpose(transpose(y, 2, 3), 1, 2);
  }
  Tensor weight, bias;
};

// torchvision's Permute([0, 2, 3, 1]) and Permute([0, 3, 1, 2]) (no parameters; they hold the
// indices 1 and 6 of CNBlock.block so that the parameter names match).
class ToChannelsLast : public Module {
 public:
  Tensor forward(const Tensor& x) override { return transpose(transpose(x, 1, 2), 2, 3); }  // NCHW -> NHWC
};
class ToChannelsFirst : public Module {
 public:
  Tensor forward(const Tensor& x) override { return transpose(transpose(x, 2, 3), 1, 2); }  // NHWC -> NCHW
};

class CNBlock : public Module {
 public:
  CNBlock(int64_t dim, Generator& gen) {
    // PyTorch's state_dict lists a module's own parameters before its children's: layer_scale
    // first, as here (loading is by name; the order only keeps exports comparable).
    layer_scale = register_parameter("layer_scale", Tensor::full({dim, 1, 1}, 1e-6f));
    block = std::make_shared<Sequential>();
    block->add(std::make_shared<Conv2d>(dim, dim, 7, gen, 1, 3, 1, dim, true));  // 0: depthwise
    block->add(std::make_shared<ToChannelsLast>());                              // 1
    block->add(std::make_shared<LayerNorm>(dim, kLayerNormEps));                                // 2
    block->add(std::make_shared<PointwiseLinear>(dim, 4 * dim, gen));            // 3
    block->add(std::make_shared<GELU>());                                        // 4
    block->add(std::make_shared<PointwiseLinear>(4 * dim, dim, gen));            // 5
    block->add(std::make_shared<ToChannelsFirst>());                             // 6
    register_module("block", block);
  }
  // x: (N, C, H, W) -> (N, C, H, W). Stochastic depth: identity (inference).
  Tensor forward(const Tensor& x) override { return add(mul((*block)(x), layer_scale), x); }
  Tensor layer_scale;  // (C, 1, 1)
  std::shared_ptr<Sequential> block;
};

}  // namespace

Model convnext_tiny(int64_t num_classes, Generator& gen) {
  const int64_t depths[4] = {3, 3, 9, 3}, dims[4] = {96, 192, 384, 768};
  auto features = std::make_shared<Sequential>();
  auto stem = std::make_shared<Sequential>();
  stem->add(std::make_shared<Conv2d>(3, dims[0], 4, gen, 4, 0, 1, 1, true));
  stem->add(std::make_shared<LayerNorm2d>(dims[0]));
  features->add(stem);  // features.0
  for (int s = 0; s < 4; ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < depths[s]; ++b) stage->add(std::make_shared<CNBlock>(dims[s], gen));
    features->add(stage);  // features.1, .3, .5, .7
    if (s < 3) {
      auto down = std::make_shared<Sequential>();
      down->add(std::make_shared<LayerNorm2d>(dims[s]));
      down->add(std::make_shared<Conv2d>(dims[s], dims[s + 1], 2, gen, 2, 0, 1, 1, true));
      features->add(down);  // features.2, .4, .6
    }
  }
  auto classifier = std::make_shared<Sequential>();
  classifier->add(std::make_shared<LayerNorm2d>(dims[3]));
  classifier->add(std::make_shared<Flatten>());
  classifier->add(std::make_shared<Linear>(dims[3], num_classes, gen));
  auto net = std::make_shared<Sequential>();
  net->add("features", features);
  net->add("avgpool", std::make_shared<AdaptiveAvgPool2d>(1, 1));
  net->add("classifier", classifier);
  Model m;
  m.name = "convnext_tiny";
  m.net = net;
  m.in_channels = 3;
  m.image_size = 224;
  m.num_classes = num_classes;
  // ConvNeXt has no ReLU: stage outputs are analysed as they are (no ReLU applied); the logits get
  // one, as every model's last layer in the analysis.
  m.layers = {{"stem", "features.0", false},   {"stage1", "features.1", false}, {"stage2", "features.3", false},
              {"stage3", "features.5", false}, {"stage4", "features.7", false}, {"avgpool", "avgpool", false},
              {"classifier", "classifier", true}};
  return m;
}

}  // namespace ml::models
