// tests/test_pool.cpp — max, average and adaptive-average pooling (engine/ops/pool.cpp,
// kernels/cpu/pool.cpp) against plain loops written here from PyTorch's definitions,
// independently of the kernels, over a sweep of kernel, stride, padding, ceil_mode,
// count_include_pad, odd/even sizes and batch sizes; gradients by finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "kernels/pool.h"
#include "tests/testing.h"

namespace {

using ml::Generator;
using ml::Shape;
using ml::Tensor;
using ml::testing::contains;
using ml::testing::error_of;

// PyTorch's pooling output size, with floating division: floor or ceil of
// (in + 2 pad - k) / s, plus one; with ceil_mode the last window must start inside the input
// or the left padding.
int64_t ref_out_size(int64_t in, int64_t k, int64_t s, int64_t pad, bool ceil_mode) {
  const double span = static_cast<double>(in + 2 * pad - k) / static_cast<double>(s);
  if (span < 0) return 0;
  int64_t out = static_cast<int64_t>(ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

struct RefPool {
  std::vector<float> y;
  std::vector<int32_t> argmax;
  Shape shape;
};

// Visits every kernel tap (i, j) of every window and asks where it lands.
RefPool ref_max_pool(const Tensor& x, int64_t k, int64_t s, int64_t pad, bool ceil_mode) {
  const auto xv = x.to_vector();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t P = ref_out_size(H, k, s, pad, ceil_mode), Q = ref_out_size(W, k, s, pad, ceil_mode);
  RefPool r{{}, {}, {N, C, P, Q}};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        bool found = false;
        float best = 0.f;
        int32_t at = -1;
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < k; ++j) {
            const int64_t h = p * s - pad + i, w = q * s - pad + j;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;  // padding never wins
            const float v = xv[static_cast<size_t>((nc * H + h) * W + w)];
            if (!found || v > best) {  // strictly greater: the first maximum in row-major order
              found = true;
              best = v;
              at = static_cast<int32_t>(h * W + w);
            }
          }
        r.y.push_back(best);
        r.argmax.push_back(at);
      }
  return r;
}

// Divisor by counting taps: taps inside the padded input [-pad, in + pad) with
// count_include_pad, taps inside the real input otherwise.
RefPool ref_avg_pool(const Tensor& x, int64_t k, int64_t s, int64_t pad, bool ceil_mode, bool count_include_pad) {
  const auto xv = x.to_vector();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t P = ref_out_size(H, k, s, pad, ceil_mode), Q = ref_out_size(W, k, s, pad, ceil_mode);
  RefPool r{{}, {}, {N, C, P, Q}};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        double acc = 0.0;
        int64_t real = 0, padded = 0;
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < k; ++j) {
            const int64_t h = p * s - pad + i, w = q * s - pad + j;
            if (h >= -pad && h < H + pad && w >= -pad && w < W + pad) ++padded;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            ++real;
            acc += xv[static_cast<size_t>((nc * H + h) * W + w)];
          }
        r.y.push_back(static_cast<float>(acc / static_cast<double>(count_include_pad ? padded : real)));
      }
  return r;
}

RefPool ref_adaptive(const Tensor& x, int64_t P, int64_t Q) {
  const auto xv = x.to_vector();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  RefPool r{{}, {}, {N, C, P, Q}};
  auto lo = [](int64_t i, int64_t in, int64_t out) {
    return static_cast<int64_t>(std::floor(static_cast<double>(i) * in / out));
  };
  auto hi = [](int64_t i, int64_t in, int64_t out) {
    return static_cast<int64_t>(std::ceil(static_cast<double>(i + 1) * in / out));
  };
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        double acc = 0.0;
        int64_t cnt = 0;
        for (int64_t h = lo(p, H, P); h < hi(p, H, P); ++h)
          for (int64_t w = lo(q, W, Q); w < hi(q, W, Q); ++w) {
            acc += xv[static_cast<size_t>((nc * H + h) * W + w)];
            ++cnt;
          }
        r.y.push_back(static_cast<float>(acc / static_cast<double>(cnt)));
      }
  return r;
}

Tensor as_tensor(const RefPool& r) { return Tensor::from_vector(r.shape, r.y); }

