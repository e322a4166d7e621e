// tests/test_conv.cpp — conv2d (engine/ops/conv.cpp, kernels/cpu/conv2d.cpp) against the
// definition written out as seven plain loops, independent of the im2col + GEMM kernel.
//
//   y[n,k,p,q] = b[k] + sum_{c < C/groups, r < R, s < S} w[k,c,r,s] * x[n, g(k)*C/groups + c, p*sh - ph + r*dh, q*sw - pw + s*dw]
//
// with out-of-range x reads as zero padding and g(k) = k / (K/groups).
//
// Tolerance (forward and the element-wise gradient references): the reference sums in double,
// the kernel in float32. A float32 sum of m products has a rounding error of at most about
// m * 2^-24 * sum|terms| (each product and each partial sum rounds once), and in practice about
// sqrt(m) * 2^-24 * sum|terms|. The reference therefore also returns, per output, the sum of the
// absolute values of its terms (bias included), and the test asks
//     |y - y_ref| <= 1e-5 * sum_terms |x * w|    (+ |b|)
// 1e-5 is ~170 ulps of the term magnitude: it covers the rounding of the largest reductions
// here (m = C/groups * R * S <= 4 * 121 = 484 terms, typical error ~ 22 ulps) with room, while
// any indexing mistake (a missed, doubled or misplaced term) costs O(|term|) ~ 1/m of the bound
// or more and fails. An output whose every term falls in the padding has a bound of 0 (or |b|)
// and must come out exactly 0 (or b).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/winograd.h"
#include "tests/cuda_skip.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;

namespace {

struct Cfg {
  int64_t N = 1, C = 1, H = 1, W = 1, K = 1, R = 1, S = 1;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool bias = false;

  int64_t P() const {
    const int64_t span = H + 2 * ph - dh * (R - 1) - 1;
    return span < 0 ? 0 : span / sh + 1;
  }
  int64_t Q() const {
    const int64_t span = W + 2 * pw - dw * (S - 1) - 1;
    return span < 0 ? 0 : span / sw + 1;
  }
  bool valid() const { return H + 2 * ph - dh * (R - 1) - 1 >= 0 && W + 2 * pw - dw * (S - 1) - 1 >= 0; }
  Shape x_shape() const { return {N, C, H, W}; }
  Shape w_shape() const { return {K, C / groups, R, S}; }
  Shape y_shape() const { return {N, K, P(), Q()}; }
  Conv2dOptions opts() const {
    Conv2dOptions o;
    o.stride_h = sh;
    o.stride_w = sw;
    o.pad_h = ph;
    o.pad_w = pw;
    o.dil_h = dh;
    o.dil_w = dw;
    o.groups = groups;
    return o;
  }
  std::string str() const {
    std::ostringstream os;
    os << "x (" << N << "," << C << "," << H << "," << W << ") w (" << K << "," << C / groups << "," << R << "," << S
       << ") stride " << sh << "x" << sw << " pad " << ph << "x" << pw << " dil " << dh << "x" << dw << " groups "
       << groups << (bias ? " bias" : " no-bias");
    return os.str();
  }
};

// Flat NCHW offsets.
inline size_t at4(int64_t a, int64_t b, int64_t c, int64_t d, int64_t B, int64_t Cc, int64_t D) {
  return static_cast<size_t>(((a * B + b) * Cc + c) * D + d);
}

// Calls body(n, k, p, q, ci, r, s, xi) for every term of the convolution whose input pixel
// lies inside the image (xi = its flat index in x; padded reads contribute nothing).
template <class F>
void for_each_term(const Cfg& c, F&& body) {
  const int64_t Cg = c.C / c.groups, Kg = c.K / c.groups, P = c.P(), Q = c.Q();
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t k = 0; k < c.K; ++k)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q)
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t r = 0; r < c.R; ++r)
              for (int64_t s = 0; s < c.S; ++s) {
                const int64_t h = p * c.sh - c.ph + r * c.dh;
                const int64_t w = q * c.sw - c.pw + s * c.dw;
                if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
                const int64_t chan = (k / Kg) * Cg + ci;
                body(n, k, p, q, ci, r, s, at4(n, chan, h, w, c.C, c.H, c.W));
              }
}

struct Ref {
  std::vector<double> v;      // values
  std::vector<double> bound;  // sum of |terms| per value
};

// The forward by definition, in double. `b` may be empty (no bias).
Ref conv_ref(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b, const Cfg& c) {
  const int64_t P = c.P(), Q = c.Q(), Cg = c.C / c.groups;
  Ref y{std::vector<double>(static_cast<size_t>(c.N * c.K * P * Q), 0.0),
        std::vector<double>(static_cast<size_t>(c.N * c.K * P * Q), 0.0)};
  for_each_term(c, [&](int64_t n, int64_t k, int64_t p, int64_t q, int64_t ci, int64_t r, int64_t s, size_t xi) {
    const size_t yi = at4(n, k, p, q, c.K, P, Q);
    const double t = static_cast<double>(x[xi]) * w[at4(k, ci, r, s, Cg, c.R, c.S)];
    y.v[yi] += t;
    y.bound[yi] += std::fabs(t);
  });
  if (!b.empty())
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t k = 0; k < c.K; ++k)
        for (int64_t i = 0; i < P * Q; ++i) {
          const size_t yi = static_cast<size_t>((n * c.K + k) * P * Q + i);
          y.v[yi] += b[static_cast<size_t>(k)];
          y.bound[yi] += std::fabs(b[static_cast<size_t>(k)]);
        }
  return y;
}

