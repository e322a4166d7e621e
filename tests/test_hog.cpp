// HOG (models/hog.h): UoCTTI values on one-edge images derived by hand, the exact flip and
// rotation permutations (and the odd-orientation trap on 8-bit images), the Dalal–Triggs
// variant against a plain loop, the model interface, and bad input.
#include <algorithm>
#include <cmath>

#include "engine/nn/module.h"
#include "models/hog.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::models;

namespace {

// An image (1, C, H, W) of 8-bit values / 255.
Tensor eight_bit(int64_t C, int64_t H, int64_t W, Generator& g) {
  std::vector<float> v(static_cast<size_t>(C * H * W));
  for (float& x : v) x = static_cast<float>(g.next_below(256)) / 255.f;
  return Tensor::from_vector({1, C, H, W}, v);
}

// max |HOG(g x) - P_g HOG(x)|
double permutation_error(const Tensor& x, HogTransform g, const HogOptions& o) {
  return testing::max_abs_diff(hog(hog_move(x, g), o), hog_apply_transform(hog(x, o), g, o.orientations));
}

const HogTransform kAll[] = {HogTransform::HFlip, HogTransform::VFlip, HogTransform::Rot180, HogTransform::Rot90};

}  // namespace

TEST_CASE("hog: UoCTTI values of a one-edge image equal the hand derivation") {
  // 16 x 16, columns 0..7 = 0 and 8..15 = a: a vertical edge between two 8-px cells.
  // Central differences are (a, 0) at columns 7 and 8 of rows 1..14 and 0 elsewhere: gradient
  // angle 0, all in directed bin 0. floor((16 + 4)/8) = 2 cells per axis, centres at 3.5, 11.5.
  // Column weights (hx = (x + 0.5)/8 - 0.5): x = 7 gives 0.5625 to cell column 0 and 0.4375 to
  // column 1, x = 8 the reverse: each cell column gets 1. Row weights over y = 1..14: row 0 gets
  // 0.6875 + 0.8125 + 0.9375 (y = 1..3, the cell above is outside) + 0.9375 + 0.8125 + ... + 0.0625
  // (y = 4..11) = 2.4375 + 4 = 6.4375, row 1 the same. So every cell holds h = 6.4375 a in bin 0.
  // Energy E = h^2 per cell; at this 2 x 2 grid every one of a cell's four (clamped) blocks is
  // the whole grid: factor f = 1/sqrt(4 h^2 + 1e-4). Values: directed bin 0 = 0.5 * 4 * min(0.2, h f),
  // undirected bin 0 the same, texture = min(0.2, h f)/sqrt(18), everything else 0.
  for (float a : {1.0f, 3e-4f, -1.0f}) {
    std::vector<float> img(256, 0.f);
    for (int64_t r = 0; r < 16; ++r)
      for (int64_t c = 8; c < 16; ++c) img[static_cast<size_t>(r * 16 + c)] = a;
    HogOptions o;  // UoCTTI, n = 9, cell 8, hard
    const Tensor h = hog(Tensor::from_vector({1, 1, 16, 16}, img), o);
    REQUIRE(h.shape() == Shape{1, 31, 2, 2});
    const double hh = 6.4375 * std::fabs(a);
    const double capped = std::min(0.2, hh / std::sqrt(4 * hh * hh + 1e-4));
    if (a == 3e-4f) CHECK(capped < 0.19);  // this contrast stays under the cap: the splat and epsilon show
    const int64_t bin = a > 0 ? 0 : 9;    // a dark-to-bright edge leftwards points at pi
    const auto v = h.to_vector();
    for (int64_t k = 0; k < 31; ++k)
      for (int64_t cell = 0; cell < 4; ++cell) {
        double want = 0;
        if (k == bin || k == 18) want = 2 * capped;
        if (k >= 27) want = capped / std::sqrt(18.0);
        INFO("contrast ", a, ", channel ", k, ", cell ", cell);
        // Float sums of 28 weights and a float square root: 1e-6 relative.
        CHECK(v[static_cast<size_t>(k * 4 + cell)] == doctest::Approx(want).epsilon(1e-6).scale(1.0));
      }
  }
  // A horizontal edge (rows 0..7 dark, 8..15 bright) with n = 8: gradient angle pi/2 (y down),
  // directed bin 4 = 8/2, undirected bin 4.
  std::vector<float> img(256, 0.f);
  for (int64_t r = 8; r < 16; ++r)
    for (int64_t c = 0; c < 16; ++c) img[static_cast<size_t>(r * 16 + c)] = 1.f;
  HogOptions o8;
  o8.orientations = 8;
  const auto v = hog(Tensor::from_vector({1, 1, 16, 16}, img), o8).to_vector();
  for (int64_t k = 0; k < 16; ++k) CHECK(v[static_cast<size_t>(k * 4)] == doctest::Approx(k == 4 ? 0.4 : 0.0));
  CHECK(v[static_cast<size_t>((16 + 4) * 4)] == doctest::Approx(0.4));
}