// Integers in {-4, ..., -1}: many ties inside a window (the first maximum must win), and all
// negative, so a padding value of 0 taken by mistake would show.
Tensor negative_ties(const Shape& s, Generator& g) {
  std::vector<float> v(static_cast<size_t>(ml::shape_numel(s)));
  for (auto& e : v) e = -1.f - static_cast<float>(g.next_below(4));
  return Tensor::from_vector(s, v);
}

// Distinct values 0.05 apart (a scaled random permutation): no two inputs of a window are
// within 2h = 0.02 of each other, so central differences never straddle a max-pool kink.
Tensor distinct(const Shape& s, Generator& g) {
  const int64_t n = ml::shape_numel(s);
  const auto perm = g.permutation(n);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.05f * static_cast<float>(perm[i] - n / 2);
  return Tensor::from_vector(s, v);
}

struct Cfg {
  int64_t k, s, pad;
  bool ceil_mode;
};

// kernel 1, 2, 3, 5; stride 1, 2, 3; every legal padding 0..k/2; ceil_mode off and on.
std::vector<Cfg> sweep() {
  std::vector<Cfg> out;
  for (int64_t k : {1, 2, 3, 5})
    for (int64_t s : {1, 2, 3})
      for (int64_t pad = 0; pad <= k / 2; ++pad)
        for (bool ceil_mode : {false, true}) out.push_back({k, s, pad, ceil_mode});
  return out;
}

// Batch 1 and 3; odd/even heights and widths.
// The third is wide enough that 2x2/2 pooling (kernels/cpu/pool.cpp's vector path, 16 windows
// to a vector) has full and partial vectors in a row.
const std::vector<Shape> kShapes = {{1, 2, 7, 6}, {3, 2, 8, 9}, {1, 2, 5, 71}};

std::string describe(const Shape& s, const Cfg& c) {
  return ml::shape_str(s) + " k" + std::to_string(c.k) + " s" + std::to_string(c.s) + " p" + std::to_string(c.pad) +
         (c.ceil_mode ? " ceil" : " floor");
}

}  // namespace

TEST_CASE("max_pool2d forward and argmax match the plain loop over the sweep") {
  Generator g(101);
  for (const Shape& shape : kShapes)
    for (const Cfg& c : sweep()) {
      INFO(describe(shape, c));
      for (int variant = 0; variant < 2; ++variant) {
        const Tensor x = variant == 0 ? ml::testing::rand(shape, g) : negative_ties(shape, g);
        const RefPool ref = ref_max_pool(x, c.k, c.s, c.pad, c.ceil_mode);
        // Selection, not arithmetic: bit-for-bit equality.
        const Tensor y = ml::max_pool2d(x, c.k, c.s, c.pad, c.ceil_mode);
        CHECK(ml::testing::equal(y, as_tensor(ref)));

        // The kernel's argmax (what the backward and the CUDA parity test rely on).
        ml::kernels::Pool2dParams p{};
        p.N = shape[0], p.C = shape[1], p.H = shape[2], p.W = shape[3];
        p.kh = p.kw = c.k, p.sh = p.sw = c.s, p.ph = p.pw = c.pad, p.ceil_mode = c.ceil_mode;
        REQUIRE(ml::kernels::pool2d_output_size(p));
        REQUIRE(Shape{p.N, p.C, p.P, p.Q} == ref.shape);
        std::vector<float> yk(ref.y.size());
        std::vector<int32_t> ak(ref.y.size());
        ml::kernels::max_pool2d_forward<ml::Device::CPU>(yk.data(), ak.data(), x.data(), p, ml::Stream{});
        CHECK(ak == ref.argmax);
      }
    }
}

TEST_CASE("max_pool2d backward routes each gradient to the first maximum, summing overlaps") {
  // With ties finite differences are meaningless; the gradient is defined by the argmax rule.
  Generator g(102);
  for (const Cfg& c : {Cfg{3, 1, 1, false}, Cfg{2, 1, 0, true}, Cfg{3, 2, 1, true}, Cfg{5, 2, 2, false}}) {
    INFO(describe({2, 3, 7, 8}, c));
    Tensor x = negative_ties({2, 3, 7, 8}, g);
    x.requires_grad_(true);
    Tensor y = ml::max_pool2d(x, c.k, c.s, c.pad, c.ceil_mode);
    const Tensor gy = ml::testing::rand(y.shape(), g);
    y.backward(gy);
    const RefPool ref = ref_max_pool(x.detach(), c.k, c.s, c.pad, c.ceil_mode);
    const auto gyv = gy.to_vector();
    std::vector<float> gx(static_cast<size_t>(x.numel()), 0.f);
    const int64_t HW = 7 * 8, PQ = y.size(2) * y.size(3);
    for (size_t i = 0; i < gyv.size(); ++i)
      gx[static_cast<size_t>(static_cast<int64_t>(i) / PQ * HW + ref.argmax[i])] += gyv[i];
    // Sums of up to k*k gradients in a different order than the reference loop: float
    // rounding only, 1e-6 absolute on values of order 1.
    CHECK_CLOSE(x.grad(), Tensor::from_vector(x.shape(), gx), 1e-6, 1e-6);
  }
}

