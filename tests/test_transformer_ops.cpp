// tests/test_transformer_ops.cpp — the ops ConvNeXt and ViT add to the engine: exact GELU
// (kernels/cpu/elementwise.cpp), layer_norm over the last dimension (engine/ops/layer_norm.cpp)
// and transpose of two dimensions (kernels/cpu/transpose.cpp), each against a plain loop in
// double and, for the gradient, central finite differences (testing::gradcheck, default
// tolerance, testing.h explains it).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

TEST_CASE("gelu: exact erf form against a double loop, and its gradient") {
  Generator gen(31);
  const Tensor x = rand({4001}, gen, -6.f, 6.f);
  const auto xv = x.to_vector(), yv = gelu(x).to_vector();
  // Tolerance: y = 0.5 x (1 + erf(x/sqrt 2)). The kernel's erf (a rational in double,
  // kernels/cpu/elementwise.cpp) is within 1e-7 absolute, which 0.5 x scales: |err| <= 5e-8 |x|,
  // plus the final rounding to float (<= 1 ulp of y). Allowed: 2e-7 |x| + 1e-6 |ref| (set for
  // erff's ~2 ulps; the same rational evaluated in float reached 4.5e-7 and failed it).
  // The tanh approximation (approximate='tanh') differs from the exact form by up to ~1e-3,
  // far outside this.
  int bad = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double xd = xv[i];
    const double ref = 0.5 * xd * (1.0 + std::erf(xd / std::sqrt(2.0)));
    const bool ok = std::fabs(yv[i] - ref) <= 2e-7 * std::fabs(xd) + 1e-6 * std::fabs(ref);
    if (!ok && bad++ < 3) CHECK_MESSAGE(ok, "x = ", xd, ": got ", yv[i], ", reference ", ref);
  }
  CHECK_MESSAGE(bad == 0, bad, " of ", xv.size(), " elements differ from the reference");
  // Known values (torch.nn.functional.gelu in double): gelu(1) = 0.8413447460685429,
  // gelu(-1) = -0.15865525393145707.
  const auto k = gelu(Tensor::from_vector({2}, {1.f, -1.f})).to_vector();
  CHECK(k[0] == doctest::Approx(0.8413447460685429).epsilon(1e-6));
  CHECK(k[1] == doctest::Approx(-0.15865525393145707).epsilon(1e-6));
  gradcheck([](const std::vector<Tensor>& v) { return gelu(v[0]); }, {rand({3, 50}, gen, -4.f, 4.f)});
}

namespace {

// layer_norm written out in double: per row of the last dimension.
std::vector<double> layer_norm_ref(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const auto xv = x.to_vector();
  const int64_t C = x.size(x.dim() - 1), rows = x.numel() / C;
  const std::vector<float> wv = w.defined() ? w.to_vector() : std::vector<float>(C, 1.f);
  const std::vector<float> bv = b.defined() ? b.to_vector() : std::vector<float>(C, 0.f);
  std::vector<double> y(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0.0, v = 0.0;
    for (int64_t c = 0; c < C; ++c) m += xv[r * C + c];
    m /= C;
    for (int64_t c = 0; c < C; ++c) v += (xv[r * C + c] - m) * (xv[r * C + c] - m);
    v /= C;  // biased, as PyTorch's layer_norm
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = (xv[r * C + c] - m) / std::sqrt(v + eps) * wv[c] + bv[c];
  }
  return y;
}

}  // namespace

