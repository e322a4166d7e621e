// tests/test_norm.cpp — local response normalisation, batch normalisation and dropout
// (engine/ops/norm.cpp, engine/ops/dropout.cpp) against plain loops written here from
// PyTorch's definitions, gradients by finite differences, and the dropout mask's statistics
// and reproducibility.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/testing.h"

namespace {

using ml::Generator;
using ml::Shape;
using ml::Tensor;
using ml::testing::contains;
using ml::testing::error_of;

// PyTorch's LocalResponseNorm, step by step, in double: square, pad the channel axis with
// size/2 zeros in front and (size-1)/2 behind, average `size` consecutive channels,
// div = (avg * alpha + k)^beta, y = x / div. x: (N, C, ...) with the trailing dims flat.
Tensor ref_lrn(const Tensor& x, int64_t size, double alpha, double beta, double k) {
  const auto xv = x.to_vector();
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  const int64_t front = size / 2, back = (size - 1) / 2;
  std::vector<float> y(xv.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) {
      std::vector<double> padded(static_cast<size_t>(C + front + back), 0.0);
      for (int64_t c = 0; c < C; ++c) {
        const double v = xv[static_cast<size_t>((n * C + c) * S + s)];
        padded[static_cast<size_t>(c + front)] = v * v;
      }
      for (int64_t c = 0; c < C; ++c) {
        double avg = 0.0;
        for (int64_t j = 0; j < size; ++j) avg += padded[static_cast<size_t>(c + j)];
        avg /= static_cast<double>(size);
        const size_t i = static_cast<size_t>((n * C + c) * S + s);
        y[i] = static_cast<float>(xv[i] / std::pow(avg * alpha + k, beta));
      }
    }
  return Tensor::from_vector(x.shape(), y);
}

// Per-channel mean and biased variance of x: (N, C, ...), in double.
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  const auto xv = x.to_vector();
  const int64_t N = x.size(0), C = x.size(1), L = x.numel() / (N * C);
  mean.assign(static_cast<size_t>(C), 0.0);
  var.assign(static_cast<size_t>(C), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; ++l) s += xv[static_cast<size_t>((n * C + c) * L + l)];
    const double m = s / static_cast<double>(N * L);
    double q = 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; ++l) {
        const double d = xv[static_cast<size_t>((n * C + c) * L + l)] - m;
        q += d * d;
      }
    mean[static_cast<size_t>(c)] = m;
    var[static_cast<size_t>(c)] = q / static_cast<double>(N * L);
  }
}

// y = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c], in double.
Tensor ref_bn(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var,
              const std::vector<float>& w, const std::vector<float>& b, double eps) {
  const auto xv = x.to_vector();
  const int64_t N = x.size(0), C = x.size(1), L = x.numel() / (N * C);
  std::vector<float> y(xv.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t l = 0; l < L; ++l) {
        const size_t i = static_cast<size_t>((n * C + c) * L + l), ci = static_cast<size_t>(c);
        y[i] = static_cast<float>((xv[i] - mean[ci]) / std::sqrt(var[ci] + eps) * w[ci] + b[ci]);
      }
  return Tensor::from_vector(x.shape(), y);
}

}  // namespace

// ---- local response normalisation ------------------------------------------------------------

TEST_CASE("local_response_norm matches PyTorch's formula (sizes 1..7, size > C, odd and even)") {
  Generator g(201);
  struct Params {
    float alpha, beta, k;
  };
  // PyTorch's defaults, AlexNet's (k 2), and a large alpha so the cross-channel sum dominates.
  for (const Params& pr : {Params{1e-4f, 0.75f, 1.f}, Params{1e-4f, 0.75f, 2.f}, Params{0.5f, 0.75f, 1.f}})
    for (int64_t C : {1, 3, 6})
      for (int64_t size : {1, 2, 3, 4, 5, 7}) {
        INFO("C ", C, " size ", size, " alpha ", pr.alpha, " k ", pr.k);
        const Tensor x = ml::testing::rand({2, C, 3, 5}, g, -2.f, 2.f);
        const Tensor y = ml::local_response_norm(x, size, pr.alpha, pr.beta, pr.k);
        // Float sums of <= 7 squares and one powf against double: a few ulps; 1e-5 relative.
        CHECK_CLOSE(y, ref_lrn(x, size, pr.alpha, pr.beta, pr.k), 1e-6, 1e-5);
      }
  // (N, C, L) is normalised the same way as (N, C, L, 1).
  const Tensor x3 = ml::testing::rand({2, 4, 6}, g, -2.f, 2.f);
  CHECK(ml::testing::equal(ml::local_response_norm(x3, 3, 0.5f).reshape({2, 4, 6, 1}),
                           ml::local_response_norm(x3.reshape({2, 4, 6, 1}), 3, 0.5f)));
}