// The same loops with the accumulation turned around: every term w*x of the forward sends
// g*w to x's gradient, g*x to w's, and g to b's.
struct RefGrad {
  Ref gx, gw, gb;
};
RefGrad conv_ref_backward(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& g,
                          const Cfg& c) {
  const int64_t P = c.P(), Q = c.Q(), Cg = c.C / c.groups;
  RefGrad d;
  d.gx = {std::vector<double>(x.size(), 0.0), std::vector<double>(x.size(), 0.0)};
  d.gw = {std::vector<double>(w.size(), 0.0), std::vector<double>(w.size(), 0.0)};
  d.gb = {std::vector<double>(static_cast<size_t>(c.K), 0.0), std::vector<double>(static_cast<size_t>(c.K), 0.0)};
  for_each_term(c, [&](int64_t n, int64_t k, int64_t p, int64_t q, int64_t ci, int64_t r, int64_t s, size_t xi) {
    const double gy = g[at4(n, k, p, q, c.K, P, Q)];
    const size_t wi = at4(k, ci, r, s, Cg, c.R, c.S);
    d.gx.v[xi] += gy * w[wi];
    d.gx.bound[xi] += std::fabs(gy * w[wi]);
    d.gw.v[wi] += gy * x[xi];
    d.gw.bound[wi] += std::fabs(gy * x[xi]);
  });
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t k = 0; k < c.K; ++k)
      for (int64_t i = 0; i < P * Q; ++i) {
        const double gy = g[static_cast<size_t>((n * c.K + k) * P * Q + i)];
        d.gb.v[static_cast<size_t>(k)] += gy;
        d.gb.bound[static_cast<size_t>(k)] += std::fabs(gy);
      }
  return d;
}

// "" if |got - ref| <= rel * bound everywhere, else the worst element.
std::string within(const std::vector<float>& got, const Ref& ref, double rel) {
  if (got.size() != ref.v.size())
    return "size " + std::to_string(got.size()) + " vs reference " + std::to_string(ref.v.size());
  double worst = 0.0;
  size_t at = 0;
  bool bad = false;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - ref.v[i]);
    const double excess = err - rel * ref.bound[i];
    if (!(excess <= 0.0) && (!bad || !(excess <= worst))) {  // NaN counts as a failure
      worst = std::isnan(excess) ? INFINITY : excess;
      at = i;
      bad = true;
    }
  }
  if (!bad) return "";
  std::ostringstream os;
  os << "element " << at << ": " << got[at] << " vs reference " << ref.v[at] << " (bound " << rel << " * "
     << ref.bound[at] << ")";
  return os.str();
}

// "" if got equals the (integer-valued) reference exactly.
std::string exactly(const std::vector<float>& got, const std::vector<double>& ref) {
  if (got.size() != ref.size()) return "size mismatch";
  for (size_t i = 0; i < got.size(); ++i)
    if (static_cast<double>(got[i]) != ref[i]) {
      std::ostringstream os;
      os << "element " << i << ": " << got[i] << " vs exact " << ref[i];
      return os.str();
    }
  return "";
}

std::vector<float> random_ints(int64_t n, int lo, int hi, Generator& g) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = static_cast<float>(lo + g.next_below(hi - lo + 1));
  return v;
}

constexpr double kConvRel = 1e-5;  // see the header comment

// Runs the op on random inputs and compares it with the reference.
void check_forward(const Cfg& c, Generator& gen) {
  INFO(c.str());
  const Tensor x = testing::rand(c.x_shape(), gen);
  const Tensor w = testing::rand(c.w_shape(), gen);
  const Tensor b = c.bias ? testing::rand({c.K}, gen) : Tensor();
  const Tensor y = conv2d(x, w, b, c.opts());
  REQUIRE(y.shape() == c.y_shape());
  const Ref ref = conv_ref(x.to_vector(), w.to_vector(), c.bias ? b.to_vector() : std::vector<float>{}, c);
  const std::string why = within(y.to_vector(), ref, kConvRel);
  CHECK_MESSAGE(why.empty(), why);
}

// Random x, w, b (when cf.bias) and upstream gradient g, y = conv2d(x, w, b), and
// y.backward(g) done: the gradients wait on x, w and b.
struct Backward {
  Tensor x, w, b, g, y;
};
Backward run_backward(const Cfg& cf, Generator& gen) {
  Backward r;
  r.x = testing::rand(cf.x_shape(), gen);
  r.w = testing::rand(cf.w_shape(), gen);
  r.b = cf.bias ? testing::rand({cf.K}, gen) : Tensor();
  r.g = testing::rand(cf.y_shape(), gen);
  r.x.requires_grad_(true);
  r.w.requires_grad_(true);
  if (cf.bias) r.b.requires_grad_(true);
  r.y = conv2d(r.x, r.w, r.b, cf.opts());
  r.y.backward(r.g);
  return r;
}

}  // namespace

