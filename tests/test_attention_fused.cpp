// tests/test_attention_fused.cpp — the fused forms ViT-B/16's speed asked for (issue 22, "Speed"):
// multi_head_attention (engine/ops/attention.cpp: strided batched GEMMs on the packed q, k, v),
// the CPU layer_norm kernel (kernels/cpu/layer_norm.cpp), the batched GEMM split over threads
// (kernels/cpu/gemm.cpp) and expand's contiguous-copy path (kernels/cpu/reduce.cpp). Each against
// a plain loop in double; gradients by central finite differences (testing::gradcheck, default
// tolerance, testing.h explains it).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/ops/attention.h"
#include "tests/layer_norm_reference.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

namespace {

// softmax(q_h k_hᵀ / sqrt(hd)) v_h per sample and head, from qkv (N, L, 3D), in double loops.
std::vector<double> attention_heads_ref(const Tensor& qkv, int64_t H) {
  const int64_t N = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / 3, hd = D / H;
  const auto v = qkv.to_vector();
  const auto at = [&](int64_t n, int64_t l, int64_t j) { return static_cast<double>(v[static_cast<size_t>((n * L + l) * 3 * D + j)]); };
  std::vector<double> y(static_cast<size_t>(N * L * D));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t l = 0; l < L; ++l) {
        std::vector<double> s(static_cast<size_t>(L));
        double mx = -1e300, z = 0.0;
        for (int64_t m = 0; m < L; ++m) {
          double a = 0.0;
          for (int64_t d = 0; d < hd; ++d) a += at(n, l, h * hd + d) * at(n, m, D + h * hd + d);
          s[static_cast<size_t>(m)] = a / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[static_cast<size_t>(m)]);
        }
        for (auto& e : s) z += (e = std::exp(e - mx));
        for (int64_t d = 0; d < hd; ++d) {
          double a = 0.0;
          for (int64_t m = 0; m < L; ++m) a += s[static_cast<size_t>(m)] / z * at(n, m, 2 * D + h * hd + d);
          y[static_cast<size_t>((n * L + l) * D + h * hd + d)] = a;
        }
      }
  return y;
}

double worst_error(const std::vector<float>& y, const std::vector<double>& ref, double rel) {
  double worst = 0.0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(y[i] - ref[i]) - rel * std::fabs(ref[i]));
  return worst;
}

}  // namespace

TEST_CASE("multi_head_attention: packed q, k, v against a double loop, 1 and 2 threads, and its gradient") {
  Generator gen(71);
  struct Case { int64_t N, L, D, H; };
  // Several heads and samples (the strides between heads and samples), one token, one head, and
  // ViT's own token count with fewer channels.
  for (const Case c : {Case{2, 7, 12, 3}, Case{1, 1, 4, 1}, Case{3, 5, 8, 1}, Case{2, 197, 24, 4}}) {
    // Scores of O(1..3) so that the softmax is neither uniform nor one-hot.
    const Tensor qkv = rand({c.N, c.L, 3 * c.D}, gen, -1.5f, 1.5f);
    const auto ref = attention_heads_ref(qkv, c.H);
    for (int threads : {1, 2}) {
      OmpThreads t(threads);
      const Tensor y = multi_head_attention(qkv, c.H);
      REQUIRE(y.shape() == Shape{c.N, c.L, c.D});
      // Tolerance: outputs are convex combinations of v (|y| <= 1.5); float sums of hd <= 6
      // products for the scores, a float exp-normalisation (double sum) and sums of L <= 197
      // weighted terms: 1e-5 absolute + 1e-5 relative is ~100 ulps. A head's columns swapped
      // with another's, k read as v, or a missing 1/sqrt(hd) change values by O(0.1).
      const double w = worst_error(y.to_vector(), ref, 1e-5);
      CHECK_MESSAGE(w <= 1e-5, "N ", c.N, " L ", c.L, " D ", c.D, " H ", c.H, " threads ", threads, ": error ", w);
    }
  }
  for (int threads : {1, 2}) {
    OmpThreads t(threads);
    gradcheck([](const std::vector<Tensor>& v) { return multi_head_attention(v[0], 2); }, {rand({2, 4, 12}, gen)});
  }
  // The CPU's inference forward (no gradient: one L x L buffer per thread) and the recording one
  // (the probabilities kept in (N, heads, L, L) for the backward) run the same products per
  // (sample, head): bit-identical, at 1 and 2 threads (3 samples x 5 heads: uneven per thread).
  {
    const Tensor qkv = rand({3, 197, 3 * 40}, gen, -1.5f, 1.5f);
    Tensor leaf = qkv.detach();
    leaf.requires_grad_(true);
    std::vector<Tensor> outs;
    for (int threads : {1, 2}) {
      OmpThreads t(threads);
      outs.push_back(multi_head_attention(qkv, 5));
      outs.push_back(multi_head_attention(leaf, 5).detach());
    }
    for (size_t i = 1; i < outs.size(); ++i) CHECK_MESSAGE(equal(outs[i], outs[0]), "output ", i, " differs from 0");
    const double w = worst_error(outs[0].to_vector(), attention_heads_ref(qkv, 5), 1e-5);
    CHECK_MESSAGE(w <= 1e-5, "N 3 L 197 D 40 H 5: error ", w);
  }
  expect_parts(error_of([&] { multi_head_attention(rand({1, 3, 10}, gen), 1); }), {"multi_head_attention", "3 D"});
  expect_parts(error_of([&] { multi_head_attention(rand({1, 3, 12}, gen), 3); }),
               {"multi_head_attention", "D = 4", "3 heads"});
  expect_parts(error_of([&] { multi_head_attention(rand({3, 12}, gen), 2); }), {"multi_head_attention", "3-D"});
}

