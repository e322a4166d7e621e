// RISE importance maps and the Figure 5 controls (experiments/analysis/rise*): known answers
// from hand-built networks and hand-built pixel sets.
#include <doctest/doctest.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/nn/layers.h"
#include "experiments/analysis/pearson.h"
#include "experiments/analysis/rise.h"
#include "experiments/analysis/rise_controls.h"
#include "experiments/analysis/rise_study.h"
#include "tests/testing.h"
#include "tools/render/mesh_set.h"
#include "tools/render/stimulus_set.h"

using namespace ml;
using namespace ml::analysis;

namespace {

constexpr float kGray = 128.f / 255.f;

// A "network" whose unit 0 is the mean of the pixels in `region` (H*W 0/1) minus the background
// gray, and whose unit 1 is the mean of the whole image: one S x S convolution (a per-image
// product, so a unit's score does not depend on the batch it is computed in), no
// normalisation.
AnalysisNet region_net(int64_t S, const std::vector<uint8_t>& region) {
  Generator gen(1);
  auto seq = std::make_shared<nn::Sequential>();
  seq->add("fc", std::make_shared<nn::Conv2d>(1, 2, S, gen));
  seq->add("relu", std::make_shared<nn::ReLU>());
  seq->add("flatten", std::make_shared<nn::Flatten>());
  const double n = static_cast<double>(std::count(region.begin(), region.end(), 1));
  std::vector<float> w(static_cast<size_t>(2 * S * S));
  for (int64_t i = 0; i < S * S; ++i) {
    w[static_cast<size_t>(i)] = region[static_cast<size_t>(i)] ? static_cast<float>(1.0 / n) : 0.f;
    w[static_cast<size_t>(S * S + i)] = 1.f / static_cast<float>(S * S);
  }
  seq->load_state_dict({{"fc.weight", Tensor::from_vector({2, 1, S, S}, w)},
                        {"fc.bias", Tensor::from_vector({2}, {-kGray, 0.f})}});
  AnalysisNet net;
  net.model.name = "region_net";
  net.model.net = seq;
  net.model.in_channels = 1;
  net.model.image_size = S;
  net.model.num_classes = 2;
  net.model.layers = {{"unit", "relu", false}};
  net.norm = {{0.f}, {1.f}, "none"};
  return net;
}

std::vector<uint8_t> square(int64_t S, int64_t y0, int64_t x0, int64_t side) {
  std::vector<uint8_t> r(static_cast<size_t>(S * S), 0);
  for (int64_t y = y0; y < y0 + side; ++y)
    for (int64_t x = x0; x < x0 + side; ++x) r[static_cast<size_t>(y * S + x)] = 1;
  return r;
}

// The host implementation the study used before the masks became an engine op (kept here as
// the plain-loop reference): skimage's half-pixel mapping with 'mirror' edges, drawn with the
// host Generator, mask i at counters [i·2^20, ...).
int64_t ref_mirror(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

std::vector<float> host_masks(const RiseOptions& o, int64_t h, int64_t w, int64_t first, int64_t count) {
  const int64_t s = o.grid;
  const int64_t cell_h = (h + s - 1) / s, cell_w = (w + s - 1) / s;
  const int64_t up_h = (s + 1) * cell_h, up_w = (s + 1) * cell_w;
  auto axis = [&](int64_t out, std::vector<int64_t>& i0, std::vector<int64_t>& i1, std::vector<float>& w1) {
    i0.resize(out);
    i1.resize(out);
    w1.resize(out);
    const double scale = static_cast<double>(s) / static_cast<double>(out);
    for (int64_t q = 0; q < out; ++q) {
      const double src = (static_cast<double>(q) + 0.5) * scale - 0.5;
      if (o.binary) {
        i0[q] = i1[q] = std::clamp<int64_t>(static_cast<int64_t>(std::floor(src + 0.5)), 0, s - 1);
        w1[q] = 0.f;
      } else {
        const double f = std::floor(src);
        i0[q] = ref_mirror(static_cast<int64_t>(f), s);
        i1[q] = ref_mirror(static_cast<int64_t>(f) + 1, s);
        w1[q] = static_cast<float>(src - f);
      }
    }
  };
  std::vector<int64_t> y0, y1, x0, x1;
  std::vector<float> wy, wx;
  axis(up_h, y0, y1, wy);
  axis(up_w, x0, x1, wx);
  std::vector<float> out(static_cast<size_t>(count * h * w));
  for (int64_t k = 0; k < count; ++k) {
    Generator gen(o.seed);
    gen.set_state(o.seed, static_cast<uint64_t>(first + k) << 20);
    std::vector<float> g(static_cast<size_t>(s * s));
    for (auto& v : g) v = gen.next_uniform() < o.keep ? 1.f : 0.f;
    const int64_t dy = gen.next_below(cell_h), dx = gen.next_below(cell_w);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t uy = y + dy, ux = x + dx;
        const float* r0 = &g[static_cast<size_t>(y0[uy] * s)];
        const float* r1 = &g[static_cast<size_t>(y1[uy] * s)];
        const float top = (1.f - wx[ux]) * r0[x0[ux]] + wx[ux] * r0[x1[ux]];
        const float bot = (1.f - wx[ux]) * r1[x0[ux]] + wx[ux] * r1[x1[ux]];
        out[static_cast<size_t>((k * h + y) * w + x)] = (1.f - wy[uy]) * top + wy[uy] * bot;
      }
  }
  return out;
}

}  // namespace