TEST_CASE("conv2d forward matches the 7-loop definition over a sweep of shapes and options") {
  Generator gen(7);
  // Kernel sizes: 1x1, 3x3, 5x5, 11x11, and 0 = "the kernel is the whole input".
  const int64_t kernels[] = {1, 3, 5, 11, 0};
  const int64_t extra_h[] = {2, 3, 4, 5, 6, 7}, extra_w[] = {5, 2, 7, 4, 3, 6};
  const int64_t C = 4;
  int i = 0, ran = 0, empty = 0;
  for (int64_t ks : kernels)
    for (int64_t stride = 1; stride <= 3; ++stride)
      for (int64_t pad = 0; pad <= 2; ++pad)
        for (int64_t dil = 1; dil <= 2; ++dil)
          for (int64_t groups : {int64_t{1}, int64_t{2}, C}) {
            Cfg c;
            c.N = (i % 2) ? 3 : 1;
            c.bias = (i / 2) % 2 == 1;
            c.C = C;
            c.groups = groups;
            c.K = groups == C ? 2 * C : 6;  // depthwise with channel multiplier 2; else K divisible by 1 and 2
            c.sh = c.sw = stride;
            c.ph = c.pw = pad;
            c.dh = c.dw = dil;
            if (ks == 0) {  // kernel = input size, non-square: odd x odd, even x odd, odd x even
              const int64_t hs[] = {5, 6, 3}, ws[] = {7, 5, 4};
              c.H = c.R = hs[i % 3];
              c.W = c.S = ws[i % 3];
            } else {
              // Sizes a few pixels past the dilated kernel's extent, cycling odd/even and H != W.
              c.R = c.S = ks;
              const int64_t extent = dil * (ks - 1) + 1;
              const int64_t base = std::max<int64_t>(extent - 2 * pad, 1);
              c.H = base + extra_h[i % 6];
              c.W = base + extra_w[i % 6];
            }
            ++i;
            if (!c.valid()) {  // kernel = input with dilation 2 and little padding
              ++empty;
              INFO(c.str());
              const Tensor x = testing::rand(c.x_shape(), gen), w = testing::rand(c.w_shape(), gen);
              CHECK_THROWS_AS(conv2d(x, w, Tensor(), c.opts()), Error);
              continue;
            }
            ++ran;
            check_forward(c, gen);
          }
  CHECK(ran > 200);
  CHECK(empty > 0);
}

TEST_CASE("conv2d forward with different options along H and W") {
  // Each of these catches an H/W mix-up that a square sweep cannot see.
  Generator gen(8);
  {
    Cfg a;
    a.N = 2, a.C = 3, a.H = 9, a.W = 12, a.K = 4, a.R = 3, a.S = 5, a.sh = 1, a.sw = 2, a.ph = 2, a.pw = 0;
    a.dh = 1, a.dw = 2, a.bias = true;
    check_forward(a, gen);
    Cfg b2;
    b2.N = 1, b2.C = 4, b2.H = 10, b2.W = 7, b2.K = 2, b2.R = 1, b2.S = 3, b2.sh = 3, b2.sw = 1, b2.ph = 0, b2.pw = 1;
    b2.dh = 2, b2.dw = 1, b2.groups = 2;
    check_forward(b2, gen);
    Cfg c3;
    c3.N = 3, c3.C = 2, c3.H = 6, c3.W = 11, c3.K = 2, c3.R = 5, c3.S = 2, c3.sh = 2, c3.sw = 3, c3.ph = 1, c3.pw = 2;
    c3.dh = 1, c3.dw = 3, c3.groups = 2, c3.bias = true;
    check_forward(c3, gen);
  }
}

TEST_CASE("conv2d is exact on small integers (forward and both gradients)") {
  // x in [-4, 4], w in [-3, 3], b and the upstream gradient in [-5, 5]: every partial sum is
  // an integer far below 2^24, exactly representable in float32, so any summation order must
  // give the exact value and the comparison is equality.
  Generator gen(11);
  std::vector<Cfg> cfgs;
  {
    Cfg c;  // plain 3x3 with padding and stride
    c.N = 2, c.C = 3, c.H = 9, c.W = 8, c.K = 4, c.R = c.S = 3, c.sh = c.sw = 2, c.ph = c.pw = 1, c.bias = true;
    cfgs.push_back(c);
    c = Cfg{};  // 1x1, stride 1, no padding: the direct (no im2col) path
    c.N = 3, c.C = 6, c.H = 5, c.W = 7, c.K = 4, c.groups = 2, c.bias = true;
    cfgs.push_back(c);
    c = Cfg{};  // 11x11, stride 4, padding 2 (AlexNet's first layer, small)
    c.N = 1, c.C = 3, c.H = 27, c.W = 26, c.K = 2, c.R = c.S = 11, c.sh = c.sw = 4, c.ph = c.pw = 2;
    cfgs.push_back(c);
    c = Cfg{};  // depthwise, dilation 2
    c.N = 2, c.C = 4, c.H = 10, c.W = 9, c.K = 4, c.R = c.S = 3, c.ph = c.pw = 2, c.dh = c.dw = 2, c.groups = 4;
    c.bias = true;
    cfgs.push_back(c);
    c = Cfg{};  // kernel = input size
    c.N = 2, c.C = 2, c.H = 6, c.W = 5, c.K = 3, c.R = 6, c.S = 5;
    cfgs.push_back(c);
    c = Cfg{};  // Winograd F(2x2, 3x3) (>= 16 channels): its transforms only add and halve
    c.N = 3, c.C = 16, c.H = 7, c.W = 8, c.K = 16, c.R = c.S = 3, c.ph = c.pw = 1, c.bias = true;
    cfgs.push_back(c);
  }
  for (const Cfg& c : cfgs) {
    INFO(c.str());
    const auto xv = random_ints(shape_numel(c.x_shape()), -4, 4, gen);
    const auto wv = random_ints(shape_numel(c.w_shape()), -3, 3, gen);
    const auto bv = c.bias ? random_ints(c.K, -5, 5, gen) : std::vector<float>{};
    const auto gv = random_ints(shape_numel(c.y_shape()), -5, 5, gen);
    Tensor x = Tensor::from_vector(c.x_shape(), xv), w = Tensor::from_vector(c.w_shape(), wv);
    Tensor b = c.bias ? Tensor::from_vector({c.K}, bv) : Tensor();
    x.requires_grad_(true);
    w.requires_grad_(true);
    if (c.bias) b.requires_grad_(true);
    const Tensor y = conv2d(x, w, b, c.opts());
    const Ref ref = conv_ref(xv, wv, bv, c);
    std::string why = exactly(y.to_vector(), ref.v);
    CHECK_MESSAGE(why.empty(), "forward: ", why);
    y.backward(Tensor::from_vector(c.y_shape(), gv));
    const RefGrad d = conv_ref_backward(xv, wv, gv, c);
    why = exactly(x.grad().to_vector(), d.gx.v);
    CHECK_MESSAGE(why.empty(), "grad x: ", why);
    why = exactly(w.grad().to_vector(), d.gw.v);
    CHECK_MESSAGE(why.empty(), "grad w: ", why);
    if (c.bias) {
      why = exactly(b.grad().to_vector(), d.gb.v);
      CHECK_MESSAGE(why.empty(), "grad b: ", why);
    }
  }
}

