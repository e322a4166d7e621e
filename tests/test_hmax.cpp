// HMAX (models/hmax.h): the Gabor bank's analytic properties, S1/C1/S2 against plain loops,
// orientation selectivity, C1's tolerance to small shifts, prototypes found by S2 and C2, the
// prototype file, and bad input.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "models/hmax.h"
#include "models/hmax_s1_cpu.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::models;

namespace {

// The outputs of the named layers for images (B, 1, S, S).
std::vector<Tensor> run_layers(Model& m, const Tensor& x, const std::vector<std::string>& names) {
  nn::ActivationCapture cap(*m.net, names);
  (*m.net)(x);
  std::vector<Tensor> out;
  for (const auto& n : names) out.push_back(cap[n].clone());
  return out;
}

// Plain-loop S1 of size index j, orientation o at every position: CBCL's definition.
std::vector<double> s1_reference(const std::vector<float>& img, int64_t S, int64_t j, int64_t o) {
  const int64_t s = 7 + 2 * j, h = (s - 1) / 2;
  const auto f = hmax_gabor(j, o).to_vector();
  std::vector<double> out(static_cast<size_t>(S * S), 0.0);
  for (int64_t r = h; r < S - h; ++r)
    for (int64_t c = h; c < S - h; ++c) {
      double dot = 0, sq = 0;
      for (int64_t a = 0; a < s; ++a)
        for (int64_t b = 0; b < s; ++b) {
          const double v = img[static_cast<size_t>((r - h + a) * S + c - h + b)];
          dot += v * f[static_cast<size_t>(a * s + b)];
          sq += v * v;
        }
      out[static_cast<size_t>(r * S + c)] = std::fabs(dot) / (sq > 0 ? std::sqrt(sq) : 1.0);
    }
  return out;
}

}  // namespace

TEST_CASE("hmax: every Gabor filter has zero mean and unit norm, and zero-free support inside its disc") {
  for (int64_t j = 0; j < kHmaxSizes; ++j)
    for (int64_t o = 0; o < kHmaxOrientations; ++o) {
      const auto f = hmax_gabor(j, o).to_vector();
      const int64_t s = 7 + 2 * j;
      REQUIRE(static_cast<int64_t>(f.size()) == s * s);
      double sum = 0, sq = 0;
      for (float v : f) sum += v, sq += static_cast<double>(v) * v;
      // Float32 storage of doubles that sum to 0 and 1: error ~ s^2 * 6e-8.
      CHECK(std::fabs(sum) < 1e-4);
      CHECK(std::fabs(sq - 1.0) < 1e-5);
      // Outside the disc every entry is the same (minus the mean); the corners are outside.
      CHECK(f[0] == f[static_cast<size_t>(s * s - 1)]);
      CHECK(f[0] == f[static_cast<size_t>(s - 1)]);
    }
  // The centre of the 0-degree filter is its positive peak (cos(0) = 1 times the Gaussian's 1).
  const auto f0 = hmax_gabor(4, 2).to_vector();
  CHECK(*std::max_element(f0.begin(), f0.end()) == f0[static_cast<size_t>(7 * 15 + 7)]);
}