TEST_CASE("rise masks: reproducible from the seed, independent of the batch, within 0..1 with mean p") {
  RiseOptions o;
  o.grid = 7;
  o.keep = 0.3;
  o.seed = 11;
  const Tensor a = rise_masks(o, 29, 23, 0, 64);
  const Tensor b = rise_masks(o, 29, 23, 0, 64);
  const Tensor tail = rise_masks(o, 29, 23, 40, 24);  // masks 40..63 drawn on their own
  const auto va = a.to_vector(), vb = b.to_vector(), vt = tail.to_vector();
  CHECK(va == vb);
  CHECK(std::equal(vt.begin(), vt.end(), va.begin() + 40 * 29 * 23));
  double mean = 0;
  for (float v : va) {
    REQUIRE(v >= 0.f);
    REQUIRE(v <= 1.f);
    mean += v;
  }
  mean /= static_cast<double>(va.size());
  // 64 masks x 49 cells = 3136 Bernoulli(0.3) cells, each covering about the same area after
  // upsampling: sd of the mean <= sqrt(0.21/3136) ~ 0.008 (smoothing only lowers it), so 5 sd.
  CHECK(std::fabs(mean - 0.3) < 0.04);
  o.seed = 12;
  CHECK(rise_masks(o, 29, 23, 0, 64).to_vector() != va);
  // rise_binary: nearest upsampling keeps the masks 0/1, each mask a union of whole cells.
  o.binary = true;
  for (float v : rise_masks(o, 29, 23, 0, 8).to_vector()) REQUIRE((v == 0.f || v == 1.f));
}

TEST_CASE("rise masks: the engine op draws the masks of the host reference loop") {
  // Same grid cells, same shifts (integer Philox arithmetic and one exact double comparison),
  // same upsampling up to how the three lerps round: the op writes each as one fused
  // multiply-add, the reference as a product plus a product (which GCC may or may not
  // contract). Each lerp of values in [0, 1] then differs by at most 2 roundings of 2^-24, and
  // the outer lerp carries the inner ones with weights summing to 1: <= 6·2^-24 = 3.6e-7.
  // Nearest (rise_binary) masks involve no rounding at all: exactly equal.
  struct Case {
    int64_t grid, h, w;
    double keep;
    bool binary;
  };
  for (const Case& c : {Case{7, 29, 23, 0.3, false}, Case{8, 28, 28, 0.5, false}, Case{1, 5, 9, 0.5, false},
                        Case{5, 32, 17, 0.7, true}, Case{2, 2, 2, 0.5, false}}) {
    RiseOptions o;
    o.grid = c.grid;
    o.keep = c.keep;
    o.binary = c.binary;
    o.seed = 77;
    const auto want = host_masks(o, c.h, c.w, 13, 40);
    const auto got = rise_masks(o, c.h, c.w, 13, 40).to_vector();
    REQUIRE(got.size() == want.size());
    double worst = 0;
    int64_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(got[i] - want[i])));
      differ += got[i] != want[i];
    }
    INFO("grid ", c.grid, " image ", c.h, " x ", c.w, " binary ", c.binary, ": max |op - host| ", worst, ", ",
         differ, " of ", got.size(), " values not bit-equal");
    if (c.binary)
      CHECK(differ == 0);
    else
      CHECK(worst <= 6.0 / 16777216.0);
  }
}