TEST_CASE("avg_pool2d forward matches the plain loop (ceil_mode, count_include_pad)") {
  Generator g(103);
  for (const Shape& shape : kShapes)
    for (const Cfg& c : sweep())
      for (bool cip : {true, false}) {
        INFO(describe(shape, c), cip ? " count_include_pad" : " exclude pad");
        const Tensor x = ml::testing::rand(shape, g);
        const Tensor y = ml::avg_pool2d(x, c.k, c.s, c.pad, c.ceil_mode, cip);
        // The reference averages in double and rounds once; the kernel may differ by a few
        // float roundings of values <= 1: 1e-6 is ~8 ulps at 1.
        CHECK_CLOSE(y, as_tensor(ref_avg_pool(x, c.k, c.s, c.pad, c.ceil_mode, cip)), 1e-6, 1e-6);
      }
}

TEST_CASE("avg_pool2d: divisor cases spelled out by hand") {
  // x = 1 everywhere: with count_include_pad the corner window (k 3, pad 1) sees 4 real ones
  // among 9 taps -> 4/9; without it -> 1. With ceil_mode on H = 4, k 3, s 2, pad 1, the last
  // window starts at row 3 and runs to row 6, past the padded end 5: divisor 2 rows, not 3.
  // (A divisor of k*k = 9 there, or of the real count 1, would both fail.)
  const Tensor x = Tensor::ones({1, 1, 4, 4});
  const auto inc = ml::avg_pool2d(x, 3, 2, 1, false, true).to_vector();
  CHECK(ml::testing::near(inc[0], 4.0 / 9.0, 0, 1e-6));  // float32 quotients: relative 1e-6
  const auto exc = ml::avg_pool2d(x, 3, 2, 1, false, false).to_vector();
  for (float v : exc) CHECK(ml::testing::near(v, 1.0, 0, 1e-6));
  const Tensor yc = ml::avg_pool2d(x, 3, 2, 1, true, true);
  REQUIRE(yc.shape() == Shape{1, 1, 3, 3});
  const auto c = yc.to_vector();
  CHECK(ml::testing::near(c[8], 1.0 / 4.0, 0, 1e-6));  // 1 real of rows {3,4} x cols {3,4}; 2x2 padded taps
  CHECK(ml::testing::near(c[2], 2.0 / 6.0, 0, 1e-6));  // rows [-1, 2) x cols [3, 6): 2x1 real, 3x2 inside the padding
  CHECK(ml::testing::near(c[4], 1.0, 0, 1e-6)); // rows and cols [1, 4): wholly real
}

TEST_CASE("adaptive_avg_pool2d matches the plain loop, dividing and not, larger than the input") {
  Generator g(104);
  for (const Shape& shape : {Shape{1, 2, 6, 7}, Shape{3, 2, 5, 4}})
    for (int64_t P : {1, 2, 3, 4, 5, 6, 9})
      for (int64_t Q : {1, 3, 4, 7, 10}) {
        INFO(ml::shape_str(shape), " -> ", P, "x", Q);
        const Tensor x = ml::testing::rand(shape, g);
        // Reference in double, rounded once; 1e-6 as for avg_pool2d.
        CHECK_CLOSE(ml::adaptive_avg_pool2d(x, P, Q), as_tensor(ref_adaptive(x, P, Q)), 1e-6, 1e-6);
      }
  // Equal sizes are the identity.
  const Tensor x = ml::testing::rand({2, 3, 5, 6}, g);
  CHECK(ml::testing::equal(ml::adaptive_avg_pool2d(x, 5, 6), x));
}

