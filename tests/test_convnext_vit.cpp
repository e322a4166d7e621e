// ConvNeXt-Tiny and ViT-B/16 in torchvision's layout (models/convnext_tiny, models/vit_b_16):
// parameter counts, state-dict names and shapes as torchvision's, forward shapes at the taps,
// and the named error for an input size the position embedding cannot serve.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "engine/autograd.h"
#include "models/model.h"
#include "models/vit_b_16.h"
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

namespace {

// nn.MultiheadAttention's self-attention written out in double loops: x (N, L, D).
std::vector<double> attention_ref(const Tensor& x, const Tensor& wi, const Tensor& bi, const Tensor& wo,
                                  const Tensor& bo, int64_t H) {
  const int64_t N = x.size(0), L = x.size(1), D = x.size(2), hd = D / H;
  const auto xv = x.to_vector(), wiv = wi.to_vector(), biv = bi.to_vector(), wov = wo.to_vector(),
             bov = bo.to_vector();
  std::vector<double> y(static_cast<size_t>(N * L * D));
  for (int64_t n = 0; n < N; ++n) {
    // qkv[l][j] = sum_c x[n, l, c] wi[j, c] + bi[j], j in [0, 3D)
    std::vector<double> qkv(static_cast<size_t>(L * 3 * D));
    for (int64_t l = 0; l < L; ++l)
      for (int64_t j = 0; j < 3 * D; ++j) {
        double a = biv[static_cast<size_t>(j)];
        for (int64_t c = 0; c < D; ++c) a += xv[static_cast<size_t>((n * L + l) * D + c)] * wiv[static_cast<size_t>(j * D + c)];
        qkv[static_cast<size_t>(l * 3 * D + j)] = a;
      }
    std::vector<double> o(static_cast<size_t>(L * D));
    for (int64_t h = 0; h < H; ++h)
      for (int64_t l = 0; l < L; ++l) {
        std::vector<double> s(static_cast<size_t>(L));
        double mx = -1e300, z = 0;
        for (int64_t m = 0; m < L; ++m) {
          double a = 0;
          for (int64_t d = 0; d < hd; ++d)
            a += qkv[static_cast<size_t>(l * 3 * D + h * hd + d)] * qkv[static_cast<size_t>(m * 3 * D + D + h * hd + d)];
          s[static_cast<size_t>(m)] = a / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[static_cast<size_t>(m)]);
        }
        for (auto& v : s) z += (v = std::exp(v - mx));
        for (int64_t d = 0; d < hd; ++d) {
          double a = 0;
          for (int64_t m = 0; m < L; ++m)
            a += s[static_cast<size_t>(m)] / z * qkv[static_cast<size_t>(m * 3 * D + 2 * D + h * hd + d)];
          o[static_cast<size_t>(l * D + h * hd + d)] = a;
        }
      }
    for (int64_t l = 0; l < L; ++l)
      for (int64_t j = 0; j < D; ++j) {
        double a = bov[static_cast<size_t>(j)];
        for (int64_t c = 0; c < D; ++c) a += o[static_cast<size_t>(l * D + c)] * wov[static_cast<size_t>(j * D + c)];
        y[static_cast<size_t>((n * L + l) * D + j)] = a;
      }
  }
  return y;
}

}  // namespace

TEST_CASE("vit_b_16: multi-head self-attention against a double loop, and its gradient") {
  Generator gen(5);
  const int64_t N = 2, L = 5, D = 12, H = 3;
  const Tensor x = testing::rand({N, L, D}, gen), wi = testing::rand({3 * D, D}, gen), bi = testing::rand({3 * D}, gen),
               wo = testing::rand({D, D}, gen), bo = testing::rand({D}, gen);
  const auto y = models::multi_head_self_attention(x, wi, bi, wo, bo, H).to_vector();
  const auto ref = attention_ref(x, wi, bi, wo, bo, H);
  // Tolerance: values are O(1) (|y| <~ D); float sums of 12 products, an exp and a softmax
  // normalisation, and two more sums of 12: 1e-5 absolute + 1e-5 relative is ~50 ulps of the
  // largest values. Swapping k and v, or a missing 1/sqrt(hd), changes values by O(0.1).
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(y[i] - ref[i]) - 1e-5 * std::fabs(ref[i]));
  CHECK_MESSAGE(worst <= 1e-5, "max error beyond the relative part: ", worst);
  testing::gradcheck(
      [](const std::vector<Tensor>& v) { return models::multi_head_self_attention(v[0], v[1], v[2], v[3], v[4], 3); },
      {testing::rand({1, 4, 6}, gen), testing::rand({18, 6}, gen), testing::rand({18}, gen), testing::rand({6, 6}, gen),
       testing::rand({6}, gen)});
  testing::expect_parts(testing::error_of([&] { models::multi_head_self_attention(x, wi, bi, wo, bo, 5); }),
                        {"multi_head_self_attention", "12", "5 heads"});
}

TEST_CASE("vit_b_16: the untrained net draws the attention projections from N(0, 1/fan_in) as every other weight") {
  // SCIENCE.md, "Untrained networks": every weight and bias ~ N(0, 1/fan_in). ViT's packed
  // in_proj_weight (2304, 768) is not a Linear module, so it needs its own draw: std 1/sqrt(768)
  // = 0.0361, where torchvision's xavier_uniform gives sqrt(2 / (768 + 2304)) = 0.0255.
  models::ModelOptions o;
  o.untrained = true;
  o.seed = 3;
  models::Model m = models::make_model("vit_b_16", o);
  const double want = 1.0 / std::sqrt(768.0);
  auto sample_std = [](const Tensor& t) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < t.numel(); ++i) s += t.data()[i], s2 += double(t.data()[i]) * t.data()[i];
    const double n = double(t.numel()), mean = s / n;
    return std::sqrt(s2 / n - mean * mean);
  };
  int seen = 0;
  for (const auto& p : m.net->named_parameters()) {
    // 1.77M draws: the sample std's relative standard error is 0.05 %; 2 % tolerance. The bias
    // has 2,304 draws (1.5 % standard error): 6 %, four standard errors.
    if (p.first.find("in_proj_weight") != std::string::npos) {
      CHECK_MESSAGE(std::fabs(sample_std(p.second) / want - 1) < 0.02, p.first);  // relative (doctest's
      ++seen;                                                                      // Approx adds 1 to the scale)
    } else if (p.first.find("in_proj_bias") != std::string::npos) {
      CHECK_MESSAGE(std::fabs(sample_std(p.second) / want - 1) < 0.06, p.first);
    } else if (p.first.find("out_proj.weight") != std::string::npos) {
      CHECK_MESSAGE(std::fabs(sample_std(p.second) / want - 1) < 0.02, p.first);
    }
  }
  CHECK(seen == 12);
}