TEST_CASE("rise_accumulate: Kahan-compensated weighted mask sums, the same over one call or many") {
  // Plain-loop reference in double: sum[k, i] = Σ_b masks[b, i]·weights[b, k]. Kahan
  // summation in float keeps the error within ~2 eps Σ|terms| (Higham, Accuracy and
  // Stability, §4.3: |E| <= (2u + O(N u²)) Σ|x|), so 2.5e-7 Σ|terms| + a tiny floor.
  Generator gen(4);
  const int64_t B = 301, n = 37, U = 3;
  const Tensor masks = Tensor::uniform({B, 1, n}, 0.f, 1.f, gen);
  const Tensor weights = Tensor::uniform({B, U}, -3.f, 5.f, gen);
  Tensor s1 = Tensor::zeros({U, n}), c1 = Tensor::zeros({U, n});
  rise_accumulate(s1, c1, masks, weights);
  Tensor s2 = Tensor::zeros({U, n}), c2 = Tensor::zeros({U, n});
  for (int64_t b0 = 0; b0 < B; b0 += 17) {
    const int64_t len = std::min<int64_t>(17, B - b0);
    rise_accumulate(s2, c2, narrow(masks, 0, b0, len), narrow(weights, 0, b0, len));
  }
  CHECK(s1.to_vector() == s2.to_vector());
  CHECK(c1.to_vector() == c2.to_vector());
  for (int64_t k = 0; k < U; ++k)
    for (int64_t i = 0; i < n; ++i) {
      double want = 0, mag = 0;
      for (int64_t b = 0; b < B; ++b) {
        const double t = static_cast<double>(masks.data()[b * n + i]) * weights.data()[b * U + k];
        want += t;
        mag += std::fabs(t);
      }
      const double got = static_cast<double>(s1.data()[k * n + i]) - c1.data()[k * n + i];
      CHECK(std::fabs(got - want) <= 2.5e-7 * mag + 1e-12);
    }
  Tensor bad = Tensor::zeros({U, n + 1});
  CHECK_THROWS_WITH_AS(rise_accumulate(bad, c1, masks, weights), doctest::Contains("comp"), Error);
}

TEST_CASE("rise masks: bilinear upsampling of a grid follows skimage's half-pixel mapping") {
  // A 2x2 grid upsampled to 3·ceil(4/2) = 6 px: output pixel o samples (o + 0.5)/3 − 0.5.
  // With every cell kept the mask is 1 everywhere; the interior interpolation is checked
  // through the mean being exactly p-weighted when p -> values are only 0/1 cells.
  RiseOptions o;
  o.grid = 2;
  o.keep = 0.999999;  // every cell kept: the mask must be exactly 1 everywhere
  o.seed = 3;
  for (float v : rise_masks(o, 4, 4, 0, 5).to_vector()) CHECK(v == doctest::Approx(1.f).epsilon(1e-6));
}