TEST_CASE("softmax: the vectorised row path (inner dimension 1) against double, over float's whole exponent range") {
  Generator gen(74);
  // Rows of 197 (ViT's scores) and 5, values spread over [-120, 10]: after the max subtraction
  // the exponent spans float's normal range and beyond (e^-130 is 0 in float; the reference's
  // 3e-57 is within atol).
  for (const int64_t L : {int64_t{197}, int64_t{5}}) {
    const Tensor x = rand({4, L}, gen, -120.f, 10.f);
    const auto xv = x.to_vector(), yv = softmax(x, 1).to_vector();
    int bad = 0;
    for (int64_t r = 0; r < 4; ++r) {
      double m = -1e300, z = 0.0;
      for (int64_t d = 0; d < L; ++d) m = std::max(m, static_cast<double>(xv[static_cast<size_t>(r * L + d)]));
      // x - max rounded to float as the op (and PyTorch, and the kernel before) computes it:
      // at |x - max| ~ 64 that rounding alone is 4e-6 of e^(x - max), which is the input's, not
      // the exponential's, error.
      const auto arg = [&](size_t i) { return static_cast<double>(xv[i] - static_cast<float>(m)); };
      for (int64_t d = 0; d < L; ++d) z += std::exp(arg(static_cast<size_t>(r * L + d)));
      for (int64_t d = 0; d < L; ++d) {
        const size_t i = static_cast<size_t>(r * L + d);
        const double ref = std::exp(arg(i)) / z;
        // Tolerance: exp to 8.3e-8 relative (kernels/cpu/softmax.cpp), the float rounding of
        // the exponential and of the product by 1 / sum: 1e-6 relative as the softmax test
        // asks; 1e-37 absolute for the values below float's normal range, which flush to 0.
        if (!(std::fabs(yv[i] - ref) <= 1e-37 + 1e-6 * ref) && bad++ < 3)
          MESSAGE("x - max ", arg(i), ": ", yv[i], " vs ", ref);
      }
    }
    CHECK_MESSAGE(bad == 0, "L ", L, ": ", bad, " elements off");
  }
}

