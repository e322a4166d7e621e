// The mirror-symmetry study's measures (issue 6, "Checks"; issue 12): the msvt index (both
// definitions), its floors, the transformations, the central masks and the per-image
// correlation, each against tests/study_reference.h, which writes the paper's equations out
// again by plain loops and shares no code with experiments/analysis/.
#include <cmath>

#include "engine/nn/layers.h"
#include "experiments/analysis/equivariance.h"
#include "experiments/analysis/msvt.h"
#include "tests/study_reference.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;
namespace ref = ml::testing::reference;

namespace {
// A representation whose views depend only on |yaw|: view j and view 8-j are identical.
Tensor mirror_symmetric_views(Generator& g, int64_t units) {
  Tensor half = Tensor::normal({5, units}, 0.f, 1.f, g);
  const auto h = half.to_vector();
  std::vector<float> v;
  for (int64_t j = 0; j < 9; ++j) {
    const int64_t src = j <= 4 ? j : 8 - j;
    v.insert(v.end(), h.begin() + src * units, h.begin() + (src + 1) * units);
  }
  return Tensor::from_vector({9, units}, v);
}

ref::G to_ref(Transform t) {
  return t == Transform::HFlip ? ref::G::HFlip : t == Transform::VFlip ? ref::G::VFlip : ref::G::Rot90;
}

std::vector<double> as_double(const Tensor& t) {
  const auto v = t.to_vector();
  return {v.begin(), v.end()};
}

// A random symmetric n x n RDM-like matrix with a zero diagonal (entries in (0, 2)).
Tensor random_rdm(int64_t n, Generator& g) {
  std::vector<float> u = Tensor::uniform({n * n}, 0.f, 2.f, g).to_vector(), d(static_cast<size_t>(n * n), 0.f);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t k = j + 1; k < n; ++k)
      d[static_cast<size_t>(j * n + k)] = d[static_cast<size_t>(k * n + j)] = u[static_cast<size_t>(j * n + k)];
  return Tensor::from_vector({n, n}, d);
}
}  // namespace

// Both sides correlate the same float32 entries in double; only the order of the additions may
// differ, so they agree to ~1e-15. 1e-12 is far below any change of definition (those move the
// index by > 1e-2 on these matrices).
constexpr double kIndexTol = 1e-12;

TEST_CASE("msvt: both definitions equal eq. 1 written out by loops, n = 3, 5, 9") {
  Generator g(11);
  for (int64_t n : {3, 5, 9})
    for (int draw = 0; draw < 20; ++draw) {
      CAPTURE(n);
      CAPTURE(draw);
      // Half the draws random matrices, half real RDMs of random representations.
      const Tensor D = draw % 2 ? random_rdm(n, g) : exemplar_rdm(Tensor::normal({n, 50}, 0.f, 1.f, g));
      CHECK(std::fabs(msvt_index(D) - ref::msvt(as_double(D), static_cast<int>(n), false)) <= kIndexTol);
      CHECK(std::fabs(msvt_index(D, MsvtDefinition::NoDiagonal) - ref::msvt(as_double(D), static_cast<int>(n), true)) <=
            kIndexTol);
    }
}

TEST_CASE("msvt: a 3 x 3 example worked by hand") {
  // D = [[0, a, c], [a, 0, b], [c, b, 0]], a = 0.3, b = 0.7, c = 1.1. The frontal column k = 2
  // (1-based) goes. Released: D's kept entries column by column (k = 1, 3) and D^H's (D's
  // columns 3, 1):
  //   x = (0, a, c,  c, b, 0),  y = (c, b, 0,  0, a, c)
  // Diagonal-free: k = 1 keeps only j = 2 (j = 1 is D's diagonal, j = 3 D^H's), k = 3 only
  // j = 2 too, so x = (a, b), y = (b, a): two points on a line of slope -1, r = -1 exactly.
  const double a = 0.3, b = 0.7, c = 1.1;
  const Tensor D = Tensor::from_vector({3, 3}, {0.f, 0.3f, 1.1f, 0.3f, 0.f, 0.7f, 1.1f, 0.7f, 0.f});
  // r of two points is -1 up to the rounding of their mean (~1e-16).
  CHECK(std::fabs(msvt_index(D, MsvtDefinition::NoDiagonal) + 1.0) < 1e-12);
  // The released value from the six pairs above, by hand: means mx = my = (2c + a + b) / 6.
  const double x[6] = {0, a, c, c, b, 0}, y[6] = {c, b, 0, 0, a, c};
  double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < 6; ++i) mx += x[i] / 6, my += y[i] / 6;
  for (int i = 0; i < 6; ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx), syy += (y[i] - my) * (y[i] - my);
  // float32 entries (0.3f != 0.3): the index moves by ~1e-8 relative; 1e-6 covers it.
  CHECK(std::fabs(msvt_index(D) - sxy / std::sqrt(sxx * syy)) < 1e-6);
}