TEST_CASE("rise: a unit reading the mean of a pixel region gets a map whose top 25 % lies in the region") {
  const int64_t S = 32;
  const auto region = square(S, 4, 10, 20);  // 400 of 1024 pixels
  AnalysisNet net = region_net(S, region);
  RiseTarget target(net, "unit", false);
  CHECK(target.module() == "fc");  // the pre-ReLU score
  CHECK(target.units() == 2);
  // A random image; the region is bright so masking it moves the unit a lot.
  Generator gen(5);
  Tensor img = Tensor::uniform({1, S, S}, 0.f, 1.f, gen);
  for (int64_t i = 0; i < S * S; ++i)
    if (region[static_cast<size_t>(i)]) img.data()[i] = 1.f;
  // 4000 masks: the Monte Carlo sd of a map pixel, sd(m·s)/sqrt(N) ~ 0.15/63, is then a tenth
  // of the contrast between the region's interior and the outside (~ (1 − g)·var(m) ~ 0.03).
  RiseOptions o;
  o.masks = 4000;
  o.batch = 500;
  o.seed = 2;
  const Tensor raw = rise_maps(target, img, {0}, o);
  const std::vector<uint8_t> everywhere(static_cast<size_t>(S * S), 1);
  const Tensor map = postprocess_map(raw.reshape({S, S}), everywhere);
  // Top 25 % = 256 pixels by map value (the region is where the map is high).
  std::vector<int64_t> idx(static_cast<size_t>(S * S));
  for (int64_t i = 0; i < S * S; ++i) idx[static_cast<size_t>(i)] = i;
  const float* m = map.data();
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return m[a] > m[b]; });
  int inside = 0;
  for (int k = 0; k < 256; ++k) inside += region[static_cast<size_t>(idx[static_cast<size_t>(k)])];
  MESSAGE("top-25% pixels inside the region: ", inside, " / 256");
  CHECK(inside >= 231);  // >= 90 % (science file §8's known-answer check)
}

TEST_CASE("rise: maps are identical whether the masks go through in one batch or many") {
  const int64_t S = 16;
  AnalysisNet net = region_net(S, square(S, 2, 3, 6));
  RiseTarget target(net, "unit", false);
  Generator gen(9);
  const Tensor img = Tensor::uniform({1, S, S}, 0.f, 1.f, gen);
  RiseOptions o;
  o.masks = 300;
  o.grid = 4;
  o.batch = 300;
  const auto one = rise_maps(target, img, {0, 1}, o).to_vector();
  o.batch = 7;
  const auto many = rise_maps(target, img, {0, 1}, o).to_vector();
  CHECK(one == many);
  // The map of a group's summed score is the sum of its units' maps (the map is linear in the
  // score; 5D relies on it). The group's score is summed in double and rounded to float once
  // (2^-24 relative); each map is a Kahan-compensated float sum in mask order, within about
  // 2·2^-24 of Σ|m·s| (Higham, Accuracy and Stability, §4.3), then rounded to float. Unit 1
  // (the mean faded pixel, ~0.5 > 0) has the larger map and |s0| <= 0.5 (a mean of m·(x − g)),
  // so Σ|m·s| of either map is at most ~2x unit 1's map: the worst case is ~10·2^-24 = 6e-7 of
  // the larger map value; the roundings are independent, so the actual difference is a few
  // ulps at most: 2.5e-7 (4 ulps); measured 1.2e-7 (MESSAGE).
  const auto sum = rise_group_maps(target, img, {{0, 1}}, o).to_vector();
  double worst = 0;
  for (size_t i = 0; i < sum.size(); ++i) {
    const float want = one[i] + one[sum.size() + i];
    const float scale = std::max(std::fabs(one[i]), std::fabs(one[sum.size() + i]));
    worst = std::max(worst, static_cast<double>(std::fabs(sum[i] - want) / scale));
    CHECK(std::fabs(sum[i] - want) <= 2.5e-7f * scale + 1e-9f);
  }
  MESSAGE("group map vs sum of unit maps: worst difference ", worst, " of the larger map value");
}

