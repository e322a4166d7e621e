// tests/test_elementwise.cpp — pointwise functions and broadcasting arithmetic
// (engine/ops/elementwise.cpp, kernels/cpu/elementwise.cpp) against std:: in double.
//
// Tolerances:
//  - relu, abs, neg, square and the four binary operations are single IEEE operations (or
//    none): float(x op y) is the correctly rounded result, and so is float((double)x op y)
//    (double has more than 2*24+2 bits, so rounding twice cannot differ). They must be equal.
//  - the transcendental functions go through float libm calls (<= 1 ulp in glibc) and one to
//    three more float roundings (sigmoid: exp, add, divide). The reference is the same
//    function of the same float input in double. |y - ref| <= 1e-6 * |ref| (about 8 ulps)
//    + 1e-30 covers that; a wrong formula (a missing beta, a sign) is off by far more.
//  - gradients: testing::gradcheck with its default tolerance (testing.h explains it), on
//    domains where the function is smooth on the scale of the step h = 1e-2.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/fast_math.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

namespace {

// y against ref(x) element by element: exact, or within rtol relative.
void check_unary_values(const Tensor& x, const Tensor& y, const std::function<double(double)>& ref, bool exact,
                        double rtol = 1e-6) {
  REQUIRE(y.shape() == x.shape());
  const auto xv = x.to_vector(), yv = y.to_vector();
  int bad = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const double r = ref(xv[i]);
    const bool ok = exact ? yv[i] == static_cast<float>(r) : std::fabs(yv[i] - r) <= rtol * std::fabs(r) + 1e-30;
    if (!ok && bad++ < 3) CHECK_MESSAGE(ok, "x = ", xv[i], ": got ", yv[i], ", reference ", r);
  }
  CHECK_MESSAGE(bad == 0, bad, " of ", xv.size(), " elements differ from the reference");
}

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  float lo, hi;            // value-test domain
  bool exact;              // a single IEEE operation or none
  float glo, ghi;          // gradcheck domain
};

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus_ref(double x, double beta) { return std::log1p(std::exp(beta * x)) / beta; }

std::vector<UnaryCase> unary_cases() {
  return {
      {"relu", [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0.0; }, -3, 3, true, -1, 1},
      {"elu", [](const Tensor& x) { return elu(x); }, [](double x) { return x > 0 ? x : std::expm1(x); }, -4, 3, false,
       -2, 2},
      {"elu(alpha 0.5)", [](const Tensor& x) { return elu(x, 0.5f); },
       [](double x) { return x > 0 ? x : 0.5 * std::expm1(x); }, -4, 3, false, -2, 2},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, sigmoid_ref, -8, 8, false, -3, 3},
      {"tanh", [](const Tensor& x) { return ml::tanh(x); }, [](double x) { return std::tanh(x); }, -4, 4, false, -2, 2},
      {"softplus", [](const Tensor& x) { return softplus(x); }, [](double x) { return softplus_ref(x, 1.0); }, -30, 40,
       false, -5, 5},
      {"softplus(beta 2)", [](const Tensor& x) { return softplus(x, 2.f); },
       [](double x) { return softplus_ref(x, 2.0); }, -15, 20, false, -3, 3},
      // beta < 1 puts the threshold (beta*x > 20) at x = 40, where x alone is 4e-6 short of the
      // smooth value at x = 20..40: a threshold that forgot beta shows here.
      {"softplus(beta 0.5)", [](const Tensor& x) { return softplus(x, 0.5f); },
       [](double x) { return softplus_ref(x, 0.5); }, -30, 70, false, -5, 5},
      {"softplus across its threshold", [](const Tensor& x) { return softplus(x); },
       [](double x) { return softplus_ref(x, 1.0); }, 15, 25, false, 15, 25},
      {"exp", [](const Tensor& x) { return ml::exp(x); }, [](double x) { return std::exp(x); }, -5, 5, false, -2, 2},
      {"log", [](const Tensor& x) { return ml::log(x); }, [](double x) { return std::log(x); }, 0.01f, 10, false, 0.5f,
       3},
      {"log1p", [](const Tensor& x) { return ml::log1p(x); }, [](double x) { return std::log1p(x); }, -0.99f, 5, false,
       -0.5f, 2},
      {"abs", [](const Tensor& x) { return ml::abs(x); }, [](double x) { return std::fabs(x); }, -3, 3, true, -1, 1},
      {"square", [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }, -3, 3, true, -2, 2},
      {"sqrt", [](const Tensor& x) { return ml::sqrt(x); }, [](double x) { return std::sqrt(x); }, 0.f, 10, true, 0.5f,
       3},
      {"pow 2", [](const Tensor& x) { return ml::pow(x, 2.f); }, [](double x) { return std::pow(x, 2.0); }, -3, 3,
       false, -2, 2},
      {"pow 0.5", [](const Tensor& x) { return ml::pow(x, 0.5f); }, [](double x) { return std::pow(x, 0.5); }, 0.f, 10,
       false, 0.5f, 3},
      {"pow -1.5", [](const Tensor& x) { return ml::pow(x, -1.5f); }, [](double x) { return std::pow(x, -1.5); }, 0.05f,
       10, false, 0.5f, 3},
      {"pow 3", [](const Tensor& x) { return ml::pow(x, 3.f); }, [](double x) { return std::pow(x, 3.0); }, -3, 3,
       false, -1.5f, 1.5f},
      {"neg", [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }, -3, 3, true, -1, 1},
  };
}