TEST_CASE("conv2d gradients: finite differences for x, w and b") {
  // Convolution is linear in each argument, so central differences are exact up to float
  // rounding; testing::gradcheck's default tolerance (1e-2 relative, see testing.h) applies.
  Generator gen(3);
  std::vector<Cfg> cfgs;
  Cfg c;
  c.N = 2, c.C = 2, c.H = 5, c.W = 6, c.K = 3, c.R = c.S = 3, c.sh = c.sw = 2, c.ph = c.pw = 1, c.bias = true;
  cfgs.push_back(c);  // stride 2, padding 1
  c = Cfg{};
  c.N = 1, c.C = 2, c.H = 7, c.W = 6, c.K = 2, c.R = c.S = 3, c.ph = c.pw = 2, c.dh = c.dw = 2, c.bias = true;
  cfgs.push_back(c);  // dilation 2
  c = Cfg{};
  c.N = 2, c.C = 4, c.H = 5, c.W = 4, c.K = 4, c.R = c.S = 3, c.ph = c.pw = 1, c.groups = 2, c.bias = true;
  cfgs.push_back(c);  // groups 2
  c = Cfg{};
  c.N = 2, c.C = 3, c.H = 4, c.W = 5, c.K = 2, c.bias = true;
  cfgs.push_back(c);  // 1x1, the direct (no im2col) path
  c = Cfg{};
  c.N = 1, c.C = 3, c.H = 5, c.W = 5, c.K = 3, c.R = c.S = 2, c.ph = c.pw = 1, c.groups = 3;
  cfgs.push_back(c);  // depthwise, even kernel, no bias
  c = Cfg{};
  c.N = 2, c.C = 2, c.H = 5, c.W = 7, c.K = 3, c.sh = 2, c.sw = 3, c.bias = true;
  cfgs.push_back(c);  // 1x1 strided: pixels no window reads get gradient 0
  c = Cfg{};
  c.N = 1, c.C = 16, c.H = 5, c.W = 6, c.K = 16, c.R = c.S = 3, c.ph = c.pw = 1, c.bias = true;
  cfgs.push_back(c);  // Winograd F(2x2, 3x3)
  for (const Cfg& cf : cfgs) {
    INFO(cf.str());
    const Tensor x = testing::rand(cf.x_shape(), gen), w = testing::rand(cf.w_shape(), gen);
    const Conv2dOptions o = cf.opts();
    // testing.h's rule for ops whose perturbations move many outputs: an input element of the
    // 16 -> 16 channel case reaches 16 x 9 = 144 outputs of size ~4, so sum|o_i R_i| ~ 500 and
    // float32 rounding of those outputs moves the central difference by ~ 6e-8 x 500 / (2h) =
    // 1.5e-3 (measured 2e-4 to 6e-4 in an -O1 build); the floor 0.1 gives that slack (1e-3),
    // still 1 % relative for every gradient above 0.1.
    testing::GradcheckOptions go;
    if (cf.C * cf.K >= 256) go.floor = 0.1;
    if (cf.bias) {
      const Tensor b = testing::rand({cf.K}, gen);
      testing::gradcheck([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], o); }, {x, w, b}, 1234, go);
    } else {
      testing::gradcheck([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), o); }, {x, w}, 1234, go);
    }
  }
}