TEST_CASE("rise: maps with a non-trivial input normalisation equal the plain composition") {
  // rise_group_maps forms the normalised masked batch as m ⊙ a + k (a = (x − g)/std,
  // k = (g − mean)/std); the reference composes g + m ⊙ (x − g) on the host in double and lets
  // RiseTarget::scores normalise it ((x − mean)/std), then sums m·s / N in double. Each
  // normalised pixel differs between the two forms by a few float roundings of values <= ~3
  // (< 1e-6); a score is a weighted mean of them (weights >= 0 summing to 1), and the map a mean
  // of m·s with 0 <= m <= 1: differences stay below ~1e-6, so 1e-5 absolute is safe. Dropping
  // the division of k by std, or its mean, moves the scores by ~0.5 (caught by ~5 orders).
  const int64_t S = 16;
  AnalysisNet net = region_net(S, square(S, 2, 3, 6));
  net.norm = {{0.45f}, {0.3f}, "test"};
  RiseTarget target(net, "unit", false);
  Generator gen(11);
  const Tensor img = Tensor::uniform({1, S, S}, 0.f, 1.f, gen);
  RiseOptions o;
  o.masks = 40;
  o.grid = 4;
  o.batch = 16;
  const Tensor maps = rise_maps(target, img, {0, 1}, o);
  const Tensor masks = rise_masks(o, S, S, 0, o.masks);
  Tensor composed = Tensor::empty({o.masks, 1, S, S});
  for (int64_t i = 0; i < o.masks * S * S; ++i) {
    const double m = masks.data()[i], x = img.data()[i % (S * S)];
    composed.data()[i] = static_cast<float>(kGray + m * (x - kGray));
  }
  const Tensor s = target.scores(composed);  // (masks, 2)
  double worst = 0;
  for (int64_t u = 0; u < 2; ++u)
    for (int64_t p = 0; p < S * S; ++p) {
      double want = 0;
      for (int64_t i = 0; i < o.masks; ++i) want += masks.data()[i * S * S + p] * static_cast<double>(s.data()[i * 2 + u]);
      want /= static_cast<double>(o.masks);
      const double got = maps.data()[u * S * S + p];
      worst = std::max(worst, std::fabs(got - want));
      CHECK(std::fabs(got - want) <= 1e-5);
    }
  MESSAGE("normalised composition vs plain: worst map difference ", worst);
}

TEST_CASE("rise: insertion at 100 % and deletion of no pixel reproduce the original response exactly") {
  const int64_t S = 24;
  AnalysisNet net = region_net(S, square(S, 5, 5, 9));
  RiseTarget target(net, "unit", false);
  // An object on the gray background.
  Tensor img = Tensor::full({1, S, S}, kGray);
  Generator gen(4);
  for (int64_t y = 6; y < 18; ++y)
    for (int64_t x = 4; x < 15; ++x) img.data()[y * S + x] = static_cast<float>(gen.next_uniform());
  const auto fg = foreground_mask(img, kGray);
  const auto region = dilate_disc(fg, S, S, 5);
  RiseOptions o;
  o.masks = 200;
  o.grid = 6;
  const Tensor map = postprocess_map(rise_maps(target, img, {0}, o).reshape({S, S}), region);
  const float original = target.scores(img.reshape({1, 1, S, S})).data()[0];
  const Tensor ins = insertion_image(img, top_pixels(map, 100), kGray);
  const Tensor del = deletion_image(img, top_pixels(map, 1), kGray);
  CHECK(top_pixels(map, 1).empty());
  CHECK(target.scores(ins.reshape({1, 1, S, S})).data()[0] == original);
  CHECK(target.scores(del.reshape({1, 1, S, S})).data()[0] == original);
  // Deleting everything leaves the gray canvas: the response then differs.
  const Tensor all_gone = deletion_image(img, top_pixels(map, 100), kGray);
  CHECK(target.scores(all_gone.reshape({1, 1, S, S})).data()[0] != original);
}

TEST_CASE("rise: level mapping keeps round((p-1)/99 N) pixels, or round(p/100 N) exactly") {
  Tensor map = Tensor::zeros({10, 10});
  for (int64_t i = 0; i < 100; ++i) map.data()[i] = static_cast<float>(i % 2 ? i : -i);  // 99 non-zero
  CHECK(top_pixels(map, 25).size() == 24);  // round(24/99 * 99) = 24
  CHECK(top_pixels(map, 25, LevelMapping::ExactPercent).size() == 25);  // round(0.25 * 99) = 24.75
  CHECK(top_pixels(map, 100).size() == 99);
  // Ranked by |value|: pixel 99 (99) then 98 (-98).
  const auto top2 = top_pixels(map, 3);  // round(2/99 * 99) = 2
  REQUIRE(top2.size() == 2);
  CHECK(top2[0] == 99);
  CHECK(top2[1] == 98);
  CHECK_THROWS_WITH_AS(top_pixels(map, 0), doctest::Contains("level 0"), std::exception);
}

