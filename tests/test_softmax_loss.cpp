// tests/test_softmax_loss.cpp — softmax / log-softmax (engine/ops/softmax.cpp), the losses
// (engine/ops/softmax.cpp, engine/ops/loss.cpp) and the dense products (engine/ops/linear.cpp)
// against references written as plain loops in double.
//
// Tolerances, each from the float32 operations the op performs:
//  - softmax: the kernel subtracts the row max in float (error <= 2^-24 |x - m| <= 4e-7 for
//    |x| <= 3) and exponentiates/normalises in double, so each probability is within
//    ~4e-7 relative: rtol 1e-6. log-softmax's output is x - m - log z in float, three
//    roundings of values up to ~8 in size: atol 2e-6.
//  - losses built from pointwise float ops (poisson, mse) have a few ulps of error per
//    element of magnitude <= ~10, averaged: atol 2e-6 + rtol 1e-6.
//  - linear / matmul: a float32 dot product of m terms is within m * 2^-24 * sum|terms| in
//    the worst case; the test asks |y - ref| <= 1e-5 * sum|terms| (the same bound and
//    reasoning as tests/test_conv.cpp; m <= 70 here).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

namespace {

// testing::gradcheck marks its inputs requires_grad and accumulates into their .grad, so
// every call gets its own copies.
Tensor fresh(const Tensor& t) { return t.detach().clone(); }

// Softmax (or log-softmax) of x along dim, in double, with the max subtracted.
std::vector<double> softmax_ref(const Tensor& x, int64_t dim, bool log) {
  const Shape& s = x.shape();
  const size_t d = static_cast<size_t>(dim < 0 ? dim + x.dim() : dim);
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < d; ++k) outer *= s[k];
  for (size_t k = d + 1; k < s.size(); ++k) inner *= s[k];
  const int64_t n = s[d];
  const auto xv = x.to_vector();
  std::vector<double> y(xv.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return static_cast<size_t>((o * n + j) * inner + i); };
      double m = -INFINITY;
      for (int64_t j = 0; j < n; ++j) m = std::max(m, static_cast<double>(xv[at(j)]));
      double z = 0;
      for (int64_t j = 0; j < n; ++j) z += std::exp(xv[at(j)] - m);
      for (int64_t j = 0; j < n; ++j)
        y[at(j)] = log ? (xv[at(j)] - m) - std::log(z) : std::exp(xv[at(j)] - m) / z;
    }
  return y;
}

Tensor to_tensor(const Shape& s, const std::vector<double>& v) {
  return Tensor::from_vector(s, std::vector<float>(v.begin(), v.end()));
}

// y = x w^T (+ b) by definition, with the sum of |terms| per output.
struct DenseRef {
  std::vector<double> v, bound;
};
DenseRef linear_ref(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t N = x.size(0), I = x.size(1), O = w.size(0);
  const auto xv = x.to_vector(), wv = w.to_vector();
  const auto bv = b.defined() ? b.to_vector() : std::vector<float>{};
  DenseRef r{std::vector<double>(static_cast<size_t>(N * O)), std::vector<double>(static_cast<size_t>(N * O))};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      double acc = bv.empty() ? 0.0 : bv[static_cast<size_t>(o)];
      double bound = std::fabs(acc);
      for (int64_t i = 0; i < I; ++i) {
        const double t = static_cast<double>(xv[static_cast<size_t>(n * I + i)]) * wv[static_cast<size_t>(o * I + i)];
        acc += t;
        bound += std::fabs(t);
      }
      r.v[static_cast<size_t>(n * O + o)] = acc;
      r.bound[static_cast<size_t>(n * O + o)] = bound;
    }
  return r;
}

void check_dense(const Tensor& y, const DenseRef& r) {
  const auto yv = y.to_vector();
  REQUIRE(yv.size() == r.v.size());
  int bad = 0;
  for (size_t i = 0; i < yv.size(); ++i)
    if (!(std::fabs(yv[i] - r.v[i]) <= 1e-5 * r.bound[i]) && bad++ < 3)
      CHECK_MESSAGE(false, "element ", i, ": ", yv[i], " vs reference ", r.v[i], " (bound 1e-5 * ", r.bound[i], ")");
  CHECK(bad == 0);
}

