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