// testing::gradcheck marks its inputs requires_grad and accumulates into their .grad, so
// every call gets its own copies.
Tensor fresh(const Tensor& t) { return t.detach().clone(); }

// Numpy broadcasting written out: the output index maps to an operand index by aligning
// shapes on the right and pinning size-1 dimensions to 0.
size_t operand_index(const std::vector<int64_t>& out_idx, const Shape& s) {
  const size_t lead = out_idx.size() - s.size();
  size_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * static_cast<size_t>(s[d]) + (s[d] == 1 ? 0 : out_idx[lead + d]);
  return off;
}

std::vector<float> broadcast_ref(const Tensor& a, const Tensor& b, const Shape& out, char op) {
  const auto av = a.to_vector(), bv = b.to_vector();
  std::vector<float> y(static_cast<size_t>(shape_numel(out)));
  std::vector<int64_t> idx(out.size(), 0);
  for (size_t i = 0; i < y.size(); ++i) {
    size_t rem = i;
    for (size_t d = out.size(); d-- > 0;) {
      idx[d] = static_cast<int64_t>(rem % static_cast<size_t>(out[d]));
      rem /= static_cast<size_t>(out[d]);
    }
    const double x1 = av[operand_index(idx, a.shape())], x2 = bv[operand_index(idx, b.shape())];
    double r = 0;
    switch (op) {
      case '+': r = x1 + x2; break;
      case '-': r = x1 - x2; break;
      case '*': r = x1 * x2; break;
      case '/': r = x1 / x2; break;
    }
    y[i] = static_cast<float>(r);
  }
  return y;
}

struct Pattern {
  const char* name;
  Shape a, b, out;
};

std::vector<Pattern> patterns() {
  return {
      {"same shape", {2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},
      {"scalar tensor on the right", {2, 3}, {}, {2, 3}},
      {"scalar tensor on the left", {}, {2, 3}, {2, 3}},
      {"per-channel (1,C,1,1) on the right", {2, 3, 4, 5}, {1, 3, 1, 1}, {2, 3, 4, 5}},
      {"per-channel (1,C,1,1) on the left", {1, 3, 1, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}},
      {"per-row (N,1) vs (N,M)", {4, 1}, {4, 5}, {4, 5}},
      {"(N,M) vs per-row (N,1)", {4, 5}, {4, 1}, {4, 5}},
      {"(M) vs (N,M)", {5}, {4, 5}, {4, 5}},
      {"(N,M) vs (M)", {4, 5}, {5}, {4, 5}},
      {"both broadcast (N,1) vs (1,M)", {4, 1}, {1, 5}, {4, 5}},
      {"channel (C,1,1) vs (N,C,H,W), lower rank", {3, 1, 1}, {2, 3, 4, 5}, {2, 3, 4, 5}},
  };
}

}  // namespace