TEST_CASE("max_pool2d gradient (distinct inputs, no ties)") {
  Generator g(105);
  ml::testing::GradcheckOptions o;
  o.max_skipped = 0.0;  // inputs 0.05 apart: no kink can lie within h = 0.01
  struct Case {
    Shape shape;
    Cfg c;
  };
  for (const Case& k : {Case{{2, 2, 5, 6}, {3, 2, 1, false}}, Case{{1, 2, 5, 6}, {2, 1, 0, false}},
                        Case{{1, 2, 6, 7}, {3, 2, 1, true}}, Case{{2, 1, 4, 5}, {2, 0, 1, true}}}) {
    INFO(describe(k.shape, k.c));
    const Cfg c = k.c;
    ml::testing::gradcheck(
        [c](const std::vector<Tensor>& in) { return ml::max_pool2d(in[0], c.k, c.s, c.pad, c.ceil_mode); },
        {distinct(k.shape, g)}, 7, o);
  }
}

TEST_CASE("avg_pool2d gradient") {
  Generator g(106);
  struct Case {
    Shape shape;
    Cfg c;
    bool cip;
  };
  for (const Case& k : {Case{{2, 2, 5, 6}, {3, 2, 1, true}, false}, Case{{1, 2, 5, 6}, {2, 1, 1, false}, true},
                        Case{{1, 2, 7, 5}, {3, 3, 0, true}, true}, Case{{2, 1, 6, 6}, {5, 2, 2, true}, false}}) {
    INFO(describe(k.shape, k.c), k.cip ? " count_include_pad" : " exclude pad");
    const Cfg c = k.c;
    const bool cip = k.cip;
    ml::testing::gradcheck(
        [c, cip](const std::vector<Tensor>& in) { return ml::avg_pool2d(in[0], c.k, c.s, c.pad, c.ceil_mode, cip); },
        {ml::testing::rand(k.shape, g)}, 8);
  }
}

TEST_CASE("adaptive_avg_pool2d gradient") {
  Generator g(107);
  ml::testing::gradcheck([](const std::vector<Tensor>& in) { return ml::adaptive_avg_pool2d(in[0], 3, 4); },
                         {ml::testing::rand({2, 2, 5, 7}, g)}, 9);
  ml::testing::gradcheck([](const std::vector<Tensor>& in) { return ml::adaptive_avg_pool2d(in[0], 5, 4); },
                         {ml::testing::rand({1, 2, 3, 3}, g)}, 10);
}

TEST_CASE("pooling rejects bad arguments with the op's name and the shapes") {
  Generator g(108);
  const Tensor x3 = ml::testing::rand({2, 3, 4}, g);
  const Tensor x = ml::testing::rand({1, 2, 3, 3}, g);

  std::string m = error_of([&] { ml::max_pool2d(x3, 2); });
  CHECK_MESSAGE((contains(m, "max_pool2d") && contains(m, "(2, 3, 4)") && contains(m, "4-D")), m);
  m = error_of([&] { ml::avg_pool2d(x3, 2); });
  CHECK_MESSAGE((contains(m, "avg_pool2d") && contains(m, "(2, 3, 4)")), m);
  m = error_of([&] { ml::adaptive_avg_pool2d(x3, 2, 2); });
  CHECK_MESSAGE((contains(m, "adaptive_avg_pool2d") && contains(m, "(2, 3, 4)")), m);

  // Padding above kernel/2 (PyTorch refuses it too).
  m = error_of([&] { ml::max_pool2d(x, 3, 1, 2); });
  CHECK_MESSAGE((contains(m, "max_pool2d") && contains(m, "padding 2")), m);
  m = error_of([&] { ml::avg_pool2d(x, 2, 1, 2); });
  CHECK_MESSAGE((contains(m, "avg_pool2d") && contains(m, "padding 2")), m);

  // Empty outputs.
  m = error_of([&] { ml::max_pool2d(x, 5); });
  CHECK_MESSAGE((contains(m, "max_pool2d") && contains(m, "empty") && contains(m, "(1, 2, 3, 3)")), m);
  m = error_of([&] { ml::avg_pool2d(x, 4, 1, 0); });
  CHECK_MESSAGE((contains(m, "avg_pool2d") && contains(m, "empty")), m);
  m = error_of([&] { ml::adaptive_avg_pool2d(x, 0, 2); });
  CHECK_MESSAGE((contains(m, "adaptive_avg_pool2d") && contains(m, "empty")), m);

  // Kernel, stride, dtype.
  m = error_of([&] { ml::max_pool2d(x, 0); });
  CHECK_MESSAGE(contains(m, "max_pool2d: kernel"), m);
  m = error_of([&] { ml::avg_pool2d(x, 2, -1); });
  CHECK_MESSAGE(contains(m, "avg_pool2d: stride"), m);
  const Tensor xi = Tensor::from_vector_i32({1, 1, 2, 2}, {1, 2, 3, 4});
  m = error_of([&] { ml::max_pool2d(xi, 2); });
  CHECK_MESSAGE((contains(m, "max_pool2d") && contains(m, "float32")), m);

  // A legal edge: kernel equal to the input, stride 0 = kernel.
  CHECK(ml::max_pool2d(x, 3).shape() == Shape{1, 2, 1, 1});
}