Tensor transpose_ref(const Tensor& t) {
  const int64_t R = t.size(0), C = t.size(1);
  const auto v = t.to_vector();
  std::vector<float> o(v.size());
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) o[static_cast<size_t>(c * R + r)] = v[static_cast<size_t>(r * C + c)];
  return Tensor::from_vector({C, R}, o);
}

}  // namespace

TEST_CASE("softmax and log_softmax along dim 1 and the last dim match the reference") {
  Generator gen(41);
  struct Case {
    Shape shape;
    int64_t dim;
  };
  const Case cases[] = {{{3, 7}, 1}, {{3, 7}, -1}, {{2, 4, 3, 5}, 1}, {{2, 4, 3, 5}, 3}, {{2, 4, 3, 5}, -1}};
  for (const auto& c : cases) {
    INFO("shape ", shape_str(c.shape), " dim ", c.dim);
    const Tensor x = testing::rand(c.shape, gen, -3.f, 3.f);
    const Tensor p = softmax(x, c.dim), lp = log_softmax(x, c.dim);
    REQUIRE(p.shape() == c.shape);
    REQUIRE(lp.shape() == c.shape);
    CHECK_CLOSE(p, to_tensor(c.shape, softmax_ref(x, c.dim, false)), 0.0, 1e-6);
    CHECK_CLOSE(lp, to_tensor(c.shape, softmax_ref(x, c.dim, true)), 2e-6, 0.0);
    // Every distribution along dim sums to 1 (within the per-element 1e-6 relative error).
    const Tensor sums = sum(p, {c.dim});
    for (float v : sums.to_vector()) CHECK(std::fabs(v - 1.0) <= 1e-6);
  }
}

TEST_CASE("softmax and log_softmax are stable for large inputs") {
  const Tensor x = Tensor::from_vector({4, 2}, {1000.f, 1001.f, -1000.f, 0.f, 1000.f, -1000.f, 88.f, 89.f});
  const Tensor p = softmax(x, 1), lp = log_softmax(x, 1);
  for (float v : p.to_vector()) CHECK(std::isfinite(v));
  for (float v : lp.to_vector()) CHECK(std::isfinite(v));
  CHECK_CLOSE(p, to_tensor({4, 2}, softmax_ref(x, 1, false)), 1e-30, 1e-6);
  // These inputs are exact in float and x - max is exact, so the header's 2e-6 applies.
  CHECK_CLOSE(lp, to_tensor({4, 2}, softmax_ref(x, 1, true)), 2e-6, 0.0);
  const auto v = lp.to_vector();
  CHECK(testing::near(v[0], -1.3132617, 0, 1e-6));
  CHECK(testing::near(v[1], -0.3132617, 0, 1e-6));
  CHECK(v[5] == -2000.f);
  CHECK(p.to_vector()[2] == 0.f);  // e^-1000 underflows to exactly 0, not NaN
}

