// tests/test_reduce_shape.cpp — sums and means (engine/ops/reduce.cpp), expand / sum_to,
// argmax, and the shape ops (engine/ops/shape.cpp, Tensor::reshape / slice views).
//
// Tolerances: kernels/cpu/reduce.cpp accumulates every output in double and rounds once, so
// a sum must lie within half an ulp of the double reference, plus the double rounding itself:
//     |y - ref| <= 2^-23 |ref| + 1e-12 * sum|x|      (1 ulp, for margin)
// A mean is that sum times float(1/n): two more roundings, so 2^-22 |ref|.
// Everything else here moves data and is compared for equality.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

namespace {

std::vector<int64_t> unravel(size_t i, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = static_cast<int64_t>(i % static_cast<size_t>(s[d]));
    i /= static_cast<size_t>(s[d]);
  }
  return idx;
}

size_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  size_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * static_cast<size_t>(s[d]) + static_cast<size_t>(idx[d]);
  return off;
}

struct SumRef {
  Shape keep_shape;             // reduced dims kept as 1
  std::vector<double> v, abs_;  // sums and sums of |x|
  int64_t count = 1;            // elements per output
};

// Sums x over the dims marked in `mask`, by walking every element of x.
SumRef sum_ref(const Tensor& x, const std::vector<bool>& mask) {
  SumRef r;
  r.keep_shape = x.shape();
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) {
      r.count *= x.shape()[d];
      r.keep_shape[d] = 1;
    }
  r.v.assign(static_cast<size_t>(shape_numel(r.keep_shape)), 0.0);
  r.abs_ = r.v;
  const auto xv = x.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) {
    auto idx = unravel(i, x.shape());
    for (size_t d = 0; d < mask.size(); ++d)
      if (mask[d]) idx[d] = 0;
    const size_t o = ravel(idx, r.keep_shape);
    r.v[o] += xv[i];
    r.abs_[o] += std::fabs(xv[i]);
  }
  return r;
}

void check_sum(const Tensor& y, const SumRef& r, bool is_mean) {
  const auto yv = y.to_vector();
  REQUIRE(yv.size() == r.v.size());
  const double n = static_cast<double>(r.count);
  for (size_t i = 0; i < yv.size(); ++i) {
    const double ref = is_mean ? r.v[i] / n : r.v[i];
    const double tol = (is_mean ? 0x1p-22 : 0x1p-23) * std::fabs(ref) + 1e-12 * r.abs_[i];
    CHECK_MESSAGE(std::fabs(yv[i] - ref) <= tol, "element ", i, ": ", yv[i], " vs reference ", ref);
  }
}

std::vector<bool> mask_of(size_t ndim, const std::vector<int64_t>& dims) {
  std::vector<bool> m(ndim, false);
  for (int64_t d : dims) m[static_cast<size_t>(d < 0 ? d + static_cast<int64_t>(ndim) : d)] = true;
  return m;
}

Shape drop_dims(const Shape& s, const std::vector<bool>& mask) {
  Shape out;
  for (size_t d = 0; d < s.size(); ++d)
    if (!mask[d]) out.push_back(s[d]);
  return out;
}

// testing::gradcheck marks its inputs requires_grad and accumulates into their .grad, so
// every call gets its own copies.
Tensor fresh(const Tensor& t) { return t.detach().clone(); }

// Values 1, 2, 3, ... so every element is distinct (a misplaced copy cannot go unnoticed).
Tensor iota(const Shape& s, float start = 1.f) { return Tensor::arange(shape_numel(s), start).reshape(s); }

// x's elements [start, start+len) along dim, by index arithmetic.
std::vector<float> narrow_ref(const Tensor& x, int64_t dim, int64_t start, int64_t len) {
  Shape out = x.shape();
  out[static_cast<size_t>(dim)] = len;
  const auto xv = x.to_vector();
  std::vector<float> y(static_cast<size_t>(shape_numel(out)));
  for (size_t i = 0; i < y.size(); ++i) {
    auto idx = unravel(i, out);
    idx[static_cast<size_t>(dim)] += start;
    y[i] = xv[ravel(idx, x.shape())];
  }
  return y;
}