TEST_CASE("msvt: an exactly mirror-symmetric RDM scores 1 under both definitions") {
  // Sanity values of SCIENCE.md. Pearson r of two identical lists is 1 up to the rounding of
  // sqrt(sxx * syy) in double: |r - 1| < 1e-12.
  Generator g(1);
  const Tensor D = exemplar_rdm(mirror_symmetric_views(g, 200));
  CHECK(std::fabs(msvt_index(D) - 1.0) < 1e-12);
  CHECK(std::fabs(msvt_index(D, MsvtDefinition::NoDiagonal) - 1.0) < 1e-12);
  // An RDM that depends only on |angle| difference of mirror pairs: D[j,k] = | |a_j| - |a_k| |.
  std::vector<float> d(81);
  for (int j = 0; j < 9; ++j)
    for (int k = 0; k < 9; ++k) d[static_cast<size_t>(j * 9 + k)] = static_cast<float>(std::abs(std::abs(j - 4) - std::abs(k - 4)));
  CHECK(std::fabs(msvt_index(Tensor::from_vector({9, 9}, d)) - 1.0) < 1e-12);
  CHECK(std::fabs(msvt_index(Tensor::from_vector({9, 9}, d), MsvtDefinition::NoDiagonal) - 1.0) < 1e-12);
  // The exact algebra of the floor: D = 1 off the diagonal. Each list holds 64 ones and 8 zeros,
  // never at one place, so with p = 8/9 ones: cov = 56/72 - p^2 = -1/81, var = p(1-p) = 8/81,
  // r = -1/8 exactly.
  std::vector<float> ones(81, 1.f);
  for (int j = 0; j < 9; ++j) ones[static_cast<size_t>(j * 10)] = 0.f;
  CHECK(std::fabs(msvt_index(Tensor::from_vector({9, 9}, ones)) + 0.125) < 1e-12);
}

TEST_CASE("msvt: noise representations sit at the definitions' floors") {
  // The floors (SCIENCE.md) on 9 views x 500 units of Gaussian noise, 3600 draws. Expected
  // values for exactly this kind of draw, from 80000 draws through tests/study_reference.h's
  // loops (issue 12; standard errors 0.0002 and 0.0007):
  //   released       kReleasedFloor  (-1/8 = -0.125 in the limit of many units, SCIENCE.md;
  //                                   at 500 units the off-diagonal spread lifts it a little)
  //   diagonal-free  kDiagFreeFloor  (SCIENCE.md measured -0.03 +- 0.18 sd)
  // Bounds: 4.5 standard errors of the test's 3600 draws (sd/60, taken from the draws) around
  // them. The diagonal-free variant that skips only j == k has mean -0.003 at this size (same
  // 80000 draws): 0.029 above kDiagFreeFloor, ~9 standard errors, so it fails the bound.
  constexpr double kReleasedFloor = -0.1230, kDiagFreeFloor = -0.0325;
  Generator g(2);
  std::vector<double> with, without;
  for (int s = 0; s < 3600; ++s) {
    const Tensor D = exemplar_rdm(Tensor::normal({9, 500}, 0.f, 1.f, g));
    with.push_back(msvt_index(D));
    without.push_back(msvt_index(D, MsvtDefinition::NoDiagonal));
  }
  const MeanSem a = mean_sem(with), b = mean_sem(without);
  CHECK(a.n == 3600);
  INFO("released ", a.mean, " +- ", a.sem, ", diagonal-free ", b.mean, " +- ", b.sem);
  CHECK(a.sem < 0.0015);  // sd 0.046 / 60
  CHECK(b.sem < 0.0035);  // sd 0.18 / 60
  CHECK(std::fabs(a.mean - kReleasedFloor) < 4.5 * a.sem);
  CHECK(std::fabs(b.mean - kDiagFreeFloor) < 4.5 * b.sem);
  CHECK(std::fabs(kReleasedFloor + 0.125) < 0.005);  // near the limit of SCIENCE.md
}

TEST_CASE("msvt: bad RDMs are refused by name") {
  CHECK_THROWS_WITH_AS(msvt_index(Tensor::zeros({8, 8})), doctest::Contains("must be odd"), Error);
  CHECK_THROWS_WITH_AS(msvt_index(Tensor::zeros({9, 8})), doctest::Contains("square"), Error);
}

