// VGG-Face (models/matconvnet.h, tools/vggface_convert.cpp): a narrow VGG16 written here as a
// MatConvNet simplenn .mat through libmatio (layer structs with `weights` = {filters, biases}
// cells, HWIO single filters, meta.normalization), converted, loaded into the engine's vgg16,
// and its forward compared with a plain-loop forward in MatConvNet's own conventions (images
// H x W x C, filters H x W x in x out, fc6 a convolution over pool5's map), computed from the
// arrays written to the .mat. Bad files give named errors listing what was expected.
#include <doctest/doctest.h>
#include <matio.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "experiments/analysis/activations.h"
#include "models/matconvnet.h"
#include "models/model.h"
#include "tests/testing.h"

using namespace ml;
using ml::testing::error_of;
using ml::testing::expect_parts;
using ml::testing::TempDir;

namespace {

// One MatConvNet layer as written: type, name, and for a conv its HWIO filters and biases.
struct MLayer {
  MLayer(std::string t, std::string n) : type(std::move(t)), name(std::move(n)) {}
  std::string type, name;
  std::vector<float> filters;  // MATLAB column-major H x W x I x O
  size_t H = 0, W = 0, I = 0, O = 0;
  std::vector<float> biases;
  double pad = 0, stride = 1;
};

matvar_t* mat_char(const std::string& s) {
  size_t dims[2] = {1, s.size()};
  return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UTF8, 2, dims, const_cast<char*>(s.data()), 0);
}
matvar_t* mat_row(const std::vector<double>& v) {
  size_t dims[2] = {1, v.size()};
  return Mat_VarCreate(nullptr, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, const_cast<double*>(v.data()), 0);
}
matvar_t* mat_single(std::vector<size_t> dims, const std::vector<float>& v) {
  return Mat_VarCreate(nullptr, MAT_C_SINGLE, MAT_T_SINGLE, static_cast<int>(dims.size()), dims.data(),
                       const_cast<float*>(v.data()), 0);
}

matvar_t* mat_layer(const MLayer& l) {
  const char* fields[] = {"name", "type", "weights", "pad", "stride", "method", "pool"};
  size_t one[2] = {1, 1};
  matvar_t* s = Mat_VarCreateStruct(nullptr, 2, one, fields, 7);
  Mat_VarSetStructFieldByName(s, "name", 0, mat_char(l.name));
  Mat_VarSetStructFieldByName(s, "type", 0, mat_char(l.type));
  if (l.type == "conv") {
    size_t two[2] = {1, 2};
    matvar_t* w = Mat_VarCreate(nullptr, MAT_C_CELL, MAT_T_CELL, 2, two, nullptr, 0);
    Mat_VarSetCell(w, 0, mat_single({l.H, l.W, l.I, l.O}, l.filters));
    Mat_VarSetCell(w, 1, mat_single({1, l.O}, l.biases));
    Mat_VarSetStructFieldByName(s, "weights", 0, w);
    Mat_VarSetStructFieldByName(s, "pad", 0, mat_row({l.pad, l.pad, l.pad, l.pad}));
    Mat_VarSetStructFieldByName(s, "stride", 0, mat_row({l.stride, l.stride}));
  } else if (l.type == "pool") {
    Mat_VarSetStructFieldByName(s, "method", 0, mat_char("max"));
    Mat_VarSetStructFieldByName(s, "pool", 0, mat_row({2, 2}));
    Mat_VarSetStructFieldByName(s, "stride", 0, mat_row({2, 2}));
    Mat_VarSetStructFieldByName(s, "pad", 0, mat_row({0, 0, 0, 0}));
  }
  return s;
}

// vgg-face.mat's layout: variables `layers` (1 x L cell of structs) and `meta` (a struct
// with normalization.averageImage 1x1x3 and imageSize).
void write_simplenn(const std::string& path, const std::vector<MLayer>& layers, const std::vector<float>& avg,
                    double image_size) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  REQUIRE(mat != nullptr);
  size_t dims[2] = {1, layers.size()};
  matvar_t* cell = Mat_VarCreate("layers", MAT_C_CELL, MAT_T_CELL, 2, dims, nullptr, 0);
  for (size_t i = 0; i < layers.size(); ++i) Mat_VarSetCell(cell, static_cast<int>(i), mat_layer(layers[i]));
  REQUIRE(Mat_VarWrite(mat, cell, MAT_COMPRESSION_NONE) == 0);
  Mat_VarFree(cell);
  const char* nf[] = {"averageImage", "imageSize"};
  size_t one[2] = {1, 1};
  matvar_t* norm = Mat_VarCreateStruct(nullptr, 2, one, nf, 2);
  Mat_VarSetStructFieldByName(norm, "averageImage", 0, mat_single({1, 1, 3}, avg));
  Mat_VarSetStructFieldByName(norm, "imageSize", 0, mat_row({image_size, image_size, 3, 1}));
  const char* mf[] = {"normalization"};
  matvar_t* meta = Mat_VarCreateStruct("meta", 2, one, mf, 1);
  Mat_VarSetStructFieldByName(meta, "normalization", 0, norm);
  REQUIRE(Mat_VarWrite(mat, meta, MAT_COMPRESSION_NONE) == 0);
  Mat_VarFree(meta);
  Mat_Close(mat);
}

