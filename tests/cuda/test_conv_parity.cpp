// tests/cuda/test_conv_parity.cpp — the CUDA convolution (kernels/cuda/conv2d.cu) against the
// CPU reference (kernels/cpu/conv2d.cpp): forward, backward-data, backward-weight and the bias
// gradient, called directly and through the engine op with tensors moved by .to(Device::CUDA).
//
// Every shape runs on every path the CUDA file has: its automatic choice, the direct fallback
// (ML_CONV_FORCE_FALLBACK=1), and the implicit GEMM with each tile height forced
// (ML_CONV_TILE=128/64/32; shapes outside the GEMM envelope take the fallback either way).
// CUDA outputs are poisoned with NaN before each call, so an element the kernel never writes
// fails the comparison.
//
// Tolerance for random inputs, |cuda - cpu| <= 1e-4 * sqrt(n), n = the length of the reduction
// (C/groups*R*S forward, K/groups*R*S backward-data, N*P*Q backward-weight and bias).
// Inputs are uniform in [-1, 1], so a term w*x has mean 0 and standard deviation 1/3 and a sum
// of n terms is typically sqrt(n)/3 in size. Each of the two implementations rounds every
// partial sum once (relative error <= 2^-24); with partial sums of size ~sqrt(k)/3 the rounding
// errors of a sequential FMA chain (the GPU's order; Eigen's blocked order is no worse) add up
// in quadrature to a standard deviation of about 2^-24 * n / (3 sqrt 2) ~ 1e-8 * n. The bound
// is 1e4 / sqrt(n) of those standard deviations: more than 200 for the longest reductions here
// (n < 2500), so rounding never trips it. An indexing error does: a missing, doubled or
// misplaced term moves an output by |w*x| ~ 1/3, above the bound for any n < 1e7.
// Small-integer inputs (|values| <= 3) make every partial sum an integer below 2^24, exact in
// float32 in any order, so there CPU and CUDA must agree exactly (CUTLASS's test style).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/device.h"
#include "kernels/conv2d.h"
#include "tests/cuda_skip.h"
#include "tests/testing.h"

using namespace ml;
using kernels::Conv2dParams;

namespace {

struct Case {
  int64_t N = 1, C = 1, H = 1, W = 1, K = 1, R = 1, S = 1;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;

  // Fills P and Q; false if the output would be empty.
  bool params(Conv2dParams& p) const {
    p = Conv2dParams{};
    p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = R, p.S = S;
    p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw, p.dil_h = dh, p.dil_w = dw, p.groups = groups;
    return kernels::conv2d_output_size(p);
  }
  Conv2dOptions opts() const {
    Conv2dOptions o;
    o.stride_h = sh, o.stride_w = sw, o.pad_h = ph, o.pad_w = pw, o.dil_h = dh, o.dil_w = dw, o.groups = groups;
    return o;
  }
  std::string str() const {
    std::ostringstream os;
    os << "x (" << N << "," << C << "," << H << "," << W << ") w (" << K << "," << C / groups << "," << R << "," << S
       << ") stride " << sh << "x" << sw << " pad " << ph << "x" << pw << " dil " << dh << "x" << dw << " groups "
       << groups;
    return os.str();
  }
};

// The paths of kernels/cuda/conv2d.cu, selected through its environment variables.
const char* const kPaths[] = {"auto", "fallback", "tile128", "tile64", "tile32"};

class PathGuard {
 public:
  explicit PathGuard(const std::string& path) {
    clear();
    if (path == "fallback") setenv("ML_CONV_FORCE_FALLBACK", "1", 1);
    if (path.rfind("tile", 0) == 0) setenv("ML_CONV_TILE", path.c_str() + 4, 1);
  }
  ~PathGuard() { clear(); }
  PathGuard(const PathGuard&) = delete;
  PathGuard& operator=(const PathGuard&) = delete;

 private:
  static void clear() {
    unsetenv("ML_CONV_FORCE_FALLBACK");
    unsetenv("ML_CONV_TILE");
  }
};

// Uniform in [-1, 1) (random) or integers in {-3..3} \ {0} (exact), from a seeded generator.
std::vector<float> draw(int64_t n, bool ints, Generator& g) {
  if (!ints) return testing::rand({n}, g).to_vector();
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) {
    const int64_t k = g.next_below(6);  // 0..5 -> -3..-1, 1..3
    e = static_cast<float>(k < 3 ? k - 3 : k - 2);
  }
  return v;
}