TEST_CASE("softmax and log_softmax gradients") {
  Generator gen(42);
  const Tensor x = testing::rand({2, 4, 3}, gen, -2.f, 2.f);
  for (int64_t dim : {int64_t{1}, int64_t{-1}, int64_t{0}}) {
    INFO("dim ", dim);
    testing::gradcheck([dim](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {fresh(x)});
    testing::gradcheck([dim](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {fresh(x)});
  }
}

TEST_CASE("cross_entropy and nll_loss match a double reference") {
  Generator gen(43);
  const Tensor logits = testing::rand({6, 5}, gen, -3.f, 3.f);
  const Tensor labels = Tensor::from_vector_i32({6}, {0, 4, 2, 2, 1, 3});
  const auto lv = labels.to_vector_i32();
  const auto xv = logits.to_vector();
  double ce = 0.0;
  for (size_t n = 0; n < 6; ++n) {
    double m = -INFINITY, z = 0.0;
    for (size_t c = 0; c < 5; ++c) m = std::max(m, static_cast<double>(xv[n * 5 + c]));
    for (size_t c = 0; c < 5; ++c) z += std::exp(xv[n * 5 + c] - m);
    ce += m + std::log(z) - xv[n * 5 + static_cast<size_t>(lv[n])];
  }
  ce /= 6.0;
  const Tensor loss = cross_entropy(logits, labels);
  CHECK(loss.shape() == Shape{});
  // log-softmax's per-element 2e-6 (see the header), averaged.
  CHECK(std::fabs(loss.item() - ce) <= 2e-6);
  CHECK(loss.item() == nll_loss(log_softmax(logits, 1), labels).item());

  // nll_loss alone on arbitrary values: -mean_n logp[n, label[n]], summed in double.
  double nll = 0.0;
  for (size_t n = 0; n < 6; ++n) nll -= xv[n * 5 + static_cast<size_t>(lv[n])];
  nll /= 6.0;
  CHECK(std::fabs(nll_loss(logits, labels).item() - nll) <= 1e-7 * std::fabs(nll) + 1e-9);

  testing::gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); }, {fresh(logits)});
  testing::gradcheck([&](const std::vector<Tensor>& in) { return nll_loss(in[0], labels); }, {fresh(logits)});
}

TEST_CASE("nll_loss rejects bad labels, naming them") {
  const Tensor logp = Tensor::zeros({2, 5});
  expect_parts(error_of([&] { nll_loss(logp, Tensor::from_vector_i32({2}, {0, 5})); }), {"nll_loss", "label 5"});
  expect_parts(error_of([&] { nll_loss(logp, Tensor::from_vector_i32({2}, {-1, 0})); }), {"nll_loss", "label -1"});
  expect_parts(error_of([&] { nll_loss(logp, Tensor::from_vector_i32({3}, {0, 1, 2})); }), {"nll_loss", "(3)", "(2, 5)"});
  expect_parts(error_of([&] { nll_loss(logp, Tensor::zeros({2})); }), {"nll_loss", "int32"});
  expect_parts(error_of([&] { cross_entropy(Tensor::zeros({2, 5}), Tensor::from_vector_i32({2}, {7, 0})); }),
               {"label 7"});
}

TEST_CASE("poisson_nll_loss matches the formula, with log_input true and false") {
  Generator gen(44);
  std::vector<float> counts(24);
  for (auto& c : counts) c = static_cast<float>(gen.next_below(6));  // spike counts 0..5
  const Tensor target = Tensor::from_vector({4, 6}, counts);
  const Tensor log_rate = testing::rand({4, 6}, gen, -1.f, 1.5f);
  const Tensor rate = testing::rand({4, 6}, gen, 0.2f, 3.f);
  const auto lr = log_rate.to_vector(), r = rate.to_vector();
  double ref_log = 0.0, ref_lin = 0.0;
  for (size_t i = 0; i < 24; ++i) {
    ref_log += std::exp(static_cast<double>(lr[i])) - counts[i] * static_cast<double>(lr[i]);
    ref_lin += r[i] - counts[i] * std::log(static_cast<double>(r[i]) + 1e-8);
  }
  ref_log /= 24.0;
  ref_lin /= 24.0;
  CHECK(std::fabs(poisson_nll_loss(log_rate, target, true).item() - ref_log) <= 2e-6 + 1e-6 * std::fabs(ref_log));
  CHECK(std::fabs(poisson_nll_loss(rate, target, false).item() - ref_lin) <= 2e-6 + 1e-6 * std::fabs(ref_lin));
  // A hand value: rate e^0 = 1, count 2: 1 - 2*0 = 1; rate 2 (log_input false), count 3: 2 - 3 log 2.
  CHECK(poisson_nll_loss(Tensor::zeros({1}), Tensor::full({1}, 2.f)).item() == 1.f);
  // 2 - 3 log 2 = -0.079 from terms of size ~2 rounded to float32: 1e-6 absolute.
  CHECK(near(poisson_nll_loss(Tensor::full({1}, 2.f), Tensor::full({1}, 3.f), false).item(), 2.0 - 3.0 * std::log(2.0),
             1e-6, 0));

  // Gradients with respect to the input and (as a function of both) the target.
  testing::gradcheck([](const std::vector<Tensor>& in) { return poisson_nll_loss(in[0], in[1], true); },
                     {fresh(log_rate), fresh(target)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return poisson_nll_loss(in[0], in[1], false); },
                     {fresh(rate), fresh(target)});
  expect_parts(error_of([&] { poisson_nll_loss(rate, Tensor::zeros({4, 5})); }),
               {"poisson_nll_loss", "(4, 6)", "(4, 5)"});
}