TEST_CASE("local_response_norm gradient, including the cross-channel term") {
  // alpha = 1 (not 1e-4) so the cross-channel part of the gradient is of order 1 and a wrong
  // window (e.g. not mirrored for even sizes) would fail the check.
  Generator g(202);
  for (int64_t size : {1, 3, 4, 7}) {
    INFO("size ", size);
    ml::testing::gradcheck(
        [size](const std::vector<Tensor>& in) { return ml::local_response_norm(in[0], size, 1.f, 0.75f, 2.f); },
        {ml::testing::rand({2, 5, 3, 3}, g, -1.5f, 1.5f)}, 21);
  }
}

TEST_CASE("local_response_norm rejects bad arguments") {
  Generator g(203);
  std::string m = error_of([&] { ml::local_response_norm(ml::testing::rand({4, 5}, g), 3); });
  CHECK_MESSAGE((contains(m, "local_response_norm") && contains(m, "(4, 5)")), m);
  m = error_of([&] { ml::local_response_norm(ml::testing::rand({1, 4, 2, 2}, g), 0); });
  CHECK_MESSAGE((contains(m, "local_response_norm") && contains(m, "size")), m);
}

// ---- batch normalisation ----------------------------------------------------------------------

TEST_CASE("batch_norm training normalises each channel to mean 0, variance 1") {
  Generator g(211);
  // Non-zero mean, spread 3: U[2, 5] has variance 0.75.
  const Tensor x = ml::testing::rand({4, 3, 5, 5}, g, 2.f, 5.f);
  const Tensor y = ml::batch_norm(x, {}, {}, {}, {}, true);
  std::vector<double> m, v;
  channel_stats(y, m, v);
  for (size_t c = 0; c < 3; ++c) {
    // Mean: float rounding of 100 values of order 1 -> ~1e-7; 1e-5 is generous but would
    // catch any missing centring. Variance = var/(var + eps) = 1 - 1.3e-5 for var 0.75, so 1e-4.
    CHECK(std::fabs(m[c]) < 1e-5);
    CHECK(std::fabs(v[c] - 1.0) < 1e-4);
  }
  // With weight and bias, against the formula in double.
  const std::vector<float> w{0.5f, -2.f, 1.5f}, b{0.1f, 0.f, -3.f};
  const Tensor ya = ml::batch_norm(x, {}, {}, Tensor::from_vector({3}, w), Tensor::from_vector({3}, b), true);
  std::vector<double> xm, xv;
  channel_stats(x, xm, xv);
  // |y| <= ~6; float products and one float rounding of a and b: 1e-5 absolute + relative.
  CHECK_CLOSE(ya, ref_bn(x, xm, xv, w, b, 1e-5), 1e-5, 1e-5);
}