TEST_CASE("conv2d backward-data and backward-weight on larger shapes: references and the adjoint identity") {
  // Two independent checks of the gradients the op's backward produces for y.backward(g):
  //  (1) element-wise against the reference loops turned around (tolerance as the forward:
  //      1e-5 * sum of |terms| per element);
  //  (2) the adjoint identity, built from the forward reference alone: conv is linear in x,
  //      so for every probe v, <conv(v, w), g> = <v, dL/dx>; likewise <conv(x, u), g> = <u, dL/dw>
  //      and <b-broadcast(beta), g> = <beta, dL/db>. Random probes weight every element, so one
  //      wrong gradient element moves the inner product by ~1/sqrt(numel) of its size, far above
  //      the 1e-4 relative tolerance; float32 rounding moves it by ~1e-7 relative. The small
  //      absolute floor 1e-7 * sum|terms| only guards against a cancelling inner product.
  // With 2 threads (the suite runs with 1): the images go to both threads, and the weight and
  // bias gradients are summed over the threads' partial sums.
  const testing::OmpThreads threads(2);
  Generator gen(5);
  std::vector<Cfg> cfgs;
  Cfg c;
  c.N = 2, c.C = 8, c.H = 19, c.W = 22, c.K = 12, c.R = c.S = 3, c.sh = c.sw = 2, c.ph = c.pw = 1, c.groups = 2;
  c.bias = true;
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 3, c.C = 6, c.H = 17, c.W = 16, c.K = 6, c.R = c.S = 5, c.ph = c.pw = 2, c.dh = c.dw = 2, c.bias = true;
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 2, c.C = 16, c.H = 14, c.W = 15, c.K = 8, c.bias = true;  // 1x1 direct path
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 2, c.C = 8, c.H = 12, c.W = 13, c.K = 8, c.R = c.S = 3, c.ph = c.pw = 1, c.groups = 8;
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 1, c.C = 3, c.H = 32, c.W = 30, c.K = 4, c.R = c.S = 11, c.sh = c.sw = 3, c.ph = c.pw = 2, c.bias = true;
  cfgs.push_back(c);
  for (const Cfg& cf : cfgs) {
    INFO(cf.str());
    const auto [x, w, b, g, y] = run_backward(cf, gen);
    const auto xv = x.to_vector(), wv = w.to_vector(), gv = g.to_vector();
    const auto gx = x.grad().to_vector(), gw = w.grad().to_vector();

    const RefGrad d = conv_ref_backward(xv, wv, gv, cf);
    std::string why = within(gx, d.gx, kConvRel);
    CHECK_MESSAGE(why.empty(), "grad x: ", why);
    why = within(gw, d.gw, kConvRel);
    CHECK_MESSAGE(why.empty(), "grad w: ", why);

    // <conv_ref(a, bw, bias), g> and the sum of |terms| of it.
    auto pair_with_g = [&](const std::vector<float>& a, const std::vector<float>& ww, const std::vector<float>& bb) {
      const Ref y = conv_ref(a, ww, bb, cf);
      double ip = 0.0, scale = 0.0;
      for (size_t i = 0; i < gv.size(); ++i) {
        ip += y.v[i] * gv[i];
        scale += y.bound[i] * std::fabs(gv[i]);
      }
      return std::pair<double, double>{ip, scale};
    };
    auto dot = [](const std::vector<float>& a, const std::vector<float>& b2) {
      double s = 0.0;
      for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b2[i];
      return s;
    };
    for (int probe = 0; probe < 2; ++probe) {
      const auto v = testing::rand(cf.x_shape(), gen).to_vector();
      const auto [lhs, scale] = pair_with_g(v, wv, {});
      const double rhs = dot(v, gx);
      CHECK_MESSAGE(std::fabs(lhs - rhs) <= 1e-4 * std::fabs(lhs) + 1e-7 * scale, "x probe ", probe,
                    ": <conv(v, w), g> = ", lhs, " but <v, dL/dx> = ", rhs);
      const auto u = testing::rand(cf.w_shape(), gen).to_vector();
      const auto [lhs_w, scale_w] = pair_with_g(xv, u, {});
      const double rhs_w = dot(u, gw);
      CHECK_MESSAGE(std::fabs(lhs_w - rhs_w) <= 1e-4 * std::fabs(lhs_w) + 1e-7 * scale_w, "w probe ", probe,
                    ": <conv(x, u), g> = ", lhs_w, " but <u, dL/dw> = ", rhs_w);
    }
    if (cf.bias) {
      const auto gb = b.grad().to_vector();
      why = within(gb, d.gb, kConvRel);
      CHECK_MESSAGE(why.empty(), "grad b: ", why);
      const auto beta = testing::rand({cf.K}, gen).to_vector();
      const std::vector<float> zx(xv.size(), 0.f);
      const auto [lhs_b, scale_b] = pair_with_g(zx, wv, beta);
      const double rhs_b = dot(beta, gb);
      CHECK_MESSAGE(std::fabs(lhs_b - rhs_b) <= 1e-4 * std::fabs(lhs_b) + 1e-7 * scale_b, "bias probe: ", lhs_b,
                    " vs ", rhs_b);
    }
  }
}

