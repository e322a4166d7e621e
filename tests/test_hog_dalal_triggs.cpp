// Dalal–Triggs HOG's host kernel (models/hog_dalal_triggs_cpu.h): the vectorised magnitude is
// glibc's hypot bit for bit, the cross-product binning gives scikit-image's atan2 bins on every
// 8-bit gradient (bin edges hit exactly included), and the whole descriptor equals a plain loop
// of scikit-image's definition for colour, an even orientation count and sizes that are not
// multiples of the cell.
#include <cmath>
#include <cstring>
#include <numbers>

#include "models/hog.h"
#include "models/hog_dalal_triggs_cpu.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::models;

namespace {

// scikit-image: rad2deg(arctan2(gr, gc)) % 180, then the bin i with 180 i / n <= a < 180 (i+1) / n.
int32_t skimage_bin(double gc, double gr, int64_t n) {
  double a = std::fmod(std::atan2(gr, gc) * (180.0 / std::numbers::pi), 180.0);
  if (a < 0) a += 180.0;
  const double per = 180.0 / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    if (a >= per * static_cast<double>(i) && a < per * static_cast<double>(i + 1)) return static_cast<int32_t>(i);
  return -1;
}

}  // namespace

TEST_CASE("hog dalal-triggs: the gradient magnitude is glibc's hypot bit for bit") {
  Generator g(5);
  std::vector<double> gc, gr;
  for (int k = 0; k < 4000; ++k) {  // differences of float pixels in [0, 1), as the gradients are
    const auto u = testing::rand({4}, g, 0.f, 1.f).to_vector();
    gc.push_back(static_cast<double>(u[0]) - static_cast<double>(u[1]));
    gr.push_back(static_cast<double>(u[2]) - static_cast<double>(u[3]));
  }
  for (int a = -255; a <= 255; a += 7)  // 8-bit steps, equal and zero components included
    for (int b = -255; b <= 255; b += 5) gc.push_back(a / 255.0), gr.push_back(b / 255.0);
  // Outside glibc's common range (the library call) and its early return ay <= ax 2^-54.
  const double special[][2] = {{0, 0}, {0, -0.5}, {1e-300, 3e-300}, {1e300, 2e300}, {1, 1e-17}, {-1, 1}, {0.75, -0.75}};
  for (const auto& s : special) gc.push_back(s[0]), gr.push_back(s[1]);
  gc.push_back(0.3);  // an odd count: the scalar tail
  gr.push_back(-0.4);
  std::vector<double> mag(gc.size());
  hog_gradient_magnitude(gc.data(), gr.data(), static_cast<int64_t>(gc.size()), mag.data());
  int64_t differ = 0;
  for (size_t j = 0; j < gc.size(); ++j) {
    const double ref = std::hypot(gc[j], gr[j]);
    differ += std::memcmp(&ref, &mag[j], sizeof(double)) != 0;
  }
  // Bit-equal, not close: np.hypot is this library call, and a plain sqrt(x^2 + y^2) differs
  // from it in ~8 % of these inputs.
  CHECK(differ == 0);
}

TEST_CASE("hog dalal-triggs: the orientation bins equal scikit-image's atan2 bins on every 8-bit gradient") {
  // Every gradient of an 8-bit image: (gc, gr) in {-255..255}^2 / 255. It puts pixels exactly on
  // the edges 0, 45, 90 and 135 deg (n = 4, 8) and at 180 (gr = 0, gc < 0), where only the exact
  // path gives scikit-image's bin.
  std::vector<double> gc, gr;
  for (int a = -255; a <= 255; ++a)
    for (int b = -255; b <= 255; ++b) gc.push_back(a / 255.0), gr.push_back(b / 255.0);
  gc.push_back(1.0), gr.push_back(-1e-17);  // -1e-17 deg % 180 rounds to 180: in no bin
  for (int64_t n : {1, 4, 6, 8, 9, 12}) {
    CAPTURE(n);
    std::vector<int32_t> bins(gc.size());
    hog_orientation_bins(gc.data(), gr.data(), static_cast<int64_t>(gc.size()), n, bins.data());
    int64_t differ = 0;
    for (size_t j = 0; j < gc.size(); ++j) differ += bins[j] != skimage_bin(gc[j], gr[j], n);
    CHECK(differ == 0);
    CHECK(bins.back() == -1);
  }
}

