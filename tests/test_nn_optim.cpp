// nn (modules, names, state dicts, modes, activation capture), initialisers, optimizers,
// and end-to-end learning of toy problems.
#include <cmath>

#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/optim.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::nn;

namespace {
std::shared_ptr<Sequential> small_cnn(Generator& g, int64_t classes) {
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Conv2d>(1, 4, 3, g, 1, 1))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<BatchNorm2d>(4))
      .add(std::make_shared<MaxPool2d>(2))
      .add(std::make_shared<Flatten>())
      .add(std::make_shared<Dropout>(0.1f, 9))
      .add(std::make_shared<Linear>(4 * 4 * 4, classes, g));
  return net;
}
}  // namespace

TEST_CASE("nn: parameter and buffer names follow PyTorch") {
  Generator g(1);
  auto net = small_cnn(g, 3);
  std::vector<std::string> names;
  for (auto& [n, t] : net->state_dict()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias",
                                          "2.running_mean", "2.running_var", "2.num_batches_tracked"});
  CHECK(net->parameter_count() == 4 * 9 + 4 + 4 + 4 + 64 * 3 + 3);
  auto outer = std::make_shared<Sequential>();
  outer->add("features", net);
  CHECK(outer->named_parameters()[0].first == "features.0.weight");
  CHECK(outer->find_module("features.2") != nullptr);
  CHECK(outer->find_module("features.9") == nullptr);
}

TEST_CASE("nn: state_dict round trip, and one error listing every problem") {
  Generator g1(1), g2(2);
  auto a = small_cnn(g1, 3), b = small_cnn(g2, 3);
  CHECK(a->state_dict()[0].second.to_vector() != b->state_dict()[0].second.to_vector());
  b->load_state_dict(a->state_dict());
  for (size_t i = 0; i < a->state_dict().size(); ++i)
    CHECK(testing::equal(a->state_dict()[i].second, b->state_dict()[i].second));

  NamedTensors bad = a->state_dict();
  bad.erase(bad.begin());                                       // missing 0.weight
  bad[0].second = Tensor::zeros({5});                           // 0.bias mis-shaped
  bad.emplace_back("extra.weight", Tensor::zeros({1}));         // unexpected
  try {
    b->load_state_dict(bad);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("missing (1): 0.weight") != std::string::npos);
    CHECK(msg.find("unexpected (1): extra.weight") != std::string::npos);
    CHECK(msg.find("0.bias (model (4), file (5))") != std::string::npos);
  }
}

TEST_CASE("nn: train/eval switch dropout and batch norm behaviour") {
  Generator g(3);
  auto net = small_cnn(g, 2);
  Tensor x = testing::rand({4, 1, 8, 8}, g);
  net->eval();
  NoGradGuard ng;
  Tensor y1 = (*net)(x), y2 = (*net)(x);
  CHECK(testing::equal(y1, y2));  // eval: deterministic, running stats, no dropout
  auto& bn = dynamic_cast<BatchNorm&>((*net)[2]);
  const auto rm0 = bn.running_mean.to_vector();
  net->train();
  (*net)(x);
  CHECK(bn.running_mean.to_vector() != rm0);  // training updates running stats
  CHECK(bn.num_batches_tracked.to_vector_i32()[0] == 1);
}

TEST_CASE("nn: activation capture returns the named outputs without the graph") {
  Generator g(4);
  auto net = small_cnn(g, 2);
  Tensor x = testing::rand({2, 1, 8, 8}, g);
  {
    ActivationCapture cap(*net, {"1", "3", "4"});
    Tensor y = (*net)(x);
    CHECK(cap["1"].shape() == Shape{2, 4, 8, 8});
    CHECK(cap["4"].shape() == Shape{2, 64});
    CHECK(!cap["1"].requires_grad());  // detached
    CHECK(cap["1"].grad_fn() == nullptr);
    // Captures are the tensors the model computed, not copies: flatten's output ("4") is a
    // view of the pooled map ("3"), so both share one storage.
    CHECK(cap["4"].impl()->storage == cap["3"].impl()->storage);
  }
  {
    ActivationCapture cap(*net, {"1"}, /*keep_graph=*/true);
    (*net)(x);
    CHECK(cap["1"].requires_grad());
  }
  CHECK_THROWS_WITH_AS(ActivationCapture(*net, {"nope"}), doctest::Contains("no submodule named 'nope'"), Error);
}