TEST_CASE("pooling on inputs large enough to take the OpenMP path") {
  // The kernels parallelise over (n, c) planes only above ~16k window taps; the sweep above
  // stays below that, so this case runs the threaded loops against the same references, with
  // 2 threads (the suite runs with 1).
  const ml::testing::OmpThreads threads(2);
  Generator g(109);
  const Tensor x = ml::testing::rand({4, 16, 23, 24}, g);
  CHECK(ml::testing::equal(ml::max_pool2d(x, 3, 2, 1, true), as_tensor(ref_max_pool(x, 3, 2, 1, true))));
  CHECK_CLOSE(ml::avg_pool2d(x, 3, 2, 1, true, false), as_tensor(ref_avg_pool(x, 3, 2, 1, true, false)), 1e-6, 1e-6);
  CHECK_CLOSE(ml::adaptive_avg_pool2d(x, 7, 5), as_tensor(ref_adaptive(x, 7, 5)), 1e-6, 1e-6);
}

TEST_CASE("max_pool2d 2x2/2 (the vector path): NaN anywhere in a window wins, the first NaN first") {
  // Each 2x2 window gets a pattern over its 4 taps from {value, NaN}; the expected argmax is the
  // first NaN in row-major order, else the first maximum. 16 patterns x 3 rows of 20 windows.
  Generator g(7);
  const int64_t P = 3, Q = 20, H = 2 * P, W = 2 * Q + 1;  // odd W: the last column is never read
  std::vector<float> v = ml::testing::rand({1, 1, H, W}, g).to_vector();
  std::vector<int32_t> expect_at;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q) {
      const int pattern = static_cast<int>((p * Q + q) % 16);
      int32_t at = -1;
      float best = 0.f;
      for (int t = 0; t < 4; ++t) {
        const int32_t i = static_cast<int32_t>((2 * p + t / 2) * W + 2 * q + t % 2);
        if (pattern & (1 << t)) v[static_cast<size_t>(i)] = std::nanf("");
        const float x = v[static_cast<size_t>(i)];
        if (at >= 0 && std::isnan(best)) continue;
        if (at < 0 || x > best || std::isnan(x)) {
          at = i;
          best = x;
        }
      }
      expect_at.push_back(at);
    }
  ml::kernels::Pool2dParams k{};
  k.N = 1, k.C = 1, k.H = H, k.W = W, k.kh = k.kw = 2, k.sh = k.sw = 2;
  REQUIRE(ml::kernels::pool2d_output_size(k));
  REQUIRE((k.P == P && k.Q == Q));
  std::vector<float> y(static_cast<size_t>(P * Q));
  std::vector<int32_t> at(static_cast<size_t>(P * Q));
  ml::kernels::max_pool2d_forward<ml::Device::CPU>(y.data(), at.data(), v.data(), k, ml::Stream{});
  CHECK(at == expect_at);
  for (size_t i = 0; i < y.size(); ++i) {
    const float want = v[static_cast<size_t>(expect_at[i])];
    CHECK_MESSAGE((std::isnan(want) ? std::isnan(y[i]) : y[i] == want), "window ", i);
  }
}

TEST_CASE("max_pool2d propagates NaN, as PyTorch") {
  std::vector<float> v{1.f, 2.f, 3.f, 4.f};
  v[1] = std::nanf("");
  const auto y = ml::max_pool2d(Tensor::from_vector({1, 1, 2, 2}, v), 2).to_vector();
  CHECK(std::isnan(y[0]));
}