// A VGG16 of widths w (configuration D's sequence) with random filters, in MatConvNet's names,
// with the dropout layers and the final softmax vgg-face.mat has.
std::vector<MLayer> random_vgg16(const models::Vgg16Widths& w, size_t classes, Generator& gen) {
  std::vector<MLayer> ls;
  const int per_block[5] = {2, 2, 3, 3, 3};
  auto conv = [&](const std::string& name, size_t k, size_t in, size_t out, double pad) {
    MLayer l("conv", name);
    l.H = l.W = k, l.I = in, l.O = out, l.pad = pad;
    const Tensor f = Tensor::normal({static_cast<int64_t>(k * k * in * out)}, 0.f, 1.f / std::sqrt(float(k * k * in)), gen);
    l.filters.assign(f.data(), f.data() + f.numel());
    const Tensor b = Tensor::normal({static_cast<int64_t>(out)}, 0.f, 0.1f, gen);
    l.biases.assign(b.data(), b.data() + b.numel());
    ls.push_back(l);
  };
  size_t in = 3;
  for (int b = 0; b < 5; ++b) {
    for (int c = 1; c <= per_block[b]; ++c) {
      const std::string id = std::to_string(b + 1) + "_" + std::to_string(c);
      conv("conv" + id, 3, in, static_cast<size_t>(w.block[b]), 1);
      ls.emplace_back("relu", "relu" + id);
      in = static_cast<size_t>(w.block[b]);
    }
    ls.emplace_back("pool", "pool" + std::to_string(b + 1));
  }
  conv("fc6", static_cast<size_t>(w.pool), in, static_cast<size_t>(w.fc), 0);
  ls.emplace_back("relu", "relu6");
  ls.emplace_back("dropout", "dropout6");
  conv("fc7", 1, static_cast<size_t>(w.fc), static_cast<size_t>(w.fc), 0);
  ls.emplace_back("relu", "relu7");
  ls.emplace_back("dropout", "dropout7");
  conv("fc8", 1, static_cast<size_t>(w.fc), classes, 0);
  ls.emplace_back("softmax", "prob");
  return ls;
}

// MatConvNet's forward in plain loops on an H x W x C image (column-major, as MATLAB holds it):
// conv = correlation with zero padding, relu, 2x2/2 max pool; fc layers are valid convolutions.
// Returns fc8's output (before softmax).
std::vector<double> matconvnet_forward(const std::vector<MLayer>& ls, std::vector<double> x, size_t H, size_t W,
                                       size_t C) {
  auto at = [](const std::vector<double>& a, size_t h, size_t y, size_t w, size_t xx, size_t c) {
    (void)w;
    return a[y + h * (xx + w * c)];
  };
  for (const MLayer& l : ls) {
    if (l.type == "conv") {
      const size_t p = static_cast<size_t>(l.pad), Ho = H + 2 * p - l.H + 1, Wo = W + 2 * p - l.W + 1;
      std::vector<double> y(Ho * Wo * l.O);
      for (size_t o = 0; o < l.O; ++o)
        for (size_t oy = 0; oy < Ho; ++oy)
          for (size_t ox = 0; ox < Wo; ++ox) {
            double s = l.biases[o];
            for (size_t i = 0; i < l.I; ++i)
              for (size_t ky = 0; ky < l.H; ++ky)
                for (size_t kx = 0; kx < l.W; ++kx) {
                  const long iy = long(oy + ky) - long(p), ix = long(ox + kx) - long(p);
                  if (iy < 0 || ix < 0 || iy >= long(H) || ix >= long(W)) continue;
                  s += double(l.filters[ky + l.H * (kx + l.W * (i + l.I * o))]) *
                       at(x, H, size_t(iy), W, size_t(ix), i);
                }
            y[oy + Ho * (ox + Wo * o)] = s;
          }
      x = std::move(y), H = Ho, W = Wo, C = l.O;
    } else if (l.type == "relu") {
      for (double& v : x) v = std::max(v, 0.0);
    } else if (l.type == "pool") {
      const size_t Ho = H / 2, Wo = W / 2;
      std::vector<double> y(Ho * Wo * C);
      for (size_t c = 0; c < C; ++c)
        for (size_t oy = 0; oy < Ho; ++oy)
          for (size_t ox = 0; ox < Wo; ++ox) {
            double m = -1e300;
            for (size_t d = 0; d < 4; ++d) m = std::max(m, at(x, H, 2 * oy + d / 2, W, 2 * ox + d % 2, c));
            y[oy + Ho * (ox + Wo * c)] = m;
          }
      x = std::move(y), H = Ho, W = Wo;
    }
  }
  return x;
}

