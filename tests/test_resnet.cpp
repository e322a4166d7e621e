// ResNet-50 in torchvision's layout (models/resnet50): parameter count, state-dict names and
// shapes as torchvision's, stage shapes, and the study's analysis taps.
#include <doctest/doctest.h>

#include <map>

#include "engine/autograd.h"
#include "models/model.h"

using namespace ml;

TEST_CASE("resnet50: torchvision's parameter count, state-dict names and shapes") {
  models::Model m = models::make_model("resnet50");
  // torchvision.models.resnet50().parameters(): 25,557,032 numbers in 161 tensors; its state dict
  // adds running_mean, running_var and num_batches_tracked for each of the 53 batch norms.
  CHECK(m.net->parameter_count() == 25557032);
  const auto params = m.net->named_parameters();
  CHECK(params.size() == 161);
  const auto sd = m.net->state_dict();
  CHECK(sd.size() == 161 + 3 * 53);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : sd) shapes[name] = t.shape();
  const std::map<std::string, Shape> want = {
      {"conv1.weight", {64, 3, 7, 7}},
      {"bn1.running_var", {64}},
      {"layer1.0.conv1.weight", {64, 64, 1, 1}},
      {"layer1.0.conv2.weight", {64, 64, 3, 3}},
      {"layer1.0.conv3.weight", {256, 64, 1, 1}},
      {"layer1.0.downsample.0.weight", {256, 64, 1, 1}},
      {"layer1.0.downsample.1.num_batches_tracked", {}},
      {"layer2.0.conv2.weight", {128, 128, 3, 3}},
      {"layer2.0.downsample.0.weight", {512, 256, 1, 1}},
      {"layer3.5.bn3.bias", {1024}},
      {"layer4.2.conv3.weight", {2048, 512, 1, 1}},
      {"fc.weight", {1000, 2048}},
      {"fc.bias", {1000}}};
  for (const auto& [name, shape] : want) {
    REQUIRE_MESSAGE(shapes.count(name) == 1, name);
    CHECK_MESSAGE(shapes[name] == shape, name);
  }
  // Only the first block of each stage has a downsample branch.
  CHECK(shapes.count("layer1.1.downsample.0.weight") == 0);
  CHECK(shapes.count("layer4.1.downsample.0.weight") == 0);
  // No conv carries a bias (torchvision: bias=False before every batch norm).
  CHECK(shapes.count("conv1.bias") == 0);
  CHECK(shapes.count("layer1.0.conv1.bias") == 0);
}

TEST_CASE("resnet50: stage shapes at 224 and 64 px, and the analysis taps") {
  models::ModelOptions o;
  o.num_classes = 7;
  models::Model m = models::make_model("resnet50", o);
  m.net->eval();
  NoGradGuard ng;
  Generator gen(1);
  const std::vector<std::string> taps = {"relu", "layer1", "layer2", "layer3", "layer4", "avgpool"};
  {
    nn::ActivationCapture cap(*m.net, taps);
    const Tensor y = (*m.net)(Tensor::normal({1, 3, 224, 224}, 0.f, 1.f, gen));
    CHECK(y.shape() == Shape{1, 7});
    CHECK(cap["relu"].shape() == Shape{1, 64, 112, 112});
    CHECK(cap["layer1"].shape() == Shape{1, 256, 56, 56});
    CHECK(cap["layer2"].shape() == Shape{1, 512, 28, 28});
    CHECK(cap["layer3"].shape() == Shape{1, 1024, 14, 14});
    CHECK(cap["layer4"].shape() == Shape{1, 2048, 7, 7});
    CHECK(cap["avgpool"].shape() == Shape{1, 2048, 1, 1});
    // Each stage ends in a ReLU.
    for (float v : cap["layer3"].to_vector()) REQUIRE(v >= 0.f);
  }
  // Adaptive pooling serves other sizes: 64 px -> a 2x2 layer4.
  nn::ActivationCapture cap(*m.net, {"layer4"});
  (*m.net)(Tensor::normal({2, 3, 64, 64}, 0.f, 1.f, gen));
  CHECK(cap["layer4"].shape() == Shape{2, 2048, 2, 2});
  std::vector<std::string> names;
  for (const auto& l : m.layers) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"conv1", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"});
  CHECK_THROWS_WITH_AS(models::make_model("resnet50", {0, 1}), doctest::Contains("3-channel"), std::exception);
}