TEST_CASE("hog dalal-triggs: colour, 8 orientations, 6-px cells, 3 x 3 blocks equal a plain loop") {
  const int64_t C = 3, H = 39, W = 50, cs = 6, n = 8, bs = 3;
  Generator gen(8);
  std::vector<float> img(static_cast<size_t>(C * H * W));
  for (float& v : img) v = static_cast<float>(gen.next_below(256)) / 255.f;  // 8-bit: edge angles occur
  HogOptions o;
  o.variant = HogVariant::DalalTriggs;
  o.orientations = n;
  o.cell_size = cs;
  o.block_size = bs;
  const Tensor h = hog(Tensor::from_vector({1, C, H, W}, img), o);
  const int64_t cr = H / cs, cc = W / cs, br = cr - bs + 1, bc = cc - bs + 1;
  REQUIRE(h.shape() == Shape{1, bs * bs * n, br, bc});
  // The plain loop: per pixel the channel of largest hypot (first on ties), its atan2 bin, the
  // cell sums in float in row-major order, divided by the area in float.
  std::vector<float> total(static_cast<size_t>(cr * cc * n), 0.f);
  auto px = [&](int64_t ch, int64_t r, int64_t c) { return static_cast<double>(img[static_cast<size_t>((ch * H + r) * W + c)]); };
  for (int64_t r = 0; r < cr * cs; ++r)
    for (int64_t c = 0; c < cc * cs; ++c) {
      double best = -1, gcb = 0, grb = 0;
      for (int64_t ch = 0; ch < C; ++ch) {
        const double grv = (r == 0 || r == H - 1) ? 0 : px(ch, r + 1, c) - px(ch, r - 1, c);
        const double gcv = (c == 0 || c == W - 1) ? 0 : px(ch, r, c + 1) - px(ch, r, c - 1);
        const double m = std::hypot(gcv, grv);
        if (m > best) best = m, gcb = gcv, grb = grv;
      }
      const int32_t b = skimage_bin(gcb, grb, n);
      if (b < 0) continue;
      float& t = total[static_cast<size_t>(((r / cs) * cc + c / cs) * n + b)];
      t = static_cast<float>(static_cast<double>(t) + best);
    }
  const auto v = h.to_vector();
  double worst = 0;
  for (int64_t by = 0; by < br; ++by)
    for (int64_t bx = 0; bx < bc; ++bx) {
      std::vector<double> blk;
      for (int64_t a = 0; a < bs; ++a)
        for (int64_t b = 0; b < bs; ++b)
          for (int64_t i = 0; i < n; ++i)
            blk.push_back(static_cast<double>(total[static_cast<size_t>(((by + a) * cc + bx + b) * n + i)] / static_cast<float>(cs * cs)));
      double s = 0;
      for (double e : blk) s += e * e;
      double s2 = 0;
      for (double& e : blk) e = std::min(0.2, e / std::sqrt(s + 1e-10)), s2 += e * e;
      for (size_t d = 0; d < blk.size(); ++d)
        worst = std::max(worst, std::fabs(blk[d] / std::sqrt(s2 + 1e-10) - v[d * static_cast<size_t>(br * bc) + static_cast<size_t>(by * bc + bx)]));
    }
  // Same float cell sums; what remains is the float output and the order of the block sums in
  // double (~1e-7 at most); one pixel in another bin moves a value by > 1e-3.
  CHECK(worst < 1e-6);
}

namespace {

// (1, C, S, S) uniform noise inside a constant 1-px frame (0.5): no gradient on the border, where
// scikit-image's zeroed row/column derivatives would put every gradient on the 0/90 deg edges.
Tensor framed_noise(int64_t C, int64_t H, int64_t W, Generator& g) {
  std::vector<float> v = testing::rand({C, H, W}, g, 0.f, 1.f).to_vector();
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t r = 0; r < H; ++r)
      for (int64_t c = 0; c < W; ++c)
        if (r == 0 || c == 0 || r == H - 1 || c == W - 1) v[static_cast<size_t>((ch * H + r) * W + c)] = 0.5f;
  return Tensor::from_vector({1, C, H, W}, v);
}