TEST_CASE("hmax: S1, C1 and S2 equal plain loops of CBCL's definitions") {
  // Both paths: the host kernels (CPU default) and the engine ops (the CUDA path).
  for (bool engine_ops : {false, true}) {
  INFO("engine_ops ", engine_ops);
  const int64_t S = 48;
  Generator g(3);
  const Tensor x = testing::rand({1, 1, S, S}, g, 0.f, 1.f);
  const auto img = x.to_vector();
  HmaxPrototypes protos;
  protos.sizes = {4};
  protos.patches = {testing::rand({3, 4, 4, 4}, g, 0.f, 0.5f)};
  HmaxOptions o;
  o.image_size = S;
  o.engine_ops = engine_ops;
  Model m = hmax_model(o, protos);
  const auto outs = run_layers(m, x, {"s1", "c1", "s2", "c2"});
  const auto s1 = outs[0].to_vector();
  REQUIRE(outs[0].shape() == Shape{1, 64, S, S});
  // S1 for sizes 0, 1 (band 0) and 15 at every orientation. Float32 convolution over up to
  // 37^2 = 1369 products of values <= 1: 1e-5 absolute on responses <= 1.
  double worst = 0;
  std::vector<std::vector<double>> ref(8);
  for (int64_t j : {0, 1, 15})
    for (int64_t or_ = 0; or_ < 4; ++or_) {
      const auto r = s1_reference(img, S, j, or_);
      if (j < 2) ref[static_cast<size_t>(j * 4 + or_)] = r;
      for (int64_t i = 0; i < S * S; ++i)
        worst = std::max(worst, std::fabs(r[static_cast<size_t>(i)] - s1[static_cast<size_t>((j * 4 + or_) * S * S + i)]));
    }
  CHECK(worst < 1e-5);
  // C1 band 0: max over sizes 0 and 1, windows 8 x 8 from (0, 0) every 4 px, clipped at the edge.
  const int64_t L = (S + 3) / 4;
  const auto c1 = outs[1].to_vector();
  worst = 0;
  std::vector<double> c1ref(static_cast<size_t>(4 * L * L));
  for (int64_t or_ = 0; or_ < 4; ++or_)
    for (int64_t a = 0; a < L; ++a)
      for (int64_t b = 0; b < L; ++b) {
        double mx = 0;
        for (int64_t r = 4 * a; r < std::min(S, 4 * a + 8); ++r)
          for (int64_t c = 4 * b; c < std::min(S, 4 * b + 8); ++c)
            for (int64_t j = 0; j < 2; ++j) mx = std::max(mx, ref[static_cast<size_t>(j * 4 + or_)][static_cast<size_t>(r * S + c)]);
        c1ref[static_cast<size_t>((or_ * L + a) * L + b)] = mx;
        worst = std::max(worst, std::fabs(mx - c1[static_cast<size_t>((or_ * L + a) * L + b)]));
      }
  CHECK(worst < 1e-5);
  // S2 on band 0 (the first block of the flattened S2): exp(-||x - p||^2 / 2) from the
  // engine's own C1 (so only S2's arithmetic is compared). GEMM-form cancellation on
  // ||x||^2 <= 64: 1e-4 absolute on d^2, hence on the response.
  const auto p = protos.patches[0].to_vector();
  const auto s2 = outs[2].to_vector();
  const int64_t P = L - 4 + 1;
  worst = 0;
  std::vector<double> c2band0(3, 0.0);
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t a = 0; a < P; ++a)
      for (int64_t b = 0; b < P; ++b) {
        double d2 = 0;
        for (int64_t c = 0; c < 4; ++c)
          for (int64_t r = 0; r < 4; ++r)
            for (int64_t q = 0; q < 4; ++q) {
              const double diff = c1[static_cast<size_t>((c * L + a + r) * L + b + q)] - p[static_cast<size_t>(((k * 4 + c) * 4 + r) * 4 + q)];
              d2 += diff * diff;
            }
        const double resp = std::exp(-d2 / 2);
        c2band0[static_cast<size_t>(k)] = std::max(c2band0[static_cast<size_t>(k)], resp);
        worst = std::max(worst, std::fabs(resp - s2[static_cast<size_t>((k * P + a) * P + b)]));
      }
  CHECK(worst < 1e-4);
  // C2 is at least band 0's maximum (it also takes the other bands).
  const auto c2 = outs[3].to_vector();
  REQUIRE(outs[3].shape() == Shape{1, 3});
  for (int64_t k = 0; k < 3; ++k) CHECK(c2[static_cast<size_t>(k)] >= c2band0[static_cast<size_t>(k)] - 1e-4);
  }
}

