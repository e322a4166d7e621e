#include "models/vgg_small.h"

#include "engine/nn/layers.h"

namespace ml::models {

using namespace ml::nn;

Model vgg_small(int64_t in_channels, int64_t image_size, int64_t num_classes, Generator& gen, uint64_t dropout_seed,
                bool paper_variant) {
  ML_CHECK(in_channels == 1 || in_channels == 3, "vgg_small: in_channels must be 1 or 3, got ", in_channels);
  ML_CHECK(image_size >= 20, "vgg_small: image_size ", image_size, " is too small for four unpadded 3x3 convs");
  auto net = std::make_shared<Sequential>();
  // Spatial size through the unpadded convs and pools.
  int64_t s = image_size;
  net->add("conv1_1", std::make_shared<Conv2d>(in_channels, 32, 3, gen));
  net->add("relu1_1", std::make_shared<ReLU>());
  net->add("bn1_1", std::make_shared<BatchNorm2d>(32));
  net->add("conv1_2", std::make_shared<Conv2d>(32, 32, 3, gen));
  net->add("relu1_2", std::make_shared<ReLU>());
  s -= 4;
  if (!paper_variant) {
    net->add("pool1", std::make_shared<MaxPool2d>(2));
    s /= 2;
  }
  net->add("conv2_1", std::make_shared<Conv2d>(32, 64, 3, gen));
  net->add("relu2_1", std::make_shared<ReLU>());
  net->add("bn2_1", std::make_shared<BatchNorm2d>(64));
  net->add("conv2_2", std::make_shared<Conv2d>(64, 128, 3, gen));
  net->add("relu2_2", std::make_shared<ReLU>());
  net->add("pool2", std::make_shared<MaxPool2d>(2));
  s = (s - 4) / 2;
  ML_CHECK(s >= 1, "vgg_small: image_size ", image_size, " leaves no spatial extent before the classifier");
  const int64_t fc1 = paper_variant ? 128 : 256, fc2 = 256;
  net->add("flatten", std::make_shared<Flatten>());
  net->add("fc1", std::make_shared<Linear>(128 * s * s, fc1, gen));
  net->add("relu_fc1", std::make_shared<ReLU>());
  net->add("drop1", std::make_shared<Dropout>(0.5f, stream_seed(dropout_seed, 0)));
  net->add("fc2", std::make_shared<Linear>(fc1, fc2, gen));
  net->add("relu_fc2", std::make_shared<ReLU>());
  net->add("drop2", std::make_shared<Dropout>(0.5f, stream_seed(dropout_seed, 1)));
  net->add("fc3", std::make_shared<Linear>(fc2, num_classes, gen));

  Model m;
  m.name = paper_variant ? "vgg_small_paper" : "vgg_small";
  m.net = net;
  m.in_channels = in_channels;
  m.image_size = image_size;
  m.num_classes = num_classes;
  // Analysed layers, each followed by ReLU (SCIENCE.md): conv layers and fc1/fc2 have a ReLU
  // module after them; fc3 (the logits) gets one applied by the analysis.
  m.layers = {{"conv1_1", "relu1_1", false}, {"conv1_2", "relu1_2", false}, {"conv2_1", "relu2_1", false},
              {"conv2_2", "relu2_2", false}, {"fc1", "relu_fc1", false},    {"fc2", "relu_fc2", false},
              {"fc3", "fc3", true}};
  return m;
}

}  // namespace ml::models