TEST_CASE("rise: 8-connected components and the disc dilation") {
  // Two diagonal neighbours are one 8-connected component; a lone pixel is another.
  std::vector<uint8_t> set(25, 0);
  set[0] = set[6] = set[12] = 1;  // diagonal (0,0) (1,1) (2,2)
  set[4] = 1;                     // (0,4)
  const auto comps = connected_components8(set, 5, 5);
  REQUIRE(comps.size() == 2);
  CHECK(comps[0] == std::vector<int64_t>{0, 6, 12});
  CHECK(comps[1] == std::vector<int64_t>{4});
  // A radius-2 disc around the centre of a 7x7 image covers the 13 pixels with dx²+dy² <= 4.
  std::vector<uint8_t> c(49, 0);
  c[24] = 1;
  const auto d = dilate_disc(c, 7, 7, 2);
  CHECK(std::count(d.begin(), d.end(), 1) == 13);
  CHECK(d[24 - 2] == 1);
  CHECK(d[24 - 2 * 7 - 1] == 0);  // (dy, dx) = (-2, -1): 5 > 4
}

TEST_CASE("rise: shuffled patches keep their pixel multiset and never overlap") {
  const int64_t S = 40;
  Generator gen(8);
  Tensor img = Tensor::uniform({1, S, S}, 0.f, 0.49f, gen);  // never the gray value
  // Kept pixels: three blobs and some isolated pixels.
  std::vector<int64_t> kept;
  for (int64_t y = 3; y < 11; ++y)
    for (int64_t x = 5; x < 12; ++x) kept.push_back(y * S + x);
  for (int64_t y = 20; y < 24; ++y)
    for (int64_t x = 20; x < 30; ++x) kept.push_back(y * S + x);
  for (int64_t k = 0; k < 6; ++k) kept.push_back((30 + k) * S + (2 + 3 * k));
  for (int64_t k = 0; k < 5; ++k) kept.push_back(37 * S + 25 + 2 * k);
  Generator sg(3);
  const ShuffleResult r = shuffle_patches(img, kept, kGray, sg);
  REQUIRE(r.dropped == 0);
  CHECK(r.placed == 13);  // 2 blobs + 6 + 5 lone pixels
  std::multiset<float> want, got;
  for (int64_t i : kept) want.insert(img.data()[i]);
  for (int64_t i = 0; i < S * S; ++i)
    if (r.image.data()[i] != kGray) got.insert(r.image.data()[i]);
  // Same multiset: nothing lost, nothing duplicated, so no patch overwrote another.
  CHECK(got == want);
  // The placement moved the patches (a shuffle that leaves them in place is no control).
  int same = 0;
  for (int64_t i : kept) same += r.image.data()[i] == img.data()[i];
  CHECK(same < static_cast<int>(kept.size()) / 2);
  // Reproducible from the generator.
  Generator sg2(3);
  CHECK(shuffle_patches(img, kept, kGray, sg2).image.to_vector() == r.image.to_vector());
}

TEST_CASE("rise: unit selection of 5C and 5D on hand-built view curves") {
  const std::vector<double> ang{-90, -67.5, -45, -22.5, 0, 22.5, 45, 67.5, 90};
  // unit 0: V-shaped and mirror-symmetric (|angle|); unit 1: V-shaped, lopsided;
  // unit 2: monotonic in angle (reflection corr -1); unit 3: inverted V (negative V corr).
  Tensor resp = Tensor::zeros({9, 4});
  for (int j = 0; j < 9; ++j) {
    resp.data()[j * 4 + 0] = static_cast<float>(std::fabs(ang[j]));
    resp.data()[j * 4 + 1] = static_cast<float>(std::fabs(ang[j]) + (ang[j] > 0 ? 40 : 0));
    resp.data()[j * 4 + 2] = static_cast<float>(ang[j]);
    resp.data()[j * 4 + 3] = static_cast<float>(-std::fabs(ang[j]));
  }
  const auto s = unit_curve_stats(resp, ang);
  CHECK(s.v_corr[0] == doctest::Approx(1.0));
  CHECK(s.reflection_corr[0] == doctest::Approx(1.0));
  CHECK(s.reflection_corr[2] == doctest::Approx(-1.0));
  CHECK(s.v_corr[3] == doctest::Approx(-1.0));
  CHECK(s.reflection_corr[1] < 1.0);
  CHECK(select_unit_5c(s) == 0);
  // Percentile 50 of the candidates {0, 1}: the threshold lies between them, only unit 0 passes.
  CHECK(select_units_5d(s, 50.0) == std::vector<int64_t>{0});
}

