// tests/test_flip_correlation.cpp — the symmetry study's transformations (engine/ops/flip.cpp:
// hflip, vflip, rot90) and the RDM building blocks (engine/ops/correlation.cpp: zscore,
// row_normalize, corrcoef, rdm).
//
// Flips and rotations are permutations of pixels: every comparison is exact (values, group
// laws, gradients). The correlation ops accumulate in double (kernels/cpu/correlation.cpp);
// their tolerances are stated where they are used.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

namespace {

// testing::gradcheck marks its inputs requires_grad and accumulates into their .grad, so
// every call gets its own copies.
Tensor fresh(const Tensor& t) { return t.detach().clone(); }

// Distinct values 1, 2, 3, ... (a misplaced pixel cannot hide).
Tensor iota(const Shape& s) { return Tensor::arange(shape_numel(s), 1.f).reshape(s); }

// Where pixel (a, b) of an H x W plane lands after k counter-clockwise quarter turns
// (np.rot90 on the last two axes): k = 1 sends the top-right corner to the top-left.
std::pair<int64_t, int64_t> rot_dest(int64_t a, int64_t b, int64_t H, int64_t W, int k) {
  switch (((k % 4) + 4) % 4) {
    case 0: return {a, b};
    case 1: return {W - 1 - b, a};
    case 2: return {H - 1 - a, W - 1 - b};
    default: return {b, H - 1 - a};
  }
}

// y = rot90(x, k) built by moving every pixel of x to rot_dest.
std::vector<float> rot90_ref(const Tensor& x, int k) {
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const bool odd = ((k % 4) + 4) % 4 % 2 == 1;
  const int64_t Ho = odd ? W : H, Wo = odd ? H : W;
  const auto xv = x.to_vector();
  std::vector<float> y(xv.size(), NAN);
  for (int64_t pl = 0; pl < NC; ++pl)
    for (int64_t a = 0; a < H; ++a)
      for (int64_t b = 0; b < W; ++b) {
        const auto [i, j] = rot_dest(a, b, H, W, k);
        y[static_cast<size_t>(pl * Ho * Wo + i * Wo + j)] = xv[static_cast<size_t>(pl * H * W + a * W + b)];
      }
  return y;
}

std::vector<float> flip_ref(const Tensor& x, bool horizontal) {
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const auto xv = x.to_vector();
  std::vector<float> y(xv.size());
  for (int64_t pl = 0; pl < NC; ++pl)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        y[static_cast<size_t>((pl * H + i) * W + j)] =
            horizontal ? xv[static_cast<size_t>((pl * H + i) * W + (W - 1 - j))]
                       : xv[static_cast<size_t>((pl * H + (H - 1 - i)) * W + j)];
  return y;
}

// Pearson correlation between rows, in double.
std::vector<double> pearson_ref(const Tensor& x) {
  const int64_t R = x.size(0), F = x.size(1);
  const auto xv = x.to_vector();
  std::vector<std::vector<double>> c(static_cast<size_t>(R), std::vector<double>(static_cast<size_t>(F)));
  std::vector<double> nrm(static_cast<size_t>(R));
  for (int64_t i = 0; i < R; ++i) {
    double m = 0;
    for (int64_t j = 0; j < F; ++j) m += xv[static_cast<size_t>(i * F + j)];
    m /= static_cast<double>(F);
    double ss = 0;
    for (int64_t j = 0; j < F; ++j) {
      c[i][j] = xv[static_cast<size_t>(i * F + j)] - m;
      ss += c[i][j] * c[i][j];
    }
    nrm[i] = std::sqrt(ss);
  }
  std::vector<double> r(static_cast<size_t>(R * R));
  for (int64_t i = 0; i < R; ++i)
    for (int64_t k = 0; k < R; ++k) {
      double s = 0;
      for (int64_t j = 0; j < F; ++j) s += c[i][j] * c[k][j];
      r[static_cast<size_t>(i * R + k)] = s / (nrm[i] * nrm[k]);
    }
  return r;
}

}  // namespace