// "" when |got - ref| <= tol everywhere (tol = 0: exact), else the worst element.
std::string compare(const std::vector<float>& got, const std::vector<float>& ref, double tol) {
  if (got.size() != ref.size())
    return "size " + std::to_string(got.size()) + " vs reference " + std::to_string(ref.size());
  double worst = -1.0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - ref[i]);
    const double excess = std::isnan(e) ? INFINITY : e - tol;
    if (excess > 0.0 && excess > worst) {
      worst = excess;
      at = i;
    }
  }
  if (worst < 0.0) return "";
  std::ostringstream os;
  os << "element " << at << ": cuda " << got[at] << " vs cpu " << ref[at] << " (tolerance " << tol << ")";
  return os.str();
}

double tolerance(int64_t n, bool exact) { return exact ? 0.0 : 1e-4 * std::sqrt(static_cast<double>(std::max<int64_t>(n, 1))); }

// The CUDA specialisations exist only in a MIRRORLAB_CUDA build. Elsewhere ML_REQUIRE_CUDA()
// skips every test before these are reached, and this keeps the test binary linking.
void cuda_forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p, Stream s) {
#if MIRRORLAB_CUDA
  kernels::conv2d_forward<Device::CUDA>(y, x, w, b, p, s);
#else
  (void)y, (void)x, (void)w, (void)b, (void)p, (void)s;
  throw Error("conv2d: built without CUDA");
#endif
}
void cuda_backward_data(float* gx, const float* gy, const float* w, const Conv2dParams& p, Stream s) {
#if MIRRORLAB_CUDA
  kernels::conv2d_backward_data<Device::CUDA>(gx, gy, w, p, s);
#else
  (void)gx, (void)gy, (void)w, (void)p, (void)s;
  throw Error("conv2d: built without CUDA");
#endif
}
void cuda_backward_weight(float* gw, float* gb, const float* gy, const float* x, const Conv2dParams& p, Stream s) {
#if MIRRORLAB_CUDA
  kernels::conv2d_backward_weight<Device::CUDA>(gw, gb, gy, x, p, s);
#else
  (void)gw, (void)gb, (void)gy, (void)x, (void)p, (void)s;
  throw Error("conv2d: built without CUDA");
#endif
}

Tensor on_gpu(const std::vector<float>& v) { return Tensor::from_vector({static_cast<int64_t>(v.size())}, v, Device::CUDA); }
Tensor poisoned(int64_t n) { return Tensor::full({n}, NAN, Device::CUDA); }

// Runs the four kernels on the CPU and, for every path, on CUDA; compares.
void check_kernels(const Case& c, bool ints, Generator& gen) {
  Conv2dParams p;
  REQUIRE_MESSAGE(c.params(p), c.str());
  INFO(c.str(), ints ? " (integers)" : " (random)");
  const int64_t Cg = c.C / c.groups, Kg = c.K / c.groups;
  const int64_t nx = c.N * c.C * c.H * c.W, nw = c.K * Cg * c.R * c.S, ny = c.N * c.K * p.P * p.Q;
  const auto x = draw(nx, ints, gen), w = draw(nw, ints, gen), b = draw(c.K, ints, gen), gy = draw(ny, ints, gen);

  std::vector<float> y(static_cast<size_t>(ny)), gx(static_cast<size_t>(nx)), gw(static_cast<size_t>(nw)),
      gb(static_cast<size_t>(c.K));
  const Stream cpu{};
  kernels::conv2d_forward<Device::CPU>(y.data(), x.data(), w.data(), b.data(), p, cpu);
  kernels::conv2d_backward_data<Device::CPU>(gx.data(), gy.data(), w.data(), p, cpu);
  kernels::conv2d_backward_weight<Device::CPU>(gw.data(), gb.data(), gy.data(), x.data(), p, cpu);

  const Tensor dx = on_gpu(x), dw = on_gpu(w), db = on_gpu(b), dgy = on_gpu(gy);
  const Stream st = device_stream(Device::CUDA);
  for (const char* path : kPaths) {
    INFO("path ", path);
    PathGuard guard(path);
    Tensor dy = poisoned(ny), dgx = poisoned(nx), dgw = poisoned(nw), dgb = poisoned(c.K);
    cuda_forward(dy.data(), dx.data(), dw.data(), db.data(), p, st);
    cuda_backward_data(dgx.data(), dgy.data(), dw.data(), p, st);
    cuda_backward_weight(dgw.data(), dgb.data(), dgy.data(), dx.data(), p, st);
    device_synchronize(Device::CUDA);
    std::string why = compare(dy.to_vector(), y, tolerance(Cg * c.R * c.S, ints));
    CHECK_MESSAGE(why.empty(), "forward: ", why);
    why = compare(dgx.to_vector(), gx, tolerance(Kg * c.R * c.S, ints));
    CHECK_MESSAGE(why.empty(), "backward-data: ", why);
    why = compare(dgw.to_vector(), gw, tolerance(c.N * p.P * p.Q, ints));
    CHECK_MESSAGE(why.empty(), "backward-weight: ", why);
    why = compare(dgb.to_vector(), gb, tolerance(c.N * p.P * p.Q, ints));
    CHECK_MESSAGE(why.empty(), "bias gradient: ", why);
  }
}