TEST_CASE("mse_loss matches the mean of squared differences") {
  Generator gen(45);
  const Tensor a = testing::rand({3, 5}, gen, -2.f, 2.f), b = testing::rand({3, 5}, gen, -2.f, 2.f);
  const auto av = a.to_vector(), bv = b.to_vector();
  double ref = 0.0;
  for (size_t i = 0; i < av.size(); ++i) ref += (static_cast<double>(av[i]) - bv[i]) * (static_cast<double>(av[i]) - bv[i]);
  ref /= static_cast<double>(av.size());
  CHECK(std::fabs(mse_loss(a, b).item() - ref) <= 2e-6 + 1e-6 * ref);
  CHECK(mse_loss(a, a).item() == 0.f);
  testing::gradcheck([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); }, {fresh(a), fresh(b)});
  expect_parts(error_of([&] { mse_loss(a, Tensor::zeros({5, 3})); }), {"mse_loss", "(3, 5)", "(5, 3)"});
}

TEST_CASE("linear and matmul forward match the definition") {
  Generator gen(46);
  for (auto dims : {std::vector<int64_t>{4, 6, 5}, std::vector<int64_t>{33, 70, 17}, std::vector<int64_t>{1, 3, 1}}) {
    const int64_t N = dims[0], I = dims[1], O = dims[2];
    INFO("N ", N, " in ", I, " out ", O);
    const Tensor x = testing::rand({N, I}, gen), w = testing::rand({O, I}, gen), b = testing::rand({O}, gen);
    const Tensor y = linear(x, w, b);
    REQUIRE(y.shape() == Shape{N, O});
    check_dense(y, linear_ref(x, w, b));
    const Tensor y0 = linear(x, w, Tensor());
    check_dense(y0, linear_ref(x, w, Tensor()));
    // matmul(x, w^T) is the same product.
    const Tensor m = matmul(x, transpose_ref(w));
    REQUIRE(m.shape() == Shape{N, O});
    check_dense(m, linear_ref(x, w, Tensor()));
  }
}

TEST_CASE("linear forward at fully-connected sizes: the streaming path and Eigen match the definition") {
  // kernels/cpu/gemm.cpp takes x w^T with at most 16 rows and a weight of >= 2^18 floats by its
  // own streaming loop (thin_abt), others by Eigen. These shapes reach both (checked through
  // gemm_takes_thin_path with the parameters linear passes), with an odd batch (the 2-row
  // blocks' leftover row), out % 4 = 3 and 1 (the 4-row blocks' leftover rows), with and
  // without bias (beta 1 and 0). Tolerance: the file's 1e-5 * sum|terms|. The streaming loop
  // sums each dot product in W >= 4 vector lanes of ceil(in/W) terms, then across the lanes:
  // error <= (ceil(643/4) + 2 + 1) * 2^-24 * sum|terms| = 9.8e-6 * sum|terms| at in = 643 (with
  // 8 or 16 lanes, less); a wrong index or a dropped term is off by ~1/643 of sum|terms|.
  Generator gen(47);
  const auto thin = [](int64_t N, int64_t I, int64_t O) {
    kernels::GemmParams p;
    p.M = N, p.N = O, p.K = I, p.trans_b = true, p.lda = I, p.ldb = I, p.ldc = O;
    return kernels::gemm_takes_thin_path(p);
  };
  for (auto dims : {std::vector<int64_t>{5, 643, 411}, std::vector<int64_t>{16, 643, 408},
                    std::vector<int64_t>{1, 643, 409}, std::vector<int64_t>{17, 643, 411}}) {
    const int64_t N = dims[0], I = dims[1], O = dims[2];
    INFO("N ", N, " in ", I, " out ", O);
    CHECK(thin(N, I, O) == (N <= 16));
    const Tensor x = testing::rand({N, I}, gen), w = testing::rand({O, I}, gen), b = testing::rand({O}, gen);
    check_dense(linear(x, w, b), linear_ref(x, w, b));
    check_dense(linear(x, w, Tensor()), linear_ref(x, w, Tensor()));
  }
}