TEST_CASE("equivariance: the transformations on images and feature maps follow the hand-written index maps") {
  // Data movement: exact. rot90 is counter-clockwise (np.rot90) on images and on maps alike.
  // A 2 x 3 plane by hand: [[1,2,3],[4,5,6]] -> hflip [[3,2,1],[6,5,4]], vflip [[4,5,6],[1,2,3]],
  // rot90 [[3,6],[2,5],[1,4]].
  const Tensor p = Tensor::from_vector({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(apply_transform(Transform::HFlip, p).to_vector() == std::vector<float>{3, 2, 1, 6, 5, 4});
  CHECK(apply_transform(Transform::VFlip, p).to_vector() == std::vector<float>{4, 5, 6, 1, 2, 3});
  CHECK(apply_transform(Transform::Rot90, p).shape() == Shape{1, 1, 3, 2});
  CHECK(apply_transform(Transform::Rot90, p).to_vector() == std::vector<float>{3, 6, 2, 5, 1, 4});
  // Images (N, 3, H, W) and feature maps (N, 16, h, w) of odd, even and non-square sizes.
  Generator g(3);
  for (const Shape& s : {Shape{2, 3, 7, 7}, Shape{2, 3, 6, 8}, Shape{1, 16, 5, 4}, Shape{3, 16, 9, 9}})
    for (Transform t : {Transform::HFlip, Transform::VFlip, Transform::Rot90}) {
      INFO(shape_str(s), " ", transform_name(t));
      const Tensor x = testing::rand(s, g);
      const Tensor y = apply_transform(t, x);
      CHECK(y.shape() == (t == Transform::Rot90 ? Shape{s[0], s[1], s[3], s[2]} : s));
      CHECK(y.to_vector() == ref::transform(to_ref(t), x.to_vector(), s[0], s[1], s[2], s[3]));
    }
}

TEST_CASE("equivariance: a convolution with a g-symmetric kernel commutes with g on images and maps") {
  // conv(g x) = g conv(x) holds exactly in real arithmetic when the kernel is symmetric under g
  // (stride 1, padding 1): a kernel invariant under h-flip, under v-flip, or under quarter
  // turns. Applying g to images and to maps in different senses breaks the identity. In float32
  // the two sides sum the same C*9 products (+ bias) in different orders; each sum errs by at most
  // gamma_m * sum|terms| with m = 28 terms (Higham, gamma_m ~ m * 2^-24), so
  // |conv(g x) - g conv(x)| <= 2 * 28 * 2^-24 * M, M = sum|w||x| + |b| <= 27 * max|w| * max|x| + |b|.
  Generator g(3);
  NoGradGuard ng;
  const Tensor x = testing::rand({2, 3, 7, 6}, g);
  for (Transform t : {Transform::HFlip, Transform::VFlip, Transform::Rot90}) {
    INFO(transform_name(t));
    nn::Conv2d conv(3, 4, 3, g, 1, 1);
    // Symmetrise the kernel: w <- (w + g w) / 2 for a flip; w <- mean of its four quarter turns.
    Tensor w = conv.weight.detach().clone();
    if (t == Transform::Rot90)
      w = div(add(add(w, rot90(w, 1)), add(rot90(w, 2), rot90(w, 3))), 4.f);
    else
      w = div(add(w, apply_transform(t, w)), 2.f);
    conv.weight.copy_(w);
    float wmax = 0;
    for (float v : w.to_vector()) wmax = std::max(wmax, std::fabs(v));
    float bmax = 0;
    for (float v : conv.bias.to_vector()) bmax = std::max(bmax, std::fabs(v));
    const double bound = 2 * 28 * std::ldexp(1.0, -24) * (27 * wmax * 1.0 + bmax);
    CHECK_CLOSE(conv(apply_transform(t, x)), apply_transform(t, conv(x)), bound, 0);
  }
}

TEST_CASE("equivariance: central masks at odd and even sizes are the paper's, index for index") {
  // SCIENCE.md: h-flip removes column floor(W/2), v-flip row floor(H/2), rot90 the pixel
  // (floor(H/2), floor(W/2)). At odd sizes these are exactly the pixels g maps onto themselves;
  // at even sizes g fixes nothing and the same index goes anyway (the released rule).
  for (const Shape& s : {Shape{2, 5, 5}, Shape{2, 5, 6}, Shape{2, 6, 5}, Shape{3, 6, 6}, Shape{1, 7, 4}, Shape{1, 1, 1}})
    for (Transform t : {Transform::HFlip, Transform::VFlip, Transform::Rot90}) {
      INFO(transform_name(t), " (C, H, W) ", shape_str(s));
      CHECK(central_mask(t, s[0], s[1], s[2]) == ref::mask(to_ref(t), s[0], s[1], s[2]));
    }
  // By hand, one channel of 4 x 4: h-flip drops column 2, v-flip row 2, rot90 pixel (2, 2).
  std::vector<bool> h(16, true), v(16, true), r(16, true);
  for (int i = 0; i < 4; ++i) h[static_cast<size_t>(i * 4 + 2)] = false, v[static_cast<size_t>(2 * 4 + i)] = false;
  r[10] = false;
  CHECK(central_mask(Transform::HFlip, 1, 4, 4) == h);
  CHECK(central_mask(Transform::VFlip, 1, 4, 4) == v);
  CHECK(central_mask(Transform::Rot90, 1, 4, 4) == r);
  // At odd sizes the removed pixels are exactly g's fixed points (hand index maps above).
  for (Transform t : {Transform::HFlip, Transform::VFlip, Transform::Rot90}) {
    std::vector<float> idx(25);
    for (int i = 0; i < 25; ++i) idx[static_cast<size_t>(i)] = static_cast<float>(i);
    const auto moved = ref::transform(to_ref(t), idx, 1, 1, 5, 5);
    std::vector<bool> not_fixed(25);
    for (int i = 0; i < 25; ++i) not_fixed[static_cast<size_t>(i)] = moved[static_cast<size_t>(i)] != idx[static_cast<size_t>(i)];
    CHECK(central_mask(t, 1, 5, 5) == not_fixed);
  }
}

TEST_CASE("equivariance: per-image correlation equals eqs. 2-3 by loops (z-scoring, masks, constant units)") {
  // Both sides in double from the same float32 inputs; only the order of additions differs:
  // agreement to ~1e-14, checked at 1e-12.
  Generator g(4);
  const int64_t N = 7, U = 40;
  Tensor a = testing::rand({N, U}, g), b = testing::rand({N, U}, g, -2.f, 5.f);
  for (int64_t i = 0; i < N; ++i) a.data()[i * U + 3] = 2.f, b.data()[i * U + 9] = -1.f;  // constant units
  std::vector<bool> keep(U, true);
  keep[0] = keep[17] = keep[39] = false;
  const auto r = per_image_correlation(a, b, keep);
  const auto e = ref::per_image_r(a.to_vector(), b.to_vector(), N, U, keep);
  REQUIRE(r.size() == e.size());
  for (size_t i = 0; i < r.size(); ++i) CHECK(std::fabs(r[i] - e[i]) < 1e-12);
  // Scaling or shifting a unit across images leaves its z-scores, and so r, unchanged.
  Tensor b2 = b.clone();
  for (int64_t i = 0; i < N; ++i) b2.data()[i * U + 5] = 3.f * b2.data()[i * U + 5] + 7.f;
  const auto r2 = per_image_correlation(a, b2, keep);
  for (size_t i = 0; i < r.size(); ++i) CHECK(std::fabs(r2[i] - r[i]) < 1e-6);
}

TEST_CASE("equivariance: invariance and equivariance of hand-built maps against the loop reference") {
  // f = a fixed random 3x3 conv (padding 1): neither invariant nor equivariant. Invariance
  // r(f(x), f(g x)) and equivariance r(f(g x), g f(x)) with the central mask, computed from the
  // same activations by the code under test and by the reference (1e-12, as above).
  Generator g(5);
  NoGradGuard ng;
  const Tensor x = testing::rand({12, 2, 9, 8}, g);
  nn::Conv2d conv(2, 3, 3, g, 1, 1);
  const Tensor fx = conv(x);
  for (Transform t : {Transform::HFlip, Transform::VFlip, Transform::Rot90}) {
    INFO(transform_name(t));
    const Tensor gx = Tensor::from_vector(t == Transform::Rot90 ? Shape{12, 2, 8, 9} : x.shape(),
                                          ref::transform(to_ref(t), x.to_vector(), 12, 2, 9, 8));
    const Tensor fgx = conv(gx);
    const int64_t H = fgx.size(2), W = fgx.size(3), U = 3 * H * W;
    const auto gfx = ref::transform(to_ref(t), fx.to_vector(), 12, 3, 9, 8);
    const auto keep = ref::mask(to_ref(t), 3, H, W);
    const auto eq = per_image_correlation(fgx.reshape({12, -1}), apply_transform(t, fx).reshape({12, -1}),
                                          central_mask(t, 3, H, W));
    const auto eq_ref = ref::per_image_r(fgx.to_vector(), gfx, 12, U, keep);
    double m = 0;
    for (size_t i = 0; i < eq.size(); ++i) {
      CHECK(std::fabs(eq[i] - eq_ref[i]) < 1e-12);
      m += eq[i] / 12.0;
    }
    CHECK(m < 0.9);  // a random kernel is not equivariant
    // The identity map is equivariant: r(g x, g x) = 1 for every image.
    for (double r : per_image_correlation(gx.reshape({12, -1}), apply_transform(t, x).reshape({12, -1}),
                                          central_mask(t, 2, gx.size(2), gx.size(3))))
      CHECK(std::fabs(r - 1.0) < 1e-12);
  }
}
