// tests/cuda/test_hmax_hog_parity.cpp — HMAX and HOG (models/hmax.h, models/hog.h) on CUDA
// against the CPU, on small images so the interpret mode (tools/ci/interpret.sh) stays quick.
//
// HMAX: on the CPU the model uses its host kernels (S1/C1 direct, C1 straight from the image, C2
// straight from C1 when s1/s2 are not captured); on CUDA it must take the engine-op path
// (conv2d, max_pool2d, the GEMM form of S2) for every layer, captured or not. Every output has to
// stay on the device (a host fast path taken by mistake returns a CPU tensor, which the checks
// below catch even in the interpret mode, where device memory is host memory) and agree with the
// CPU within these bounds (eps = 2^-23, float's relative rounding unit):
//  - S1 = |x . g| / sqrt(x . x), g a unit-norm Gabor of s^2 <= 37^2 = 1369 taps. The devices add
//    the s^2 products in different orders; each partial sum is <= sum |x_i g_i| <= ||x|| (Cauchy-
//    Schwarz), so after the division each side's rounding is a random walk of about
//    sqrt(s^2) eps / 2 = 2.2e-6 (the normaliser adds half that, relative, times S1 <= 1); the
//    difference of two such walks has sd ~3.5e-6 and kS1 = 3e-5 is ~8 sd, still 5x below the
//    worst case s^2 eps = 1.6e-4 and far below any real error (a wrong filter, border or
//    normaliser moves S1 by 1e-2 or more).
//  - C1 = max over sizes and windows of S1: the max is 1-Lipschitz, so kS1 holds for C1 too.
//  - S2 = exp(-d^2/2), d^2 = ||x||^2 - 2 x.p + ||p||^2, each a sum of K = 4 n^2 terms whose
//    magnitudes add up to <= T = 4 K c^2 (c = the largest C1 or prototype value). Rounding: each
//    side's d^2 is a random walk of sd ~ sqrt(K) eps T / 2; two sides, sqrt(2) more; the slope of
//    exp(-d^2/2) is <= 1/2; 8 sd: 2 sqrt(2) sqrt(K) eps T. Inputs: the devices' C1 differ by
//    delta (measured, <= kS1), which moves d^2 by <= 2 K c delta, S2 by <= K c delta. kS2 is the
//    sum, computed from the data below (n = 8, the larger size; ~4e-4 here, while a 5 % change of
//    S2's exponent or a wrong box sum moves S2 by 1e-2 or more). C2 = max of S2: the same bound.
// HOG is computed on the host (a CUDA input is copied there and back), and its grid moves and
// channel permutations are data movement: both must agree bit for bit.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/ops.h"
#include "models/hmax.h"
#include "models/hog.h"
#include "tests/cuda_skip.h"
#include "tests/testing.h"

#if MIRRORLAB_CUDA

using namespace ml;
using namespace ml::models;

namespace {

constexpr double kEps32 = 1.1920928955078125e-7;  // 2^-23
constexpr double kS1 = 3e-5;

// The named layers' outputs for images x, on x's device; each checked to be on that device.
std::vector<Tensor> layers_of(Model& m, const Tensor& x, const std::vector<std::string>& names) {
  nn::ActivationCapture cap(*m.net, names);
  const Tensor y = (*m.net)(x);
  CHECK(y.device() == x.device());
  std::vector<Tensor> out;
  for (const auto& n : names) {
    INFO("layer ", n);
    CHECK(cap[n].device() == x.device());
    out.push_back(cap[n].to(Device::CPU));
  }
  return out;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto u = a.to(Device::CPU).to_vector(), v = b.to(Device::CPU).to_vector();
  double worst = 0;
  for (size_t i = 0; i < u.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(u[i]) - v[i]));
  return worst;
}

double max_value(const Tensor& a) {
  double m = 0;
  for (float v : a.to(Device::CPU).to_vector()) m = std::max(m, std::fabs(static_cast<double>(v)));
  return m;
}

}  // namespace