// Winograd's error scale. Its intermediate values (B^T d B over a 4x4 input tile, G g G^T,
// A dY A^T over a 2x2 gradient tile, their products) mix every pixel of a tile, so an output's
// rounding error scales with the tile's magnitudes, not with that output's own terms: with one
// output pixel, a weight gradient is a single product gy*x, computed as G^T[(A dY A^T) ⊙ (B^T d B)]G
// from sums of up to 16 inputs. Every intermediate is a sum of products with coefficients of
// magnitude <= 1, so its size is at most
//   forward          M(y[n,k,p,q])  = sum_c |w[k,c]|_1 * |x[n,c,tile(p,q)]|_1 (+ |b[k]|)
//   backward-data    M(gx[n,c,h,w]) = sum_k sum_{tiles reading (h,w)} |gy[n,k,tile]|_1 * |w[k,c]|_1
//   backward-weight  M(gw[k,c,.,.]) = sum_n sum_tiles |gy[n,k,tile]|_1 * |x[n,c,tile]|_1
// (|.|_1 summing absolute values over the 3x3 filter, the 4x4 input tile or the 2x2 output tile).
// A chain of m roundings errs by at most about m * 2^-24 * M, in practice sqrt(m) * 2^-24 * M;
// m = the reduction length (C or K <= 64 here, N * tiles <= 324 for the weight gradient) + 32
// for the transforms. The tolerance 1e-5 * M is ~170 ulps of M: above the sqrt(m) estimate by
// a wide margin, while one misplaced term, |x * w| ~ M / (16 * 9 * C), is still far above it.
struct TileScale {
  Ref y, gx, gw;  // .bound = M above; .v = the 7-loop reference values
};
TileScale winograd_scale(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                         const std::vector<float>& g, const Cfg& c) {
  const int64_t P = c.P(), Q = c.Q(), th = (P + 1) / 2, tw = (Q + 1) / 2;
  auto idx = [](int64_t a, int64_t b2, int64_t i, int64_t j, int64_t B, int64_t I, int64_t J) {
    return static_cast<size_t>(((a * B + b2) * I + i) * J + j);
  };
  std::vector<double> wabs(static_cast<size_t>(c.K * c.C), 0.0);  // |w[k,c]|_1
  for (int64_t i = 0; i < c.K * c.C * 9; ++i) wabs[static_cast<size_t>(i / 9)] += std::fabs(w[static_cast<size_t>(i)]);
  std::vector<double> xt(static_cast<size_t>(c.N * c.C * th * tw), 0.0), gt(static_cast<size_t>(c.N * c.K * th * tw), 0.0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t i = 0; i < th; ++i)
      for (int64_t j = 0; j < tw; ++j) {
        for (int64_t ch = 0; ch < c.C; ++ch)
          for (int64_t r = 0; r < 4; ++r)
            for (int64_t s2 = 0; s2 < 4; ++s2) {
              const int64_t h = 2 * i - c.ph + r, ww = 2 * j - c.pw + s2;
              if (h >= 0 && h < c.H && ww >= 0 && ww < c.W)
                xt[idx(n, ch, i, j, c.C, th, tw)] += std::fabs(x[at4(n, ch, h, ww, c.C, c.H, c.W)]);
            }
        for (int64_t k = 0; k < c.K; ++k)
          for (int64_t u = 0; u < 2; ++u)
            for (int64_t v = 0; v < 2; ++v)
              if (2 * i + u < P && 2 * j + v < Q)
                gt[idx(n, k, i, j, c.K, th, tw)] += std::fabs(g[at4(n, k, 2 * i + u, 2 * j + v, c.K, P, Q)]);
      }
  TileScale t;
  t.y = conv_ref(x, w, b, c);
  const RefGrad d = conv_ref_backward(x, w, g, c);
  t.gx = d.gx;
  t.gw = d.gw;
  std::fill(t.y.bound.begin(), t.y.bound.end(), 0.0);
  std::fill(t.gx.bound.begin(), t.gx.bound.end(), 0.0);
  std::fill(t.gw.bound.begin(), t.gw.bound.end(), 0.0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t i = 0; i < th; ++i)
      for (int64_t j = 0; j < tw; ++j)
        for (int64_t k = 0; k < c.K; ++k)
          for (int64_t ch = 0; ch < c.C; ++ch) {
            const double wk = wabs[static_cast<size_t>(k * c.C + ch)];
            const double xs = xt[idx(n, ch, i, j, c.C, th, tw)], gs = gt[idx(n, k, i, j, c.K, th, tw)];
            for (int64_t u = 0; u < 2; ++u)
              for (int64_t v = 0; v < 2; ++v)
                if (2 * i + u < P && 2 * j + v < Q) t.y.bound[at4(n, k, 2 * i + u, 2 * j + v, c.K, P, Q)] += wk * xs;
            for (int64_t r = 0; r < 4; ++r)
              for (int64_t s2 = 0; s2 < 4; ++s2) {
                const int64_t h = 2 * i - c.ph + r, ww = 2 * j - c.pw + s2;
                if (h >= 0 && h < c.H && ww >= 0 && ww < c.W) t.gx.bound[at4(n, ch, h, ww, c.C, c.H, c.W)] += gs * wk;
              }
            for (int64_t e = 0; e < 9; ++e) t.gw.bound[static_cast<size_t>((k * c.C + ch) * 9 + e)] += gs * xs;
          }
  if (!b.empty())
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t k = 0; k < c.K; ++k)
        for (int64_t i = 0; i < P * Q; ++i)
          t.y.bound[static_cast<size_t>((n * c.K + k) * P * Q + i)] += std::fabs(b[static_cast<size_t>(k)]);
  return t;
}