TEST_CASE("unary ops match std:: in double") {
  Generator gen(21);
  for (const auto& c : unary_cases()) {
    INFO(c.name);
    const Tensor x = testing::rand({7, 9}, gen, c.lo, c.hi);
    check_unary_values(x, c.op(x), c.ref, c.exact);
  }
}

TEST_CASE("unary ops at special points") {
  SUBCASE("relu and abs at zero and signed zero") {
    const Tensor x = Tensor::from_vector({4}, {0.f, -0.f, -1e-30f, 1e-30f});
    CHECK(relu(x).to_vector() == std::vector<float>{0.f, 0.f, 0.f, 1e-30f});
    CHECK(ml::abs(x).to_vector() == std::vector<float>{0.f, 0.f, 1e-30f, 1e-30f});
  }
  SUBCASE("softplus returns x itself above the threshold beta*x > 20 (as PyTorch)") {
    std::vector<float> xs;
    for (float v = 20.25f; v <= 60.f; v += 0.75f) xs.push_back(v);
    const Tensor x = Tensor::from_vector({static_cast<int64_t>(xs.size())}, xs);
    CHECK(testing::equal(softplus(x), x));
    // beta = 2: the threshold is at x = 10.
    std::vector<float> x2;
    for (float v = 10.25f; v <= 30.f; v += 0.5f) x2.push_back(v);
    const Tensor t2 = Tensor::from_vector({static_cast<int64_t>(x2.size())}, x2);
    CHECK(testing::equal(softplus(t2, 2.f), t2));
    // beta = 0.5: the threshold is at x = 40.
    const Tensor t3 = Tensor::from_vector({4}, {40.5f, 45.f, 60.f, 100.f});
    CHECK(testing::equal(softplus(t3, 0.5f), t3));
    // Just below the threshold the smooth branch agrees with x to float precision
    // (log1p(e^x) - x = log1p(e^-x) ~ 2e-9 at x = 20).
    const Tensor below = Tensor::from_vector({3}, {19.5f, 19.9f, 20.f});
    check_unary_values(below, softplus(below), [](double v) { return softplus_ref(v, 1.0); }, false);
    // Far negative: e^x underflows gracefully to a tiny positive value, never NaN.
    const auto neg_tail = softplus(Tensor::from_vector({2}, {-80.f, -200.f})).to_vector();
    CHECK(neg_tail[0] >= 0.f);
    CHECK(neg_tail[1] >= 0.f);
    CHECK(std::isfinite(neg_tail[0]));
  }
  SUBCASE("sigmoid saturates without NaN") {
    const auto y = sigmoid(Tensor::from_vector({4}, {-100.f, -50.f, 50.f, 100.f})).to_vector();
    for (float v : y) CHECK(std::isfinite(v));
    CHECK(std::fabs(y[0]) <= 1e-12);  // sigmoid(-100) = 3.7e-44
    CHECK(y[3] == 1.f);
  }
  SUBCASE("pow with integer exponents on negative bases") {
    const Tensor x = Tensor::from_vector({3}, {-2.f, -0.5f, -1.5f});
    CHECK(ml::pow(x, 3.f).to_vector() == std::vector<float>{-8.f, -0.125f, -3.375f});
    CHECK(ml::pow(x, 2.f).to_vector() == std::vector<float>{4.f, 0.25f, 2.25f});
  }
  SUBCASE("softplus rejects a non-positive beta") {
    const Tensor x = Tensor::ones({2});
    CHECK(error_of([&] { softplus(x, 0.f); }).find("softplus") != std::string::npos);
  }
}