TEST_CASE("batch_norm keeps a small spread about a large mean (forward and x's gradient)") {
  // x = 1000 + U[-0.01, 0.01]: float's spacing at 1000 is 6e-5, so forming y as a*x + b in
  // float (a ~ 170, b ~ -1.7e5) would err by ~0.01, and a float mean would shift every
  // normalised value by up to 3e-5 / 0.0058 = 0.5 %. Against the formula in double from the same
  // float inputs, 1e-5 as in the test above.
  Generator g(223);
  const Tensor x = ml::testing::rand({4, 2, 9, 11}, g, 999.99f, 1000.01f);
  const std::vector<float> w{0.5f, -2.f}, b{0.1f, -3.f};
  std::vector<double> m, v;
  channel_stats(x, m, v);
  CHECK_CLOSE(ml::batch_norm(x, {}, {}, Tensor::from_vector({2}, w), Tensor::from_vector({2}, b), true),
              ref_bn(x, m, v, w, b, 1e-5), 1e-5, 1e-5);
  // x's gradient for the loss sum(y * r), against the formula in double,
  //   gx = invstd * (r - mean(r) - xhat * mean(r * xhat)),
  // to 1e-5 of invstd (the gradient's scale; r is of order 1). A float mean would move xhat by
  // up to 0.5 % and gx by ~1e-3 of invstd.
  Tensor xg = x.detach();
  xg.requires_grad_(true);
  const Tensor r = ml::testing::rand({4, 2, 9, 11}, g);
  ml::sum(ml::mul(ml::batch_norm(xg, {}, {}, {}, {}, true), r)).backward();
  const auto gx = xg.grad().to_vector(), xv = x.to_vector(), rv = r.to_vector();
  for (size_t c = 0; c < 2; ++c) {
    const double invstd = 1.0 / std::sqrt(v[c] + 1e-5);
    double mr = 0.0, mrx = 0.0;
    for (size_t n = 0; n < 4; ++n)
      for (size_t l = 0; l < 99; ++l) {
        const size_t i = (n * 2 + c) * 99 + l;
        mr += rv[i] / 396.0;
        mrx += rv[i] * (xv[i] - m[c]) * invstd / 396.0;
      }
    double worst = 0.0;
    for (size_t n = 0; n < 4; ++n)
      for (size_t l = 0; l < 99; ++l) {
        const size_t i = (n * 2 + c) * 99 + l;
        const double ref = invstd * (rv[i] - mr - (xv[i] - m[c]) * invstd * mrx);
        worst = std::max(worst, std::fabs(gx[i] - ref));
      }
    CHECK_MESSAGE(worst < 1e-5 * invstd, "channel ", c, ": worst |gx - ref| = ", worst, ", invstd ", invstd);
  }
}

TEST_CASE("batch_norm and local_response_norm on inputs large enough to take the OpenMP path") {
  // The kernels parallelise over channels (batch norm) or planes (LRN) above ~16k elements;
  // with 2 threads (the suite runs with 1) the threaded loops really run.
  const ml::testing::OmpThreads threads(2);
  Generator g(217);
  const Tensor x = ml::testing::rand({8, 16, 12, 12}, g, -1.f, 3.f);
  std::vector<float> w(16), b(16);
  for (size_t c = 0; c < 16; ++c) {
    w[c] = 0.5f + 0.1f * static_cast<float>(c);
    b[c] = -1.f + 0.2f * static_cast<float>(c);
  }
  std::vector<double> m, v;
  channel_stats(x, m, v);
  CHECK_CLOSE(ml::batch_norm(x, {}, {}, Tensor::from_vector({16}, w), Tensor::from_vector({16}, b), true),
              ref_bn(x, m, v, w, b, 1e-5), 1e-5, 1e-5);
  CHECK_CLOSE(ml::local_response_norm(x, 5, 0.5f, 0.75f, 2.f), ref_lrn(x, 5, 0.5, 0.75, 2.0), 1e-6, 1e-5);
}

TEST_CASE("batch_norm running statistics after two steps, momentum 0.1, unbiased variance") {
  Generator g(212);
  const int64_t C = 3;
  Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});  // PyTorch's initial buffers
  const Tensor x1 = ml::testing::rand({4, C, 6}, g, -1.f, 3.f);
  const Tensor x2 = ml::testing::rand({4, C, 6}, g, 0.f, 2.f);
  ml::batch_norm(x1, rm, rv, {}, {}, true, 0.1f);
  ml::batch_norm(x2, rm, rv, {}, {}, true, 0.1f);
  std::vector<double> m1, v1, m2, v2;
  channel_stats(x1, m1, v1);
  channel_stats(x2, m2, v2);
  const double M = 4 * 6, unb = M / (M - 1);
  std::vector<float> em(C), ev(C);
  for (size_t c = 0; c < static_cast<size_t>(C); ++c) {
    em[c] = static_cast<float>(0.9 * (0.9 * 0.0 + 0.1 * m1[c]) + 0.1 * m2[c]);
    ev[c] = static_cast<float>(0.9 * (0.9 * 1.0 + 0.1 * v1[c] * unb) + 0.1 * v2[c] * unb);
  }
  // Two float roundings per step of values of order 1: 1e-6. A biased variance would be off
  // by ~0.1 * var / 23 ~ 1e-3, far outside.
  CHECK_CLOSE(rm, Tensor::from_vector({C}, em), 1e-6, 1e-6);
  CHECK_CLOSE(rv, Tensor::from_vector({C}, ev), 1e-6, 1e-6);
}