TEST_CASE("hmax: a grating's peak S1 response comes from the filter of its orientation") {
  const int64_t S = 96;
  HmaxOptions o;
  o.image_size = S;
  Model m = hmax_model(o);
  for (int64_t j : {0, 5, 10, 15}) {
    const double lambda = 2.0 * static_cast<double>(7 + 2 * j) / (4.0 - 0.05 * static_cast<double>(j));
    for (int64_t target = 0; target < 4; ++target) {
      // Luminance varying along the filter's x' = col cos(theta) - row sin(theta).
      const double th = hmax_orientation_deg(target) * std::numbers::pi / 180.0;
      std::vector<float> img(static_cast<size_t>(S * S));
      for (int64_t r = 0; r < S; ++r)
        for (int64_t c = 0; c < S; ++c)
          img[static_cast<size_t>(r * S + c)] =
              static_cast<float>(0.5 + 0.5 * std::cos(2 * std::numbers::pi * (c * std::cos(th) - r * std::sin(th)) / lambda));
      const auto s1 = run_layers(m, Tensor::from_vector({1, 1, S, S}, img), {"s1"})[0].to_vector();
      std::vector<double> peak(4, 0.0);
      for (int64_t or_ = 0; or_ < 4; ++or_)
        for (int64_t i = 0; i < S * S; ++i) peak[static_cast<size_t>(or_)] = std::max<double>(peak[static_cast<size_t>(or_)], s1[static_cast<size_t>((j * 4 + or_) * S * S + i)]);
      INFO("size index ", j, ", grating at ", hmax_orientation_deg(target), " deg: peaks ", peak[0], " ", peak[1], " ", peak[2], " ", peak[3]);
      CHECK(std::max_element(peak.begin(), peak.end()) - peak.begin() == target);
    }
  }
}

TEST_CASE("hmax: C1 keeps its value under a shift smaller than its pooling step") {
  // A single bright pixel: S1 of every filter peaks on it (the filter's centre is its largest
  // |value|). Band 0 pools 8 x 8 windows every 4 px, so the window starting at 4 floor(q/4)
  // holds both the peak q and q + 1: a 1-px shift leaves that C1 unit unchanged. The dot is at
  // 47 = 4*11 + 3, where a window as wide as its step (4) would lose the shifted peak.
  const int64_t S = 96, q = 47;
  HmaxOptions o;
  o.image_size = S;
  Model m = hmax_model(o);
  auto dot = [&](int64_t r, int64_t c) {
    Tensor x = Tensor::zeros({1, 1, S, S});
    x.data()[r * S + c] = 1.f;
    return x;
  };
  const auto a = run_layers(m, dot(q, q), {"s1", "c1"});
  const auto b = run_layers(m, dot(q + 1, q + 1), {"s1", "c1"});
  const auto s1a = a[0].to_vector(), s1b = b[0].to_vector(), c1a = a[1].to_vector(), c1b = b[1].to_vector();
  const int64_t L = (S + 3) / 4;
  int s1_changed = 0, c1_far_changed = 0;
  for (int64_t or_ = 0; or_ < 4; ++or_) {
    // The S1 peak of band 0 is on the dot.
    double mx = 0;
    int64_t at = -1;
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t i = 0; i < S * S; ++i)
        if (s1a[static_cast<size_t>((j * 4 + or_) * S * S + i)] > mx) mx = s1a[static_cast<size_t>((j * 4 + or_) * S * S + i)], at = i;
    CHECK(at == q * S + q);
    const size_t unit = static_cast<size_t>((or_ * L + q / 4) * L + q / 4);
    CHECK(c1a[unit] == c1b[unit]);
    CHECK(c1a[unit] == doctest::Approx(mx).epsilon(1e-6));
    s1_changed += s1a[static_cast<size_t>((0 * 4 + or_) * S * S + q * S + q)] != s1b[static_cast<size_t>((0 * 4 + or_) * S * S + q * S + q)];
    // A unit whose window does not hold the peak does change.
    const size_t far = static_cast<size_t>((or_ * L + q / 4 - 2) * L + q / 4);
    c1_far_changed += c1a[far] != c1b[far];
  }
  CHECK(s1_changed == 4);
  CHECK(c1_far_changed > 0);
  // A shift by a whole window moves the peak out of the unit.
  const auto c = run_layers(m, dot(q + 8, q + 8), {"c1"})[0].to_vector();
  CHECK(c[static_cast<size_t>((q / 4) * L + q / 4)] < c1a[static_cast<size_t>((q / 4) * L + q / 4)]);
}