// The sweep: kernels 1, 3, 5; stride 1-3; padding 0-2; dilation 1-2; groups 1, 2 and C. With
// C = 18 and K = 36 the GEMMs have 36/18 (groups 1), 18/9 (groups 2) rows, and depthwise
// (groups 18, K = 162) has 9 filter rows but a single channel row, so the GEMM envelope's
// row minimum sends its backward-data to the direct kernel. None of 9, 18, 36, 162 is a
// multiple of a tile. Spatial sizes cycle odd and even, H != W; batch cycles 1, 2, 3.
std::vector<Case> sweep() {
  std::vector<Case> cases;
  int i = 0;
  for (int64_t ks : {1, 3, 5})
    for (int64_t stride = 1; stride <= 3; ++stride)
      for (int64_t pad = 0; pad <= 2; ++pad)
        for (int64_t dil = 1; dil <= 2; ++dil)
          for (int64_t groups : {1, 2, 18}) {
            Case c;
            c.N = 1 + i % 3;
            c.C = 18;
            c.groups = groups;
            c.K = groups == 18 ? 162 : 36;
            c.R = c.S = ks;
            c.sh = c.sw = stride;
            c.ph = c.pw = pad;
            c.dh = c.dw = dil;
            const int64_t base = std::max<int64_t>(dil * (ks - 1) + 1 - 2 * pad, 1);
            c.H = base + 2 + i % 5;
            c.W = base + 3 + i % 4;
            ++i;
            cases.push_back(c);
          }
  return cases;
}

