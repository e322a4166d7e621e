// tests/test_encoding_features.cpp — the encoding study's layer reduction
// (experiments/analysis/encoding_features.h) against a plain 2-D loop, and the sizes the science
// file pins for OverFeat and the small net.
#include <cmath>

#include "experiments/analysis/encoding_features.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;

TEST_CASE("encoding reduction factors and kept sizes match the pinned tables") {
  // eickenberg2017-encoding.md §2 (OverFeat at 231 px) and §6 (small net at 32 px).
  CHECK(reduction_factor(96, 113, 113, 25000) == 8);
  CHECK(reduced_size({96, 113, 113}, 25000) == 21600);
  CHECK(reduction_factor(256, 31, 31, 25000) == 4);
  CHECK(reduced_size({256, 31, 31}, 25000) == 16384);
  CHECK(reduced_size({512, 15, 15}, 25000) == 12800);
  CHECK(reduced_size({1024, 15, 15}, 25000) == 16384);
  CHECK(reduced_size({4096}, 25000) == 4096);
  CHECK(reduced_size({32, 30, 30}, 25000) == 7200);
  CHECK(reduced_size({32, 28, 28}, 25000) == 6272);
  CHECK(reduced_size({64, 12, 12}, 25000) == 9216);
  CHECK(reduced_size({128, 10, 10}, 25000) == 12800);
}

TEST_CASE("reduce_layer equals a plain 2-D Gaussian blur at the kept grid with signed log1p") {
  Generator g(3);
  const int64_t B = 2, C = 3, H = 11, W = 9, N = 40;  // d = 3 (297 / 9 = 33 <= 40; / 4 = 74 > 40)
  const Tensor x = testing::rand({B, C, H, W}, g, -2.f, 3.f);
  REQUIRE(reduction_factor(C, H, W, N) == 3);
  const Tensor y = reduce_layer(x, N);
  const int64_t Ho = 4, Wo = 3;
  REQUIRE(y.shape() == Shape{B, C * Ho * Wo});
  const auto xv = x.to_vector(), yv = y.to_vector();
  const double sigma = 0.35 * 3;
  const int rad = static_cast<int>(std::ceil(3 * sigma));
  auto refl = [](int i, int n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); };
  double worst = 0;
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < Ho; ++i)
        for (int j = 0; j < Wo; ++j) {
          double s = 0, z = 0;
          for (int u = -rad; u <= rad; ++u)
            for (int v = -rad; v <= rad; ++v) {
              const double w = std::exp(-(u * u + v * v) / (2 * sigma * sigma));
              z += w;
              s += w * xv[static_cast<size_t>(((b * C + c) * H + refl(i * 3 + u, H)) * W + refl(j * 3 + v, W))];
            }
          s /= z;
          const double ref = s >= 0 ? std::log1p(s) : -std::log1p(-s);
          worst = std::max(worst, std::fabs(ref - yv[static_cast<size_t>(b * C * Ho * Wo + (c * Ho + i) * Wo + j)]));
        }
  CHECK(worst <= 1e-5);  // float32 output of a float64 sum of O(1) values
  // A fully connected layer is kept whole, signed log1p only.
  const Tensor fc = Tensor::from_vector({1, 3}, {-2.f, 0.f, 5.f});
  const auto fv = reduce_layer(fc, N).to_vector();
  CHECK(fv[0] == doctest::Approx(-std::log1p(2.0)));
  CHECK(fv[1] == 0.f);
  CHECK(fv[2] == doctest::Approx(std::log1p(5.0)));
}