// The concatenation along dim, by index arithmetic.
std::vector<float> cat_ref(const std::vector<Tensor>& xs, int64_t dim) {
  Shape out = xs[0].shape();
  out[static_cast<size_t>(dim)] = 0;
  for (const auto& t : xs) out[static_cast<size_t>(dim)] += t.shape()[static_cast<size_t>(dim)];
  std::vector<float> y(static_cast<size_t>(shape_numel(out)));
  for (size_t i = 0; i < y.size(); ++i) {
    auto idx = unravel(i, out);
    size_t k = 0;
    while (idx[static_cast<size_t>(dim)] >= xs[k].shape()[static_cast<size_t>(dim)]) {
      idx[static_cast<size_t>(dim)] -= xs[k].shape()[static_cast<size_t>(dim)];
      ++k;
    }
    y[i] = xs[k].to_vector()[ravel(idx, xs[k].shape())];
  }
  return y;
}

}  // namespace

TEST_CASE("sum and mean over everything") {
  Generator gen(31);
  const Tensor x = testing::rand({2, 3, 4, 5}, gen);
  const SumRef r = sum_ref(x, std::vector<bool>(4, true));
  const Tensor s = sum(x), m = mean(x);
  CHECK(s.shape() == Shape{});
  CHECK(m.shape() == Shape{});
  check_sum(s, r, false);
  check_sum(m, r, true);
  // A 1-D and a 0-D input.
  const Tensor v = Tensor::from_vector({4}, {1.f, 2.f, 3.f, 4.5f});
  CHECK(sum(v).item() == 10.5f);
  CHECK(mean(v).item() == 2.625f);
  CHECK(sum(Tensor::full({}, 3.f)).item() == 3.f);

  testing::gradcheck([](const std::vector<Tensor>& in) { return sum(in[0]); }, {testing::rand({3, 4}, gen)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return mean(in[0]); }, {testing::rand({3, 4}, gen)});
}

TEST_CASE("sum and mean over given dims, negative dims, keepdim") {
  Generator gen(32);
  const Tensor x = testing::rand({2, 3, 4, 5}, gen);
  const std::vector<std::vector<int64_t>> dim_sets = {{1}, {-1}, {0, 2, 3}, {-4, -2}, {3, 0}, {0, 1, 2, 3}, {2}};
  for (const auto& dims : dim_sets) {
    for (bool keepdim : {false, true}) {
      INFO("dims ", shape_str(dims), " keepdim ", keepdim);
      const auto mask = mask_of(4, dims);
      const SumRef r = sum_ref(x, mask);
      const Shape expect = keepdim ? r.keep_shape : drop_dims(x.shape(), mask);
      const Tensor s = sum(x, dims, keepdim), m = mean(x, dims, keepdim);
      REQUIRE(s.shape() == expect);
      REQUIRE(m.shape() == expect);
      check_sum(s, r, false);
      check_sum(m, r, true);
    }
  }
  const Tensor g = testing::rand({2, 3, 2, 3}, gen);
  testing::gradcheck([](const std::vector<Tensor>& in) { return sum(in[0], {0, 2, 3}); }, {fresh(g)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return sum(in[0], {-1}, true); }, {fresh(g)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return mean(in[0], {1, -2}); }, {fresh(g)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return mean(in[0], {0, 2, 3}, true); }, {fresh(g)});
}

// Sums over the middle of (outer, red, inner) take a row-by-row path (kernels/cpu/reduce.cpp);
// shapes large enough for its threads and for rows longer than its 256-wide accumulator, with the
// V1 readout's two sums among them (over channels of (B, C, N), over the batch of (B, C, N)).
TEST_CASE("sum over the middle dims of large tensors, and expand back along them") {
  Generator gen(34);
  const Tensor x = testing::rand({3, 70, 300}, gen);  // 63,000 elements; rows of 300 > 256
  for (const auto& dims : std::vector<std::vector<int64_t>>{{1}, {0}, {0, 1}, {1, 2}}) {
    INFO("dims ", shape_str(dims));
    check_sum(sum(x, dims, true), sum_ref(x, mask_of(3, dims)), false);
  }
  const Tensor readout = testing::rand({64, 32, 128}, gen);  // (B, C, N), 262,144 elements
  check_sum(sum(readout, {1}, true), sum_ref(readout, mask_of(3, {1})), false);
  check_sum(sum(readout, {0}, true), sum_ref(readout, mask_of(3, {0})), false);
  const Tensor row = iota({64, 1, 128});
  const auto e = expand(row, {64, 32, 128}).to_vector(), rv = row.to_vector();
  int wrong = 0;
  for (size_t i = 0; i < e.size(); ++i) wrong += e[i] != rv[(i / (32 * 128)) * 128 + i % 128];
  CHECK(wrong == 0);
}