TEST_CASE("hog: the permutation tables map HOG(x) to HOG(g x) exactly for every g") {
  Generator gen(21);
  HogOptions hard8;
  hard8.orientations = 8;
  HogOptions bil8 = hard8;
  bil8.bilinear_orientations = true;
  HogOptions bil9;
  bil9.bilinear_orientations = true;
  for (int64_t C : {1, 3}) {
    const Tensor x = testing::rand({2, C, 64, 64}, gen, 0.f, 1.f);
    const Tensor x8 = eight_bit(C, 64, 64, gen);
    for (HogTransform g : kAll) {
      INFO("channels ", C, ", ", std::string(hog_transform_name(g)));
      // Float rounding only: sums of the same terms in another order, values <= 0.4.
      CHECK(permutation_error(x, g, hard8) < 1e-5);
      CHECK(permutation_error(x, g, bil8) < 1e-5);
      CHECK(permutation_error(x8, g, hard8) < 1e-5);
      if (g != HogTransform::Rot90) {
        CHECK(permutation_error(x, g, bil9) < 1e-5);
        CHECK(permutation_error(x8, g, bil9) < 1e-5);
      }
      // Bilinear n = 8 on 8-bit images: a diagonal gradient (d, d) sits on bin 2's centre, but
      // rounding leaves its projection at 1 - 6e-8, and acos turns that into 3.5e-4 rad, i.e.
      // 9e-4 of the pixel's weight for a second bin that is a tie between bins 1 and 3 (first
      // wins), which a flip does not preserve: errors of ~1e-4 (VLFeat's own arithmetic).
      CHECK(permutation_error(x8, g, bil8) < 1e-3);
    }
  }
}

TEST_CASE("hog: with 9 orientations and hard assignment the flips break on 8-bit images (the trap)") {
  // A purely vertical gradient (0, +-d), common where 8-bit neighbours are equal, lies exactly
  // between bins 4 and 5 (80 and 100 deg): the first wins, so after a flip it lands in the bin
  // that the flipped table does not predict.
  Generator gen(8);
  const Tensor x8 = eight_bit(1, 64, 64, gen);
  HogOptions hard9;
  for (HogTransform g : {HogTransform::HFlip, HogTransform::VFlip}) {
    INFO(std::string(hog_transform_name(g)));
    // 1000x the exactness tolerance above (0.041 measured for both flips).
    CHECK(permutation_error(x8, g, hard9) > 1e-2);
  }
  // Rot180 maps bin 4 to bin 13 = 4 + 9 and the tie to the same pair: still exact.
  CHECK(permutation_error(x8, HogTransform::Rot180, hard9) < 1e-5);
  // Random float images almost never hold an exactly vertical gradient: exact there.
  const Tensor xf = testing::rand({1, 1, 64, 64}, gen, 0.f, 1.f);
  CHECK(permutation_error(xf, HogTransform::HFlip, hard9) < 1e-5);
}

