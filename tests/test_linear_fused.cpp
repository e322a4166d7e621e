// tests/test_linear_fused.cpp — the linear layer with its prologue (layer norm) and epilogue (GELU,
// residual add) in the GEMM's parallel region (kernels::linear_forward_cpu; engine ops linear,
// layer_norm_linear, linear_residual), which ViT-B/16's encoder blocks use at inference (issue 22,
// "Speed"). Each shape is taken on the three ways the
// CPU GEMM splits a product (small: one Eigen product; thin: kernels/cpu/gemm.cpp's streaming
// C = A B^T; many rows: the row split, where the epilogue joins the product's region), at 1 and 2
// threads, against
//   - a plain loop in double (tolerance stated below), and
//   - the composite the fusion replaces, bit for bit: the engine's layer_norm, the bias
//     broadcast, kernels::gemm<CPU> accumulating onto it (beta 1), then the engine's gelu or add.
// With a gradient recorded, the ops are the composite (autograd through layer_norm, linear, gelu
// and add):
// checked by central finite differences (testing::gradcheck, default tolerance, testing.h).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/gemm.h"
#include "models/model.h"
#include "tests/layer_norm_reference.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

namespace {

struct Shape3 {
  int64_t M, K, N;  // x (M, K), w (N, K), y (M, N)
  const char* path;  // which gemm<CPU> path the product takes at 2 threads
};

// The composite the fused kernel replaces, from the kernels: y = b broadcast, then y += x w^T.
Tensor linear_composite(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t M = x.size(0), N = w.size(0);
  const auto bv = b.to_vector();
  std::vector<float> init(static_cast<size_t>(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) init[static_cast<size_t>(m * N + n)] = bv[static_cast<size_t>(n)];
  Tensor y = Tensor::from_vector({M, N}, init);
  kernels::GemmParams p;
  p.M = M;
  p.N = N;
  p.K = x.size(1);
  p.trans_b = true;
  p.lda = p.K;
  p.ldb = p.K;
  p.ldc = N;
  p.beta = 1.f;
  kernels::gemm<Device::CPU>(y.data(), x.data(), w.data(), p, Stream{});
  return y;
}

// act(prologue(x) w^T + b) + r in double loops; prologue the layer norm (lw, lb, eps) when lw is
// given, act GELU when gelu_after, r added when given. abs_sum: sum of |terms| per output.
std::vector<double> linear_ref(const Tensor& x, const Tensor& lw, const Tensor& lb, float eps, const Tensor& w,
                               const Tensor& b, bool gelu_after, const Tensor& r, std::vector<double>* abs_sum) {
  const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
  const auto xf = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  std::vector<double> xv(xf.begin(), xf.end());
  if (lw.defined()) xv = layer_norm_reference(std::move(xv), M, K, lw.to_vector(), lb.to_vector(), eps);
  const auto rv = r.defined() ? r.to_vector() : std::vector<float>{};
  std::vector<double> y(static_cast<size_t>(M * N));
  abs_sum->assign(y.size(), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double a = bv[static_cast<size_t>(n)], s = std::fabs(a);
      for (int64_t k = 0; k < K; ++k) {
        const double t = xv[static_cast<size_t>(m * K + k)] * wv[static_cast<size_t>(n * K + k)];
        a += t;
        s += std::fabs(t);
      }
      if (gelu_after) a = 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0)));
      const size_t i = static_cast<size_t>(m * N + n);
      if (r.defined()) {
        a += rv[i];
        s += std::fabs(rv[i]);
      }
      y[i] = a;
      (*abs_sum)[i] = s;
    }
  return y;
}