TEST_CASE("batch_norm eval normalises with the running statistics and leaves them alone") {
  Generator g(213);
  const std::vector<float> rmv{0.5f, -1.f, 2.f}, rvv{0.25f, 4.f, 1.f}, w{1.5f, 0.5f, -1.f}, b{0.f, 1.f, 2.f};
  Tensor rm = Tensor::from_vector({3}, rmv), rv = Tensor::from_vector({3}, rvv);
  for (const Shape& s : {Shape{5, 3}, Shape{2, 3, 4}, Shape{2, 3, 2, 3}}) {
    INFO(ml::shape_str(s));
    const Tensor x = ml::testing::rand(s, g, -2.f, 2.f);
    const Tensor y = ml::batch_norm(x, rm, rv, Tensor::from_vector({3}, w), Tensor::from_vector({3}, b), false);
    const std::vector<double> m(rmv.begin(), rmv.end()), v(rvv.begin(), rvv.end());
    CHECK_CLOSE(y, ref_bn(x, m, v, w, b, 1e-5), 1e-5, 1e-5);
    CHECK(rm.to_vector() == rmv);
    CHECK(rv.to_vector() == rvv);
  }
  // One value per channel is fine in eval (the statistics are not estimated from the batch).
  CHECK(ml::batch_norm(ml::testing::rand({1, 3}, g), rm, rv, {}, {}, false).shape() == Shape{1, 3});
}

TEST_CASE("batch_norm gradients in training mode (x, weight, bias), 2-D, 3-D and 4-D") {
  Generator g(214);
  for (const Shape& s : {Shape{6, 3}, Shape{3, 2, 4}, Shape{2, 3, 3, 2}}) {
    INFO(ml::shape_str(s));
    const int64_t C = s[1];
    Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});  // tracked, updated by every call: harmless
    ml::testing::gradcheck(
        [rm, rv](const std::vector<Tensor>& in) { return ml::batch_norm(in[0], rm, rv, in[1], in[2], true); },
        {ml::testing::rand(s, g), ml::testing::rand({C}, g, 0.5f, 1.5f), ml::testing::rand({C}, g)}, 31);
  }
  // affine = false, no running statistics.
  ml::testing::gradcheck([](const std::vector<Tensor>& in) { return ml::batch_norm(in[0], {}, {}, {}, {}, true); },
                         {ml::testing::rand({2, 3, 2, 3}, g)}, 32);
}

TEST_CASE("batch_norm gradients in eval mode (x, weight, bias)") {
  Generator g(215);
  const Tensor rm = Tensor::from_vector({3}, {0.2f, -0.4f, 1.f}), rv = Tensor::from_vector({3}, {0.5f, 2.f, 1.2f});
  for (const Shape& s : {Shape{4, 3}, Shape{2, 3, 2, 3}}) {
    INFO(ml::shape_str(s));
    ml::testing::gradcheck(
        [rm, rv](const std::vector<Tensor>& in) { return ml::batch_norm(in[0], rm, rv, in[1], in[2], false); },
        {ml::testing::rand(s, g), ml::testing::rand({3}, g, 0.5f, 1.5f), ml::testing::rand({3}, g)}, 33);
  }
}

TEST_CASE("batch_norm rejects bad arguments") {
  Generator g(216);
  const Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  std::string m = error_of([&] { ml::batch_norm(ml::testing::rand({1, 3}, g), rm, rv, {}, {}, true); });
  CHECK_MESSAGE((contains(m, "batch_norm") && contains(m, "more than 1 value per channel") && contains(m, "(1, 3)")),
                m);
  m = error_of([&] { ml::batch_norm(ml::testing::rand({1, 3, 1, 1}, g), {}, {}, {}, {}, true); });
  CHECK_MESSAGE(contains(m, "more than 1 value per channel"), m);
  m = error_of([&] { ml::batch_norm(ml::testing::rand({5}, g), {}, {}, {}, {}, true); });
  CHECK_MESSAGE((contains(m, "batch_norm") && contains(m, "(5)")), m);
  m = error_of([&] { ml::batch_norm(ml::testing::rand({4, 3}, g), rm, rv, Tensor::ones({4}), {}, true); });
  CHECK_MESSAGE((contains(m, "batch_norm") && contains(m, "weight") && contains(m, "(4)")), m);
  m = error_of([&] { ml::batch_norm(ml::testing::rand({4, 3}, g), {}, {}, {}, {}, false); });
  CHECK_MESSAGE((contains(m, "batch_norm") && contains(m, "eval")), m);
  m = error_of([&] { ml::batch_norm(ml::testing::rand({4, 3}, g), rm, {}, {}, {}, true); });
  CHECK_MESSAGE((contains(m, "batch_norm") && contains(m, "running_var")), m);
}