TEST_CASE("linear forward above the streaming path's batch, split by output columns over 2 threads") {
  // kernels/cpu/gemm.cpp splits x w^T with 17 to 511 rows and a weight of >= 2^18 floats (>= 128
  // outputs) by output columns, one single-threaded Eigen product per thread (RISE's batches of
  // 50 through fc6). Batches 50 and 37, out 411 and 409 (column blocks of 208 and the rest), with
  // and without bias; the file's tolerance, 1e-5 * sum|terms|. A block written at the wrong
  // columns, or reading the wrong rows of w, is off by O(sum|terms|).
  const OmpThreads threads(2);
  Generator gen(48);
  for (auto dims : {std::vector<int64_t>{50, 643, 411}, std::vector<int64_t>{37, 643, 409}}) {
    const int64_t N = dims[0], I = dims[1], O = dims[2];
    INFO("N ", N, " in ", I, " out ", O);
    const Tensor x = testing::rand({N, I}, gen), w = testing::rand({O, I}, gen), b = testing::rand({O}, gen);
    check_dense(linear(x, w, b), linear_ref(x, w, b));
    check_dense(linear(x, w, Tensor()), linear_ref(x, w, Tensor()));
  }
}

TEST_CASE("linear and matmul gradients, with and without bias") {
  Generator gen(47);
  const Tensor x = testing::rand({3, 4}, gen), w = testing::rand({2, 4}, gen), b = testing::rand({2}, gen);
  testing::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                     {fresh(x), fresh(w), fresh(b)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); },
                     {fresh(x), fresh(w)});
  const Tensor a = testing::rand({3, 5}, gen), c = testing::rand({5, 2}, gen);
  testing::gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {fresh(a), fresh(c)});
  // Only one side requiring grad.
  Tensor a2 = fresh(a);
  a2.requires_grad_(true);
  matmul(a2, c).backward(Tensor::ones({3, 2}));
  // d sum(A C) / dA[i,k] = sum_j C[k,j].
  const auto cv = c.to_vector(), ga = a2.grad().to_vector();
  for (size_t i = 0; i < 3; ++i)
    for (size_t k = 0; k < 5; ++k)
      CHECK(testing::near(ga[i * 5 + k], static_cast<double>(cv[k * 2]) + cv[k * 2 + 1], 1e-6, 1e-6));
}

TEST_CASE("linear and matmul reject mismatched shapes") {
  const Tensor a = Tensor::zeros({4, 6}), b = Tensor::zeros({5, 3});
  expect_parts(error_of([&] { matmul(a, b); }), {"matmul", "(4, 6)", "(5, 3)"});
  expect_parts(error_of([&] { matmul(a, Tensor::zeros({6})); }), {"matmul", "(6)"});
  expect_parts(error_of([&] { linear(a, Tensor::zeros({3, 5}), Tensor()); }), {"linear", "(4, 6)", "(3, 5)"});
  expect_parts(error_of([&] { linear(a, Tensor::zeros({3, 6}), Tensor::zeros({4})); }), {"linear", "(4)", "(3, 6)"});
}
