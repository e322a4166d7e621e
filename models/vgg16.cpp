#include "models/vgg16.h"

#include "engine/nn/layers.h"

namespace ml::models {

using namespace ml::nn;

Model vgg16(int64_t num_classes, Generator& gen, uint64_t dropout_seed, const Vgg16Widths& w) {
  const int64_t* b = w.block;
  const int64_t cfg[] = {b[0], b[0], 0, b[1], b[1], 0, b[2], b[2], b[2], 0,
                         b[3], b[3], b[3], 0, b[4], b[4], b[4], 0};  // 0 = pool
  for (int i = 0; i < 5; ++i) ML_CHECK(b[i] >= 1, "vgg16: block ", i + 1, " width must be >= 1, got ", b[i]);
  ML_CHECK(w.fc >= 1 && w.pool >= 1, "vgg16: fc width and pool size must be >= 1");
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
  cls->add(std::make_shared<Linear>(b[4] * w.pool * w.pool, w.fc, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Dropout>(0.5f, stream_seed(dropout_seed, 0)))
      .add(std::make_shared<Linear>(w.fc, w.fc, gen))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<Dropout>(0.5f, stream_seed(dropout_seed, 1)))
      .add(std::make_shared<Linear>(w.fc, num_classes, gen));
  auto net = std::make_shared<Sequential>();
  net->add("features", f);
  net->add("avgpool", std::make_shared<AdaptiveAvgPool2d>(w.pool, w.pool));
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