TEST_CASE("conv2d by Winograd F(2x2, 3x3): forward and both gradients against the 7-loop definition") {
  // 3x3, stride 1, >= 16 channels in and out take kernels/cpu/winograd.cpp instead of im2col.
  // Shapes: odd and even output sizes (tiles hanging over the right and bottom edges), padding
  // 0, 1 and 2, a single tile, more images than threads (several chunks), a vgg_small layer.
  // Tolerance: 1e-5 * the tile scale M of winograd_scale (above); the bias gradient is the
  // im2col path's sum, checked against its own terms as elsewhere in this file.
  Generator gen(21);
  std::vector<Cfg> cfgs;
  Cfg c;
  c.N = 3, c.C = 16, c.H = 9, c.W = 12, c.K = 16, c.R = c.S = 3, c.bias = true;  // P 7 (odd), Q 10
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 2, c.C = 17, c.H = 8, c.W = 7, c.K = 20, c.R = c.S = 3, c.ph = c.pw = 1;  // P 8, Q 7 (odd)
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 1, c.C = 16, c.H = 3, c.W = 3, c.K = 16, c.R = c.S = 3, c.bias = true;  // one output pixel
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 2, c.C = 16, c.H = 5, c.W = 4, c.K = 18, c.R = c.S = 3, c.ph = c.pw = 2;  // wide zero border
  cfgs.push_back(c);
  c = Cfg{};
  c.N = 9, c.C = 32, c.H = 14, c.W = 14, c.K = 64, c.R = c.S = 3, c.bias = true;  // vgg_small conv2_1
  cfgs.push_back(c);
  // 1 and 2 threads: with 2 the chunks of images go to both threads and the weight gradient is
  // the sum of the threads' partial sums (a reduction that drops one is caught only here).
  for (int threads : {1, 2})
  for (const Cfg& cf : cfgs) {
    const testing::OmpThreads omp(threads);
    INFO(cf.str(), " threads ", threads);
    kernels::Conv2dParams kp{cf.N, cf.C, cf.H, cf.W, cf.K, cf.R, cf.S, cf.sh, cf.sw, cf.ph, cf.pw, cf.dh, cf.dw,
                             cf.groups, 0, 0};
    REQUIRE(kernels::conv2d_output_size(kp));
    REQUIRE(kernels::winograd::preferred(kp));  // the shape really takes the Winograd path
    const auto [x, w, b, g, y] = run_backward(cf, gen);
    const auto bv = cf.bias ? b.to_vector() : std::vector<float>{};
    const TileScale t = winograd_scale(x.to_vector(), w.to_vector(), bv, g.to_vector(), cf);
    std::string why = within(y.to_vector(), t.y, kConvRel);
    CHECK_MESSAGE(why.empty(), "forward: ", why);
    why = within(x.grad().to_vector(), t.gx, kConvRel);
    CHECK_MESSAGE(why.empty(), "grad x: ", why);
    why = within(w.grad().to_vector(), t.gw, kConvRel);
    CHECK_MESSAGE(why.empty(), "grad w: ", why);
    if (cf.bias) {
      const RefGrad d = conv_ref_backward(x.to_vector(), w.to_vector(), g.to_vector(), cf);
      why = within(b.grad().to_vector(), d.gb, kConvRel);
      CHECK_MESSAGE(why.empty(), "grad b: ", why);
    }
  }
}

TEST_CASE("conv2d_backward (both gradients at once) equals backward-data then backward-weight, bit for bit") {
  // The engine calls the combined kernel; the CPU's Winograd path shares the transformed
  // gradient between the two. Shapes: Winograd (several chunks, odd output, padding 0 and 1),
  // im2col, and each gradient alone; with 1 and 2 threads (for a given thread count the
  // threads' partial sums are added in thread order, so the results stay bit for bit).
  Generator gen(31);
  for (int threads : {1, 2})
  for (const auto& [N, C, H, K, pad] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>>{
           {5, 16, 11, 24, 0}, {3, 32, 14, 64, 1}, {4, 3, 9, 8, 1}}) {
    const testing::OmpThreads omp(threads);
    kernels::Conv2dParams p{N, C, H, H + 1, K, 3, 3, 1, 1, pad, pad, 1, 1, 1, 0, 0};
    REQUIRE(kernels::conv2d_output_size(p));
    INFO("N " << N << " C " << C << " K " << K << " pad " << pad << " winograd " << kernels::winograd::preferred(p)
              << " threads " << threads);
    const auto x = testing::rand({N, C, H, H + 1}, gen).to_vector(), w = testing::rand({K, C, 3, 3}, gen).to_vector();
    const auto gy = testing::rand({N, K, p.P, p.Q}, gen).to_vector();
    // Outputs start as NaN: an element a kernel fails to write fails the comparisons.
    const float nan = std::nanf("");
    std::vector<float> gx1(x.size(), nan), gw1(w.size(), nan), gb1(static_cast<size_t>(K), nan);
    std::vector<float> gx2(x.size(), nan), gw2(w.size(), nan), gb2(static_cast<size_t>(K), nan);
    std::vector<float> gw3(w.size(), nan), gx3(x.size(), nan);
    kernels::conv2d_backward_data<Device::CPU>(gx1.data(), gy.data(), w.data(), p, Stream{});
    kernels::conv2d_backward_weight<Device::CPU>(gw1.data(), gb1.data(), gy.data(), x.data(), p, Stream{});
    kernels::conv2d_backward<Device::CPU>(gx2.data(), gw2.data(), gb2.data(), gy.data(), x.data(), w.data(), p,
                                          Stream{});
    CHECK(gx1 == gx2);
    CHECK(gw1 == gw2);
    CHECK(gb1 == gb2);
    kernels::conv2d_backward<Device::CPU>(nullptr, gw3.data(), nullptr, gy.data(), x.data(), w.data(), p, Stream{});
    CHECK(gw1 == gw3);
    kernels::conv2d_backward<Device::CPU>(gx3.data(), nullptr, nullptr, gy.data(), x.data(), w.data(), p, Stream{});
    CHECK(gx1 == gx3);
  }
}