// Shapes the sweep does not reach: AlexNet's first layer (11x11, stride 4, padding 2), kernel
// = input size (1x1 output), options that differ along H and W, a 1x1 strided convolution
// (input pixels no window reads), GEMM rows crossing the 32/64/128 tile edges, and a
// backward-weight long enough to be split several ways with a ragged last split.
std::vector<Case> specials() {
  std::vector<Case> v;
  Case c;
  c = Case{};  // AlexNet conv1, small: 3 -> 16 channels
  c.N = 2, c.C = 3, c.H = c.W = 35, c.K = 16, c.R = c.S = 11, c.sh = c.sw = 4, c.ph = c.pw = 2;
  v.push_back(c);
  c = Case{};  // kernel = input size, odd
  c.N = 2, c.C = 9, c.H = c.W = 7, c.K = 10, c.R = c.S = 7;
  v.push_back(c);
  c = Case{};  // kernel = input size, even x odd, batch 1
  c.N = 1, c.C = 9, c.H = 6, c.W = 5, c.K = 12, c.R = 6, c.S = 5;
  v.push_back(c);
  c = Case{};  // rows 130: two 128-row tiles, three 64, five 32 (the last ragged)
  c.N = 3, c.C = 19, c.H = 13, c.W = 14, c.K = 130, c.R = c.S = 3, c.ph = c.pw = 1;
  v.push_back(c);
  c = Case{};  // different options along H and W, groups 2
  c.N = 2, c.C = 20, c.H = 9, c.W = 11, c.K = 66, c.R = 3, c.S = 5, c.sh = 2, c.sw = 1, c.ph = 2, c.pw = 0;
  c.dh = 1, c.dw = 2, c.groups = 2;
  v.push_back(c);
  c = Case{};  // and the other way round
  c.N = 2, c.C = 17, c.H = 10, c.W = 12, c.K = 33, c.R = 5, c.S = 3, c.sh = 1, c.sw = 2, c.ph = 0, c.pw = 1;
  c.dh = 2, c.dw = 1;
  v.push_back(c);
  c = Case{};  // 1x1 stride 2: every other input pixel gets gradient 0
  c.N = 1, c.C = 16, c.H = c.W = 5, c.K = 16, c.sh = c.sw = 2;
  v.push_back(c);
  c = Case{};  // stride 2 backward-data on the GEMM path (sh*sw = 4)
  c.N = 2, c.C = 8, c.H = c.W = 16, c.K = 8, c.R = c.S = 3, c.sh = c.sw = 2, c.ph = c.pw = 1;
  v.push_back(c);
  c = Case{};  // backward-weight over 3*28*29 pixels: split-K with a ragged last split
  c.N = 3, c.C = 12, c.H = 30, c.W = 31, c.K = 24, c.R = c.S = 3, c.groups = 2;
  v.push_back(c);
  c = Case{};  // channel counts prime and > a tile
  c.N = 2, c.C = 67, c.H = 9, c.W = 8, c.K = 131, c.R = c.S = 3, c.ph = c.pw = 1;
  v.push_back(c);
  c = Case{};  // ConvNeXt's block: 7x7 depthwise, padding 3 (groups = C = K)
  c.N = 2, c.C = c.K = 12, c.H = 9, c.W = 10, c.R = c.S = 7, c.ph = c.pw = 3, c.groups = 12;
  v.push_back(c);
  c = Case{};  // ConvNeXt's stem: 4x4 stride 4 (patchify), and its 2x2 stride 2 downsampling below
  c.N = 2, c.C = 3, c.H = c.W = 17, c.K = 24, c.R = c.S = 4, c.sh = c.sw = 4;
  v.push_back(c);
  c = Case{};
  c.N = 1, c.C = 24, c.H = c.W = 9, c.K = 48, c.R = c.S = 2, c.sh = c.sw = 2;
  v.push_back(c);
  c = Case{};  // ViT's patch embedding: 16x16 stride 16, 3 -> 40 channels
  c.N = 2, c.C = 3, c.H = c.W = 48, c.K = 40, c.R = c.S = 16, c.sh = c.sw = 16;
  v.push_back(c);
  return v;
}

}  // namespace

// ML_CONV_SWEEP_EVERY=k runs every k-th case of the sweep (from case ML_CONV_SWEEP_FIRST),
// for the interpret mode (tools/ci/interpret.sh), where the whole sweep on five paths takes too
// long for CI; on a device the default runs all 162.
int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long long r = std::strtoll(v, &end, 10);
  if (*end != '\0' || r < 0) throw std::invalid_argument(std::string(name) + " = '" + v + "' is not a count");
  return r;
}

TEST_CASE("conv2d CUDA kernels match the CPU over strides, paddings, dilations and groups, on every path") {
  ML_REQUIRE_CUDA();
  const auto cases = sweep();
  CHECK(cases.size() == 162);
  const int64_t every = std::max<int64_t>(1, env_int("ML_CONV_SWEEP_EVERY", 1));
  const int64_t first = env_int("ML_CONV_SWEEP_FIRST", 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    if (static_cast<int64_t>(i) < first || (static_cast<int64_t>(i) - first) % every != 0) continue;
    Generator gen(2024 + i);  // per case, so a sampled run draws what the full run draws
    check_kernels(cases[i], false, gen);
  }
}

TEST_CASE("conv2d CUDA kernels on AlexNet's first layer, kernel = input, asymmetric options and tile edges") {
  ML_REQUIRE_CUDA();
  Generator gen(2025);
  for (const Case& c : specials()) check_kernels(c, false, gen);
}

TEST_CASE("conv2d CUDA kernels are exact on small integers") {
  ML_REQUIRE_CUDA();
  // Every partial sum is an integer below 2^24 (|terms| <= 9, at most a few thousand terms),
  // exactly representable in float32: any summation order gives the same, exact value.
  Generator gen(2026);
  const auto cases = sweep();
  for (size_t i = 0; i < cases.size(); i += 5) check_kernels(cases[i], true, gen);
  for (const Case& c : specials()) check_kernels(c, true, gen);
}