// kernels/cpu/fast_math.h against double on dense grids (about 10^7 points in all), with the
// bounds its header states. A wrong polynomial coefficient, a missed range reduction or a lost
// branch is off by far more than these few ulps.
TEST_CASE("fast_math: exp, log, log1p, softplus and sigmoid within a few ulps of double") {
  namespace fm = ml::kernels::fast_math;
  auto rel = [](double got, double ref) { return std::fabs(got - ref) / std::fabs(ref); };
  double e_exp = 0, e_log = 0, e_log1p = 0, e_sp = 0, e_sig = 0;
  for (double z = -87.3; z <= 0.0; z += 3.1e-5) {
    const float x = static_cast<float>(z);
    e_exp = std::max(e_exp, rel(fm::exp_nonpositive(x), std::exp(static_cast<double>(x))));
  }
  for (double u = 1.0; u <= 2.0; u += 3e-7) {
    const float x = static_cast<float>(u);
    e_log = std::max(e_log, std::fabs(fm::log_1_2(x) - std::log(static_cast<double>(x))));
  }
  for (int k = 0; k < 2000000; ++k) {  // t across 40 binades below 1, then uniform on [0, 1]
    const float t = k < 1000000 ? std::ldexp(1.f + static_cast<float>(k) * 1e-6f, -(k % 40) - 1)
                                : static_cast<float>(k - 1000000) * 1e-6f;
    if (t > 0.f) e_log1p = std::max(e_log1p, rel(fm::log1p_unit(t), std::log1p(static_cast<double>(t))));
  }
  for (double z = -87.3; z <= 40.0; z += 4e-5) {
    const double x = static_cast<float>(z);
    e_sp = std::max(e_sp, rel(fm::softplus_value(static_cast<float>(x)), std::log1p(std::exp(x))));
    e_sig = std::max(e_sig, rel(fm::sigmoid_value(static_cast<float>(x)), 1.0 / (1.0 + std::exp(-x))));
  }
  CHECK(e_exp <= 1.2e-7);
  CHECK(e_log <= 6e-8);
  CHECK(e_log1p <= 2.4e-7);
  CHECK(e_sp <= 3.6e-7);
  CHECK(e_sig <= 3.6e-7);
  // The edges: e^0 = 1 exactly, NaN stays NaN, no overflow far out, 0 below float's normal range.
  CHECK(fm::exp_nonpositive(0.f) == 1.f);
  CHECK(std::isnan(fm::softplus_value(std::nanf(""))));
  CHECK(fm::softplus_value(1e30f) == 1e30f);
  CHECK(fm::softplus_value(-1e30f) == 0.f);
  CHECK(fm::sigmoid_value(1e30f) == 1.f);
  CHECK(fm::sigmoid_value(-1e30f) == 0.f);
  CHECK(fm::log1p_unit(1e-30f) == 1e-30f);
  // The vector forms (what the softplus kernels run) give the scalar forms' values bit for bit.
  using ml::kernels::lanes::vf;
  constexpr int L = ml::kernels::lanes::kLanes;
  int differ = 0;
  for (double z0 = -100.0; z0 <= 40.0; z0 += 0.37 * L) {
    float in[L], sp[L], sg[L];
    for (int k = 0; k < L; ++k) in[k] = static_cast<float>(z0 + 0.37 * k);
    const vf v = ml::kernels::lanes::load(in, L);
    ml::kernels::lanes::store(sp, fm::softplus_value(v), L);
    ml::kernels::lanes::store(sg, fm::sigmoid_value(v), L);
    for (int k = 0; k < L; ++k)
      differ += sp[k] != fm::softplus_value(in[k]) || sg[k] != fm::sigmoid_value(in[k]);
  }
  CHECK(differ == 0);
}

TEST_CASE("unary op gradients: finite differences") {
  Generator gen(22);
  for (const auto& c : unary_cases()) {
    INFO(c.name);
    const Tensor x = testing::rand({3, 4}, gen, c.glo, c.ghi);
    testing::gradcheck([&](const std::vector<Tensor>& in) { return c.op(in[0]); }, {x});
  }
}