TEST_CASE("hog: the tables themselves") {
  // n = 9, hflip: VLFeat's own permutation (vl_hog_new) as a map k -> k'.
  const auto p = hog_channel_permutation(HogTransform::HFlip, 9);
  CHECK(p[0] == 9);
  CHECK(p[1] == 8);
  CHECK(p[9] == 0);
  CHECK(p[10] == 17);
  CHECK(p[18] == 18);
  CHECK(p[19] == 26);
  CHECK(p[27] == 28);
  CHECK(p[29] == 30);
  const auto r = hog_channel_permutation(HogTransform::Rot90, 8);
  CHECK(r[0] == 12);  // angle 0 -> -pi/2 = 3pi/2
  CHECK(r[4] == 0);
  CHECK(r[16 + 0] == 16 + 4);
  CHECK(r[24] == 26);  // UL -> LL
  CHECK(r[25] == 24);  // UR -> UL
  for (HogTransform g : kAll) {
    auto q = hog_channel_permutation(g, 8);
    std::sort(q.begin(), q.end());
    for (int64_t k = 0; k < 28; ++k) CHECK(q[static_cast<size_t>(k)] == k);  // a permutation
  }
}

TEST_CASE("hog: Dalal-Triggs equals a plain loop of scikit-image's definition") {
  Generator gen(4);
  const int64_t H = 40, W = 48, cs = 8, n = 9, bs = 2;
  const Tensor x = testing::rand({1, 1, H, W}, gen, 0.f, 1.f);
  HogOptions o;
  o.variant = HogVariant::DalalTriggs;
  const Tensor h = hog(x, o);
  REQUIRE(h.shape() == Shape{1, 36, 4, 5});
  const auto img = x.to_vector();
  auto px = [&](int64_t r, int64_t c) { return static_cast<double>(img[static_cast<size_t>(r * W + c)]); };
  std::vector<double> cell(static_cast<size_t>(5 * 6 * n), 0.0);
  for (int64_t r = 0; r < 40; ++r)
    for (int64_t c = 0; c < 48; ++c) {
      const double gr = (r == 0 || r == H - 1) ? 0 : px(r + 1, c) - px(r - 1, c);
      const double gc = (c == 0 || c == W - 1) ? 0 : px(r, c + 1) - px(r, c - 1);
      double deg = std::atan2(gr, gc) * 180.0 / 3.14159265358979323846;
      if (deg < 0) deg += 180;
      if (deg >= 180) deg -= 180;
      const int64_t b = std::min<int64_t>(static_cast<int64_t>(deg / 20.0), n - 1);
      cell[static_cast<size_t>(((r / cs) * 6 + c / cs) * n + b)] += std::hypot(gr, gc) / 64.0;
    }
  const auto v = h.to_vector();
  double worst = 0;
  for (int64_t by = 0; by < 4; ++by)
    for (int64_t bx = 0; bx < 5; ++bx) {
      std::vector<double> blk;
      for (int64_t a = 0; a < bs; ++a)
        for (int64_t b = 0; b < bs; ++b)
          for (int64_t i = 0; i < n; ++i) blk.push_back(cell[static_cast<size_t>(((by + a) * 6 + bx + b) * n + i)]);
      double s = 0;
      for (double e : blk) s += e * e;
      double s2 = 0;
      for (double& e : blk) e = std::min(0.2, e / std::sqrt(s + 1e-10)), s2 += e * e;
      for (size_t d = 0; d < blk.size(); ++d)
        worst = std::max(worst, std::fabs(blk[d] / std::sqrt(s2 + 1e-10) - v[d * 20 + static_cast<size_t>(by * 5 + bx)]));
    }
  // Cell sums in float (as scikit-image's cell_hog): 1e-6 on values <= 0.5.
  CHECK(worst < 1e-6);
}