TEST_CASE("layer_norm: the fused CPU kernel on ViT's width, a large offset, threads, and gradients") {
  Generator gen(72);
  // A row mean 1e3 times its spread: float sums of x and x^2 would lose the variance; the kernel
  // accumulates in double from the row. C = 768 (ViT) and 130 (parameter-gradient blocks of 64
  // with a remainder).
  for (const int64_t C : {int64_t{768}, int64_t{130}}) {
    const Tensor x = add(mul(rand({5, C}, gen), 0.5f), 500.f);
    const Tensor w = rand({C}, gen, 0.5f, 1.5f), b = rand({C}, gen, -0.5f, 0.5f);
    const auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
    const std::vector<double> ref = layer_norm_reference({xv.begin(), xv.end()}, 5, C, wv, bv, 1e-6);
    // Tolerance: the inputs carry 500 * 6e-8 = 3e-5 absolute rounding each against a spread of
    // ~0.29, i.e. 1e-4 of a normalised unit, which the reference shares (it reads the same
    // floats); what remains is the float subtraction x - mean (exact here: both near 500, Sterbenz)
    // and three float products: 1e-5 absolute on |y| <~ 3. Float-only statistics (sum of squares
    // minus the squared mean) lose the variance entirely at this offset.
    const double e1 = worst_error(layer_norm(x, w, b, 1e-6f).to_vector(), ref, 0.0);
    CHECK_MESSAGE(e1 <= 1e-5, "C ", C, ": error ", e1);
    // Threads split rows (output) and column blocks (parameter gradients): the same bits.
    Tensor xr = x.detach().clone().requires_grad_(true), wr = w.detach().clone().requires_grad_(true),
                 br = b.detach().clone().requires_grad_(true);
    const Tensor R = rand({5, C}, gen);
    std::vector<std::vector<float>> grads[2];
    for (int k = 0; k < 2; ++k) {
      OmpThreads t(k + 1);
      for (Tensor* p : {&xr, &wr, &br}) p->zero_grad();
      sum(mul(layer_norm(xr, wr, br, 1e-6f), R)).backward();
      grads[k] = {xr.grad().to_vector(), wr.grad().to_vector(), br.grad().to_vector()};
    }
    CHECK(grads[0] == grads[1]);
  }
  // The backward against the composite's (the ops' own, each gradchecked): the same formula
  // written with mean / square / sqrt, differentiated by autograd. Tolerance: both are float
  // arithmetic on O(1) values with sums over C = 130 in float (the composite) or double (the
  // kernel): 1e-5 absolute + 1e-4 relative. Dropping the xhat mean(gw xhat) term changes the
  // input gradient by O(0.1).
  {
    const Tensor x0 = rand({6, 130}, gen), w0 = rand({130}, gen, 0.5f, 1.5f), b0 = rand({130}, gen),
                 R = rand({6, 130}, gen);
    Tensor grads[2][3];
    for (int k = 0; k < 2; ++k) {
      Tensor x = x0.detach().clone().requires_grad_(true), w = w0.detach().clone().requires_grad_(true),
             b = b0.detach().clone().requires_grad_(true);
      Tensor y;
      if (k == 0) {
        y = layer_norm(x, w, b, 1e-6f);
      } else {
        const Tensor centred = x - mean(x, {1}, true);
        y = centred / sqrt(mean(square(centred), {1}, true) + 1e-6f) * w + b;
      }
      sum(mul(y, R)).backward();
      grads[k][0] = x.grad(), grads[k][1] = w.grad(), grads[k][2] = b.grad();
    }
    for (int i = 0; i < 3; ++i) CHECK_CLOSE(grads[0][i], grads[1][i], 1e-5, 1e-4);
  }
  // Finite differences at C = 130 (two column blocks and a remainder). Floor: a perturbation
  // moves all 130 outputs of its row (the mean and variance), so the rounding of the numeric
  // derivative is ~6e-8 * 130 * |y R| / (2h) ~ 3e-4 (testing.h's estimate), above the default
  // floor's slack of 1e-4 (it gave 2.6e-4 at an element whose gradient is 7e-3); floor 0.1 gives
  // 1e-3 of slack. The composite comparison above holds the small gradients tightly.
  GradcheckOptions wide;
  wide.floor = 0.1;
  gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2], 1e-6f); },
            {rand({6, 130}, gen), rand({130}, gen, 0.5f, 1.5f), rand({130}, gen)}, 1234, wide);
  gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0], {}, {}, 1e-5f); }, {rand({2, 3, 16}, gen)});
  gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], {}, 1e-5f); },
            {rand({4, 16}, gen), rand({16}, gen, 0.5f, 1.5f)});
}

