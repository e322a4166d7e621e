#include "models/alexnet.h"

#include "engine/nn/layers.h"

namespace ml::models {

using namespace ml::nn;

namespace {
std::shared_ptr<Sequential> classifier(int64_t num_classes, Generator& gen, uint64_t dropout_seed) {
  auto c = std::make_shared<Sequential>();
  c->add(std::make_shared<Dropout>(0.5f, stream_seed(dropout_seed, 0)))
      .add(std::make_shared<Linear>(256 * 6 * 6, 4096, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Dropout>(0.5f, stream_seed(dropout_seed, 1)))
      .add(std::make_shared<Linear>(4096, 4096, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Linear>(4096, num_classes, gen));
  return c;
}

Model assemble(const char* name, std::shared_ptr<Sequential> features, int64_t num_classes, Generator& gen,
               uint64_t dropout_seed, int64_t image_size) {
  auto net = std::make_shared<Sequential>();
  net->add("features", features);
  net->add("avgpool", std::make_shared<AdaptiveAvgPool2d>(6, 6));
  net->add("flatten", std::make_shared<Flatten>());
  net->add("classifier", classifier(num_classes, gen, dropout_seed));
  Model m;
  m.name = name;
  m.net = net;
  m.in_channels = 3;
  m.image_size = image_size;
  m.num_classes = num_classes;
  return m;
}
}  // namespace

Model alexnet(int64_t num_classes, Generator& gen, uint64_t dropout_seed) {
  auto f = std::make_shared<Sequential>();
  f->add(std::make_shared<Conv2d>(3, 64, 11, gen, 4, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(3, 2))
      .add(std::make_shared<Conv2d>(64, 192, 5, gen, 1, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(3, 2))
      .add(std::make_shared<Conv2d>(192, 384, 3, gen, 1, 1))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(384, 256, 3, gen, 1, 1))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(256, 256, 3, gen, 1, 1))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(3, 2));
  Model m = assemble("alexnet", f, num_classes, gen, dropout_seed, 224);
  // conv/fc outputs, their ReLUs (SCIENCE.md: the analysed layers are the ReLU outputs
  // features.1, 4, 7, 9, 11 and classifier.2, 5), and the pools.
  m.layers = {{"conv1", "features.0"},  {"relu1", "features.1"},   {"pool1", "features.2"},
              {"conv2", "features.3"},  {"relu2", "features.4"},   {"pool2", "features.5"},
              {"conv3", "features.6"},  {"relu3", "features.7"},   {"conv4", "features.8"},
              {"relu4", "features.9"},  {"conv5", "features.10"},  {"relu5", "features.11"},
              {"pool5", "features.12"}, {"fc6", "classifier.1"},   {"relu6", "classifier.2"},
              {"fc7", "classifier.4"},  {"relu7", "classifier.5"}, {"fc8", "classifier.6"}};
  return m;
}

Model alexnet_lrn(int64_t num_classes, Generator& gen, uint64_t dropout_seed) {
  auto f = std::make_shared<Sequential>();
  f->add(std::make_shared<Conv2d>(3, 96, 11, gen, 4, 0))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<LocalResponseNorm>(5, 1e-4f, 0.75f, 1.f))
      .add(std::make_shared<MaxPool2d>(3, 2))
      .add(std::make_shared<Conv2d>(96, 256, 5, gen, 1, 2, 1, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<LocalResponseNorm>(5, 1e-4f, 0.75f, 1.f))
      .add(std::make_shared<MaxPool2d>(3, 2))
      .add(std::make_shared<Conv2d>(256, 384, 3, gen, 1, 1))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(384, 384, 3, gen, 1, 1, 1, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Conv2d>(384, 256, 3, gen, 1, 1, 1, 2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(3, 2));
  Model m = assemble("alexnet_lrn", f, num_classes, gen, dropout_seed, 227);
  m.layers = {{"conv1", "features.0"},  {"relu1", "features.1"},   {"pool1", "features.3"},
              {"conv2", "features.4"},  {"relu2", "features.5"},   {"pool2", "features.7"},
              {"conv3", "features.8"},  {"relu3", "features.9"},   {"conv4", "features.10"},
              {"relu4", "features.11"}, {"conv5", "features.12"},  {"relu5", "features.13"},
              {"pool5", "features.14"}, {"fc6", "classifier.1"},   {"relu6", "classifier.2"},
              {"fc7", "classifier.4"},  {"relu7", "classifier.5"}, {"fc8", "classifier.6"}};
  return m;
}

}  // namespace ml::models
