// ConvNeXt-Tiny and ViT-B/16 in torchvision's layout (models/convnext_tiny, models/vit_b_16):
// parameter counts, state-dict names and shapes as torchvision's, forward shapes at the taps,
// and the named error for an input size the position embedding cannot serve.
#include <doctest/doctest.h>

#include <map>

#include "engine/autograd.h"
#include "models/model.h"
#include "tests/testing.h"

using namespace ml;

namespace {

std::map<std::string, Shape> state_shapes(const models::Model& m) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : m.net->state_dict()) shapes[name] = t.shape();
  return shapes;
}

void check_keys(std::map<std::string, Shape>& shapes, const std::map<std::string, Shape>& want) {
  for (const auto& [name, shape] : want) {
    REQUIRE_MESSAGE(shapes.count(name) == 1, name);
    CHECK_MESSAGE(shapes[name] == shape, name, ": ", shape_str(shapes[name]), " vs torchvision's ", shape_str(shape));
  }
}

}  // namespace

TEST_CASE("convnext_tiny: torchvision's parameter count, state-dict names and shapes") {
  models::Model m = models::make_model("convnext_tiny");
  // torchvision.models.convnext_tiny(): 28,589,128 parameters, no buffers. Tensors: stem 4,
  // 18 blocks x 9 (layer_scale, depthwise conv w/b, norm w/b, two linears w/b), 3 downsamplings
  // x 4, classifier 4: 182.
  CHECK(m.net->parameter_count() == 28589128);
  CHECK(m.net->named_parameters().size() == 182);
  CHECK(m.net->named_buffers().empty());
  auto shapes = state_shapes(m);
  check_keys(shapes, {{"features.0.0.weight", {96, 3, 4, 4}},
                      {"features.0.0.bias", {96}},
                      {"features.0.1.weight", {96}},
                      {"features.1.0.layer_scale", {96, 1, 1}},
                      {"features.1.0.block.0.weight", {96, 1, 7, 7}},
                      {"features.1.0.block.2.bias", {96}},
                      {"features.1.0.block.3.weight", {384, 96}},
                      {"features.1.2.block.5.weight", {96, 384}},
                      {"features.2.0.weight", {96}},
                      {"features.2.1.weight", {192, 96, 2, 2}},
                      {"features.5.8.block.3.bias", {1536}},
                      {"features.6.1.weight", {768, 384, 2, 2}},
                      {"features.7.2.layer_scale", {768, 1, 1}},
                      {"classifier.0.weight", {768}},
                      {"classifier.2.weight", {1000, 768}},
                      {"classifier.2.bias", {1000}}});
  CHECK(shapes.count("features.5.9.block.0.weight") == 0);  // stage 3 has 9 blocks: 0..8
}

TEST_CASE("convnext_tiny: stage shapes at 64 px and the analysis taps") {
  models::ModelOptions o;
  o.num_classes = 5;
  models::Model m = models::make_model("convnext_tiny", o);
  m.net->eval();
  NoGradGuard ng;
  Generator gen(2);
  nn::ActivationCapture cap(*m.net, {"features.0", "features.1", "features.3", "features.5", "features.7", "avgpool"});
  const Tensor y = (*m.net)(Tensor::normal({2, 3, 64, 64}, 0.f, 1.f, gen));
  CHECK(y.shape() == Shape{2, 5});
  CHECK(cap["features.0"].shape() == Shape{2, 96, 16, 16});
  CHECK(cap["features.1"].shape() == Shape{2, 96, 16, 16});
  CHECK(cap["features.3"].shape() == Shape{2, 192, 8, 8});
  CHECK(cap["features.5"].shape() == Shape{2, 384, 4, 4});
  CHECK(cap["features.7"].shape() == Shape{2, 768, 2, 2});
  CHECK(cap["avgpool"].shape() == Shape{2, 768, 1, 1});
  // The stem ends in LayerNorm2d with weight 1, bias 0: every pixel's 96 channels have mean 0
  // and (biased) variance 1 (up to eps 1e-6 and float rounding).
  const auto s = cap["features.0"].to_vector();
  for (int64_t p : {0, 17, 255}) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < 96; ++c) mean += s[static_cast<size_t>(c * 256 + p)];
    mean /= 96;
    for (int64_t c = 0; c < 96; ++c) var += (s[static_cast<size_t>(c * 256 + p)] - mean) * (s[static_cast<size_t>(c * 256 + p)] - mean);
    var /= 96;
    CHECK(std::fabs(mean) < 1e-5);
    CHECK(var == doctest::Approx(1.0).epsilon(1e-3));
  }
  std::vector<std::string> names;
  for (const auto& l : m.layers) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"stem", "stage1", "stage2", "stage3", "stage4", "avgpool", "classifier"});
  for (const auto& l : m.layers) CHECK_MESSAGE(m.net->find_module(l.module) != nullptr, l.module);
}