TEST_CASE("hmax: a prototype cut from an image has S2 response 1 there, and C2 finds it anywhere in a larger image") {
  Generator g(11);
  const int64_t S = 64;
  HmaxOptions small;
  small.image_size = S;
  const Tensor img = testing::rand({1, 1, S, S}, g, 0.f, 1.f);
  // Band 1 (2nd band): C1 window 10, step 5. The 4 x 4 patch at (4, 4) pools S1 rows/columns
  // 20..44, whose filters (sizes 11, 13) see only the image's pixels 14..50: S1 there does not
  // depend on what surrounds the image.
  const auto c1 = hmax_c1_bands(img, small);
  const int64_t L = c1[1].size(2), r0 = 4, n = 4;
  const auto v = c1[1].to_vector();
  std::vector<float> patch(static_cast<size_t>(4 * n * n));
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t q = 0; q < n; ++q)
        patch[static_cast<size_t>((c * n + r) * n + q)] = v[static_cast<size_t>((c * L + r0 + r) * L + r0 + q)];
  HmaxPrototypes protos;
  protos.sizes = {n};
  protos.patches = {cat({Tensor::from_vector({1, 4, n, n}, patch), testing::rand({2, 4, n, n}, g, 0.f, 0.5f)}, 0)};
  {
    Model m = hmax_model(small, protos);
    const auto s2 = run_layers(m, img, {"s2"})[0].to_vector();
    // Band 0 comes first in the flattened S2: (3, P0, P0); then band 1: (3, P1, P1).
    const int64_t P0 = c1[0].size(2) - n + 1, P1 = L - n + 1;
    // d^2 from the GEMM form cancels to ~1e-5 of ||x||^2 <= 64: response 1 within 1e-4.
    CHECK(s2[static_cast<size_t>(3 * P0 * P0 + r0 * P1 + r0)] == doctest::Approx(1.0).epsilon(1e-4));
  }
  // The image pasted into a 160-px noise image at offsets that are multiples of band 1's step.
  HmaxOptions big;
  big.image_size = 160;
  Model mb = hmax_model(big, protos);
  for (auto [dy, dx] : {std::pair<int64_t, int64_t>{35, 60}, {90, 15}}) {
    Tensor canvas = testing::rand({1, 1, 160, 160}, g, 0.f, 1.f);
    const auto src = img.to_vector();
    for (int64_t r = 0; r < S; ++r)
      for (int64_t c = 0; c < S; ++c) canvas.data()[(r + dy) * 160 + c + dx] = src[static_cast<size_t>(r * S + c)];
    const auto c2 = run_layers(mb, canvas, {"c2"})[0].to_vector();
    INFO("offset ", dy, ", ", dx);
    CHECK(c2[0] == doctest::Approx(1.0).epsilon(1e-4));
  }
  // Without the pasted image the prototype is not found: C2 stays 100x the tolerance below 1
  // (noise C1 patches are alike, so d^2 is small but not 0: 0.988 here).
  const auto c2n = run_layers(mb, testing::rand({1, 1, 160, 160}, g, 0.f, 1.f), {"c2"})[0].to_vector();
  CHECK(c2n[0] < 1.0 - 1e-2);
}