// Largest |y - ref| - tol(i) (<= 0 passes).
double excess(const std::vector<float>& y, const std::vector<double>& ref, const std::vector<double>& abs_sum) {
  double worst = -1e300;
  for (size_t i = 0; i < y.size(); ++i) {
    // Tolerance: a float dot product of K <= 512 terms accumulated in blocks by Eigen (or in 8
    // simd lanes by the thin path) errs by at most ~K eps sum|x_k w_k| in the worst case, typically
    // sqrt(K) eps; 2e-6 sum|terms| (~17 ulps of the sum of magnitudes) covers the typical case with
    // room and is 1e-4 of the terms' size, far below what a missing bias, row or epilogue changes
    // (O(0.1)). The layer norm's float output is within ~1e-6 of each normalised value
    // (tests/test_transformer_ops.cpp), which the sum of |terms| also scales. GELU's slope is at
    // most 1.13 and its kernel is within 2e-7 |x| + 1e-6 |y|: 1e-6 |ref| on top.
    const double tol = 2e-6 * abs_sum[i] + 1e-6 * std::fabs(ref[i]);
    worst = std::max(worst, std::fabs(y[i] - ref[i]) - tol);
  }
  return worst;
}

}  // namespace

TEST_CASE("layer_norm_linear and linear_residual: a double loop, and bit for bit the composite, on every GEMM path") {
  Generator gen(91);
  const float eps = 1e-6f;
  // small: one Eigen product; thin: M <= 16 and N K >= 2^18 (gemm_takes_thin_path); rows: M >= 256
  // per thread and M N K >= 2^24 (the row split at 2 threads; an odd M leaves the threads uneven).
  for (const Shape3 s : {Shape3{5, 7, 9, "small"}, Shape3{3, 512, 520, "thin"}, Shape3{601, 256, 130, "rows"}}) {
    // Rows with an offset and a spread of their own, so the layer norm changes them.
    const Tensor x = add(mul(rand({s.M, s.K}, gen), 2.f), rand({s.M, 1}, gen, -3.f, 3.f));
    const Tensor w = rand({s.N, s.K}, gen, -0.1f, 0.1f), b = rand({s.N}, gen), r = rand({s.M, s.N}, gen);
    const Tensor lw = rand({s.K}, gen, 0.5f, 1.5f), lb = rand({s.K}, gen, -0.5f, 0.5f);
    std::vector<double> sum_l, sum_n, sum_g, sum_r;
    const auto ref_l = linear_ref(x, Tensor{}, Tensor{}, eps, w, b, false, Tensor{}, &sum_l);
    const auto ref_n = linear_ref(x, lw, lb, eps, w, b, false, Tensor{}, &sum_n);
    const auto ref_g = linear_ref(x, lw, lb, eps, w, b, true, Tensor{}, &sum_g);
    const auto ref_r = linear_ref(x, Tensor{}, Tensor{}, eps, w, b, false, r, &sum_r);
    for (int threads : {1, 2}) {
      OmpThreads t(threads);
      NoGradGuard ng;
      const Tensor lin = linear_composite(x, w, b), lin_n = linear_composite(layer_norm(x, lw, lb, eps), w, b);
      const Tensor yl = linear(x, w, b), yr = linear_residual(x, w, b, r);
      const Tensor yn = layer_norm_linear(x, lw, lb, eps, w, b), yg = layer_norm_linear(x, lw, lb, eps, w, b, true);
      REQUIRE(yn.shape() == Shape{s.M, s.N});
      REQUIRE(yg.shape() == Shape{s.M, s.N});
      REQUIRE(yr.shape() == Shape{s.M, s.N});
      CHECK_MESSAGE(excess(yl.to_vector(), ref_l, sum_l) <= 0.0, s.path, " linear, threads ", threads);
      CHECK_MESSAGE(excess(yn.to_vector(), ref_n, sum_n) <= 0.0, s.path, " layer_norm_linear, threads ", threads);
      CHECK_MESSAGE(excess(yg.to_vector(), ref_g, sum_g) <= 0.0, s.path, " ... with gelu, threads ", threads);
      CHECK_MESSAGE(excess(yr.to_vector(), ref_r, sum_r) <= 0.0, s.path, " linear_residual, threads ", threads);
      CHECK_MESSAGE(equal(yl, lin), s.path, " linear differs from the composite, threads ", threads);
      CHECK_MESSAGE(equal(yn, lin_n), s.path, " layer_norm_linear differs from the composite, threads ", threads);
      CHECK_MESSAGE(equal(yg, gelu(lin_n)), s.path, " ... with gelu differs from the composite, threads ", threads);
      CHECK_MESSAGE(equal(yr, add(r, lin)), s.path, " linear_residual differs from the composite, threads ", threads);
    }
  }
  // The paths named above are the ones taken (the shapes would drift with the thresholds).
  kernels::GemmParams thin;
  thin.M = 3, thin.N = 520, thin.K = 512, thin.trans_b = true;
  CHECK(kernels::gemm_takes_thin_path(thin));
  CHECK(601 >= 256 * 2);
  CHECK(int64_t{601} * 256 * 130 >= (int64_t{1} << 24));
  // Without a bias, and a layer norm without its affine parameters.
  {
    OmpThreads t(2);
    NoGradGuard ng;
    const Tensor x = rand({600, 256}, gen), w = rand({130, 256}, gen), r = rand({600, 130}, gen);
    const Tensor lin_n = linear_composite(layer_norm(x, Tensor{}, Tensor{}, eps), w, Tensor::zeros({130}));
    CHECK(equal(layer_norm_linear(x, Tensor{}, Tensor{}, eps, w, Tensor{}, true), gelu(lin_n)));
    CHECK(equal(linear_residual(x, w, Tensor{}, r), add(r, linear_composite(x, w, Tensor::zeros({130})))));
  }
}