TEST_CASE("vit_b_16: torchvision's parameter count, state-dict names and shapes") {
  models::Model m = models::make_model("vit_b_16");
  // torchvision.models.vit_b_16(): 86,567,656 parameters in 152 tensors (class token, conv_proj 2,
  // pos_embedding, 12 layers x 12, encoder.ln 2, head 2), no buffers.
  CHECK(m.net->parameter_count() == 86567656);
  CHECK(m.net->named_parameters().size() == 152);
  CHECK(m.net->named_buffers().empty());
  auto shapes = state_shapes(m);
  check_keys(shapes, {{"class_token", {1, 1, 768}},
                      {"conv_proj.weight", {768, 3, 16, 16}},
                      {"conv_proj.bias", {768}},
                      {"encoder.pos_embedding", {1, 197, 768}},
                      {"encoder.layers.encoder_layer_0.ln_1.weight", {768}},
                      {"encoder.layers.encoder_layer_0.self_attention.in_proj_weight", {2304, 768}},
                      {"encoder.layers.encoder_layer_0.self_attention.in_proj_bias", {2304}},
                      {"encoder.layers.encoder_layer_5.self_attention.out_proj.weight", {768, 768}},
                      {"encoder.layers.encoder_layer_5.self_attention.out_proj.bias", {768}},
                      {"encoder.layers.encoder_layer_11.ln_2.bias", {768}},
                      {"encoder.layers.encoder_layer_11.mlp.0.weight", {3072, 768}},
                      {"encoder.layers.encoder_layer_11.mlp.3.weight", {768, 3072}},
                      {"encoder.layers.encoder_layer_11.mlp.3.bias", {768}},
                      {"encoder.ln.weight", {768}},
                      {"heads.head.weight", {1000, 768}},
                      {"heads.head.bias", {1000}}});
  CHECK(shapes.count("encoder.layers.encoder_layer_12.ln_1.weight") == 0);
}

TEST_CASE("vit_b_16: forward shapes at the taps, and an image size the position embedding cannot serve") {
  // image_size 32: a 2x2 grid of patches, position embedding (1, 5, 768); the layout is the same.
  models::ModelOptions o;
  o.num_classes = 3;
  o.image_size = 32;
  models::Model m = models::make_model("vit_b_16", o);
  m.net->eval();
  NoGradGuard ng;
  Generator gen(3);
  std::vector<std::string> modules;
  for (const auto& l : m.layers) modules.push_back(l.module);
  nn::ActivationCapture cap(*m.net, modules);
  const Tensor y = (*m.net)(Tensor::normal({2, 3, 32, 32}, 0.f, 1.f, gen));
  CHECK(y.shape() == Shape{2, 3});
  REQUIRE(m.layers.size() == 14);
  for (int i = 0; i < 12; ++i) {
    CHECK(m.layers[static_cast<size_t>(i)].name == "block" + std::to_string(i + 1));
    CHECK(cap[m.layers[static_cast<size_t>(i)].module].shape() == Shape{2, 5, 768});
  }
  CHECK(m.layers[12].name == "class_token");
  CHECK(cap["class_token_output"].shape() == Shape{2, 768});
  // The class token tap is row 0 of encoder.ln's output.
  nn::ActivationCapture cap2(*m.net, {"encoder.ln"});
  (*m.net)(Tensor::normal({2, 3, 32, 32}, 0.f, 1.f, gen));
  CHECK(cap2["encoder.ln"].shape() == Shape{2, 5, 768});
  // A 48 px image would need 10 positions; the embedding has 5: a named error with both sizes.
  const std::string e = testing::error_of([&] { (*m.net)(Tensor::normal({1, 3, 48, 48}, 0.f, 1.f, gen)); });
  testing::expect_parts(e, {"vit_b_16", "position embedding", "5 positions", "(N, 3, 32, 32)", "48"});
  CHECK_THROWS_WITH_AS(models::make_model("vit_b_16", {0, 0, 100}), doctest::Contains("multiple of 16"),
                       std::exception);
}

TEST_CASE("vit_b_16: a 224 px forward gives 197 tokens per block") {
  models::Model m = models::make_model("vit_b_16");
  m.net->eval();
  NoGradGuard ng;
  Generator gen(4);
  nn::ActivationCapture cap(*m.net, {"encoder.layers.encoder_layer_11", "class_token_output"});
  const Tensor y = (*m.net)(Tensor::normal({1, 3, 224, 224}, 0.f, 1.f, gen));
  CHECK(y.shape() == Shape{1, 1000});
  CHECK(cap["encoder.layers.encoder_layer_11"].shape() == Shape{1, 197, 768});
  CHECK(cap["class_token_output"].shape() == Shape{1, 768});
  const std::string e = testing::error_of([&] { (*m.net)(Tensor::normal({1, 3, 240, 240}, 0.f, 1.f, gen)); });
  testing::expect_parts(e, {"vit_b_16", "197 positions", "(N, 3, 224, 224)"});
}