TEST_CASE("sum and mean reject bad dims") {
  const Tensor x = Tensor::ones({2, 3, 4, 5});
  expect_parts(error_of([&] { sum(x, {4}); }), {"sum", "4"});
  expect_parts(error_of([&] { sum(x, {-5}); }), {"sum", "-5"});
  expect_parts(error_of([&] { mean(x, {7}); }), {"mean", "7"});
  expect_parts(error_of([&] { sum(x, {1, -3}); }), {"sum", "twice"});
}

TEST_CASE("expand and sum_to are each other's adjoint") {
  Generator gen(33);
  SUBCASE("expand values") {
    const Tensor x = iota({3, 1});
    const Tensor y = expand(x, {2, 3, 4});
    REQUIRE(y.shape() == Shape{2, 3, 4});
    const auto xv = x.to_vector(), yv = y.to_vector();
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k) CHECK(yv[static_cast<size_t>((i * 3 + j) * 4 + k)] == xv[static_cast<size_t>(j)]);
    const Tensor c = iota({1, 3, 1, 1});
    const auto cv = expand(c, {2, 3, 4, 5}).to_vector();
    for (size_t i = 0; i < cv.size(); ++i) CHECK(cv[i] == static_cast<float>((i / 20) % 3 + 1));
    CHECK(expand(iota({4}), {3, 4}).to_vector() ==
          std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  }
  SUBCASE("sum_to values") {
    const Tensor x = testing::rand({2, 3, 4}, gen);
    // (2,3,4) -> (3,1): the leading dim and the last summed.
    const SumRef r = sum_ref(x, {true, false, true});
    const Tensor y = sum_to(x, {3, 1});
    REQUIRE(y.shape() == Shape{3, 1});
    check_sum(y, r, false);
    const SumRef r2 = sum_ref(x, {true, false, false});
    const Tensor y2 = sum_to(x, {1, 3, 4});
    REQUIRE(y2.shape() == Shape{1, 3, 4});
    check_sum(y2, r2, false);
    const Tensor y3 = sum_to(x, {});
    REQUIRE(y3.shape() == Shape{});
    check_sum(y3, sum_ref(x, {true, true, true}), false);
    CHECK(sum_to(x, {2, 3, 4}).to_vector() == x.to_vector());
  }
  SUBCASE("adjoint identity <expand(a), b> = <a, sum_to(b)>") {
    const Tensor a = testing::rand({3, 1, 5}, gen), b = testing::rand({2, 3, 4, 5}, gen);
    const auto ea = expand(a, b.shape()).to_vector(), bv = b.to_vector();
    const auto av = a.to_vector(), sb = sum_to(b, a.shape()).to_vector();
    double l = 0, rr = 0, scale = 0;
    for (size_t i = 0; i < bv.size(); ++i) {
      l += static_cast<double>(ea[i]) * bv[i];
      scale += std::fabs(static_cast<double>(ea[i]) * bv[i]);
    }
    for (size_t i = 0; i < av.size(); ++i) rr += static_cast<double>(av[i]) * sb[i];
    // sum_to rounds each of its 15 outputs once (2^-24 relative): 1e-6 of the absolute scale.
    CHECK(std::fabs(l - rr) <= 1e-6 * scale);
  }
  SUBCASE("gradients") {
    testing::gradcheck([](const std::vector<Tensor>& in) { return expand(in[0], {2, 3, 4}); },
                       {testing::rand({3, 1}, gen)});
    testing::gradcheck([](const std::vector<Tensor>& in) { return expand(in[0], {2, 3, 4}); },
                       {testing::rand({4}, gen)});
    testing::gradcheck([](const std::vector<Tensor>& in) { return sum_to(in[0], {3, 1}); },
                       {testing::rand({2, 3, 4}, gen)});
    testing::gradcheck([](const std::vector<Tensor>& in) { return sum_to(in[0], {1, 4}); },
                       {testing::rand({2, 3, 4}, gen)});
  }
  SUBCASE("errors") {
    const Tensor x = Tensor::ones({2, 3});
    expect_parts(error_of([&] { expand(x, {3, 3}); }), {"expand", "(2, 3)", "(3, 3)"});
    expect_parts(error_of([&] { expand(x, {3}); }), {"expand", "(2, 3)"});
    const Tensor y = Tensor::ones({2, 3, 4});
    expect_parts(error_of([&] { sum_to(y, {2, 4}); }), {"sum_to", "(2, 3, 4)", "(2, 4)"});
    expect_parts(error_of([&] { sum_to(x, {1, 2, 3}); }), {"sum_to", "(2, 3)", "(1, 2, 3)"});
  }
}

