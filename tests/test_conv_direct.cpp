// tests/test_conv_direct.cpp — the direct forward convolution (kernels/cpu/conv_direct.h) against
// the definition written as plain loops in double, over a sweep of shapes that reaches every
// blocking boundary of the kernel: strides 1/2/3/4, padding 0-3, dilation 1-2, groups, 1x1 to
// 11x11 kernels, odd sizes, batch 1 and 3, output channels that are not a multiple of the
// register block, several channel chunks and several pixel tiles; plus the shapes the dispatch
// sends there (AlexNet conv1 and conv2, reduced) through conv2d_forward<Device::CPU>.
//
// Tolerance: the reference sums in double, the kernel in float32 (one fused multiply-add per term,
// in order). A float32 sum of m terms has an error of at most about m 2^-24 sum|terms| and in
// practice about sqrt(m) 2^-24 sum|terms|; with m <= 64 * 25 = 1600 here the typical error is
// ~40 ulps of the term magnitude. The test asks |y - y_ref| <= 1e-5 sum|terms| (+ |b|), ~170 ulps
// (tests/test_conv.cpp uses the same bound): a missed, doubled or misplaced term costs about
// |term| ~ sum|terms| / m >= 6e-4 sum|terms| and fails. Outputs whose every term lies in the
// padding must be exactly 0 (or b).
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_path.h"
#include "kernels/cpu/conv_direct.h"

using namespace ml;
using ml::kernels::Conv2dParams;

namespace {

Conv2dParams params(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t sh,
                    int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups) {
  Conv2dParams p{N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, groups, 0, 0};
  REQUIRE(kernels::conv2d_output_size(p));
  return p;
}

std::string describe(const Conv2dParams& p) {
  std::ostringstream os;
  os << "x (" << p.N << "," << p.C << "," << p.H << "," << p.W << ") w (" << p.K << "," << p.C / p.groups << ","
     << p.R << "," << p.S << ") stride " << p.stride_h << "x" << p.stride_w << " pad " << p.pad_h << "x" << p.pad_w
     << " dil " << p.dil_h << "x" << p.dil_w << " groups " << p.groups << " -> " << p.P << "x" << p.Q;
  return os.str();
}

std::vector<float> uniform(int64_t n, Generator& g) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<float>(2.0 * g.next_uniform() - 1.0);
  return v;
}

// "" when y matches the plain-loop definition within 1e-5 sum|terms| (see the header), else the
// worst element.
std::string check_against_definition(const std::vector<float>& y, const std::vector<float>& x,
                                     const std::vector<float>& w, const std::vector<float>& b, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  double worst = 0.0;
  std::string why;
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t pp = 0; pp < p.P; ++pp)
        for (int64_t q = 0; q < p.Q; ++q) {
          double v = 0.0, bound = 0.0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < p.R; ++r)
              for (int64_t s = 0; s < p.S; ++s) {
                const int64_t h = pp * p.stride_h - p.pad_h + r * p.dil_h, ww = q * p.stride_w - p.pad_w + s * p.dil_w;
                if (h < 0 || h >= p.H || ww < 0 || ww >= p.W) continue;
                const double t = static_cast<double>(x[static_cast<size_t>(((n * p.C + k / Kg * Cg + c) * p.H + h) * p.W + ww)]) *
                                 w[static_cast<size_t>(((k * Cg + c) * p.R + r) * p.S + s)];
                v += t;
                bound += std::fabs(t);
              }
          if (!b.empty()) {
            v += b[static_cast<size_t>(k)];
            bound += std::fabs(b[static_cast<size_t>(k)]);
          }
          const float got = y[static_cast<size_t>(((n * p.K + k) * p.P + pp) * p.Q + q)];
          const double excess = std::fabs(got - v) - 1e-5 * bound;
          if (!(excess <= 0.0) && (why.empty() || !(excess <= worst))) {  // NaN fails too
            worst = std::isnan(excess) ? INFINITY : excess;
            std::ostringstream os;
            os << "y[" << n << "," << k << "," << pp << "," << q << "] = " << got << " vs " << v << " (bound 1e-5 * "
               << bound << ")";
            why = os.str();
          }
        }
  return why;
}