TEST_CASE("max_pool2d without indices (no gradient recorded) writes the same values, NaNs included") {
  // The stride-2 vector path (kernels/cpu/pool.cpp: AlexNet's 3x3/2, VGG's 2x2/2) and the general
  // loop, each with and without argmax, against a plain loop that follows the documented rule:
  // the first NaN in row-major window order wins, else the first maximum. Inputs: random values
  // with ~3 % NaNs and repeated values (ties); widths giving full and partial vectors; 2 threads
  // so the planes are split. Selection only, so the comparison is bit for bit (memcmp).
  const ml::testing::OmpThreads threads(2);
  Generator g(110);
  struct Case {
    int64_t N, C, H, W, k, s, pad;
  };
  for (const Case c : {Case{2, 5, 55, 55, 3, 2, 0}, Case{1, 3, 27, 40, 3, 2, 0}, Case{2, 4, 14, 37, 2, 2, 0},
                       Case{1, 2, 9, 19, 5, 2, 0}, Case{1, 2, 12, 33, 3, 3, 0}, Case{2, 3, 13, 13, 3, 2, 1}}) {
    INFO("N ", c.N, " C ", c.C, " H ", c.H, " W ", c.W, " k ", c.k, " s ", c.s, " pad ", c.pad);
    const int64_t n = c.N * c.C * c.H * c.W;
    std::vector<float> v = ml::testing::rand({n}, g).to_vector();
    const auto u = ml::testing::rand({n}, g).to_vector();
    for (int64_t i = 0; i < n; ++i) {
      if (u[static_cast<size_t>(i)] < -0.94f) v[static_cast<size_t>(i)] = std::nanf("");
      else if (u[static_cast<size_t>(i)] > 0.8f) v[static_cast<size_t>(i)] = 0.5f;  // ties
    }
    ml::kernels::Pool2dParams p{};
    p.N = c.N, p.C = c.C, p.H = c.H, p.W = c.W, p.kh = p.kw = c.k, p.sh = p.sw = c.s, p.ph = p.pw = c.pad;
    REQUIRE(ml::kernels::pool2d_output_size(p));
    const int64_t PQ = p.P * p.Q, outs = c.N * c.C * PQ;
    std::vector<float> want(static_cast<size_t>(outs));
    std::vector<int32_t> want_at(static_cast<size_t>(outs));
    for (int64_t nc = 0; nc < c.N * c.C; ++nc)
      for (int64_t op = 0; op < p.P; ++op)
        for (int64_t oq = 0; oq < p.Q; ++oq) {
          int32_t at = -1;
          float best = 0.f;
          for (int64_t i = 0; i < c.k; ++i)
            for (int64_t j = 0; j < c.k; ++j) {
              const int64_t h = op * c.s - c.pad + i, w = oq * c.s - c.pad + j;
              if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
              const float x = v[static_cast<size_t>((nc * c.H + h) * c.W + w)];
              if (at >= 0 && std::isnan(best)) continue;
              if (at < 0 || x > best || std::isnan(x)) at = static_cast<int32_t>(h * c.W + w), best = x;
            }
          want[static_cast<size_t>(nc * PQ + op * p.Q + oq)] = best;
          want_at[static_cast<size_t>(nc * PQ + op * p.Q + oq)] = at;
        }
    std::vector<float> y(static_cast<size_t>(outs), -7.f), y_no(static_cast<size_t>(outs), -7.f);
    std::vector<int32_t> at(static_cast<size_t>(outs), -2);
    ml::kernels::max_pool2d_forward<ml::Device::CPU>(y.data(), at.data(), v.data(), p, ml::Stream{});
    ml::kernels::max_pool2d_forward<ml::Device::CPU>(y_no.data(), nullptr, v.data(), p, ml::Stream{});
    CHECK(at == want_at);
    CHECK(std::memcmp(y.data(), want.data(), want.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(y_no.data(), want.data(), want.size() * sizeof(float)) == 0);
    // Through the op: no gradient recorded (no argmax), then recorded (argmax kept).
    const Tensor x = Tensor::from_vector({c.N, c.C, c.H, c.W}, v);
    const auto yo = ml::max_pool2d(x, c.k, c.s, c.pad).to_vector();
    CHECK(std::memcmp(yo.data(), want.data(), want.size() * sizeof(float)) == 0);
  }
}