TEST_CASE("argmax: first maximum of each row") {
  const Tensor x = Tensor::from_vector({5, 5}, {1, 3, 3, 2, 0,            // tie -> 1
                                                5, 5, 5, 5, 5,            // all equal -> 0
                                                -1, -2, -0.5f, -0.5f, -3, // negative tie -> 2
                                                0, 0, 0, 0, 7,            // last
                                                9, 1, 2, 3, 9});          // first and last tie -> 0
  const Tensor i = argmax(x);
  CHECK(i.dtype() == DType::I32);
  CHECK(i.shape() == Shape{5});
  CHECK(i.to_vector_i32() == std::vector<int32_t>{1, 0, 2, 4, 0});

  Generator gen(34);
  const Tensor r = testing::rand({6, 9}, gen);
  const auto rv = r.to_vector();
  std::vector<int32_t> expect(6);
  for (int64_t row = 0; row < 6; ++row) {
    int32_t best = 0;
    for (int32_t c = 1; c < 9; ++c)
      if (rv[static_cast<size_t>(row * 9 + c)] > rv[static_cast<size_t>(row * 9 + best)]) best = c;
    expect[static_cast<size_t>(row)] = best;
  }
  CHECK(argmax(r).to_vector_i32() == expect);
  expect_parts(error_of([&] { argmax(Tensor::ones({4})); }), {"argmax", "(4)"});
}

TEST_CASE("flatten is a view with the right shape") {
  const Tensor x = iota({2, 3, 4, 5});
  CHECK(flatten(x).shape() == Shape{2, 60});
  CHECK(flatten(x, 0).shape() == Shape{120});
  CHECK(flatten(x, 2).shape() == Shape{2, 3, 20});
  CHECK(flatten(x, -1).shape() == Shape{2, 3, 4, 5});
  CHECK(flatten(x, -2).shape() == Shape{2, 3, 20});
  CHECK(flatten(x).to_vector() == x.to_vector());
  Tensor f = flatten(x);
  f.data()[61] = -7.f;  // (1, 1): the element (1, 0, 0, 1) of x
  CHECK(x.to_vector()[61] == -7.f);
  expect_parts(error_of([&] { flatten(x, 4); }), {"flatten", "4"});
  Generator gen(35);
  testing::gradcheck([](const std::vector<Tensor>& in) { return flatten(in[0]); }, {testing::rand({2, 3, 2, 2}, gen)});
}

TEST_CASE("cat, split and narrow along dims 0, 1 and 3") {
  Generator gen(36);
  for (int64_t dim : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{-1}}) {
    const int64_t d = dim < 0 ? dim + 4 : dim;
    INFO("dim ", dim);
    Shape sa{2, 3, 4, 5}, sb = sa, sc = sa;
    sb[static_cast<size_t>(d)] = 1;
    sc[static_cast<size_t>(d)] = 2;
    const Tensor a = iota(sa, 1.f), b = iota(sb, 1000.f), c = iota(sc, 2000.f);
    const Tensor y = cat({a, b, c}, dim);
    Shape sy = sa;
    sy[static_cast<size_t>(d)] += 3;
    REQUIRE(y.shape() == sy);
    CHECK(y.to_vector() == cat_ref({a, b, c}, d));

    // split inverts cat, piece by piece, exactly.
    const auto parts = split(y, {sa[static_cast<size_t>(d)], 1, 2}, dim);
    REQUIRE(parts.size() == 3);
    CHECK(testing::equal(parts[0], a));
    CHECK(testing::equal(parts[1], b));
    CHECK(testing::equal(parts[2], c));

    // narrow against index arithmetic, and split with an empty piece.
    const Tensor x = testing::rand({2, 3, 4, 5}, gen);
    const int64_t n = x.shape()[static_cast<size_t>(d)];
    const Tensor nx = narrow(x, dim, 1, n - 1);
    CHECK(nx.to_vector() == narrow_ref(x, d, 1, n - 1));
    const auto pieces = split(x, {1, 0, n - 1}, dim);
    CHECK(pieces[1].numel() == 0);
    CHECK(pieces[0].to_vector() == narrow_ref(x, d, 0, 1));
    CHECK(pieces[2].to_vector() == narrow_ref(x, d, 1, n - 1));
    CHECK(testing::equal(cat(pieces, dim), x));

    // Gradients (small shapes: gradcheck runs three forwards per point).
    Shape ga{2, 2, 3, 2}, gb = ga;
    gb[static_cast<size_t>(d)] = 1;
    const Tensor p = testing::rand(ga, gen), q = testing::rand(gb, gen);
    testing::gradcheck([dim](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, dim); }, {fresh(p), fresh(q)});
    testing::gradcheck([dim](const std::vector<Tensor>& in) { return split(in[0], {1, 1}, dim)[1]; }, {fresh(p)});
    testing::gradcheck([dim](const std::vector<Tensor>& in) { return narrow(in[0], dim, 1, 1); }, {fresh(p)});
  }
  // An int32 tensor moves the same way (labels are concatenated too).
  const Tensor li = Tensor::from_vector_i32({2, 2}, {1, 2, 3, 4}), lj = Tensor::from_vector_i32({1, 2}, {5, 6});
  CHECK(cat({li, lj}, 0).to_vector_i32() == std::vector<int32_t>{1, 2, 3, 4, 5, 6});
  CHECK(narrow(li, 1, 1, 1).to_vector_i32() == std::vector<int32_t>{2, 4});
}