TEST_CASE("relu backward equals the plain loop exactly, at every length and past the threshold") {
  // dx = (x > 0 ? dy : 0), as torch's threshold_backward; the kernel is a vectorised select with
  // OpenMP above 2^15 elements, so lengths around vector widths (8, 16) and one past the
  // parallel threshold with an odd tail. Exact: a select does no arithmetic. x has exact zeros,
  // -0 and tiny values on both sides, so a >= in place of > or a lost tail element fails.
  Generator gen(31);
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{17}, int64_t{(1 << 15) + 37}}) {
    INFO("n = " << n);
    std::vector<float> xv = testing::rand({n}, gen, -1.f, 1.f).to_vector();
    for (size_t i = 0; i < xv.size(); i += 5) xv[i] = (i % 3 == 0) ? 0.f : (i % 3 == 1 ? -0.f : 1e-30f);
    const std::vector<float> gv = testing::rand({n}, gen, -2.f, 2.f).to_vector();
    Tensor x = Tensor::from_vector({n}, xv);
    x.requires_grad_(true);
    relu(x).backward(Tensor::from_vector({n}, gv));
    std::vector<float> expect(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) expect[i] = xv[i] > 0.f ? gv[i] : 0.f;
    CHECK(x.grad().to_vector() == expect);
  }
}

TEST_CASE("binary ops with broadcasting: values equal the IEEE result") {
  Generator gen(23);
  const char ops[] = {'+', '-', '*', '/'};
  for (const auto& pat : patterns()) {
    for (char op : ops) {
      INFO(pat.name, ", op ", op);
      const Tensor a = testing::rand(pat.a, gen, -2.f, 2.f);
      // Divisors kept away from 0.
      const Tensor b = op == '/' ? testing::rand(pat.b, gen, 0.5f, 1.5f) : testing::rand(pat.b, gen, -2.f, 2.f);
      Tensor y;
      switch (op) {
        case '+': y = add(a, b); break;
        case '-': y = sub(a, b); break;
        case '*': y = mul(a, b); break;
        case '/': y = div(a, b); break;
      }
      REQUIRE(y.shape() == pat.out);
      CHECK(y.to_vector() == broadcast_ref(a, b, pat.out, op));
    }
  }
  // Both operands scalars.
  const Tensor a = Tensor::full({}, 3.f), b = Tensor::full({}, 4.f);
  const Tensor y = mul(a, b);
  CHECK(y.shape() == Shape{});
  CHECK(y.item() == 12.f);
}

TEST_CASE("binary op gradients reduce over the broadcast dimensions (sum_to)") {
  Generator gen(24);
  for (const auto& pat : patterns()) {
    INFO(pat.name);
    const Tensor a = testing::rand(pat.a, gen, -2.f, 2.f);
    const Tensor b = testing::rand(pat.b, gen, -2.f, 2.f);
    const Tensor bpos = testing::rand(pat.b, gen, 0.5f, 1.5f);
    testing::gradcheck([](const std::vector<Tensor>& in) { return add(in[0], in[1]); }, {fresh(a), fresh(b)});
    testing::gradcheck([](const std::vector<Tensor>& in) { return sub(in[0], in[1]); }, {fresh(a), fresh(b)});
    testing::gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {fresh(a), fresh(b)});
    testing::gradcheck([](const std::vector<Tensor>& in) { return div(in[0], in[1]); }, {fresh(a), fresh(bpos)});
  }
}

TEST_CASE("binary op gradients: exact sums over broadcast dims, and shared operands") {
  Generator gen(27);
  {
    // y = a + b with a (4,5), b (1,5), upstream gradient of small integers: db[j] = sum_i g[i,j].
    Tensor a = testing::rand({4, 5}, gen), b = testing::rand({1, 5}, gen);
    a.requires_grad_(true);
    b.requires_grad_(true);
    std::vector<float> gv(20);
    for (size_t i = 0; i < gv.size(); ++i) gv[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
    add(a, b).backward(Tensor::from_vector({4, 5}, gv));
    std::vector<float> expect(5, 0.f);
    for (size_t i = 0; i < 20; ++i) expect[i % 5] += gv[i];
    CHECK(b.grad().shape() == Shape{1, 5});
    CHECK(b.grad().to_vector() == expect);
    CHECK(a.grad().to_vector() == gv);
  }
  {
    // The same tensor on both sides: gradients from both paths add.
    const Tensor x = testing::rand({3, 4}, gen);
    testing::gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[0]); }, {fresh(x)});
    testing::gradcheck([](const std::vector<Tensor>& in) { return div(add(in[0], 3.f), add(in[0], 4.f)); },
                       {fresh(x)});
  }
}