// Runs the direct forward on random data and checks it; with `dispatch`, through
// conv2d_forward<Device::CPU> instead (the path the dispatch picks).
void check_direct(const Conv2dParams& p, bool bias, Generator& gen, bool dispatch = false) {
  INFO(describe(p) << (bias ? " bias" : " no-bias"));
  const auto x = uniform(p.N * p.C * p.H * p.W, gen);
  const auto w = uniform(p.K * (p.C / p.groups) * p.R * p.S, gen);
  const auto b = bias ? uniform(p.K, gen) : std::vector<float>{};
  std::vector<float> y(static_cast<size_t>(p.N * p.K * p.P * p.Q), NAN);
  if (dispatch)
    kernels::conv2d_forward<Device::CPU>(y.data(), x.data(), w.data(), bias ? b.data() : nullptr, p, Stream{});
  else
    kernels::direct_conv::forward(y.data(), x.data(), w.data(), bias ? b.data() : nullptr, p);
  const std::string why = check_against_definition(y, x, w, b, p);
  CHECK_MESSAGE(why.empty(), why);
}

}  // namespace

TEST_CASE("direct forward convolution matches the plain-loop definition over a sweep of shapes") {
  Generator gen(13);
  int ran = 0;
  const int64_t kernel_sizes[] = {1, 2, 3, 5, 7, 11};
  int i = 0;
  for (int64_t ks : kernel_sizes)
    for (int64_t stride : {1, 2, 4})
      for (int64_t pad : {0, 2})
        for (int64_t dil : {1, 2}) {
          if (ks == 1 && dil == 2) continue;
          const int64_t groups = (i % 3 == 2) ? 2 : 1;
          const int64_t extent = dil * (ks - 1) + 1;
          const int64_t H = std::max<int64_t>(extent - 2 * pad, 1) + 3 + i % 4;  // odd and even sizes, H != W
          const int64_t W = std::max<int64_t>(extent - 2 * pad, 1) + 6 - i % 3;
          const int64_t N = (i % 2) ? 3 : 1;
          const int64_t K = groups * (5 + 7 * (i % 3));  // 5, 12, 19 per group: never a whole register block
          const Conv2dParams p = params(N, groups * (1 + i % 3), H, W, K, ks, ks, stride, stride, pad, pad, dil, dil, groups);
          check_direct(p, i % 4 < 2, gen);
          ++i;
          ++ran;
        }
  CHECK(ran > 60);
}

TEST_CASE("direct forward convolution: H and W options differ, padding larger than the kernel") {
  Generator gen(14);
  check_direct(params(2, 3, 9, 12, 4, 3, 5, 1, 2, 2, 0, 1, 2, 1), true, gen);
  check_direct(params(1, 4, 10, 7, 6, 1, 3, 3, 1, 0, 1, 2, 1, 2), false, gen);
  check_direct(params(3, 2, 6, 11, 2, 5, 2, 2, 3, 1, 2, 1, 3, 2), true, gen);
  // Pads of 3 around a 2x2 kernel: rows and columns whose every term is padding (must be b).
  check_direct(params(1, 2, 4, 5, 3, 2, 2, 1, 1, 3, 3, 1, 1, 1), true, gen);
}