TEST_CASE("layer_norm_linear and linear_residual: gradients through the composite, and bad arguments") {
  Generator gen(92);
  for (int threads : {1, 2}) {
    OmpThreads t(threads);
    gradcheck([](const std::vector<Tensor>& v) { return layer_norm_linear(v[0], v[1], v[2], 1e-5f, v[3], v[4], true); },
              {rand({4, 6}, gen), rand({6}, gen, 0.5f, 1.5f), rand({6}, gen), rand({5, 6}, gen), rand({5}, gen)});
    gradcheck([](const std::vector<Tensor>& v) { return linear_residual(v[0], v[1], v[2], v[3]); },
              {rand({4, 6}, gen), rand({5, 6}, gen), rand({5}, gen), rand({4, 5}, gen)});
  }
  NoGradGuard ng;  // the fused path's own checks
  const Tensor x = rand({4, 6}, gen), w = rand({5, 6}, gen), b = rand({5}, gen), lw = rand({6}, gen);
  expect_parts(error_of([&] { linear_residual(x, w, b, rand({4, 6}, gen)); }),
               {"linear_residual", "residual", "(4, 6)", "(4, 5)"});
  expect_parts(error_of([&] { layer_norm_linear(x, lw, lw, 1e-5f, rand({5, 7}, gen), b); }),
               {"layer_norm_linear", "weight", "7"});
  expect_parts(error_of([&] { layer_norm_linear(x, rand({5}, gen), lw, 1e-5f, w, b); }),
               {"layer_norm_linear", "ln_weight", "(6)", "(5)"});
  expect_parts(error_of([&] { layer_norm_linear(x, lw, lw, -1.f, w, b); }), {"layer_norm_linear", "eps", "-1"});
}

TEST_CASE("vit_b_16: an encoder block's fused inference forward equals its modules one by one, bit for bit") {
  // 2 x 300 tokens: 600 rows, so every linear layer of the block takes the row split at 2 threads.
  models::ModelOptions o;
  o.image_size = 32;
  models::Model m = models::make_model("vit_b_16", o);
  m.net->eval();
  nn::Module* block = m.net->find_module("encoder.layers.encoder_layer_3");
  REQUIRE(block != nullptr);
  nn::Module* ln_1 = block->find_module("ln_1");
  nn::Module* attention = block->find_module("self_attention");
  nn::Module* ln_2 = block->find_module("ln_2");
  nn::Module* mlp = block->find_module("mlp");
  REQUIRE((ln_1 && attention && ln_2 && mlp));
  Generator gen(93);
  const Tensor x = Tensor::normal({2, 300, 768}, 0.f, 1.f, gen);
  for (int threads : {1, 2}) {
    OmpThreads t(threads);
    NoGradGuard ng;
    const Tensor h = add(x, (*attention)((*ln_1)(x)));
    const Tensor composite = add(h, (*mlp)((*ln_2)(h)));
    CHECK_MESSAGE(equal((*block)(x), composite), "threads ", threads);
  }
}