TEST_CASE("hmax: prototypes sampled with a seed round-trip through safetensors, and bad files are named") {
  testing::TempDir dir("hmax");
  Generator g(5);
  HmaxOptions o;
  o.image_size = 64;
  const Tensor imgs = testing::rand({3, 1, 64, 64}, g, 0.f, 1.f);
  const auto p = sample_hmax_prototypes(imgs, o, 5, 42, {4, 8});
  const auto p2 = sample_hmax_prototypes(imgs, o, 5, 42, {4, 8});
  const auto p3 = sample_hmax_prototypes(imgs, o, 5, 43, {4, 8});
  REQUIRE(p.count() == 10);
  CHECK(testing::equal(p.patches[1], p2.patches[1]));
  CHECK(!testing::equal(p.patches[1], p3.patches[1]));
  const std::string path = (dir.path / "protos.safetensors").string();
  save_hmax_prototypes(path, p);
  const auto q = load_hmax_prototypes(path, 64);
  REQUIRE(q.sizes == std::vector<int64_t>{4, 8});
  CHECK(testing::equal(q.patches[0], p.patches[0]));
  CHECK(testing::equal(q.patches[1], p.patches[1]));

  const std::string bad = (dir.path / "bad.safetensors").string();
  save_safetensors(bad, {{"prototypes.4", Tensor::zeros({2, 3, 4, 4})}});
  CHECK_THROWS_WITH_AS(load_hmax_prototypes(bad, 64), doctest::Contains("'prototypes.4' is float32 (2, 3, 4, 4)"), Error);
  save_safetensors(bad, {{"prototypes.8", Tensor::zeros({2, 4, 4, 4})}});
  CHECK_THROWS_WITH_AS(load_hmax_prototypes(bad, 64), doctest::Contains("expected float32 (K, 4, 8, 8)"), Error);
  save_safetensors(bad, {{"prototypes.20", Tensor::zeros({2, 4, 20, 20})}});
  CHECK_THROWS_WITH_AS(load_hmax_prototypes(bad, 64), doctest::Contains("20-px prototypes, larger than every C1 band map (16"), Error);
  save_safetensors(bad, {{"weights", Tensor::zeros({2, 4, 4, 4})}});
  CHECK_THROWS_WITH_AS(load_hmax_prototypes(bad, 64), doctest::Contains("expected only prototypes.<n>"), Error);
}

TEST_CASE("hmax: bad input names the sizes") {
  HmaxOptions o;
  o.image_size = 30;
  CHECK_THROWS_WITH_AS(hmax_model(o), doctest::Contains("--image-size 30 is smaller than the largest S1 filter (37 x 37)"), Error);
  o.image_size = 64;
  Model m = hmax_model(o);
  CHECK_THROWS_WITH_AS((*m.net)(Tensor::zeros({1, 1, 32, 32})), doctest::Contains("image side 32 is smaller than the largest S1 filter"), Error);
  CHECK_THROWS_WITH_AS((*m.net)(Tensor::zeros({1, 3, 64, 64})), doctest::Contains("must be (B, 1, S, S) gray"), Error);
  CHECK_THROWS_WITH_AS((*m.net)(Tensor::zeros({1, 1, 64, 80})), doctest::Contains("must be (B, 1, S, S) gray, got float32 (1, 1, 64, 80)"), Error);
  CHECK_THROWS_WITH_AS(sample_hmax_prototypes(Tensor::zeros({2, 1, 64, 64}), o, 0, 1),
                       doctest::Contains("number per size (--hmax-per-size) must be > 0, got 0"), Error);
  CHECK_THROWS_WITH_AS(sample_hmax_prototypes(Tensor::zeros({2, 1, 64, 64}), o, 2, 1, {4, 20}),
                       doctest::Contains("size 20 does not fit the band-2 C1 map (13 x 13)"), Error);
  CHECK_THROWS_WITH_AS((*m.net)(Tensor::zeros({1, 1, 80, 80})), doctest::Contains("images are 80 px, the model was built for 64"), Error);
  CHECK_THROWS_WITH_AS(m.layer("s2"), doctest::Contains("no analysis layer 's2'"), Error);  // no prototypes
  HmaxPrototypes p;
  p.sizes = {4};
  p.patches = {Tensor::zeros({2, 4, 5, 5})};
  CHECK_THROWS_WITH_AS(hmax_model(o, p), doctest::Contains("prototypes of size 4 must be (K, 4, 4, 4)"), Error);
}

