// Tensor basics (creation, views, seeded generators) and the autograd engine (graph
// building, accumulation, no-grad, freeing the graph).
#include <cmath>

#include "tests/testing.h"

using namespace ml;

TEST_CASE("tensor: creation, shape, dtype and views") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == DType::F32);
  CHECK(z.device() == Device::CPU);
  for (float v : z.to_vector()) CHECK(v == 0.f);
  for (float v : Tensor::ones({4}).to_vector()) CHECK(v == 1.f);
  CHECK(Tensor::arange(5, 1.f, 0.5f).to_vector() == std::vector<float>{1.f, 1.5f, 2.f, 2.5f, 3.f});
  Tensor i = Tensor::zeros({3}, DType::I32);
  CHECK(i.to_vector_i32() == std::vector<int32_t>{0, 0, 0});
  CHECK_THROWS_WITH_AS(Tensor::zeros({1, 1, 1, 1, 1, 1}), doctest::Contains("more than 5 dimensions"), Error);

  Tensor a = Tensor::arange(12).reshape({3, 4});
  Tensor v = a.reshape({2, -1});
  CHECK(v.shape() == Shape{2, 6});
  v.data()[7] = 100.f;  // a view: the write shows through the original
  CHECK(a.data()[7] == 100.f);
  Tensor rows = a.slice(1, 3);
  CHECK(rows.shape() == Shape{2, 4});
  CHECK(rows.data()[0] == 4.f);
  CHECK_THROWS_WITH_AS(a.reshape({5, -1}), doctest::Contains("cannot reshape"), Error);
  CHECK_THROWS_WITH_AS(a.slice(2, 4), doctest::Contains("out of range"), Error);
  Tensor c = a.clone();
  c.data()[0] = -1.f;
  CHECK(a.data()[0] == 0.f);  // a copy
  CHECK(Tensor::from_vector({}, {3.5f}).item() == 3.5f);
  CHECK_THROWS_WITH_AS(a.item(), doctest::Contains("12 elements"), Error);
  CHECK_THROWS_WITH_AS(a.data_i32(), doctest::Contains("expected an int32 tensor"), Error);
}

TEST_CASE("generator: same seed same numbers, draws never overlap, moments are right") {
  Generator g1(42), g2(42), g3(43);
  const auto a = Tensor::normal({10000}, 0.f, 1.f, g1).to_vector();
  const auto b = Tensor::normal({10000}, 0.f, 1.f, g2).to_vector();
  const auto c = Tensor::normal({10000}, 0.f, 1.f, g3).to_vector();
  CHECK(a == b);
  CHECK(a != c);
  const auto a2 = Tensor::normal({10000}, 0.f, 1.f, g1).to_vector();
  CHECK(a2 != a);  // the offset advanced
  double m = 0, s = 0;
  for (float x : a) m += x;
  m /= a.size();
  for (float x : a) s += (x - m) * (x - m);
  s = std::sqrt(s / a.size());
  // Standard error of the mean is 0.01 for n = 10^4: 5 sigma bounds.
  CHECK(std::fabs(m) < 0.05);
  CHECK(std::fabs(s - 1.0) < 0.05);
  Generator gu(7);
  const auto u = Tensor::uniform({10000}, 2.f, 3.f, gu).to_vector();
  double mu = 0;
  for (float x : u) {
    CHECK(x >= 2.f);
    CHECK(x < 3.f);
    mu += x;
  }
  CHECK(std::fabs(mu / u.size() - 2.5) < 0.015);  // sd of the mean = 0.29/100
  Generator gp(3);
  auto perm = gp.permutation(100);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) CHECK(sorted[static_cast<size_t>(i)] == i);
  CHECK(perm != sorted);
}

