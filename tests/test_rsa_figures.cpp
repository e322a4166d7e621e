// The mirror study's remaining figures (issue 19, item 6): the symmetry-plane score (2—S1).
#include <cmath>
#include <vector>

#include "engine/generator.h"
#include "experiments/analysis/channel_average.h"
#include "experiments/analysis/image_symmetry.h"
#include "experiments/analysis/weight_symmetry.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;

TEST_CASE("symmetry plane: a mirror-symmetric image scores 1 at its axis, noise much less") {
  Generator g(8);
  const int64_t H = 20, W = 20;
  // Symmetric about the line between columns 9 and 10 (x mirrors 19 - x).
  std::vector<float> img(static_cast<size_t>(H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W / 2; ++x) {
      const auto v = static_cast<float>(g.next_uniform());
      img[static_cast<size_t>(y * W + x)] = v;
      img[static_cast<size_t>(y * W + (W - 1 - x))] = v;
    }
  const SymmetryPlane s = symmetry_plane_score(img.data(), H, W);
  CHECK(s.score == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(s.axis == doctest::Approx(9.5));
  // 10 x 30, symmetric about column 12 (x mirrors 24 - x; h = 5 columns each side, all inside):
  // found through that column, with r = 1.
  const int64_t H2 = 10, W2 = 30;
  std::vector<float> off(static_cast<size_t>(H2 * W2));
  for (int64_t y = 0; y < H2; ++y)
    for (int64_t x = 0; x < W2; ++x)
      off[static_cast<size_t>(y * W2 + x)] = static_cast<float>(std::sin(0.7 * static_cast<double>(std::abs(12 - x)) + 0.3 * static_cast<double>(y)));
  const SymmetryPlane so = symmetry_plane_score(off.data(), H2, W2);
  CHECK(so.axis == doctest::Approx(12.0));
  CHECK(so.score == doctest::Approx(1.0).epsilon(1e-6));
  // Independent noise: no axis explains it (|r| of 200 pairs ~ 0.07; max over 39 axes < 0.5).
  std::vector<float> noise(static_cast<size_t>(H * W));
  for (auto& v : noise) v = static_cast<float>(g.next_uniform());
  CHECK(symmetry_plane_score(noise.data(), H, W).score < 0.5);
}

TEST_CASE("weight symmetry: symmetric, antisymmetric and random filters") {
  Generator g(9);
  const int64_t C = 3, k = 5;
  std::vector<float> sym(static_cast<size_t>(C * k * k)), anti(sym.size()), rnd(sym.size());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < k; ++y)
      for (int64_t x = 0; x <= k / 2; ++x) {
        const auto v = static_cast<float>(g.next_uniform() - 0.5);
        sym[static_cast<size_t>((c * k + y) * k + x)] = sym[static_cast<size_t>((c * k + y) * k + (k - 1 - x))] = v;
        anti[static_cast<size_t>((c * k + y) * k + x)] = v;
        anti[static_cast<size_t>((c * k + y) * k + (k - 1 - x))] = x == k / 2 ? 0.f : -v;
      }
  for (auto& v : rnd) v = static_cast<float>(g.next_uniform() - 0.5);
  CHECK(filter_symmetry(sym.data(), C, k, k, false) == doctest::Approx(1.0));
  CHECK(filter_symmetry(anti.data(), C, k, k, false) == doctest::Approx(-1.0));
  // Rows of a left-right symmetric random filter are not symmetric: |r| well below 1.
  CHECK(std::abs(filter_symmetry(sym.data(), C, k, k, true)) < 0.8);
  CHECK(std::abs(filter_symmetry(rnd.data(), C, k, k, false)) < 0.8);
  // A conv weight and the fc fed by its 4 x 4 map (C = 2): both read, the fc as 2 x 4 x 4 filters.
  nn::NamedTensors params = {{"conv.weight", Tensor::from_vector({1, C, k, k}, sym)},
                             {"conv2.weight", Tensor::uniform({2, 1, 3, 3}, -1.f, 1.f, g)},
                             {"fc.weight", Tensor::uniform({7, 2 * 16}, -1.f, 1.f, g)},
                             {"fc2.weight", Tensor::uniform({3, 7}, -1.f, 1.f, g)}};
  const auto layers = weight_symmetry(params);
  REQUIRE(layers.size() == 3);
  CHECK(layers[0].columns.size() == 1);
  CHECK(layers[0].columns[0] == doctest::Approx(1.0));
  CHECK(layers[2].parameter == "fc.weight");
  CHECK(layers[2].C == 2);
  CHECK(layers[2].kh == 4);
  CHECK(layers[2].filters == 7);
}

TEST_CASE("channel average: units z-scored over images then averaged per channel") {
  // 3 images, C = 2 channels of 2 positions. Channel 0: units (1,2,3) and (0,0,6); channel 1:
  // units (5,5,5) (constant: left out) and (2,4,6).
  const Tensor acts = Tensor::from_vector({3, 4}, {1, 0, 5, 2, 2, 0, 5, 4, 3, 6, 5, 6});
  const Tensor avg = channel_average_zscored(acts, 2, 2);
  // z of (1,2,3): (-1.2247, 0, 1.2247); z of (0,0,6): (-0.7071, -0.7071, 1.4142); z of (2,4,6) as the first.
  const double z1[3] = {-std::sqrt(1.5), 0.0, std::sqrt(1.5)}, z2[3] = {-std::sqrt(0.5), -std::sqrt(0.5), std::sqrt(2.0)};
  for (int i = 0; i < 3; ++i) {
    CHECK(avg.data()[i * 2] == doctest::Approx((z1[i] + z2[i]) / 2).epsilon(1e-6));
    CHECK(avg.data()[i * 2 + 1] == doctest::Approx(z1[i]).epsilon(1e-6));
  }
  // A dead channel (every unit constant) is left out and reported; none left is an error.
  const Tensor dead = Tensor::from_vector({2, 4}, {1, 1, 3, 4, 1, 1, 5, 4});
  std::vector<int64_t> kept;
  const Tensor one = channel_average_zscored(dead, 2, 2, &kept);
  CHECK(kept == std::vector<int64_t>{1});
  CHECK(one.shape() == Shape{2, 1});
  const Tensor flat = Tensor::from_vector({2, 2}, {1, 1, 1, 1});
  CHECK(testing::contains(testing::error_of([&] { channel_average_zscored(flat, 1, 2); }), "every unit of every channel is constant"));
}
