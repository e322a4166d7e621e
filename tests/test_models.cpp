// Models: parameter counts and names against torchvision, forward shapes, the untrained
// initialisation, and loading weights files.
#include <filesystem>

#include "engine/io/safetensors.h"
#include "engine/nn/layers.h"
#include "models/model.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::models;

TEST_CASE("models: parameter counts equal torchvision's and Caffe's") {
  CHECK(make_model("alexnet").net->parameter_count() == 61100840);      // torchvision.models.alexnet()
  CHECK(make_model("vgg16").net->parameter_count() == 138357544);       // torchvision.models.vgg16()
  CHECK(make_model("alexnet_lrn").net->parameter_count() == 60965224);  // Caffe's bvlc_alexnet
  // vgg_small at 32x32x3: convs 896 + 9248 + 18496 + 73856, BN 2*(32+64), fc 3200*256+256,
  // 256*256+256, 256*10+10.
  CHECK(make_model("vgg_small").net->parameter_count() ==
        896 + 9248 + 18496 + 73856 + 192 + 819456 + 65792 + 2570);
}

TEST_CASE("models: AlexNet's state dict names are torchvision's") {
  std::vector<std::string> names;
  for (auto& [n, t] : make_model("alexnet").net->state_dict()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"features.0.weight", "features.0.bias", "features.3.weight",
                                          "features.3.bias", "features.6.weight", "features.6.bias",
                                          "features.8.weight", "features.8.bias", "features.10.weight",
                                          "features.10.bias", "classifier.1.weight", "classifier.1.bias",
                                          "classifier.4.weight", "classifier.4.bias", "classifier.6.weight",
                                          "classifier.6.bias"});
  auto vgg = make_model("vgg16").net->state_dict();
  CHECK(vgg.front().first == "features.0.weight");
  CHECK(vgg[24].first == "features.28.weight");
  CHECK(vgg.back().first == "classifier.6.bias");
}

TEST_CASE("models: forward shapes and analysis layers") {
  NoGradGuard ng;
  Generator g(1);
  for (auto [ch, size, classes] : {std::tuple{1, 28, 10}, {3, 32, 10}, {3, 32, 20}, {1, 32, 20}}) {
    ModelOptions o;
    o.in_channels = ch;
    o.image_size = size;
    o.num_classes = classes;
    Model m = make_model("vgg_small", o);
    m.net->eval();
    nn::ActivationCapture cap(*m.net, {m.layer("conv2_2").module, m.layer("fc1").module});
    Tensor y = (*m.net)(testing::rand({2, ch, size, size}, g));
    CHECK(y.shape() == Shape{2, classes});
    const int64_t f = size == 28 ? 8 : 10;  // conv2_2's output side
    CHECK(cap[m.layer("conv2_2").module].shape() == Shape{2, 128, f, f});
    CHECK(cap[m.layer("fc1").module].shape() == Shape{2, 256});
  }
  Model p = make_model("vgg_small_paper");
  CHECK((*p.net)(testing::rand({1, 3, 32, 32}, g)).shape() == Shape{1, 10});
  Model a = make_model("alexnet");
  a.net->eval();
  nn::ActivationCapture cap(*a.net, {"features.1", "features.12", "classifier.5"});
  CHECK((*a.net)(testing::rand({1, 3, 224, 224}, g)).shape() == Shape{1, 1000});
  CHECK(cap["features.1"].shape() == Shape{1, 64, 55, 55});
  CHECK(cap["features.12"].shape() == Shape{1, 256, 6, 6});
  CHECK(cap["classifier.5"].shape() == Shape{1, 4096});
  Model lrn = make_model("alexnet_lrn");
  lrn.net->eval();
  CHECK((*lrn.net)(testing::rand({1, 3, 227, 227}, g)).shape() == Shape{1, 1000});
  CHECK_THROWS_WITH_AS(a.layer("conv9"), doctest::Contains("no analysis layer 'conv9'"), Error);
  CHECK_THROWS_WITH_AS(make_model("resnet"), doctest::Contains("unknown model 'resnet'"), Error);
}

TEST_CASE("models: the untrained network has N(0, 1/fan_in) weights and biases, seeded") {
  ModelOptions o;
  o.untrained = true;
  o.seed = 5;
  Model a = make_model("alexnet", o), b = make_model("alexnet", o);
  auto& w = dynamic_cast<nn::Linear&>(*a.net->find_module("classifier.1")).weight;
  CHECK(testing::equal(w, dynamic_cast<nn::Linear&>(*b.net->find_module("classifier.1")).weight));
  const auto v = w.to_vector();
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  // fan_in 9216, n = 37.7M draws: the sample variance is within 0.1 % of 1/9216.
  CHECK(s / v.size() * 9216.0 == doctest::Approx(1.0).epsilon(0.005));
  const auto bias = dynamic_cast<nn::Conv2d&>(*a.net->find_module("features.0")).bias.to_vector();
  double sb = 0;
  for (float x : bias) sb += static_cast<double>(x) * x;
  CHECK(sb / bias.size() * 363.0 == doctest::Approx(1.0).epsilon(0.5));  // 64 draws, fan_in 3*11*11
}

TEST_CASE("models: a torchvision-named safetensors file loads, and a mis-shaped tensor is named") {
  const auto dir = std::filesystem::temp_directory_path() / "mirrorlab_test_models";
  std::filesystem::create_directories(dir);
  ModelOptions o;
  o.seed = 1;
  Model src = make_model("vgg_small", o);
  o.seed = 2;
  Model dst = make_model("vgg_small", o);
  const std::string path = (dir / "vgg_small.safetensors").string();
  save_safetensors(path, src.net->state_dict());
  load_weights(*dst.net, path);
  for (size_t i = 0; i < src.net->state_dict().size(); ++i)
    CHECK(testing::equal(src.net->state_dict()[i].second, dst.net->state_dict()[i].second));

  auto state = src.net->state_dict();
  for (auto& [n, t] : state)
    if (n == "fc1.weight") t = Tensor::zeros({256, 2048});
  const std::string bad = (dir / "bad.safetensors").string();
  save_safetensors(bad, state);
  CHECK_THROWS_WITH_AS(load_weights(*dst.net, bad),
                       doctest::Contains("fc1.weight (model (256, 3200), file (256, 2048))"), Error);
  try {
    load_weights(*dst.net, bad);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("bad.safetensors") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