TEST_CASE("init: LeCun normal has variance 1 over fan_in, Kaiming and Xavier bounds") {
  Generator g(11);
  Tensor w = Tensor::empty({256, 64, 3, 3});
  init::lecun_normal_(w, g);
  const auto v = w.to_vector();
  double m = 0, s = 0;
  for (float x : v) m += x;
  m /= v.size();
  for (float x : v) s += (x - m) * (x - m);
  s /= v.size();
  // fan_in = 576: variance 1/576; n = 147456 draws: relative sd of the variance ~ sqrt(2/n) = 0.4%.
  CHECK(std::fabs(s * 576.0 - 1.0) < 0.03);
  CHECK(std::fabs(m) < 5.0 / std::sqrt(576.0 * v.size()));
  Tensor k = Tensor::empty({100, 50});
  init::kaiming_uniform_(k, g);
  const float bound = std::sqrt(6.f / 50.f);
  float mx = 0;
  for (float x : k.to_vector()) mx = std::max(mx, std::fabs(x));
  CHECK(mx <= bound);
  CHECK(mx > 0.95f * bound);
  Tensor xa = Tensor::empty({100, 50});
  init::xavier_uniform_(xa, g);
  mx = 0;
  for (float x : xa.to_vector()) mx = std::max(mx, std::fabs(x));
  CHECK(mx <= std::sqrt(6.f / 150.f));
  init::constant_(xa, 0.25f);
  for (float x : xa.to_vector()) CHECK(x == 0.25f);
}

TEST_CASE("optim: one SGD step equals the hand-computed update") {
  Tensor w = Tensor::from_vector({2}, {1.f, -2.f}).requires_grad_();
  optim::SGD sgd({w}, 0.1f, /*momentum=*/0.9f, /*weight_decay=*/0.01f);
  // L = sum(w^2 * c): g = 2 c w
  auto grad_step = [&](std::vector<float> c) {
    sgd.zero_grad();
    sum(mul(square(w), Tensor::from_vector({2}, c))).backward();
    sgd.step();
  };
  grad_step({1.f, 3.f});
  // g' = g + wd w = (2 + 0.01, -12 - 0.02); buf = g'; w -= 0.1 buf
  const float w0 = 1.f - 0.1f * (2.f + 0.01f), w1 = -2.f - 0.1f * (-12.f - 0.02f);
  CHECK(testing::near(w.to_vector()[0], w0, 0, 1e-6));
  CHECK(testing::near(w.to_vector()[1], w1, 0, 1e-6));
  grad_step({1.f, 3.f});
  // second step: buf = 0.9 buf + g'
  const float g0 = 2 * w0 + 0.01f * w0, b0 = 0.9f * (2.f + 0.01f) + g0;
  CHECK(testing::near(w.to_vector()[0], w0 - 0.1f * b0, 0, 1e-6));

  Tensor u = Tensor::from_vector({1}, {1.f}).requires_grad_();
  optim::SGD nes({u}, 0.1f, 0.5f, 0.f, /*nesterov=*/true);
  sum(mul(u, 4.f)).backward();  // g = 4
  nes.step();                   // buf = 4; d = g + 0.5*buf = 6
  CHECK(testing::near(u.item(), 1.f - 0.6f, 0, 1e-6));  // float32 steps: relative 1e-6
}

TEST_CASE("optim: one Adam step equals the hand-computed update") {
  Tensor w = Tensor::from_vector({2}, {0.5f, -1.f}).requires_grad_();
  optim::Adam adam({w}, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f);
  sum(mul(w, Tensor::from_vector({2}, {3.f, -2.f}))).backward();  // g = (3, -2)
  adam.step();
  // g' = g + 0.1 w; m = 0.1 g'; v = 0.001 g'^2; mhat = g'; vhat = g'^2; w -= lr * g'/(|g'| + eps)
  const double g0 = 3.0 + 0.05, g1 = -2.0 - 0.1;
  CHECK(testing::near(w.to_vector()[0], 0.5 - 0.01 * g0 / (std::fabs(g0) + 1e-8), 0, 1e-6));
  CHECK(testing::near(w.to_vector()[1], -1.0 - 0.01 * g1 / (std::fabs(g1) + 1e-8), 0, 1e-6));
  // state round trip
  auto st = adam.state();
  CHECK(st.size() == 3);
  optim::Adam other({w}, 0.01f);
  other.load_state(st);
  CHECK(testing::equal(other.state()[0].second, st[0].second));
}