TEST_CASE("expand: every broadcast dimension outside the kept ones (the contiguous-copy path) and mixed ones") {
  Generator gen(73);
  // (1, 1, 3, 4) -> (2, 5, 3, 4): 10 copies end to end; (4) -> (3, 1, 4) with a 1 between;
  // (3, 1) -> (2, 3, 4) keeps the general path (a kept dimension outside a broadcast one).
  struct Case { Shape from, to; };
  for (const Case& c : {Case{{1, 1, 3, 4}, {2, 5, 3, 4}}, Case{{4}, {3, 1, 4}}, Case{{3, 1}, {2, 3, 4}},
                        Case{{1, 6}, {1, 6}}}) {
    const Tensor x = rand(c.from, gen);
    const auto xv = x.to_vector(), yv = expand(x, c.to).to_vector();
    // The loop: y[i] = x[i with each broadcast index set to 0], right-aligned as numpy does.
    const size_t nd = c.to.size(), off = nd - c.from.size();
    int bad = 0;
    for (size_t i = 0; i < yv.size(); ++i) {
      int64_t rest = static_cast<int64_t>(i), xi = 0, xstride = 1;
      for (size_t d = nd; d-- > 0;) {
        const int64_t idx = rest % c.to[d];
        rest /= c.to[d];
        if (d >= off) {
          const int64_t xs = c.from[d - off];
          xi += (xs == 1 ? 0 : idx) * xstride;
          xstride *= xs;
        }
      }
      if (yv[i] != xv[static_cast<size_t>(xi)]) ++bad;
    }
    CHECK_MESSAGE(bad == 0, shape_str(c.from), " -> ", shape_str(c.to), ": ", bad, " elements wrong");
  }
}

TEST_CASE("matmul: products large enough for the per-thread row split (2 threads), plain and transposed A") {
  Generator gen(75);
  // a (150, 600) x b (600, 200): the backward's db = aᵀ g is (600, 200) with K = 150 (A transposed,
  // 600 rows, 18 M multiply-adds: above the split's 512 rows and 2^24); y itself is 150 rows (Eigen).
  // x (600, 200) x w (200, 150): 600 rows, not transposed. References in double.
  const Tensor a = rand({150, 600}, gen), b = rand({600, 200}, gen), R = rand({150, 200}, gen);
  const auto av = a.to_vector(), bv = b.to_vector(), rv = R.to_vector();
  std::vector<double> db_ref(600 * 200, 0.0);  // aᵀ R
  for (int64_t k = 0; k < 600; ++k)
    for (int64_t j = 0; j < 200; ++j) {
      double s = 0.0;
      for (int64_t i = 0; i < 150; ++i) s += static_cast<double>(av[static_cast<size_t>(i * 600 + k)]) * rv[static_cast<size_t>(i * 200 + j)];
      db_ref[static_cast<size_t>(k * 200 + j)] = s;
    }
  const Tensor x = rand({600, 200}, gen), w = rand({200, 150}, gen);
  const auto xv = x.to_vector(), wv = w.to_vector();
  std::vector<double> y_ref(600 * 150, 0.0);
  for (int64_t i = 0; i < 600; ++i)
    for (int64_t j = 0; j < 150; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < 200; ++k) s += static_cast<double>(xv[static_cast<size_t>(i * 200 + k)]) * wv[static_cast<size_t>(k * 150 + j)];
      y_ref[static_cast<size_t>(i * 150 + j)] = s;
    }
  for (int threads : {1, 2}) {
    OmpThreads t(threads);
    Tensor ag = a.detach().clone().requires_grad_(true), bg = b.detach().clone().requires_grad_(true);
    sum(mul(matmul(ag, bg), R)).backward();
    // Tolerance: sums of 150-200 products of values in [-1, 1] in float: |sum| <~ 15, rounding
    // <~ 200 * 6e-8 * 15 = 2e-4 worst case; 1e-4 absolute + 1e-5 relative is met by far in
    // practice (errors grow as sqrt(K)); a row block written at the wrong offset is off by O(1).
    CHECK_MESSAGE(worst_error(bg.grad().to_vector(), db_ref, 1e-5) <= 1e-4, "db, threads ", threads);
    CHECK_MESSAGE(worst_error(matmul(x, w).to_vector(), y_ref, 1e-5) <= 1e-4, "x w, threads ", threads);
  }
}