TEST_CASE("hmax: centred C1 windows: the host kernel equals max_pool2d with m/2 padding") {
  // The engine-op path pools with PyTorch's padding m/2 (the van Vliet port); the host kernel
  // clips windows k*step - m/2 .. k*step + m/2 - 1 to the map. Max is exact: equal bit for bit.
  Generator g(9);
  const Tensor x = testing::rand({2, 1, 64, 64}, g, 0.f, 1.f);
  HmaxOptions host, ops;
  host.image_size = ops.image_size = 64;
  host.centred_c1 = ops.centred_c1 = true;
  ops.engine_ops = true;
  for (int64_t b = 0; b < kHmaxBands; ++b) {
    const Tensor a = hmax_c1_band(x, host, b), e = hmax_c1_band(x, ops, b);
    INFO("band ", b);
    REQUIRE(a.shape() == e.shape());
    CHECK(a.size(2) == 64 / hmax_c1_step(b) + 1);
    // S1 differs between the paths by float rounding only (division vs multiplication by 1/norm).
    CHECK(testing::max_abs_diff(a, e) < 1e-6);
  }
}

TEST_CASE("hmax: C2 straight from C1 (no S2 maps) equals the S2 path and a plain loop, over images, bands and sizes") {
  // Only c2 asked for: the host computes it from C1 without S2 (models/hmax_c2_cpu.h); with s2
  // captured too, the engine-op S2 and its max-pool. Both against min over bands and positions
  // of ||x - p||^2 in double from the model's own C1, for sigma 1 (exp) and 0 (-d^2).
  const int64_t S = 80, B = 3;
  Generator g(21);
  const Tensor x = testing::rand({B, 1, S, S}, g, 0.f, 1.f);
  HmaxPrototypes protos;
  protos.sizes = {4, 12, 8};  // 12 fits only bands 0-3 (C1 sides 20, 16, 14, 12; band 4 is 10)
  for (int64_t n : protos.sizes) protos.patches.push_back(testing::rand({5, 4, n, n}, g, 0.f, 0.3f));
  for (float sigma : {1.f, 0.f}) {
    INFO("sigma ", sigma);
    HmaxOptions o;
    o.image_size = S;
    o.s2_sigma = sigma;
    Model m = hmax_model(o, protos);
    const auto fused = run_layers(m, x, {"c1", "c2"});
    const Tensor via_s2 = run_layers(m, x, {"s2", "c2"})[1];
    REQUIRE(fused[1].shape() == Shape{B, 15});
    const auto c1 = fused[0].to_vector(), cf = fused[1].to_vector(), cs = via_s2.to_vector();
    const int64_t U = fused[0].size(1);
    double worst_ref = 0, worst_paths = 0;
    for (int64_t im = 0; im < B; ++im) {
      int64_t col = 0;
      for (size_t i = 0; i < protos.sizes.size(); ++i) {
        const int64_t n = protos.sizes[i];
        const auto p = protos.patches[i].to_vector();
        for (int64_t k = 0; k < 5; ++k, ++col) {
          double best = 1e300;
          int64_t off = 0;
          for (int64_t b = 0; b < kHmaxBands; ++b) {
            const int64_t step = hmax_c1_step(b), L = (S + step - 1) / step;
            for (int64_t a = 0; a + n <= L; ++a)
              for (int64_t q = 0; q + n <= L; ++q) {
                double d2 = 0;
                for (int64_t c = 0; c < 4; ++c)
                  for (int64_t r = 0; r < n; ++r)
                    for (int64_t t = 0; t < n; ++t) {
                      const double d = c1[static_cast<size_t>(im * U + off + (c * L + a + r) * L + q + t)] -
                                       p[static_cast<size_t>(((k * 4 + c) * n + r) * n + t)];
                      d2 += d * d;
                    }
                best = std::min(best, d2);
              }
            off += 4 * L * L;
          }
          const double ref = sigma > 0 ? std::exp(-best / 2) : -best;
          const size_t at = static_cast<size_t>(im * 15 + col);
          worst_ref = std::max(worst_ref, std::fabs(ref - cf[at]));
          worst_paths = std::max(worst_paths, std::fabs(static_cast<double>(cs[at]) - cf[at]));
        }
      }
    }
    // GEMM-form cancellation on ||x||^2 <= 4 n^2 = 576: float32 rounding of the three terms,
    // 1e-4 absolute on d^2 (and on exp(-d^2/2), whose slope is <= 1/2).
    CHECK(worst_ref < 1e-4);
    CHECK(worst_paths < 1e-4);
  }
}