models::Vgg16Widths narrow() {
  models::Vgg16Widths w;
  const int64_t b[5] = {2, 3, 4, 4, 5};
  std::copy(b, b + 5, w.block);
  w.fc = 6;
  w.pool = 2;  // a 64-pixel image leaves pool5 2x2: fc6's flattening order is exercised
  return w;
}

}  // namespace

TEST_CASE("vggface: a synthetic MatConvNet .mat round-trips into vgg16 and matches MatConvNet's forward") {
  TempDir dir("vggface");
  Generator gen(22);
  const models::Vgg16Widths w = narrow();
  const size_t classes = 7, S = 64;
  const std::vector<MLayer> ls = random_vgg16(w, classes, gen);
  const std::vector<float> avg = {129.1863f, 104.7624f, 93.5940f};
  write_simplenn(dir.file("net.mat"), ls, avg, double(S));

  const models::MatConvNetVgg16 read = models::read_matconvnet_vgg16(dir.file("net.mat"));
  for (int b = 0; b < 5; ++b) CHECK(read.widths.block[b] == w.block[b]);
  CHECK(read.widths.fc == w.fc);
  CHECK(read.widths.pool == w.pool);
  CHECK(read.num_classes == int64_t(classes));
  CHECK(read.image_size == int64_t(S));
  CHECK(read.average_image == avg);
  models::write_matconvnet_weights(read, "vggface", dir.file("net.safetensors"), "net.mat");

  // The written file: the model JSON the analysis programs read, with MatConvNet's input range.
  const SafetensorsFile f = load_safetensors(dir.file("net.safetensors"));
  const analysis::NetMetadata meta = analysis::parse_net_metadata(f.metadata.at("model"), "net.safetensors");
  CHECK(meta.name == "vggface");
  CHECK(meta.num_classes == int64_t(classes));
  REQUIRE(meta.has_normalization);
  for (int c = 0; c < 3; ++c) {
    CHECK(meta.normalization.mean[size_t(c)] == doctest::Approx(avg[size_t(c)] / 255.0).epsilon(1e-6));
    CHECK(meta.normalization.std[size_t(c)] == doctest::Approx(1 / 255.0).epsilon(1e-6));
  }

  Generator g2(3);
  models::Model m = models::vgg16(int64_t(classes), g2, 1, w);
  models::load_weights(*m.net, f, "net.safetensors");  // every name and shape must match
  m.net->eval();

  // An image in [0, 1]; both sides see MatConvNet's input 255 x - avg.
  const Tensor img = Tensor::uniform({1, 3, int64_t(S), int64_t(S)}, 0.f, 1.f, gen);
  std::vector<double> x(S * S * 3);
  std::vector<float> xin(S * S * 3);
  for (size_t c = 0; c < 3; ++c)
    for (size_t y = 0; y < S; ++y)
      for (size_t xx = 0; xx < S; ++xx) {
        const double v = 255.0 * img.data()[(c * S + y) * S + xx] - avg[c];
        x[y + S * (xx + S * c)] = v;                  // MATLAB H x W x C
        xin[(c * S + y) * S + xx] = static_cast<float>(v);  // engine (1, C, H, W)
      }
  const std::vector<double> want = matconvnet_forward(ls, x, S, S, 3);
  REQUIRE(want.size() == classes);
  NoGradGuard ng;
  const Tensor got = (*m.net)(Tensor::from_vector({1, 3, int64_t(S), int64_t(S)}, xin));
  REQUIRE(got.numel() == int64_t(classes));
  // float32 through 16 layers of sums over <= 45 terms against a double reference: relative
  // error ~1e-6 per layer; 1e-4 of the output scale leaves room without hiding a wrong index
  // (a transposed filter or a (C,H,W) vs (H,W,C) flattening changes outputs by O(1)).
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  REQUIRE(scale > 0);
  for (size_t k = 0; k < classes; ++k) CHECK(std::fabs(got.data()[k] - want[k]) <= 1e-4 * scale);

  // The narrow net is a VGG16 but not VGG-Face: the check names each difference.
  expect_parts(error_of([&] { models::check_vggface(read, "net.mat"); }),
               {"net.mat", "not VGG-Face", "block 1 has 2 channels (VGG-Face: 64)", "fc8 has 7 outputs (VGG-Face: 2622"});
}