TEST_CASE("layer_norm: over the last dimension against a double loop, gradients and bad shapes") {
  Generator gen(32);
  for (const Shape& s : std::vector<Shape>{{2, 3, 4, 96}, {5, 7}, {1, 197, 64}}) {
    // An offset and a spread per row so that the mean subtraction and the scale both matter.
    const Tensor x = add(mul(rand(s, gen, -1.f, 1.f), 3.f), 2.f);
    const int64_t C = s.back();
    const Tensor w = rand({C}, gen, 0.5f, 1.5f), b = rand({C}, gen, -0.5f, 0.5f);
    for (bool affine : {true, false}) {
      const Tensor y = affine ? layer_norm(x, w, b, 1e-6f) : layer_norm(x, {}, {}, 1e-6f);
      REQUIRE(y.shape() == s);
      const auto ref = layer_norm_ref(x, affine ? w : Tensor{}, affine ? b : Tensor{}, 1e-6);
      const auto yv = y.to_vector();
      // Tolerance: the normalised values are O(1) (|y| <= sqrt(C)); mean and variance are float
      // sums of C <= 197 terms (relative error <= ~C * 6e-8 worst case, far less typically) and
      // five more float operations per element: 2e-5 absolute covers that; a biased/unbiased
      // variance mix-up is off by a factor sqrt(C/(C-1)), i.e. >= 2.5e-3 for C <= 197.
      double worst = 0.0;
      for (size_t i = 0; i < yv.size(); ++i) worst = std::max(worst, std::fabs(yv[i] - ref[i]));
      CHECK_MESSAGE(worst <= 2e-5, "layer_norm ", shape_str(s), " affine ", affine, ": max error ", worst);
    }
  }
  // eps matters where the variance is small: a constant-ish row with eps 1e-6 vs 1e-5.
  {
    const Tensor x = Tensor::from_vector({1, 4}, {1.f, 1.001f, 0.999f, 1.f});
    const auto y6 = layer_norm(x, {}, {}, 1e-6f).to_vector();
    const auto ref6 = layer_norm_ref(x, {}, {}, 1e-6);
    for (size_t i = 0; i < 4; ++i) CHECK(y6[i] == doctest::Approx(ref6[i]).epsilon(1e-3));
  }
  gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2], 1e-6f); },
            {rand({3, 4, 8}, gen), rand({8}, gen, 0.5f, 1.5f), rand({8}, gen)});
  expect_parts(error_of([&] { layer_norm(rand({2, 8}, gen), rand({7}, gen), {}); }),
               {"layer_norm", "weight", "(8)"});
  expect_parts(error_of([&] { layer_norm(rand({2, 8}, gen), {}, rand({2, 8}, gen)); }), {"layer_norm", "bias"});
}

TEST_CASE("transpose: every pair of dimensions against a loop, bit for bit, and its gradient") {
  Generator gen(33);
  const Shape s = {2, 3, 4, 5};
  const Tensor x = rand(s, gen);
  const auto xv = x.to_vector();
  for (int64_t d0 = 0; d0 < 4; ++d0)
    for (int64_t d1 = 0; d1 < 4; ++d1) {
      const Tensor y = transpose(x, d0, d1);
      Shape os = s;
      std::swap(os[static_cast<size_t>(d0)], os[static_cast<size_t>(d1)]);
      REQUIRE(y.shape() == os);
      const auto yv = y.to_vector();
      // The loop: y[i with i[d0], i[d1] swapped] == x[i] for every multi-index i of x.
      int bad = 0;
      int64_t i[4];
      for (i[0] = 0; i[0] < s[0]; ++i[0])
        for (i[1] = 0; i[1] < s[1]; ++i[1])
          for (i[2] = 0; i[2] < s[2]; ++i[2])
            for (i[3] = 0; i[3] < s[3]; ++i[3]) {
              int64_t j[4] = {i[0], i[1], i[2], i[3]};
              std::swap(j[d0], j[d1]);
              const int64_t xo = ((i[0] * s[1] + i[1]) * s[2] + i[2]) * s[3] + i[3];
              const int64_t yo = ((j[0] * os[1] + j[1]) * os[2] + j[2]) * os[3] + j[3];
              if (yv[static_cast<size_t>(yo)] != xv[static_cast<size_t>(xo)]) ++bad;
            }
      CHECK_MESSAGE(bad == 0, "transpose(", d0, ", ", d1, "): ", bad, " elements misplaced");
    }
  CHECK(equal(transpose(x, -1, 1), transpose(x, 1, 3)));
  CHECK(equal(transpose(transpose(x, 0, 2), 2, 0), x));
  gradcheck([](const std::vector<Tensor>& v) { return transpose(v[0], 1, 3); }, {rand({2, 3, 4, 5}, gen)});
  gradcheck([](const std::vector<Tensor>& v) { return transpose(v[0], 0, 1); }, {rand({6, 7}, gen)});
  expect_parts(error_of([&] { transpose(x, 0, 4); }), {"transpose", "dimension 4"});
}
