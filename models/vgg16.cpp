#include "models/vgg16.h"

#include "engine/nn/layers.h"

namespace ml::models {

using namespace ml::nn;

Model vgg16(int64_t num_classes, Generator& gen, uint64_t dropout_seed) {
  const int64_t cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};  // 0 = pool
  auto f = std::make_shared<Sequential>();
  Model m;
  int64_t in = 3, block = 1, conv_in_block = 0;
  for (int64_t c : cfg) {
    if (c == 0) {
      m.layers.push_back({"pool" + std::to_string(block), "features." + std::to_string(f->size())});
      f->add(std::make_shared<MaxPool2d>(2, 2));
      ++block;
      conv_in_block = 0;
      continue;
    }
    const std::string name = "conv" + std::to_string(block) + "_" + std::to_string(++conv_in_block);
    m.layers.push_back({name, "features." + std::to_string(f->size())});
    f->add(std::make_shared<Conv2d>(in, c, 3, gen, 1, 1));
    m.layers.push_back({"relu" + name.substr(4), "features." + std::to_string(f->size())});
    f->add(std::make_shared<ReLU>());
    in = c;
  }
  auto cls = std::make_shared<Sequential>();
  cls->add(std::make_shared<Linear>(512 * 7 * 7, 4096, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Dropout>(0.5f, dropout_seed))
      .add(std::make_shared<Linear>(4096, 4096, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Dropout>(0.5f, dropout_seed + 1))
      .add(std::make_shared<Linear>(4096, num_classes, gen));
  auto net = std::make_shared<Sequential>();
  net->add("features", f);
  net->add("avgpool", std::make_shared<AdaptiveAvgPool2d>(7, 7));
  net->add("flatten", std::make_shared<Flatten>());
  net->add("classifier", cls);
  m.layers.insert(m.layers.end(), {{"fc6", "classifier.0"},
                                   {"relu6", "classifier.1"},
                                   {"fc7", "classifier.3"},
                                   {"relu7", "classifier.4"},
                                   {"fc8", "classifier.6"}});
  m.name = "vgg16";
  m.net = net;
  m.in_channels = 3;
  m.image_size = 224;
  m.num_classes = num_classes;
  return m;
}

}  // namespace ml::models