TEST_CASE("scalar overloads and operators") {
  Generator gen(25);
  const Tensor x = testing::rand({3, 4}, gen, -2.f, 2.f);
  const Tensor y = testing::rand({3, 4}, gen, 0.5f, 1.5f);
  const auto xv = x.to_vector();
  auto map = [&](auto f) {
    std::vector<float> v(xv.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = f(xv[i]);
    return v;
  };
  // Single float operations: exact.
  CHECK(add(x, 2.5f).to_vector() == map([](float v) { return v + 2.5f; }));
  CHECK(sub(x, 1.25f).to_vector() == map([](float v) { return v - 1.25f; }));
  CHECK(mul(x, 3.f).to_vector() == map([](float v) { return v * 3.f; }));
  CHECK(div(x, 4.f).to_vector() == map([](float v) { return v / 4.f; }));  // 1/4 is exact
  CHECK(rsub(2.f, x).to_vector() == map([](float v) { return 2.f - v; }));
  // Division by 3 may be done as a multiplication by float(1/3): within 1 ulp of x/3
  // (two roundings instead of one), so rtol 2^-22 ~ 2.4e-7.
  CHECK_CLOSE(div(x, 3.f), Tensor::from_vector({3, 4}, map([](float v) { return v / 3.f; })), 0.0, 2.4e-7);
  CHECK(error_of([&] { div(x, 0.f); }).find("div") != std::string::npos);

  // Operators are the named functions.
  CHECK(testing::equal(x + y, add(x, y)));
  CHECK(testing::equal(x - y, sub(x, y)));
  CHECK(testing::equal(x * y, mul(x, y)));
  CHECK(testing::equal(x / y, div(x, y)));
  CHECK(testing::equal(x + 2.f, add(x, 2.f)));
  CHECK(testing::equal(x - 2.f, sub(x, 2.f)));
  CHECK(testing::equal(x * 2.f, mul(x, 2.f)));
  CHECK(testing::equal(2.f * x, mul(x, 2.f)));
  CHECK(testing::equal(x / 2.f, div(x, 2.f)));
  CHECK(testing::equal(-x, neg(x)));

  testing::gradcheck([](const std::vector<Tensor>& in) { return add(in[0], 2.5f); }, {fresh(x)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return sub(in[0], 2.5f); }, {fresh(x)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], -3.f); }, {fresh(x)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return div(in[0], 3.f); }, {fresh(x)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return rsub(2.f, in[0]); }, {fresh(x)});
  testing::gradcheck([](const std::vector<Tensor>& in) { return 2.f * in[0] - in[1] / 3.f + in[0] * in[1]; },
                     {fresh(x), fresh(y)});
}

TEST_CASE("binary ops reject shapes that cannot broadcast, naming both shapes") {
  Generator gen(26);
  auto expect = [](const std::string& msg, const std::vector<std::string>& parts) {
    for (const auto& p : parts)
      CHECK_MESSAGE(msg.find(p) != std::string::npos, "message \"", msg, "\" lacks \"", p, "\"");
  };
  const Tensor a = testing::rand({2, 3}, gen), b = testing::rand({3, 2}, gen);
  expect(error_of([&] { add(a, b); }), {"add", "(2, 3)", "(3, 2)"});
  expect(error_of([&] { sub(a, b); }), {"sub", "(2, 3)", "(3, 2)"});
  expect(error_of([&] { mul(a, b); }), {"mul", "(2, 3)", "(3, 2)"});
  expect(error_of([&] { div(a, b); }), {"div", "(2, 3)", "(3, 2)"});
  const Tensor c = testing::rand({2, 3, 4}, gen), d = testing::rand({5, 4}, gen);
  expect(error_of([&] { add(c, d); }), {"add", "(2, 3, 4)", "(5, 4)"});
  const Tensor e = testing::rand({2, 3, 4, 5}, gen), f = testing::rand({1, 4, 1, 1}, gen);
  expect(error_of([&] { mul(e, f); }), {"mul", "(2, 3, 4, 5)", "(1, 4, 1, 1)"});
}
