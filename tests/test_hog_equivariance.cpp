// HOG in the equivariance study (experiments/analysis/equivariance_study.h with
// experiments/fixed_models.h hog_map_transform): with the channel permutation applied together
// with the grid move, UoCTTI HOG reads as exactly equivariant under h-flip, v-flip and rot90
// (n = 8, image sides a multiple of the cell, 8-bit images); with the grid move alone it does not.
#include <cmath>

#include "experiments/analysis/equivariance_study.h"
#include "experiments/fixed_models.h"
#include "tests/testing.h"

using namespace ml;

namespace {

// N images (N, 1, S, S) of 8-bit values / 255.
Tensor eight_bit_images(int64_t N, int64_t S, Generator& g) {
  std::vector<float> v(static_cast<size_t>(N * S * S));
  for (float& x : v) x = static_cast<float>(g.next_below(256)) / 255.f;
  return Tensor::from_vector({N, 1, S, S}, v);
}

// Mean per-image r of the equivariance rows, one per transform.
std::vector<double> equivariance_means(analysis::AnalysisNet& net, const Tensor& images, const analysis::EquivarianceOptions& o) {
  const auto rows = analysis::run_equivariance(net, {"hog"}, [&](int64_t a, int64_t b) { return images.slice(a, b).clone(); },
                                               images.size(0), o);
  std::vector<double> means;
  for (const auto& r : rows) {
    if (r.measure != "equivariance") continue;
    double s = 0;
    for (double v : r.per_image) s += v;
    means.push_back(s / static_cast<double>(r.per_image.size()));
  }
  return means;
}

}  // namespace

TEST_CASE("hog equivariance: the channel permutation with the grid move makes UoCTTI HOG exactly equivariant") {
  experiments::FixedModelOptions f;
  f.hog.orientations = 8;
  analysis::NetSpec spec;
  spec.model = "hog";
  spec.image_size = 32;  // 4 x 4 cells of 8 px
  analysis::AnalysisNet net = experiments::load_fixed_model(spec, f);
  Generator g(17);
  const Tensor images = eight_bit_images(12, 32, g);
  analysis::EquivarianceOptions o;
  o.batch = 5;
  o.progress = false;
  o.map_transform = experiments::hog_map_transform("hog", f);
  REQUIRE(o.map_transform);
  const auto exact = equivariance_means(net, images, o);
  REQUIRE(exact.size() == 3);  // hflip, vflip, rot90
  // HOG(g x) equals the permuted, moved HOG(x) to float rounding (tests/test_hog.cpp: 1e-5 on
  // values <= 0.2 + ...); z-scored over 12 images and correlated over ~1e3 units, r = 1 to 1e-6.
  for (double r : exact) CHECK(r > 1 - 1e-6);
  // The grid moved without the permutation: orientation bins land on the wrong channels.
  o.map_transform = nullptr;
  for (double r : equivariance_means(net, images, o)) CHECK(r < 0.9);
  // Odd n keeps the exact flips but has no rot90 table (grid move only, and not exact).
  f.hog.orientations = 9;
  f.hog.bilinear_orientations = true;  // n = 9 hard breaks flips on 8-bit images (the trap)
  analysis::AnalysisNet net9 = experiments::load_fixed_model(spec, f);
  o.map_transform = experiments::hog_map_transform("hog", f);
  const auto odd = equivariance_means(net9, images, o);
  CHECK(odd[0] > 1 - 1e-6);
  CHECK(odd[1] > 1 - 1e-6);
  CHECK(odd[2] < 0.9);
  // Not HOG: no map transform.
  CHECK_FALSE(experiments::hog_map_transform("hmax", f));
}

TEST_CASE("hog equivariance: the Dalal-Triggs permutation with the grid move makes it exactly equivariant") {
  experiments::FixedModelOptions f;
  f.hog_variant = "dalal_triggs";
  f.hog.orientations = 8;
  analysis::NetSpec spec;
  spec.model = "hog";
  spec.image_size = 40;  // 5 x 5 cells of 8 px, 4 x 4 blocks of 2 x 2 cells
  analysis::AnalysisNet net = experiments::load_fixed_model(spec, f);
  // Noise inside a constant 1-px frame: no gradient lies on a bin edge (models/hog.h: on the
  // border scikit-image's zeroed derivatives would put them at 0/90 deg and break the flips).
  Generator g(18);
  const int64_t N = 12, S = 40;
  std::vector<float> v = testing::rand({N, 1, S, S}, g, 0.f, 1.f).to_vector();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t r = 0; r < S; ++r)
      for (int64_t c = 0; c < S; ++c)
        if (r == 0 || c == 0 || r == S - 1 || c == S - 1) v[static_cast<size_t>((i * S + r) * S + c)] = 0.5f;
  const Tensor images = Tensor::from_vector({N, 1, S, S}, v);
  analysis::EquivarianceOptions o;
  o.batch = 5;
  o.progress = false;
  o.map_transform = experiments::hog_map_transform("hog", f);
  REQUIRE(o.map_transform);
  const auto exact = equivariance_means(net, images, o);
  REQUIRE(exact.size() == 3);  // hflip, vflip, rot90
  // Equal to float rounding (tests/test_hog_dalal_triggs.cpp: 1e-5); over 12 images and 576
  // units, r = 1 to 1e-6.
  for (double r : exact) CHECK(r > 1 - 1e-6);
  o.map_transform = nullptr;  // the grid moved, the channels not
  for (double r : equivariance_means(net, images, o)) CHECK(r < 0.9);
}