TEST_CASE("hog: the model's layers, and bad input names the sizes") {
  HogOptions o;
  Model m = hog_model(o, 3, 64);
  nn::ActivationCapture cap(*m.net, {"image", "hog"});
  Generator gen(1);
  (*m.net)(testing::rand({2, 3, 64, 64}, gen, 0.f, 1.f));
  CHECK(cap["hog"].shape() == Shape{2, 31, 8, 8});
  CHECK(cap["image"].shape() == Shape{2, 3, 64, 64});

  HogOptions zero;
  zero.orientations = 0;
  CHECK_THROWS_WITH_AS(hog(Tensor::zeros({1, 1, 32, 32}), zero),
                       doctest::Contains("orientation count (--hog-orientations) must be >= 1, got 0"), Error);
  CHECK_THROWS_WITH_AS(hog_model(zero, 1, 64), doctest::Contains("orientation count (--hog-orientations) must be >= 1, got 0"), Error);
  CHECK_THROWS_WITH_AS(hog_channel_permutation(HogTransform::HFlip, 0), doctest::Contains("orientation count must be >= 1, got 0"), Error);
  HogOptions zero_dt = zero;
  zero_dt.variant = HogVariant::DalalTriggs;
  CHECK_THROWS_WITH_AS(hog_channel_permutation(HogTransform::VFlip, zero_dt), doctest::Contains("(--hog-orientations) must be >= 1, got 0"), Error);
  HogOptions no_cell;
  no_cell.cell_size = 0;
  CHECK_THROWS_WITH_AS(hog_model(no_cell, 1, 64), doctest::Contains("cell size (--hog-cell) must be >= 1 px, got 0"), Error);
  CHECK_THROWS_WITH_AS(hog_model(o, 1, 12), doctest::Contains("--image-size 12 is smaller than one 2 x 2 block of 8-px cells (16 px)"), Error);
  CHECK_THROWS_WITH_AS(hog(Tensor::zeros({1, 1, 12, 32}), o), doctest::Contains("a 12 x 32 image is smaller than one 2 x 2 block of 8-px cells (16 px)"), Error);
  HogOptions dt;
  dt.variant = HogVariant::DalalTriggs;
  dt.block_size = 3;
  CHECK_THROWS_WITH_AS(hog(Tensor::zeros({1, 1, 20, 32}), dt), doctest::Contains("smaller than one 3 x 3 block of 8-px cells (24 px)"), Error);
  CHECK_THROWS_WITH_AS(hog_model(dt, 3, 20), doctest::Contains("--image-size 20 is smaller than one 3 x 3 block of 8-px cells (24 px)"), Error);
  dt.block_size = 0;
  CHECK_THROWS_WITH_AS(hog_model(dt, 1, 64), doctest::Contains("block size (--hog-block) must be >= 1 cell, got 0"), Error);
  dt.block_size = 3;
  CHECK_THROWS_WITH_AS(hog(Tensor::zeros({1, 2, 32, 32}), o), doctest::Contains("(B, 1 or 3, H, W)"), Error);
  CHECK_THROWS_WITH_AS(hog_apply_transform(hog(Tensor::zeros({1, 1, 32, 32}), o), HogTransform::Rot90, 9),
                       doctest::Contains("even orientation count"), Error);
  HogOptions o8;
  o8.orientations = 8;
  CHECK_THROWS_WITH_AS(hog_apply_transform(hog(Tensor::zeros({1, 1, 32, 48}), o8), HogTransform::Rot90, 8),
                       doctest::Contains("rot90 needs a square cell grid, got 4 x 6 cells"), Error);
  CHECK_THROWS_WITH_AS(hog_model(o, 2, 64), doctest::Contains("--in-channels must be 1 (gray) or 3 (colour), got 2"), Error);
  CHECK_THROWS_WITH_AS(parse_hog_variant("sift"), doctest::Contains("unknown variant 'sift'"), Error);
}