TEST_CASE("conv2d rejects bad arguments with messages naming conv2d and the shapes") {
  Generator gen(1);
  auto has = [](const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; };
  auto expect = [&](const std::string& msg, const std::vector<std::string>& parts) {
    for (const auto& p : parts) CHECK_MESSAGE(has(msg, p), "message \"", msg, "\" lacks \"", p, "\"");
  };

  SUBCASE("input of the wrong rank") {
    const Tensor x = testing::rand({2, 3, 5}, gen), w = testing::rand({4, 3, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w); }), {"conv2d", "(2, 3, 5)"});
  }
  SUBCASE("weight of the wrong rank") {
    const Tensor x = testing::rand({1, 3, 5, 5}, gen), w = testing::rand({4, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w); }), {"conv2d", "(4, 3, 3)"});
  }
  SUBCASE("channel mismatch") {
    const Tensor x = testing::rand({1, 3, 5, 5}, gen), w = testing::rand({4, 2, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w); }), {"conv2d", "(1, 3, 5, 5)", "(4, 2, 3, 3)"});
  }
  SUBCASE("groups not dividing the input channels") {
    const Tensor x = testing::rand({1, 6, 5, 5}, gen), w = testing::rand({4, 2, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w, Tensor(), 1, 0, 1, 4); }), {"conv2d", "(1, 6, 5, 5)"});
  }
  SUBCASE("groups not dividing the output channels") {
    const Tensor x = testing::rand({1, 4, 5, 5}, gen), w = testing::rand({3, 2, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w, Tensor(), 1, 0, 1, 2); }), {"conv2d", "(3, 2, 3, 3)"});
  }
  SUBCASE("kernel larger than the padded input") {
    const Tensor x = testing::rand({1, 2, 5, 4}, gen), w = testing::rand({3, 2, 7, 3}, gen);
    expect(error_of([&] { conv2d(x, w, Tensor(), 1, 0); }), {"conv2d", "(1, 2, 5, 4)"});
    // Padding 1 makes the same kernel fit: 5 + 2 - 7 + 1 = 1 output row.
    CHECK(conv2d(x, w, Tensor(), 1, 1).shape() == Shape{1, 3, 1, 4});
    // Dilation can make a fitting kernel too large: 3x3 dilated by 3 spans 7 pixels.
    const Tensor w3 = testing::rand({3, 2, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w3, Tensor(), 1, 0, 3); }), {"conv2d", "(1, 2, 5, 4)"});
  }
  SUBCASE("bias size mismatch") {
    const Tensor x = testing::rand({1, 2, 5, 5}, gen), w = testing::rand({4, 2, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w, testing::rand({5}, gen)); }), {"conv2d", "(5)"});
    expect(error_of([&] { conv2d(x, w, testing::rand({4, 1}, gen)); }), {"conv2d", "(4, 1)"});
  }
  SUBCASE("non-float input") {
    const Tensor x = Tensor::zeros({1, 2, 5, 5}, DType::I32), w = testing::rand({4, 2, 3, 3}, gen);
    expect(error_of([&] { conv2d(x, w); }), {"conv2d", "(1, 2, 5, 5)"});
  }
  SUBCASE("bad stride, padding, dilation, groups") {
    const Tensor x = testing::rand({1, 2, 5, 5}, gen), w = testing::rand({4, 2, 3, 3}, gen);
    CHECK(has(error_of([&] { conv2d(x, w, Tensor(), 0); }), "conv2d"));
    CHECK(has(error_of([&] { conv2d(x, w, Tensor(), 1, -1); }), "conv2d"));
    CHECK(has(error_of([&] { conv2d(x, w, Tensor(), 1, 0, 0); }), "conv2d"));
    CHECK(has(error_of([&] { conv2d(x, w, Tensor(), 1, 0, 1, 0); }), "conv2d"));
  }
}

TEST_CASE("conv2d rejects arguments on different devices") {
  ML_REQUIRE_CUDA();
  Generator gen(2);
  const Tensor x = testing::rand({1, 2, 5, 5}, gen), w = testing::rand({4, 2, 3, 3}, gen);
  const std::string msg = [&] {
    try {
      conv2d(x, w.to(Device::CUDA));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("<no ml::Error thrown>");
  }();
  CHECK_MESSAGE(msg.find("conv2d") != std::string::npos, msg);
  CHECK_MESSAGE(msg.find("(1, 2, 5, 5)") != std::string::npos, msg);
  CHECK_MESSAGE(msg.find("(4, 2, 3, 3)") != std::string::npos, msg);
}