TEST_CASE("cat, split and narrow reject bad arguments") {
  const Tensor a = Tensor::ones({2, 3, 4}), b = Tensor::ones({2, 4, 4});
  expect_parts(error_of([&] { cat({a, b}, 2); }), {"cat", "(2, 3, 4)", "(2, 4, 4)"});
  expect_parts(error_of([&] { cat({a, Tensor::ones({2, 3})}, 0); }), {"cat", "(2, 3)"});
  expect_parts(error_of([&] { cat({a, a}, 3); }), {"cat", "3"});
  CHECK(error_of([&] { cat({}, 0); }).find("cat") != std::string::npos);
  const Tensor x = Tensor::ones({2, 6, 3, 4});
  expect_parts(error_of([&] { split(x, {2, 3}, 1); }), {"split", "(2, 6, 3, 4)", "5"});
  expect_parts(error_of([&] { split(x, {4, 3}, 1); }), {"split", "(2, 6, 3, 4)", "7"});
  expect_parts(error_of([&] { split(x, {6}, 4); }), {"split", "4"});
  expect_parts(error_of([&] { narrow(x, 3, 3, 4); }), {"narrow", "(2, 6, 3, 4)"});
  expect_parts(error_of([&] { narrow(x, -5, 0, 1); }), {"narrow", "-5"});
}

TEST_CASE("reshape and slice are views: writes through one are read through the other") {
  Tensor x = iota({4, 6});
  Tensor r = x.reshape({2, 3, 4});
  CHECK(r.impl()->storage == x.impl()->storage);
  r.data()[7] = 42.f;
  CHECK(x.to_vector()[7] == 42.f);
  x.data()[3] = -5.f;
  CHECK(r.to_vector()[3] == -5.f);
  CHECK(x.reshape({-1, 8}).shape() == Shape{3, 8});

  Tensor s = x.slice(1, 3);  // rows 1, 2
  CHECK(s.shape() == Shape{2, 6});
  CHECK(s.impl()->storage == x.impl()->storage);
  s.data()[0] = 9.f;
  CHECK(x.to_vector()[6] == 9.f);
  x.data()[17] = 3.f;
  CHECK(s.to_vector()[11] == 3.f);
  // A view of a view: rows 1..2 of x seen as (3, 4), then its row 2.
  Tensor ss = s.reshape({3, 4}).slice(2, 3);
  ss.data()[1] = 77.f;
  CHECK(x.to_vector()[6 + 8 + 1] == 77.f);

  expect_parts(error_of([&] { x.reshape({5, 5}); }), {"reshape", "(4, 6)", "(5, 5)"});
  expect_parts(error_of([&] { x.slice(2, 5); }), {"slice", "(4, 6)"});
}

TEST_CASE("reshape and slice gradients") {
  Generator gen(37);
  testing::gradcheck([](const std::vector<Tensor>& in) { return in[0].reshape({3, 8}); }, {testing::rand({4, 6}, gen)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return in[0].slice(1, 3); }, {testing::rand({4, 6}, gen)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return in[0].reshape({8, 3}).slice(2, 5).reshape({9}); },
                     {testing::rand({4, 6}, gen)});
  // The gradient of a row block is the upstream gradient there and zero elsewhere.
  Tensor x = testing::rand({4, 3}, gen);
  x.requires_grad_(true);
  const Tensor g = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  x.slice(1, 3).backward(g);
  CHECK(x.grad().to_vector() == std::vector<float>{0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0, 0});
}