TEST_CASE("autograd: chain rule, fan-out accumulation and leaf gradients") {
  Tensor x = Tensor::from_vector({3}, {1.f, 2.f, 3.f}).requires_grad_();
  // y = sum(x*x + 3x): dy/dx = 2x + 3; x is used twice (fan-out), grads must add.
  Tensor y = sum(add(mul(x, x), mul(x, 3.f)));
  CHECK(y.item() == 32.f);  // small integers: exact
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{5.f, 7.f, 9.f});
  // A second graph accumulates into .grad, as PyTorch does.
  sum(x).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{6.f, 8.f, 10.f});
  x.zero_grad();
  CHECK(!x.grad().defined());
}

TEST_CASE("autograd: backward with a given output gradient, and a non-scalar needs one") {
  Tensor x = Tensor::from_vector({2, 2}, {1.f, -2.f, 3.f, -4.f}).requires_grad_();
  Tensor y = mul(x, 2.f);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("scalar"), Error);
  Tensor y2 = mul(x, 2.f);
  y2.backward(Tensor::from_vector({2, 2}, {1.f, 10.f, 100.f, 1000.f}));
  CHECK(x.grad().to_vector() == std::vector<float>{2.f, 20.f, 200.f, 2000.f});
  Tensor y3 = mul(x, 2.f);
  CHECK_THROWS_WITH_AS(y3.backward(Tensor::ones({4})), doctest::Contains("does not match"), Error);
}

TEST_CASE("autograd: the graph is freed after backward and a second backward is an error") {
  Tensor x = Tensor::from_vector({2}, {1.f, 2.f}).requires_grad_();
  Tensor h = exp(x);
  Tensor y = sum(h);
  y.backward();
  CHECK(h.grad_fn()->released);
  CHECK(h.grad_fn()->inputs.empty());  // saved tensors and edges are gone
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("already freed"), Error);
}

TEST_CASE("autograd: no-grad guard, detach, and leaves that do not require grad") {
  Tensor x = Tensor::from_vector({2}, {1.f, 2.f}).requires_grad_();
  {
    NoGradGuard ng;
    Tensor y = mul(x, x);
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK(GradMode::enabled());
  Tensor d = x.detach();
  CHECK(!d.requires_grad());
  Tensor y = sum(mul(d, x));  // only x's path carries gradient: d(d*x)/dx = d
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{1.f, 2.f});
  Tensor c = Tensor::from_vector({2}, {1.f, 1.f});
  CHECK_THROWS_WITH_AS(sum(c).backward(), doctest::Contains("does not require grad"), Error);
  CHECK_THROWS_WITH_AS(mul(x, 2.f).requires_grad_(), doctest::Contains("not a leaf"), Error);
  CHECK_THROWS_WITH_AS(x.fill_(0.f), doctest::Contains("requires grad"), Error);
}

TEST_CASE("autograd: views (reshape, slice) and clone pass gradients through") {
  Generator g(5);
  ml::testing::gradcheck([](const std::vector<Tensor>& in) { return square(in[0].reshape({6, 2}).slice(1, 4)); },
                         {ml::testing::rand({3, 4}, g)});
  ml::testing::gradcheck([](const std::vector<Tensor>& in) { return mul(in[0].clone(), in[0]); },
                         {ml::testing::rand({5}, g)});
}

TEST_CASE("autograd: a deep chain does not overflow the stack") {
  Tensor x = Tensor::from_vector({1}, {0.5f}).requires_grad_();
  Tensor h = x;
  for (int i = 0; i < 20000; ++i) h = add(h, 0.f);
  sum(h).backward();
  CHECK(x.grad().item() == 1.f);
}

TEST_CASE("autograd: a deep graph dropped without backward is freed without recursion") {
  Tensor x = Tensor::from_vector({1}, {0.5f}).requires_grad_();
  {
    Tensor h = x;
    for (int i = 0; i < 200000; ++i) h = add(h, 0.f);
  }  // 200k nodes die here; a recursive teardown would overflow an 8 MiB stack
  CHECK(x.impl_ptr().use_count() == 1);
}