TEST_CASE("hmax: the host S1 kernel equals a plain loop on wide images, for symmetric and asymmetric filters") {
  // 100-px rows give every column block of the kernel (48 and 16 wide under AVX-512, 24 and 8
  // under AVX2) and a scalar tail. CBCL's Gabors are point-symmetric, so the kernel pairs taps;
  // a random bank is not, so it does not: both against the same plain loop.
  const int64_t S = 100;
  Generator g(23);
  const Tensor x = testing::rand({S, S}, g, 0.f, 1.f);
  const auto img = x.to_vector();
  for (int64_t j : {0, 5, 15}) {
    const int64_t s = 7 + 2 * j, ss = s * s, half = (s - 1) / 2;
    const auto gabor = hmax_gabor_bank(j).to_vector();
    for (int64_t t = 0; t < ss; ++t) REQUIRE(gabor[static_cast<size_t>(t)] == gabor[static_cast<size_t>(ss - 1 - t)]);
    for (bool symmetric : {true, false}) {
      INFO("size ", s, " symmetric ", symmetric);
      const auto w = symmetric ? gabor : testing::rand({4, s, s}, g, -0.1f, 0.1f).to_vector();
      std::vector<float> out(static_cast<size_t>(4 * S * S));
      hmax_s1_cpu(img.data(), S, w.data(), s, out.data());
      double worst = 0;
      for (int64_t o = 0; o < 4; ++o)
        for (int64_t r = 0; r < S; ++r)
          for (int64_t c = 0; c < S; ++c) {
            double ref = 0;
            if (r >= half && r < S - half && c >= half && c < S - half) {
              double dot = 0, sq = 0;
              for (int64_t a = 0; a < s; ++a)
                for (int64_t b = 0; b < s; ++b) {
                  const double v = img[static_cast<size_t>((r - half + a) * S + c - half + b)];
                  dot += v * w[static_cast<size_t>(o * ss + a * s + b)];
                  sq += v * v;
                }
              ref = std::fabs(dot) / std::sqrt(sq);
            }
            worst = std::max(worst, std::fabs(ref - out[static_cast<size_t>((o * S + r) * S + c)]));
          }
      // Float32 sums of up to 37^2 products of values <= 1 (filters of unit norm): 1e-5.
      CHECK(worst < 1e-5);
    }
  }
}

TEST_CASE("hmax: C1 straight from the image (no S1 tensor) equals C1 from the captured S1, both anchorings") {
  // s1 not captured: the host computes each band's two S1 sizes into a buffer and pools them at
  // once; s1 captured: the full S1 tensor, then C1. Same kernels, so equal to the bit.
  Generator g(29);
  const Tensor x = testing::rand({3, 1, 70, 70}, g, 0.f, 1.f);
  for (bool centred : {false, true}) {
    INFO("centred ", centred);
    HmaxOptions o;
    o.image_size = 70;
    o.centred_c1 = centred;
    Model m = hmax_model(o);
    const Tensor direct = run_layers(m, x, {"c1"})[0];
    const Tensor via_s1 = run_layers(m, x, {"s1", "c1"})[1];
    REQUIRE(direct.shape() == via_s1.shape());
    CHECK(testing::max_abs_diff(direct, via_s1) == 0.0);
    // And the sampling helper's band-2 maps are the same values.
    const Tensor band1 = hmax_c1_band(x, o, 1);
    const int64_t L0 = hmax_c1_band(x, o, 0).size(2), L1 = band1.size(2);
    CHECK(testing::max_abs_diff(narrow(direct, 1, 4 * L0 * L0, 4 * L1 * L1).reshape(band1.shape()), band1) == 0.0);
  }
}