TEST_CASE("cuda parity: HMAX s1, c1, s2, c2 on CUDA (engine ops) equal the CPU (host kernels)") {
  ML_REQUIRE_CUDA();
  // 40 px (the largest filter is 37): C1 bands of 10 ... 4 px (top-left anchoring); 4-px
  // prototypes fit every band (band 7 at one position), 8-px ones bands 0-1 only (the skipped
  // band-size pairs are part of the check). 3 prototypes a size, drawn from the images.
  const int64_t S = 40, B = 2;
  Generator gen(17);
  const Tensor x = testing::rand({B, 1, S, S}, gen, 0.f, 1.f);
  const Tensor xg = x.to(Device::CUDA);
  for (bool centred : {false, true}) {
    INFO("centred C1 ", centred);
    HmaxOptions o;
    o.image_size = S;
    o.centred_c1 = centred;
    const HmaxPrototypes p = sample_hmax_prototypes(x, o, 3, 5, {4, 8});
    Model cpu = hmax_model(o, p), gpu = hmax_model(o, p);
    const std::vector<std::string> all = {"image", "s1", "c1", "s2", "c2"};
    const auto c = layers_of(cpu, x, all);
    const auto g = layers_of(gpu, xg, all);
    CHECK(max_abs_diff(c[0], g[0]) == 0.0);
    const double d_s1 = max_abs_diff(c[1], g[1]), d_c1 = max_abs_diff(c[2], g[2]);
    MESSAGE("|s1 cpu - cuda| <= ", d_s1, ", |c1| <= ", d_c1, " (bound ", kS1, ")");
    CHECK(d_s1 <= kS1);
    CHECK(d_c1 <= kS1);
    // The S2/C2 bound from this data (header): n = 8, c = the largest C1 or prototype value.
    double cmax = max_value(c[2]);
    for (const Tensor& t : p.patches) cmax = std::max(cmax, max_value(t));
    const double K = 4.0 * 8 * 8, T = 4.0 * K * cmax * cmax;
    const double kS2 = 2 * std::sqrt(2.0) * std::sqrt(K) * kEps32 * T + K * cmax * d_c1;
    const double d_s2 = max_abs_diff(c[3], g[3]), d_c2 = max_abs_diff(c[4], g[4]);
    MESSAGE("|s2 cpu - cuda| <= ", d_s2, ", |c2| <= ", d_c2, " (bound ", kS2, ", largest C1 ", cmax, ")");
    CHECK(d_s2 <= kS2);
    CHECK(d_c2 <= kS2);
    // The prototypes were cut from these images: somewhere S2 is ~1 on both devices, so the
    // comparison covers the cancellation at d^2 ~ 0 and not only responses near 0.
    CHECK(max_value(g[4]) > 0.99);

    // Only c1 and c2 captured: on the CPU the host skips S1/S2 (C1 from the image, C2 from C1);
    // on CUDA the same engine ops must run (the result equal to the all-layer run's, on the device).
    const auto g2 = layers_of(gpu, xg, {"c1", "c2"});
    CHECK(max_abs_diff(g2[0], g[2]) == 0.0);
    CHECK(max_abs_diff(g2[1], g[4]) == 0.0);
    const auto c2only = layers_of(cpu, x, {"c1", "c2"});
    CHECK(max_abs_diff(c2only[1], g[4]) <= kS2);

    // One band's C1 and the prototype draw from CUDA images.
    const Tensor band = hmax_c1_band(xg, o, 1);
    CHECK(band.device() == Device::CUDA);
    CHECK(max_abs_diff(hmax_c1_band(x, o, 1), band) <= kS1);
    const HmaxPrototypes pg = sample_hmax_prototypes(xg, o, 3, 5, {4, 8});
    for (size_t i = 0; i < p.patches.size(); ++i) CHECK(max_abs_diff(p.patches[i], pg.patches[i]) <= kS1);
  }
}

TEST_CASE("cuda parity: HOG and its channel permutations on CUDA equal the CPU bit for bit") {
  ML_REQUIRE_CUDA();
  Generator gen(23);
  HogOptions uoc;
  uoc.orientations = 8;
  HogOptions bil = uoc;
  bil.orientations = 9;
  bil.bilinear_orientations = true;
  HogOptions dt;
  dt.variant = HogVariant::DalalTriggs;
  dt.orientations = 8;
  dt.cell_size = 6;
  dt.block_size = 3;
  for (const HogOptions& o : {uoc, bil, dt}) {
    INFO(hog_variant_name(o.variant), " n ", o.orientations, o.bilinear_orientations ? " bilinear" : "");
    for (int64_t C : {1, 3}) {
      const Tensor x = testing::rand({2, C, 32, 40}, gen, 0.f, 1.f);
      const Tensor hg = hog(x.to(Device::CUDA), o);
      CHECK(hg.device() == Device::CUDA);
      CHECK(max_abs_diff(hog(x, o), hg) == 0.0);
    }
    // The model's layers on the device.
    Model m = hog_model(o, 1, 36);
    const Tensor x = testing::rand({2, 1, 36, 36}, gen, 0.f, 1.f);
    const auto g = layers_of(m, x.to(Device::CUDA), {"image", "hog"});
    CHECK(max_abs_diff(g[1], hog(x, o)) == 0.0);
    // hog_apply_transform on device features: grid moves and channel gathers, exact. Rot90 needs an
    // even n and a square grid (32 x 32 px: 4 x 4 UoCTTI cells, 3 x 3 Dalal-Triggs blocks).
    const Tensor sq = testing::rand({2, 1, 32, 32}, gen, 0.f, 1.f);
    const Tensor f = hog(sq, o), fg = f.to(Device::CUDA);
    for (HogTransform t : {HogTransform::HFlip, HogTransform::VFlip, HogTransform::Rot180, HogTransform::Rot90}) {
      if (t == HogTransform::Rot90 && o.orientations % 2 != 0) continue;
      INFO(hog_transform_name(t));
      const Tensor moved = hog_apply_transform(fg, t, o);
      CHECK(moved.device() == Device::CUDA);
      CHECK(max_abs_diff(hog_apply_transform(f, t, o), moved) == 0.0);
    }
  }
}

#endif  // MIRRORLAB_CUDA