TEST_CASE("rise: bad input names the argument and its value") {
  const int64_t S = 16;
  AnalysisNet net = region_net(S, square(S, 2, 2, 4));
  RiseTarget target(net, "unit", false);
  const Tensor img = Tensor::full({1, S, S}, 0.3f);
  RiseOptions o;
  o.masks = 10;
  CHECK_THROWS_WITH_AS(rise_maps(target, img, {2}, o), doctest::Contains("--unit 2"), std::exception);
  CHECK_THROWS_WITH_AS(RiseTarget(net, "fc9", false), doctest::Contains("fc9"), std::exception);
  o.grid = 17;
  CHECK_THROWS_WITH_AS(rise_maps(target, img, {0}, o), doctest::Contains("--grid 17"), std::exception);
  o.grid = 4;
  o.keep = 1.0;
  CHECK_THROWS_WITH_AS(rise_maps(target, img, {0}, o), doctest::Contains("(0, 1)"), std::exception);
  o.keep = 0.5;
  o.masks = 0;
  CHECK_THROWS_WITH_AS(rise_maps(target, img, {0}, o), doctest::Contains("--masks"), std::exception);
}

TEST_CASE("importance_maps ci: rendered objects through an untrained vgg_small, every output written") {
  testing::TempDir dir("rise_study");
  render::MeshSet meshes;
  for (const char* fam : {"face", "car"}) render::add_family(meshes, fam, 1, 7, 0.0, render::Camera{});
  render::RenderOptions ro;
  ro.size = 28;
  const std::string stim = dir.file("stim");
  render::write_stimulus_set(meshes.categories, meshes.items, render::render_source(meshes, ro), stim, {{"seed", 7}}, nullptr);
  const StimulusSet set = read_stimulus_set(stim + "/manifest.csv");
  NetSpec spec;
  spec.model = "vgg_small";
  spec.untrained = true;
  spec.in_channels = 1;
  spec.image_size = 28;
  spec.normalization = "none";
  AnalysisNet net = load_analysis_net(spec);
  RiseStudyOptions o;
  o.layer = "fc1";
  o.rise.masks = 40;
  o.rise.batch = 16;
  o.shuffles = 3;
  o.levels = {20, 50, 80};
  o.progress = false;
  const RiseStudyResult r = run_rise_study(net, set, o);
  REQUIRE(r.objects.size() == 2);
  CHECK(r.module == "fc1");
  CHECK(r.units == 256);
  for (const RiseObjectResult& ob : r.objects) {
    REQUIRE(ob.unit_5c >= 0);
    CHECK(ob.original.size() == 9);
    CHECK(ob.r_insertion.size() == 3);
    CHECK(ob.maps_5c.shape() == Shape{9, 28, 28});
    // The maps live on the dilated object only: the image corners are background.
    CHECK(ob.maps_5c.data()[0] == 0.f);
    // The 5C unit's curve over the views is V-shaped (its V correlation was required > 0).
    std::vector<double> absang;
    for (double a : set.views_deg) absang.push_back(std::fabs(a));
    CHECK(pearson(ob.original.data(), absang.data(), 9) > 0);
  }
  const std::string out = dir.file("out");
  write_rise_study(r, set, o, out);
  for (const char* f : {"curves.csv", "levels.csv", "summary_5c.csv", "index_5d.csv", "maps_5c.npy"})
    CHECK(std::filesystem::exists(out + "/" + f));
  CHECK(std::filesystem::exists(out + "/overlays/face_0_view-90.png"));
  std::ifstream curves(out + "/curves.csv");
  int lines = 0;
  for (std::string l; std::getline(curves, l);) ++lines;
  CHECK(lines == 1 + 2 * 9);

  // A view with no foreground (all background gray) is a named error before any map is made.
  std::vector<uint8_t> gray(28 * 28, 128);
  REQUIRE(stbi_write_png(set.files[3].c_str(), 28, 28, 1, gray.data(), 28));
  CHECK_THROWS_WITH_AS(run_rise_study(net, set, o), doctest::Contains("has no foreground"), std::exception);
}