TEST_CASE("conv2d through the engine op: CUDA tensors give the CPU's output and gradients") {
  ML_REQUIRE_CUDA();
  // The op's dispatch, shape checks and backward closure on CUDA: x, w, b are CPU leaves moved
  // with .to(Device::CUDA) (differentiable), so their gradients come back to the CPU leaves.
  Generator gen(2027);
  std::vector<Case> cases;
  Case c;
  c.N = 2, c.C = 18, c.H = 11, c.W = 12, c.K = 36, c.R = c.S = 3, c.ph = c.pw = 1;
  cases.push_back(c);
  c = Case{};
  c.N = 3, c.C = 16, c.H = 14, c.W = 13, c.K = 24, c.R = c.S = 5, c.sh = c.sw = 2, c.ph = c.pw = 2, c.groups = 2;
  cases.push_back(c);
  c = Case{};
  c.N = 1, c.C = 3, c.H = c.W = 35, c.K = 16, c.R = c.S = 11, c.sh = c.sw = 4, c.ph = c.pw = 2;
  cases.push_back(c);
  c = Case{};
  c.N = 2, c.C = 8, c.H = 9, c.W = 10, c.K = 16, c.R = c.S = 3, c.ph = c.pw = 2, c.dh = c.dw = 2, c.groups = 8;
  cases.push_back(c);
  for (const Case& cs : cases)
    for (const char* path : {"auto", "fallback"}) {
      INFO(cs.str(), " path ", path);
      PathGuard guard(path);
      Conv2dParams p;
      REQUIRE(cs.params(p));
      const int64_t Cg = cs.C / cs.groups, Kg = cs.K / cs.groups;
      Tensor x = testing::rand({cs.N, cs.C, cs.H, cs.W}, gen), w = testing::rand({cs.K, Cg, cs.R, cs.S}, gen);
      Tensor b = testing::rand({cs.K}, gen);
      const Tensor g = testing::rand({cs.N, cs.K, p.P, p.Q}, gen);
      Tensor xg = x.clone().detach(), wg = w.clone().detach(), bg = b.clone().detach();
      for (Tensor* t : {&x, &w, &b, &xg, &wg, &bg}) t->requires_grad_(true);

      const Tensor y = conv2d(x, w, b, cs.opts());
      y.backward(g);
      const Tensor yg = conv2d(xg.to(Device::CUDA), wg.to(Device::CUDA), bg.to(Device::CUDA), cs.opts());
      REQUIRE(yg.device() == Device::CUDA);
      REQUIRE(yg.shape() == y.shape());
      yg.backward(g.to(Device::CUDA));

      std::string why = compare(yg.to_vector(), y.to_vector(), tolerance(Cg * cs.R * cs.S, false));
      CHECK_MESSAGE(why.empty(), "forward: ", why);
      REQUIRE(xg.grad().defined());
      REQUIRE(wg.grad().defined());
      REQUIRE(bg.grad().defined());
      CHECK(xg.grad().device() == Device::CPU);
      why = compare(xg.grad().to_vector(), x.grad().to_vector(), tolerance(Kg * cs.R * cs.S, false));
      CHECK_MESSAGE(why.empty(), "grad x: ", why);
      why = compare(wg.grad().to_vector(), w.grad().to_vector(), tolerance(cs.N * p.P * p.Q, false));
      CHECK_MESSAGE(why.empty(), "grad w: ", why);
      why = compare(bg.grad().to_vector(), b.grad().to_vector(), tolerance(cs.N * p.P * p.Q, false));
      CHECK_MESSAGE(why.empty(), "grad b: ", why);
    }
}

TEST_CASE("conv2d CUDA results are reproducible bit for bit (split-K sums in a fixed order)") {
  ML_REQUIRE_CUDA();
  // Backward-weight over 4*30*30 pixels is split several ways; the splits are summed in order
  // by a second kernel, never with float atomics, so two runs agree exactly. The forward and
  // backward-data have one FMA chain per output and must agree exactly as well.
  Generator gen(2028);
  Case c;
  c.N = 4, c.C = 20, c.H = c.W = 32, c.K = 40, c.R = c.S = 3;
  Conv2dParams p;
  REQUIRE(c.params(p));
  const int64_t nx = c.N * c.C * c.H * c.W, nw = c.K * c.C * 9, ny = c.N * c.K * p.P * p.Q;
  const Tensor x = on_gpu(draw(nx, false, gen)), w = on_gpu(draw(nw, false, gen)), gy = on_gpu(draw(ny, false, gen));
  const Stream st = device_stream(Device::CUDA);
  std::vector<float> first[4];
  for (int run = 0; run < 2; ++run) {
    Tensor y = poisoned(ny), gx = poisoned(nx), gw = poisoned(nw), gb = poisoned(c.K);
    cuda_forward(y.data(), x.data(), w.data(), nullptr, p, st);
    cuda_backward_data(gx.data(), gy.data(), w.data(), p, st);
    cuda_backward_weight(gw.data(), gb.data(), gy.data(), x.data(), p, st);
    device_synchronize(Device::CUDA);
    const std::vector<float> now[4] = {y.to_vector(), gx.to_vector(), gw.to_vector(), gb.to_vector()};
    for (int k = 0; k < 4; ++k) {
      if (run == 0)
        first[k] = now[k];
      else
        CHECK_MESSAGE(now[k] == first[k], "output ", k, " (y, gx, gw, gb) differs between two identical runs");
    }
  }
}