TEST_CASE("vggface: files that are not a MatConvNet VGG16 give named errors listing what was expected") {
  TempDir dir("vggface_bad");
  Generator gen(5);
  SUBCASE("not a .mat file") {
    write_text_atomic(dir.file("x.mat"), "hello");
    expect_parts(error_of([&] { models::read_matconvnet_vgg16(dir.file("x.mat")); }),
                 {"x.mat", "not a readable MATLAB .mat file", "expected a MatConvNet simplenn VGG16"});
  }
  SUBCASE("a .mat that is not a network") {
    mat_t* mat = Mat_CreateVer(dir.file("data.mat").c_str(), nullptr, MAT_FT_MAT5);
    REQUIRE(mat != nullptr);
    std::vector<double> v = {1, 2, 3};
    size_t dims[2] = {1, 3};
    matvar_t* X = Mat_VarCreate("X", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, v.data(), 0);
    REQUIRE(Mat_VarWrite(mat, X, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(X);
    Mat_Close(mat);
    expect_parts(error_of([&] { models::read_matconvnet_vgg16(dir.file("data.mat")); }),
                 {"data.mat", "is not a MatConvNet network", "no cell array 'layers'", "X (double 1x3)",
                  "expected a MatConvNet simplenn VGG16"});
  }
  SUBCASE("another architecture: a conv missing") {
    std::vector<MLayer> ls = random_vgg16(narrow(), 7, gen);
    ls.erase(std::find_if(ls.begin(), ls.end(), [](const MLayer& l) { return l.name == "conv3_3"; }));
    write_simplenn(dir.file("short.mat"), ls, {1, 2, 3}, 64);
    expect_parts(error_of([&] { models::read_matconvnet_vgg16(dir.file("short.mat")); }),
                 {"short.mat", "not the VGG16 architecture", "is a 'relu', where a 'conv' was due",
                  "expected a MatConvNet simplenn VGG16", "conv3_2(conv) relu3_2(relu) relu3_3(relu) pool3(pool)"});
  }
  SUBCASE("another architecture: 1x1 filters where 3x3 are due") {
    std::vector<MLayer> ls = random_vgg16(narrow(), 7, gen);
    ls[0].H = ls[0].W = 1;  // 3x3x3x2 numbers reread as 1x1x27x2: the in-channel check fires first
    ls[0].I = 27;
    write_simplenn(dir.file("k.mat"), ls, {1, 2, 3}, 64);
    expect_parts(error_of([&] { models::read_matconvnet_vgg16(dir.file("k.mat")); }),
                 {"k.mat", "not the VGG16 architecture", "'conv1_1' has 1x1 filters, not 3x3"});
  }
}

TEST_CASE("vggface: make_model builds VGG16 with 2,622 outputs and VGG-Face's input range") {
  // One build (145 M parameters): through load_analysis_net, which calls make_model("vggface").
  analysis::NetSpec spec;
  spec.model = "vggface";
  spec.untrained = true;
  const analysis::AnalysisNet net = analysis::load_analysis_net(spec);
  const models::Model& m = net.model;
  CHECK(m.name == "vggface");
  CHECK(m.num_classes == 2622);
  // VGG16's 138,357,544 parameters with fc8 4096x1000+1000 replaced by 4096x2622+2622.
  CHECK(m.net->parameter_count() == 138357544 - 4097 * 1000 + 4097 * 2622);
  CHECK(m.layer("fc8").module == "classifier.6");
  CHECK(net.norm.source == "vggface");
  CHECK(net.norm.mean[0] == doctest::Approx(129.1863 / 255).epsilon(1e-6));
  CHECK(net.norm.std[2] == doctest::Approx(1.0 / 255).epsilon(1e-6));
}