TEST_CASE("optim: StepLR multiplies by gamma every k epochs") {
  Tensor w = Tensor::zeros({1}).requires_grad_();
  optim::SGD sgd({w}, 1.f);
  optim::StepLR sched(sgd, 2, 0.5f);
  std::vector<float> lrs;
  for (int e = 0; e < 5; ++e) {
    lrs.push_back(sgd.lr);
    sched.step();
  }
  CHECK(lrs == std::vector<float>{1.f, 1.f, 0.5f, 0.5f, 0.25f});
}

namespace {
// Two Gaussian blobs per class in 2-D (4 classes on the corners of a square): linearly
// separable pairs, so an MLP must reach ~100 % accuracy.
void toy_points(Generator& g, int64_t n, Tensor& x, Tensor& y) {
  std::vector<float> xs;
  std::vector<int32_t> ys;
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(g.next_below(4));
    const float cx = (c & 1) ? 2.f : -2.f, cy = (c & 2) ? 2.f : -2.f;
    xs.push_back(cx + 0.5f * static_cast<float>(g.next_uniform() - 0.5));
    xs.push_back(cy + 0.5f * static_cast<float>(g.next_uniform() - 0.5));
    ys.push_back(c);
  }
  x = Tensor::from_vector({n, 2}, xs);
  y = Tensor::from_vector_i32({n}, ys);
}

// 8x8 images: class 0 a vertical bar, class 1 a horizontal bar, at random positions, plus noise.
void toy_images(Generator& g, int64_t n, Tensor& x, Tensor& y) {
  Tensor noise = Tensor::normal({n, 1, 8, 8}, 0.f, 0.3f, g);
  std::vector<float> v = noise.to_vector();
  std::vector<int32_t> ys;
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(g.next_below(2));
    const int64_t pos = 1 + g.next_below(6);
    for (int64_t k = 0; k < 8; ++k) v[static_cast<size_t>(i * 64 + (c ? pos * 8 + k : k * 8 + pos))] += 1.5f;
    ys.push_back(c);
  }
  x = Tensor::from_vector({n, 1, 8, 8}, v);
  y = Tensor::from_vector_i32({n}, ys);
}

float accuracy(const Tensor& logits, const Tensor& y) {
  const auto p = argmax(logits).to_vector_i32(), t = y.to_vector_i32();
  int ok = 0;
  for (size_t i = 0; i < p.size(); ++i) ok += p[i] == t[i];
  return static_cast<float>(ok) / static_cast<float>(p.size());
}

template <class Opt>
void train_and_check(Module& net, Opt& opt, const Tensor& x, const Tensor& y, int steps, float factor) {
  net.train();
  float first = 0.f, last = 0.f;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor loss = cross_entropy(net(x), y);
    loss.backward();
    opt.step();
    if (s == 0) first = loss.item();
    last = loss.item();
  }
  net.eval();
  NoGradGuard ng;
  INFO("loss ", first, " -> ", last);
  CHECK(last < first / factor);
  CHECK(accuracy(net(x), y) >= 0.95f);
}
}  // namespace

TEST_CASE("learning: an MLP separates the toy points with SGD and with Adam (loss falls 10x)") {
  for (int use_adam = 0; use_adam < 2; ++use_adam) {
    Generator g(21);
    Tensor x, y;
    toy_points(g, 256, x, y);
    auto net = std::make_shared<Sequential>();
    net->add(std::make_shared<Linear>(2, 16, g)).add(std::make_shared<ReLU>()).add(std::make_shared<Linear>(16, 4, g));
    if (use_adam) {
      optim::Adam opt(net->parameters(), 0.05f);
      train_and_check(*net, opt, x, y, 150, 10.f);
    } else {
      optim::SGD opt(net->parameters(), 0.2f, 0.9f);
      train_and_check(*net, opt, x, y, 150, 10.f);
    }
  }
}

TEST_CASE("learning: a CNN tells vertical from horizontal bars with SGD and with Adam (loss falls 5x)") {
  for (int use_adam = 0; use_adam < 2; ++use_adam) {
    Generator g(22);
    Tensor x, y;
    toy_images(g, 128, x, y);
    auto net = small_cnn(g, 2);
    if (use_adam) {
      optim::Adam opt(net->parameters(), 0.01f);
      train_and_check(*net, opt, x, y, 60, 5.f);
    } else {
      optim::SGD opt(net->parameters(), 0.05f, 0.9f);
      train_and_check(*net, opt, x, y, 60, 5.f);
    }
  }
}