TEST_CASE("conv2d CUDA kernels reject inconsistent parameters") {
  ML_REQUIRE_CUDA();
  // The engine checks shapes first; direct callers get an exception naming the shapes instead
  // of an out-of-bounds kernel. Every check below happens before anything is launched.
  Case c;
  c.N = 1, c.C = 6, c.H = c.W = 8, c.K = 8, c.R = c.S = 3;
  Conv2dParams good;
  REQUIRE(c.params(good));
  Tensor x = poisoned(6 * 64), w = poisoned(8 * 6 * 9), y = poisoned(8 * good.P * good.Q);
  const Stream st = device_stream(Device::CUDA);
  auto forward = [&](const Conv2dParams& p) {
    cuda_forward(y.data(), x.data(), w.data(), nullptr, p, st);
  };
  Conv2dParams bad = good;
  bad.groups = 4;  // divides the 8 filters but not the 6 channels
  CHECK_THROWS_AS(forward(bad), std::runtime_error);
  bad = good;
  bad.P += 1;  // not what the geometry gives
  CHECK_THROWS_AS(forward(bad), std::runtime_error);
  bad = good;
  bad.stride_h = 0;
  CHECK_THROWS_AS(forward(bad), std::runtime_error);
  {
    PathGuard guard("tile100");  // not a tile height: named in the error
    CHECK_THROWS_AS(forward(good), std::runtime_error);
  }
  CHECK_NOTHROW(forward(good));
  device_synchronize(Device::CUDA);
}

#if defined(ML_INTERPRET)
// Interpret mode only (tests/interpret/): its device's SM count is ML_INTERP_SMS, read at
// every launch, so one process can play two GPU models. The weight gradient's split-K must
// depend on the shape alone (kernels/cuda/conv2d.cu, kSplitSms): a split sized by the SM count
// cuts the N*P*Q reduction at other places and changes the rounding, so an H100 and an A100
// would train to different weights from the same seed.
TEST_CASE("conv2d CUDA weight gradients are the same bits whatever the SM count (interpret mode)") {
  ML_REQUIRE_CUDA();
  Generator gen(2029);
  Case c;  // 4*30*30 = 3600 pixels: split several ways
  c.N = 4, c.C = 20, c.H = c.W = 32, c.K = 40, c.R = c.S = 3;
  Conv2dParams p;
  REQUIRE(c.params(p));
  const int64_t nx = c.N * c.C * c.H * c.W, nw = c.K * c.C * 9, ny = c.N * c.K * p.P * p.Q;
  const Tensor x = on_gpu(draw(nx, false, gen)), gy = on_gpu(draw(ny, false, gen));
  const Stream st = device_stream(Device::CUDA);
  const char* old = std::getenv("ML_INTERP_SMS");
  const std::string saved = old ? old : "";
  std::vector<float> gw_of[2];
  const char* sms[2] = {"1", "132"};
  for (int k = 0; k < 2; ++k) {
    setenv("ML_INTERP_SMS", sms[k], 1);
    Tensor gw = poisoned(nw), gb = poisoned(c.K);
    cuda_backward_weight(gw.data(), gb.data(), gy.data(), x.data(), p, st);
    device_synchronize(Device::CUDA);
    gw_of[k] = gw.to_vector();
  }
  if (old) setenv("ML_INTERP_SMS", saved.c_str(), 1);
  else unsetenv("ML_INTERP_SMS");
  size_t differ = 0;
  for (size_t i = 0; i < gw_of[0].size(); ++i) differ += std::memcmp(&gw_of[0][i], &gw_of[1][i], sizeof(float)) != 0;
  CHECK_MESSAGE(differ == 0, differ, " of ", gw_of[0].size(), " weight-gradient elements differ between 1 and 132 SMs");
}
#endif
