#include "models/resnet50.h"

#include "engine/nn/layers.h"

namespace ml::models {

using namespace ml::nn;

namespace {

// torchvision's Bottleneck: 1x1 reduce, 3x3 (carrying the stride), 1x1 expand, residual add.
class Bottleneck : public Module {
 public:
  Bottleneck(int64_t in, int64_t width, int64_t stride, Generator& gen) {
    const int64_t out = 4 * width;
    conv1 = register_module("conv1", std::make_shared<Conv2d>(in, width, 1, gen, 1, 0, 1, 1, false));
    bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(width));
    conv2 = register_module("conv2", std::make_shared<Conv2d>(width, width, 3, gen, stride, 1, 1, 1, false));
    bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(width));
    conv3 = register_module("conv3", std::make_shared<Conv2d>(width, out, 1, gen, 1, 0, 1, 1, false));
    bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(out));
    relu = register_module("relu", std::make_shared<ReLU>());
    if (stride != 1 || in != out) {
      downsample = std::make_shared<Sequential>();
      downsample->add(std::make_shared<Conv2d>(in, out, 1, gen, stride, 0, 1, 1, false));
      downsample->add(std::make_shared<BatchNorm2d>(out));
      register_module("downsample", downsample);
    }
  }
  // x: (N, in, H, W) -> (N, 4·width, H/stride, W/stride)
  Tensor forward(const Tensor& x) override {
    Tensor h = (*relu)((*bn1)((*conv1)(x)));
    h = (*relu)((*bn2)((*conv2)(h)));
    h = (*bn3)((*conv3)(h));
    const Tensor identity = downsample ? (*downsample)(x) : x;
    return (*relu)(add(h, identity));
  }

 private:
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<ReLU> relu;
  std::shared_ptr<Sequential> downsample;
};

}  // namespace

Model resnet50(int64_t num_classes, Generator& gen) {
  auto net = std::make_shared<Sequential>();
  net->add("conv1", std::make_shared<Conv2d>(3, 64, 7, gen, 2, 3, 1, 1, false));
  net->add("bn1", std::make_shared<BatchNorm2d>(64));
  net->add("relu", std::make_shared<ReLU>());
  net->add("maxpool", std::make_shared<MaxPool2d>(3, 2, 1));
  const int64_t blocks[4] = {3, 4, 6, 3}, widths[4] = {64, 128, 256, 512};
  int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < blocks[s]; ++b) {
      stage->add(std::make_shared<Bottleneck>(in, widths[s], b == 0 && s > 0 ? 2 : 1, gen));
      in = 4 * widths[s];
    }
    net->add("layer" + std::to_string(s + 1), stage);
  }
  net->add("avgpool", std::make_shared<AdaptiveAvgPool2d>(1, 1));
  net->add("flatten", std::make_shared<Flatten>());
  net->add("fc", std::make_shared<Linear>(2048, num_classes, gen));
  Model m;
  m.name = "resnet50";
  m.net = net;
  m.in_channels = 3;
  m.image_size = 224;
  m.num_classes = num_classes;
  // Every stage ends in a ReLU, so its output is already the analysed (post-ReLU) activation;
  // fc (the logits) gets one applied by the analysis, as the other models' last layer.
  m.layers = {{"conv1", "relu", false},   {"layer1", "layer1", false}, {"layer2", "layer2", false},
              {"layer3", "layer3", false}, {"layer4", "layer4", false}, {"avgpool", "avgpool", false},
              {"fc", "fc", true}};
  return m;
}

}  // namespace ml::models