double permutation_error(const Tensor& x, HogTransform g, const HogOptions& o) {
  return testing::max_abs_diff(hog(hog_move(x, g), o), hog_apply_transform(hog(x, o), g, o));
}

}  // namespace

TEST_CASE("hog dalal-triggs: the permutation tables map HOG(x) to HOG(g x) for every g") {
  Generator gen(21);
  HogOptions o;
  o.variant = HogVariant::DalalTriggs;
  for (int64_t n : {8, 9, 6})
    for (int64_t bs : {2, 3})
      for (int64_t C : {1, 3}) {
        CAPTURE(n);
        CAPTURE(bs);
        CAPTURE(C);
        o.orientations = n;
        o.block_size = bs;
        const Tensor x = framed_noise(C, 48, 48, gen);
        // Cell sums in float, in another pixel order once the image is moved: ~1e-7 on values
        // <= 0.5; a bin or cell off by one moves values by > 1e-2.
        for (HogTransform g : {HogTransform::HFlip, HogTransform::VFlip, HogTransform::Rot180}) {
          CAPTURE(hog_transform_name(g));
          CHECK(permutation_error(x, g, o) < 1e-5);
        }
        if (n % 2 == 0) CHECK(permutation_error(x, HogTransform::Rot90, o) < 1e-5);
        // Without the permutation (the grid move alone) it is far off.
        CHECK(testing::max_abs_diff(hog(hflip(x), o), hflip(hog(x, o))) > 0.05);
      }
  // A non-square image: the flips hold; rot90 is refused with the sizes.
  o.orientations = 8;
  o.block_size = 2;
  const Tensor wide = framed_noise(1, 40, 64, gen);
  CHECK(permutation_error(wide, HogTransform::HFlip, o) < 1e-5);
  CHECK(permutation_error(wide, HogTransform::VFlip, o) < 1e-5);
  CHECK_THROWS_WITH_AS(hog_apply_transform(hog(wide, o), HogTransform::Rot90, o), doctest::Contains("rot90 needs a square cell grid, got 4 x 7 cells"), Error);
  o.orientations = 9;
  CHECK_THROWS_WITH_AS(hog_channel_permutation(HogTransform::Rot90, o), doctest::Contains("rot90 needs an even orientation count"), Error);
  CHECK_THROWS_WITH_AS(hog_apply_transform(hog(wide, o), HogTransform::HFlip, HogOptions{}),
                       doctest::Contains("features must be (B, 3n+4 = 31, R, C) UoCTTI HOG"), Error);
}

TEST_CASE("hog dalal-triggs: the flips break where gradients lie on a bin edge (8-bit images, the border)") {
  // Half-open bins [180 i/n, 180 (i+1)/n) become (.., ..] under a flip: a horizontal gradient
  // (0 deg, bin 0) stays in bin 0 where the table sends bin 0 to n - 1. 8-bit noise has many
  // (equal pixels above and below); so has any image's first and last row, whose row
  // derivative scikit-image sets to 0. rot90 and rot180 keep the edges' sides and hold.
  Generator gen(22);
  HogOptions o;
  o.variant = HogVariant::DalalTriggs;
  o.orientations = 8;
  std::vector<float> v(48 * 48);
  for (float& p : v) p = static_cast<float>(gen.next_below(256)) / 255.f;
  const Tensor eight = Tensor::from_vector({1, 1, 48, 48}, v);
  CHECK(permutation_error(eight, HogTransform::HFlip, o) > 1e-2);
  CHECK(permutation_error(eight, HogTransform::VFlip, o) > 1e-2);
  CHECK(permutation_error(eight, HogTransform::Rot90, o) < 1e-5);
  CHECK(permutation_error(eight, HogTransform::Rot180, o) < 1e-5);
  const Tensor unframed = testing::rand({1, 1, 48, 48}, gen, 0.f, 1.f);  // float noise: only the border rows
  CHECK(permutation_error(unframed, HogTransform::HFlip, o) > 1e-2);
  CHECK(permutation_error(unframed, HogTransform::Rot90, o) < 1e-5);
}