// ---- dropout ----------------------------------------------------------------------------------

TEST_CASE("dropout: the mask is a function of (seed, offset)") {
  const Tensor x = Tensor::ones({64, 50});
  const int64_t n = x.numel();
  Generator a(7), b(7), c(8);
  const Tensor ya1 = ml::dropout(x, 0.5f, true, a);
  CHECK(a.offset() == static_cast<uint64_t>(n));  // n counters reserved
  const Tensor ya2 = ml::dropout(x, 0.5f, true, a);
  const Tensor yb1 = ml::dropout(x, 0.5f, true, b);
  const Tensor yc1 = ml::dropout(x, 0.5f, true, c);
  CHECK(ml::testing::equal(ya1, yb1));   // same seed, same offset: same mask
  CHECK(!ml::testing::equal(ya1, ya2));  // same seed, next offset: a new mask
  CHECK(!ml::testing::equal(ya1, yc1));  // another seed
  // The second mask is exactly the one at offset n.
  Generator d(7);
  d.advance(n);
  CHECK(ml::testing::equal(ml::dropout(x, 0.5f, true, d), ya2));
}

TEST_CASE("dropout drops a fraction p and scales the rest by 1/(1-p)") {
  Generator g(221), data(222);
  const int64_t n = 100000;
  const Tensor x = ml::testing::rand({n}, data, 1.f, 2.f);  // never 0, so a 0 in y is a drop
  const auto xv = x.to_vector();
  for (float p : {0.1f, 0.5f, 0.9f}) {
    INFO("p ", p);
    const auto yv = ml::dropout(x, p, true, g).to_vector();
    int64_t dropped = 0, bad_scale = 0;
    for (size_t i = 0; i < yv.size(); ++i) {
      if (yv[i] == 0.f) {
        ++dropped;
        continue;
      }
      // x * float(1/(1-p)): two float roundings, so 1e-6 relative.
      const double expect = static_cast<double>(xv[i]) / (1.0 - static_cast<double>(p));
      if (std::fabs(yv[i] - expect) > 1e-6 * expect) ++bad_scale;
    }
    CHECK(bad_scale == 0);
    // The number dropped is Binomial(n, p): within 4 standard deviations except with
    // probability ~6e-5 (and the seed is fixed).
    const double frac = static_cast<double>(dropped) / n, sigma = std::sqrt(p * (1.0 - p) / n);
    CHECK_MESSAGE(std::fabs(frac - p) < 4 * sigma, "dropped fraction ", frac);
  }
}

TEST_CASE("dropout is the identity in eval mode and for p = 0") {
  Generator g(223);
  const Tensor x = ml::testing::rand({3, 4}, g);
  const uint64_t before = g.offset();
  CHECK(ml::dropout(x, 0.5f, false, g).same(x));
  CHECK(ml::dropout(x, 0.f, true, g).same(x));
  CHECK(g.offset() == before);  // no draw was made
}

TEST_CASE("dropout gradient is the mask") {
  Generator data(224);
  // A fresh generator with the same seed inside f: the same mask on every call.
  ml::testing::gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator gen(5);
        return ml::dropout(in[0], 0.4f, true, gen);
      },
      {ml::testing::rand({4, 6, 3}, data)}, 41);
  // And exactly: with gy = 1 the gradient is 0 where y was dropped and 1/(1-p) elsewhere.
  Tensor x = ml::testing::rand({200}, data, 1.f, 2.f);
  x.requires_grad_(true);
  Generator gen(6);
  const Tensor y = ml::dropout(x, 0.3f, true, gen);
  y.backward(Tensor::ones({200}));
  const auto yv = y.to_vector(), gv = x.grad().to_vector();
  const float keep = 1.f / (1.f - 0.3f);
  for (size_t i = 0; i < yv.size(); ++i) CHECK(gv[i] == (yv[i] == 0.f ? 0.f : keep));
}

TEST_CASE("dropout rejects p outside 0 <= p < 1") {
  Generator g(225);
  const Tensor x = ml::testing::rand({3, 4}, g);
  for (float p : {1.f, -0.1f, 1.5f, std::nanf("")}) {
    const std::string m = error_of([&] { ml::dropout(x, p, true, g); });
    CHECK_MESSAGE((contains(m, "dropout") && contains(m, "(3, 4)")), m);
  }
}