TEST_CASE("hflip, vflip and rot90 move every pixel where the index maps say") {
  const Tensor x = iota({2, 3, 4, 5});  // non-square planes
  CHECK(hflip(x).to_vector() == flip_ref(x, true));
  CHECK(vflip(x).to_vector() == flip_ref(x, false));
  CHECK(hflip(x).shape() == x.shape());
  for (int k : {0, 1, 2, 3, -1, -2, -3, 4, 5, 7, -6}) {
    INFO("k = ", k);
    const Tensor y = rot90(x, k);
    const bool odd = ((k % 4) + 4) % 4 % 2 == 1;
    CHECK(y.shape() == (odd ? Shape{2, 3, 5, 4} : Shape{2, 3, 4, 5}));
    CHECK(y.to_vector() == rot90_ref(x, k));
  }
  // Random values too (not only increasing ones), element by element.
  Generator gen(51);
  const Tensor r = testing::rand({2, 3, 4, 5}, gen);
  CHECK(rot90(r, 1).to_vector() == rot90_ref(r, 1));
  CHECK(hflip(r).to_vector() == flip_ref(r, true));
}

TEST_CASE("rot90 follows np.rot90: a hand example") {
  // np.rot90([[1,2,3],[4,5,6]]) == [[3,6],[2,5],[1,4]]  (counter-clockwise)
  const Tensor x = Tensor::from_vector({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor y = rot90(x, 1);
  CHECK(y.shape() == Shape{1, 1, 3, 2});
  CHECK(y.to_vector() == std::vector<float>{3, 6, 2, 5, 1, 4});
  // np.rot90(x, -1) == [[4,1],[5,2],[6,3]]  (clockwise); np.rot90(x, 2) == [[6,5,4],[3,2,1]]
  CHECK(rot90(x, -1).to_vector() == std::vector<float>{4, 1, 5, 2, 6, 3});
  CHECK(rot90(x, 2).to_vector() == std::vector<float>{6, 5, 4, 3, 2, 1});
  CHECK(hflip(x).to_vector() == std::vector<float>{3, 2, 1, 6, 5, 4});
  CHECK(vflip(x).to_vector() == std::vector<float>{4, 5, 6, 1, 2, 3});
}

TEST_CASE("flips and quarter turns obey the group laws exactly") {
  Generator gen(52);
  const Tensor x = testing::rand({2, 3, 4, 5}, gen);
  CHECK(testing::equal(hflip(hflip(x)), x));
  CHECK(testing::equal(vflip(vflip(x)), x));
  CHECK(testing::equal(rot90(rot90(rot90(rot90(x)))), x));
  CHECK(testing::equal(rot90(x, 4), x));
  CHECK(testing::equal(rot90(x, 0), x));
  CHECK(testing::equal(rot90(x, 2), hflip(vflip(x))));
  CHECK(testing::equal(rot90(x, 2), vflip(hflip(x))));
  CHECK(testing::equal(rot90(x, 2), rot90(rot90(x, 1), 1)));
  CHECK(testing::equal(rot90(x, -1), rot90(x, 3)));
  CHECK(testing::equal(rot90(rot90(x, 1), -1), x));
  CHECK(testing::equal(rot90(x, 5), rot90(x, 1)));
  // A mirror conjugates a rotation into its inverse: h r h = r^-1.
  CHECK(testing::equal(hflip(rot90(hflip(x), 1)), rot90(x, -1)));
}

TEST_CASE("flip and rot90 gradients are the inverse permutations, exactly") {
  Generator gen(53);
  const int64_t H = 4, W = 5;
  for (int k : {1, 2, 3, -1, 0}) {
    INFO("k = ", k);
    Tensor x = testing::rand({2, 3, H, W}, gen);
    x.requires_grad_(true);
    const Tensor y = rot90(x, k);
    const Tensor g = testing::rand(y.shape(), gen);
    y.backward(g);
    CHECK(testing::equal(x.grad(), rot90(g, -k)));
    // And by index arithmetic: pixel (a, b) of x went to rot_dest(a, b), so its gradient is read there.
    const auto gv = g.to_vector(), gx = x.grad().to_vector();
    const int64_t Wo = y.size(3), HWo = y.size(2) * y.size(3);
    bool ok = true;
    for (int64_t pl = 0; pl < 6; ++pl)
      for (int64_t a = 0; a < H; ++a)
        for (int64_t b = 0; b < W; ++b) {
          const auto [i, j] = rot_dest(a, b, H, W, k);
          ok = ok && gx[static_cast<size_t>(pl * H * W + a * W + b)] == gv[static_cast<size_t>(pl * HWo + i * Wo + j)];
        }
    CHECK(ok);
  }
  for (bool horizontal : {true, false}) {
    Tensor x = testing::rand({2, 3, H, W}, gen);
    x.requires_grad_(true);
    const Tensor g = testing::rand({2, 3, H, W}, gen);
    (horizontal ? hflip(x) : vflip(x)).backward(g);
    CHECK(x.grad().to_vector() == flip_ref(g, horizontal));
  }
  const Tensor s = testing::rand({1, 2, 3, 4}, gen);
  testing::gradcheck([](const std::vector<Tensor>& in) { return hflip(in[0]); }, {fresh(s)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return vflip(in[0]); }, {fresh(s)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return rot90(in[0], 1); }, {fresh(s)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return rot90(in[0], -1); }, {fresh(s)});
}

TEST_CASE("flips and rot90 reject non-4-D input") {
  const Tensor x = Tensor::ones({3, 4, 5});
  expect_parts(error_of([&] { hflip(x); }), {"hflip", "(3, 4, 5)"});
  expect_parts(error_of([&] { vflip(x); }), {"vflip", "(3, 4, 5)"});
  expect_parts(error_of([&] { rot90(x); }), {"rot90", "(3, 4, 5)"});
}

TEST_CASE("zscore: columns get mean 0 and population std 1, and a constant column gives 0") {
  Generator gen(54);
  const int64_t rows = 10, cols = 6;
  auto xv = testing::rand({rows, cols}, gen, -2.f, 3.f).to_vector();
  for (int64_t i = 0; i < rows; ++i) xv[static_cast<size_t>(i * cols + 3)] = 2.5f;  // constant column 3
  const Tensor x = Tensor::from_vector({rows, cols}, xv);
  const Tensor z = zscore(x);
  REQUIRE(z.shape() == x.shape());
  const auto zv = z.to_vector();
  for (int64_t u = 0; u < cols; ++u) {
    INFO("column ", u);
    double m = 0, v = 0, xm = 0, xs = 0;
    for (int64_t i = 0; i < rows; ++i) {
      m += zv[static_cast<size_t>(i * cols + u)];
      xm += xv[static_cast<size_t>(i * cols + u)];
    }
    m /= rows;
    xm /= rows;
    for (int64_t i = 0; i < rows; ++i) {
      v += (zv[static_cast<size_t>(i * cols + u)] - m) * (zv[static_cast<size_t>(i * cols + u)] - m);
      xs += (xv[static_cast<size_t>(i * cols + u)] - xm) * (xv[static_cast<size_t>(i * cols + u)] - xm);
    }
    const double sd = std::sqrt(v / rows);  // population std (divide by n, not n - 1)
    if (u == 3) {
      for (int64_t i = 0; i < rows; ++i) CHECK(zv[static_cast<size_t>(i * cols + u)] == 0.f);
      continue;
    }
    // Each z is the double value rounded once (2^-24 relative, |z| < 3): mean and std are
    // within ~1e-7 of 0 and 1.
    CHECK(std::fabs(m) <= 1e-6);
    CHECK(std::fabs(sd - 1.0) <= 1e-6);
    // Against the definition element by element: one rounding, so 1 ulp.
    const double xsd = std::sqrt(xs / rows);
    for (int64_t i = 0; i < rows; ++i) {
      const double ref = (xv[static_cast<size_t>(i * cols + u)] - xm) / xsd;
      CHECK(std::fabs(zv[static_cast<size_t>(i * cols + u)] - ref) <= 0x1p-23 * std::fabs(ref) + 1e-12);
    }
  }
  // One item: every column is constant.
  CHECK(zscore(Tensor::from_vector({1, 3}, {1.f, 2.f, 3.f})).to_vector() == std::vector<float>{0.f, 0.f, 0.f});
  expect_parts(error_of([&] { zscore(Tensor::ones({4})); }), {"zscore", "(4)"});
}

TEST_CASE("corrcoef is Pearson r between rows and rdm = 1 - r") {
  Generator gen(55);
  const int64_t R = 6, F = 40;
  auto xv = testing::rand({R, F}, gen, -1.f, 2.f).to_vector();
  for (int64_t j = 0; j < F; ++j) {
    xv[static_cast<size_t>(1 * F + j)] = 2.f * xv[static_cast<size_t>(j)] + 1.f;  // r(0, 1) = 1
    xv[static_cast<size_t>(2 * F + j)] = -0.5f * xv[static_cast<size_t>(j)];      // r(0, 2) = -1
  }
  const Tensor x = Tensor::from_vector({R, F}, xv);
  const auto ref = pearson_ref(x);
  const Tensor r = corrcoef(x);
  REQUIRE(r.shape() == Shape{R, R});
  const auto rv = r.to_vector();
  // r_ij = <u_i, u_j> as a float32 dot product of F terms of unit vectors: the rounding of the
  // unit vectors (2^-24 each, two factors) and of the F-term sum (<= F * 2^-24 * sum|u_i u_j|
  // <= F * 2^-24 by Cauchy-Schwarz) bound the error by (F + 4) * 2^-24 ~ 2.6e-6.
  const double tol = (F + 4) * 0x1p-24;
  for (int64_t i = 0; i < R; ++i)
    for (int64_t k = 0; k < R; ++k) {
      const size_t ik = static_cast<size_t>(i * R + k), ki = static_cast<size_t>(k * R + i);
      CHECK_MESSAGE(std::fabs(rv[ik] - ref[ik]) <= tol, "r(", i, ", ", k, ") = ", rv[ik], " vs ", ref[ik]);
      CHECK_MESSAGE(std::fabs(rv[ik] - rv[ki]) <= tol, "asymmetric at (", i, ", ", k, ")");
    }
  for (int64_t i = 0; i < R; ++i) CHECK(std::fabs(rv[static_cast<size_t>(i * R + i)] - 1.0) <= tol);
  CHECK(std::fabs(rv[1] - 1.0) <= tol);
  CHECK(std::fabs(rv[2] + 1.0) <= tol);

  // rdm is 1 - r: exactly the float subtraction, and close to the double reference.
  const auto dv = rdm(x).to_vector();
  for (size_t i = 0; i < dv.size(); ++i) {
    CHECK(dv[i] == 1.f - rv[i]);
    CHECK(std::fabs(dv[i] - (1.0 - ref[i])) <= tol + 0x1p-23);
  }
  // Pearson r is invariant to per-row affine changes with positive scale.
  std::vector<float> yv(xv);
  for (int64_t j = 0; j < F; ++j) yv[static_cast<size_t>(3 * F + j)] = 3.f * xv[static_cast<size_t>(3 * F + j)] - 2.f;
  const auto rv2 = corrcoef(Tensor::from_vector({R, F}, yv)).to_vector();
  for (size_t i = 0; i < rv.size(); ++i) CHECK(std::fabs(rv2[i] - rv[i]) <= 2 * tol);

  expect_parts(error_of([&] { corrcoef(Tensor::ones({4})); }), {"(4)"});
  expect_parts(error_of([&] { row_normalize(Tensor::ones({3, 1})); }), {"row_normalize", "(3, 1)"});
}

TEST_CASE("row_normalize centres each row and scales it to unit norm") {
  Generator gen(56);
  const Tensor x = testing::rand({4, 7}, gen, -1.f, 3.f);
  const auto xv = x.to_vector(), uv = row_normalize(x).to_vector();
  for (size_t i = 0; i < 4; ++i) {
    double m = 0, ss = 0, um = 0, un = 0;
    for (size_t j = 0; j < 7; ++j) m += xv[i * 7 + j];
    m /= 7;
    for (size_t j = 0; j < 7; ++j) ss += (xv[i * 7 + j] - m) * (xv[i * 7 + j] - m);
    for (size_t j = 0; j < 7; ++j) {
      const double ref = (xv[i * 7 + j] - m) / std::sqrt(ss);
      CHECK(std::fabs(uv[i * 7 + j] - ref) <= 0x1p-23 * std::fabs(ref) + 1e-12);  // one rounding
      um += uv[i * 7 + j];
      un += static_cast<double>(uv[i * 7 + j]) * uv[i * 7 + j];
    }
    CHECK(std::fabs(um) <= 1e-6);
    CHECK(std::fabs(un - 1.0) <= 1e-6);
  }
}

TEST_CASE("zscore, row_normalize, corrcoef and rdm gradients") {
  // Random uniform rows and columns are far from constant (std ~ 0.6 against the step 1e-2),
  // so these functions are smooth on the gradcheck's scale.
  Generator gen(57);
  testing::gradcheck([](const std::vector<Tensor>& in) { return zscore(in[0]); }, {testing::rand({6, 4}, gen)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return row_normalize(in[0]); }, {testing::rand({3, 6}, gen)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return corrcoef(in[0]); }, {testing::rand({4, 6}, gen)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return rdm(in[0]); }, {testing::rand({3, 5}, gen)});
}