TEST_CASE("direct forward convolution on AlexNet-like shapes: channel chunks, pixel tiles, channel blocks") {
  Generator gen(15);
  // conv1-like: 3 channels, 11x11 stride 4 pad 2, 70 filters (a partial channel block on every ISA).
  check_direct(params(3, 3, 35, 39, 70, 11, 11, 4, 4, 2, 2, 1, 1, 1), true, gen);
  // conv2-like: 64 channels in several weight chunks, 5x5 pad 2, 40 filters.
  check_direct(params(1, 64, 13, 11, 40, 5, 5, 1, 1, 2, 2, 1, 1, 1), true, gen);
  // More output pixels (36 x 37 = 1332) than one tile holds on either ISA.
  check_direct(params(2, 2, 36, 37, 8, 5, 5, 1, 1, 2, 2, 1, 1, 1), false, gen);
  // The same shapes through the dispatch, which sends 5x5 and larger kernels to the direct path.
  const Conv2dParams conv1 = params(1, 3, 35, 39, 70, 11, 11, 4, 4, 2, 2, 1, 1, 1);
  const Conv2dParams conv2 = params(3, 64, 13, 11, 40, 5, 5, 1, 1, 2, 2, 1, 1, 1);
  CHECK(kernels::cpu_conv::chosen(conv1, kernels::cpu_conv::Pass::Forward) == kernels::cpu_conv::Path::Direct);
  CHECK(kernels::cpu_conv::chosen(conv2, kernels::cpu_conv::Pass::Forward) == kernels::cpu_conv::Path::Direct);
  // VGG16's conv1_2 shape (224x224 outputs) goes there on every ISA; vgg_small's largest
  // (30x30 -> 28x28, 32 -> 32) never does.
  const Conv2dParams vgg16_conv1_2 = params(1, 64, 224, 224, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  const Conv2dParams vgg_small_conv1_2 = params(256, 32, 30, 30, 32, 3, 3, 1, 1, 0, 0, 1, 1, 1);
  CHECK(kernels::cpu_conv::chosen(vgg16_conv1_2, kernels::cpu_conv::Pass::Forward) == kernels::cpu_conv::Path::Direct);
  CHECK(kernels::cpu_conv::chosen(vgg16_conv1_2, kernels::cpu_conv::Pass::BackwardData) != kernels::cpu_conv::Path::Direct);
  CHECK(kernels::cpu_conv::chosen(vgg_small_conv1_2, kernels::cpu_conv::Pass::Forward) != kernels::cpu_conv::Path::Direct);
  check_direct(conv1, true, gen, /*dispatch=*/true);
  check_direct(conv2, false, gen, /*dispatch=*/true);
}

TEST_CASE("direct forward convolution for 3x3 layers with large weights on small maps (AlexNet conv3-5, VGG16 conv5)") {
  namespace cc = kernels::cpu_conv;
  const Conv2dParams alexnet_conv3 = params(4, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  const Conv2dParams alexnet_conv4 = params(4, 384, 13, 13, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  const Conv2dParams vgg16_conv5_1 = params(4, 512, 14, 14, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  // AVX-512 only: on AVX2 the direct kernel measured slower than Winograd there (conv2d.cpp).
  const bool avx512 = std::string(cc::isa()) == "avx512";
  for (const Conv2dParams& p : {alexnet_conv3, alexnet_conv4, vgg16_conv5_1}) {
    INFO(describe(p));
    CHECK((cc::chosen(p, cc::Pass::Forward) == cc::Path::Direct) == avx512);
    // Only the forward moved: the backward passes keep their paths.
    CHECK(cc::chosen(p, cc::Pass::BackwardData) != cc::Path::Direct);
    CHECK(cc::chosen(p, cc::Pass::BackwardWeight) != cc::Path::Direct);
  }
  // From 8 images of 13x13 on, Winograd's filter transform is spread over enough pixels that it was
  // faster (AlexNet at batch 16 and RISE's batch of 50): AlexNet's conv3-4 go back to Winograd, while
  // VGG16's conv5 (C K = 2^18: no Winograd forward on small maps) keeps the direct kernel on AVX-512.
  for (const int64_t batch : {9, 16, 50}) {
    const Conv2dParams conv3 = params(batch, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    const Conv2dParams conv5_1 = params(batch, 512, 14, 14, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    INFO("batch " << batch);
    CHECK(cc::chosen(conv3, cc::Pass::Forward) == cc::Path::Winograd);
    CHECK((cc::chosen(conv5_1, cc::Pass::Forward) == cc::Path::Direct) == avx512);
  }
  CHECK((cc::chosen(params(8, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 1, 1), cc::Pass::Forward) == cc::Path::Direct) ==
        avx512);
  // vgg_small's small maps (C K <= 8192), at 32 and 28 px, keep Winograd: training shapes.
  for (const Conv2dParams& p : {params(256, 32, 14, 14, 64, 3, 3, 1, 1, 0, 0, 1, 1, 1),
                                params(256, 64, 12, 12, 128, 3, 3, 1, 1, 0, 0, 1, 1, 1),
                                params(256, 64, 10, 10, 128, 3, 3, 1, 1, 0, 0, 1, 1, 1)}) {
    INFO(describe(p));
    CHECK(cc::chosen(p, cc::Pass::Forward) == cc::Path::Winograd);
  }
  // A reduced shape that takes the new rule on AVX-512 (C K = 2^15, 13 x 11 outputs), through the
  // dispatch, against the definition; and the same with fewer filters than a register block holds.
  Generator gen(17);
  const Conv2dParams small = params(2, 128, 13, 11, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  CHECK((cc::chosen(small, cc::Pass::Forward) == cc::Path::Direct) == avx512);
  check_direct(small, true, gen, /*dispatch=*/true);
  check_direct(params(1, 1024, 7, 9, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1), false, gen, /*dispatch=*/true);
}

TEST_CASE("dispatch: tile_gemm for the weight gradient and the direct forward for thin inputs only where measured faster") {
  // kernels/cpu/conv2d.cpp, quiet re-measurement of session 6 (AVX-512, 1 thread), im2col+Eigen /
  // tile_gemm: vgg_small conv1_1 0.94-1.37 (4 runs), vgg_small28 conv1_1 0.85, VGG16 conv1_1 0.93. On AVX2 the
  // 6x16 blocks never take it.
  namespace cc = kernels::cpu_conv;
  const bool avx512 = std::string(cc::isa()) == "avx512";
  const Conv2dParams vgg_small_conv1_1 = params(256, 3, 32, 32, 32, 3, 3, 1, 1, 0, 0, 1, 1, 1);  // 32 -> 30
  const Conv2dParams vgg_small28_conv1_1 = params(256, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1, 1);  // 28 -> 26
  const Conv2dParams vgg16_conv1_1 = params(4, 3, 224, 224, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  CHECK((cc::chosen(vgg_small_conv1_1, cc::Pass::BackwardWeight) == cc::Path::TileGemm) == avx512);
  CHECK(cc::chosen(vgg_small28_conv1_1, cc::Pass::BackwardWeight) == cc::Path::Im2col);
  CHECK(cc::chosen(vgg16_conv1_1, cc::Pass::BackwardWeight) == cc::Path::Im2col);
  // The forwards of these thin-input layers (C < 16: no Winograd): VGG16's 224x224 map goes to the
  // direct kernel on both ISAs (measured faster than im2col + Eigen: 9.8 / 15.4 ms AVX-512, 12.7 /
  // 14.0 ms AVX2), vgg_small's small maps stay with im2col + Eigen; their backward passes never move.
  CHECK(cc::chosen(vgg16_conv1_1, cc::Pass::Forward) == cc::Path::Direct);
  CHECK(cc::chosen(vgg_small_conv1_1, cc::Pass::Forward) == cc::Path::Im2col);
  CHECK(cc::chosen(vgg_small28_conv1_1, cc::Pass::Forward) == cc::Path::Im2col);
  CHECK(cc::chosen(vgg16_conv1_1, cc::Pass::BackwardData) == cc::Path::Im2col);
  // The smallest map that takes the thin-input rule, through the dispatch, against the definition
  // (40 filters: not a whole register block).
  const Conv2dParams thin = params(1, 3, 112, 112, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  CHECK(cc::chosen(thin, cc::Pass::Forward) == cc::Path::Direct);
  Generator gen(19);
  check_direct(thin, true, gen, /*dispatch=*/true);
  // Only the weight gradient takes tile_gemm.
  CHECK(cc::chosen(vgg_small_conv1_1, cc::Pass::Forward) != cc::Path::TileGemm);
  CHECK(cc::chosen(vgg_small_conv1_1, cc::Pass::BackwardData) != cc::Path::TileGemm);
}

TEST_CASE("direct forward convolution gives the same bits for 1 and 2 threads") {
  // Each output's sum runs over the taps in one fixed order whatever the tiling of tasks over
  // threads, so the thread count must not change a bit (training runs are reproducible).
  Generator gen(16);
  const Conv2dParams p = params(3, 5, 23, 21, 20, 5, 5, 2, 1, 2, 2, 1, 1, 1);
  const auto x = uniform(p.N * p.C * p.H * p.W, gen);
  const auto w = uniform(p.K * p.C * p.R * p.S, gen);
  const auto b = uniform(p.K, gen);
  const int before = omp_get_max_threads();
  std::vector<float> y1(static_cast<size_t>(p.N * p.K * p.P * p.Q)), y2(y1.size());
  omp_set_num_threads(1);
  kernels::direct_conv::forward(y1.data(), x.data(), w.data(), b.data(), p);
  omp_set_num_threads(2);
  kernels::direct_conv::forward(y2.data(), x.data(), w.data(), b.data(), p);
  omp_set_num_threads(before);
  CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
}
