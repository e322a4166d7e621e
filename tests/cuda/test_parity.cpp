// tests/cuda/test_parity.cpp — every op of engine/ops.h (convolution aside: tests of its own)
// and the optimizers' kernels, run on the CPU reference and on CUDA from the same seeded
// random inputs, forward and backward, over shapes that include 1 element, odd sizes, sizes
// that are not multiples of 4 (the float4 paths' scalar tails) and views at offsets that are
// not 16-byte aligned (the scalar paths). Plus: reruns on the GPU are bit-identical, mixing
// devices in one op is an error naming both, and the caching allocator's accounting and reuse.
//
// Every GPU test case starts with ML_REQUIRE_CUDA(): without a device it reports "skipped"
// with the reason (tests/cuda_skip.h). The last cases need no GPU: they check that "no device"
// is an error, never a crash, and that CUDA failures name file and line.
//
// Tolerances (|gpu - cpu| <= atol + rtol |cpu|, cpu the reference; eps = 2^-23 = 1.19e-7 is
// float's relative rounding unit, so 1 ulp <= eps |v|):
//  - kExact: pure data movement (flips, rot90, cat/split, expand, pooling's argmax and the
//    gradients routed by it), single IEEE operations on identical operands (add, sub, mul, div,
//    sqrt, abs, relu, neg, square, scalar ops: both devices round the exact result once), the
//    Philox draws (uniform, dropout masks: the same integer bits, the same fused multiply-add),
//    and average pooling (both devices add the window in the same row-major order in double,
//    divide in double, round once; the backward gathers in the CPU's scatter order).
//  - kSum: results that are sums accumulated in double on both devices, in different orders
//    (sum_reduce, batch-norm statistics, nll, softmax's normaliser, z-scores, norms). The two
//    double sums differ by <= n * 2^-53 * sum|x| (~1e-11 here), so the float results differ by
//    at most one final rounding (1 ulp <= 1.2e-7 relative) — rtol 1e-6 (8 ulp) and atol 1e-6
//    for results that cancel to near zero leave a wide margin and still catch any real error.
//  - kTrans / kTransGrad: CUDA's accurate expf, logf, tanhf, expm1f, log1pf, cosf are within
//    1-2 ulp of the exact value (CUDA Programming Guide, "Mathematical Functions" appendix);
//    glibc's within 1. Forward: <= ~4 ulp apart, composites such as softplus = log1p(exp(x))
//    stack two: rtol 1e-6 (>= 8 ulp), atol 1e-7 near zero. Gradients computed from y (tanh:
//    1 - y^2, sigmoid: y (1 - y), elu: y + alpha) amplify y's relative error by up to ~6 on the
//    domains used (tanh: 2|y|/(1 - y^2) <= 3.6 on [-1, 1]; elu at x = -2: |y|/(y + alpha) = 6.4;
//    sigmoid at |x| = 3: 1 - y is exact, y carries ~1 ulp, relative 10 ulp): rtol 4e-6 (>= 33 ulp).
//  - kPow: powf's documented bound is larger (up to 8 ulp in the guide's older editions): rtol 2e-6.
//  - gemm_tol(K): cuBLAS (FP32 FMA, no TF32) and Eigen add the K products in different blocked
//    orders. For entries in [-1, 1] each side's error is a random walk of about eps * K / 3;
//    atol = 4 K eps is > 10 sigma of the difference yet ~K times below the worst-case bound
//    K eps sum|a||b| (which can be K^2 eps); rtol 1e-6 for large entries.
//  - optimizer steps: the same float operations; GCC and nvcc may each fuse a*b + c into one
//    FMA at different places (<= 1 ulp per operation and step), 5 steps: rtol 2e-6, atol 1e-7.
//  - individual cases state their own bound where it depends on the data (log-softmax's
//    backward, correlation through a gemm).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/device.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/ops/attention.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "models/vit_b_16.h"
#include "tests/cuda_skip.h"
#include "tests/testing.h"

#if MIRRORLAB_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/allocator_stats.h"
#include "kernels/cuda/check.h"
#endif

namespace {

using namespace ml;

constexpr double kEps32 = 1.1920928955078125e-7;  // 2^-23
constexpr Device kCuda = Device::CUDA;

struct Tol {
  double atol = 0.0, rtol = 0.0;
  bool exact = false;
};
constexpr Tol kExact{0.0, 0.0, true};
constexpr Tol kSum{1e-6, 1e-6, false};
constexpr Tol kTrans{1e-7, 1e-6, false};
constexpr Tol kTransGrad{1e-7, 4e-6, false};
constexpr Tol kPow{1e-7, 2e-6, false};
constexpr Tol kOptim{1e-7, 2e-6, false};

Tol gemm_tol(int64_t K) { return Tol{4.0 * static_cast<double>(K) * kEps32, 1e-6, false}; }

// "" when `got` (GPU) matches `ref` (CPU) within `t`, else the worst element.
std::string mismatch(const Tensor& got, const Tensor& ref, Tol t) {
  if (got.shape() != ref.shape() || got.dtype() != ref.dtype())
    return "got " + got.str() + ", reference " + ref.str();
  if (t.exact) {
    if (testing::equal(got, ref)) return "";
    if (got.dtype() != DType::F32) return "int32 tensors differ";
    const auto a = got.to_vector(), b = ref.to_vector();
    for (size_t i = 0; i < a.size(); ++i)
      if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
        return "not bit-identical: element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs reference " +
               std::to_string(b[i]);
    return "";
  }
  return testing::close(got, ref, t.atol, t.rtol);
}

#define CHECK_PARITY(got, ref, tol)                                  \
  do {                                                               \
    const std::string why_ = mismatch((got), (ref), (tol));          \
    CHECK_MESSAGE(why_.empty(), why_);                               \
  } while (0)

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs f on the CPU inputs and on CUDA copies of them (fresh leaves on each device), compares
// the outputs within `fwd`; then backpropagates one random gradient (uniform [-1, 1], the same
// values on both devices) and compares the gradient of every float input within `bwd`.
void parity(const std::string& what, const Fn& f, const std::vector<Tensor>& inputs, Tol fwd, Tol bwd,
            bool backward = true) {
  INFO(what);
  std::vector<Tensor> c, g;
  bool any_grad = false;
  for (const Tensor& t : inputs) {
    Tensor tc = t.detach(), tg = t.to(kCuda).detach();
    if (backward && t.dtype() == DType::F32) {
      tc.requires_grad_(true);
      tg.requires_grad_(true);
      any_grad = true;
    }
    c.push_back(tc);
    g.push_back(tg);
  }
  const Tensor yc = f(c), yg = f(g);
  REQUIRE(yg.device() == kCuda);
  CHECK_PARITY(yg, yc, fwd);
  if (!backward || !any_grad) return;
  Generator gen(4242);
  const Tensor gy = Tensor::uniform(yc.shape(), -1.f, 1.f, gen);
  yc.backward(gy);
  yg.backward(gy.to(kCuda));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype() != DType::F32) continue;
    INFO("gradient of input ", i);
    REQUIRE(c[i].grad().defined());
    REQUIRE(g[i].grad().defined());
    CHECK(g[i].grad().device() == kCuda);
    CHECK_PARITY(g[i].grad(), c[i].grad(), bwd);
  }
}

Tensor U(const Shape& s, Generator& g, float lo = -1.f, float hi = 1.f) { return testing::rand(s, g, lo, hi); }

// Values rounded to multiples of 1/4: many exact ties, to test "first maximum wins".
Tensor quantized(const Shape& s, Generator& g) {
  auto v = U(s, g, -2.f, 2.f).to_vector();
  for (float& x : v) x = std::round(x * 4.f) / 4.f;
  return Tensor::from_vector(s, v);
}

Tensor labels_for(int64_t N, int64_t C, Generator& g) {
  std::vector<int32_t> l(static_cast<size_t>(N));
  for (auto& x : l) x = static_cast<int32_t>(g.next_below(C));
  return Tensor::from_vector_i32({N}, l);
}

std::string shape_name(const Shape& s) { return shape_str(s); }

}  // namespace

// ---- pointwise ----------------------------------------------------------------------------------

TEST_CASE("cuda parity: pointwise functions") {
  ML_REQUIRE_CUDA();
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> op;
    float lo, hi;
    Tol fwd, bwd;
  };
  // Gradients are exact where they use only x and single IEEE operations (1/x, 2x, 0.5/sqrt).
  const std::vector<Case> cases = {
      {"relu", [](const Tensor& x) { return relu(x); }, -1.f, 1.f, kExact, kExact},
      {"abs", [](const Tensor& x) { return abs(x); }, -1.f, 1.f, kExact, kExact},
      {"neg", [](const Tensor& x) { return neg(x); }, -1.f, 1.f, kExact, kExact},
      {"square", [](const Tensor& x) { return square(x); }, -1.f, 1.f, kExact, kExact},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.1f, 2.f, kExact, kExact},
      {"log", [](const Tensor& x) { return log(x); }, 0.1f, 2.f, kTrans, kExact},
      {"log1p", [](const Tensor& x) { return log1p(x); }, -0.5f, 2.f, kTrans, kExact},
      {"exp", [](const Tensor& x) { return exp(x); }, -2.f, 2.f, kTrans, kTransGrad},
      {"elu", [](const Tensor& x) { return elu(x, 1.f); }, -2.f, 2.f, kTrans, kTransGrad},
      {"elu(0.5)", [](const Tensor& x) { return elu(x, 0.5f); }, -2.f, 2.f, kTrans, kTransGrad},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -3.f, 3.f, kTrans, kTransGrad},
      {"tanh", [](const Tensor& x) { return tanh(x); }, -1.f, 1.f, kTrans, kTransGrad},
      {"softplus", [](const Tensor& x) { return softplus(x, 1.f); }, -3.f, 3.f, kTrans, kTransGrad},
      // beta 8 on [-3, 3]: beta x passes the threshold 20, both branches are taken
      {"softplus(8)", [](const Tensor& x) { return softplus(x, 8.f); }, -3.f, 3.f, kTrans, kTransGrad},
      {"pow(1.7)", [](const Tensor& x) { return pow(x, 1.7f); }, 0.1f, 2.f, kPow, kTransGrad},
      {"pow(3)", [](const Tensor& x) { return pow(x, 3.f); }, -2.f, 2.f, kPow, kTransGrad},
      {"pow(-0.5)", [](const Tensor& x) { return pow(x, -0.5f); }, 0.1f, 2.f, kPow, kTransGrad},
      {"x + 0.3", [](const Tensor& x) { return x + 0.3f; }, -1.f, 1.f, kExact, kExact},
      {"x - 0.7", [](const Tensor& x) { return x - 0.7f; }, -1.f, 1.f, kExact, kExact},
      {"x * -1.3", [](const Tensor& x) { return x * -1.3f; }, -1.f, 1.f, kExact, kExact},
      {"x / 3", [](const Tensor& x) { return x / 3.f; }, -1.f, 1.f, kExact, kExact},
      {"2 - x", [](const Tensor& x) { return rsub(2.f, x); }, -1.f, 1.f, kExact, kExact},
  };
  // 1 element, sizes below/around/not multiples of 4, and a large odd size (several waves).
  const std::vector<Shape> shapes = {{1}, {3}, {4}, {5}, {2, 3, 7}, {64, 33}, {100003}};
  Generator gen(11);
  for (const Case& c : cases)
    for (const Shape& s : shapes)
      parity(std::string(c.name) + " " + shape_name(s), [&](const std::vector<Tensor>& v) { return c.op(v[0]); },
             {U(s, gen, c.lo, c.hi)}, c.fwd, c.bwd);
  // A view 3 floats (12 bytes) into its storage: not 16-byte aligned, so the scalar loop runs.
  for (const Case& c : cases)
    parity(std::string(c.name) + " on an unaligned view",
           [&](const std::vector<Tensor>& v) { return c.op(v[0].slice(1, v[0].size(0))); },
           {U({37, 3}, gen, c.lo, c.hi)}, c.fwd, c.bwd);
}

TEST_CASE("cuda parity: broadcasting binary ops") {
  ML_REQUIRE_CUDA();
  struct Pair {
    Shape a, b;
  };
  const std::vector<Pair> pairs = {
      {{1}, {1}},           {{5}, {5}},           {{1031}, {1031}},     {{4, 5}, {4, 5}},
      {{7}, {1}},           {{1}, {7}},           {{6, 1}, {5}},        {{3, 1, 5}, {1, 4, 1}},
      {{2, 3, 4, 5}, {1, 3, 1, 1}},               {{2, 3, 4, 5}, {5}},  {{2, 3, 5, 7, 3}, {3, 1, 7, 1}},
      {{33, 65}, {33, 1}},  {{257, 129}, {1, 129}},
  };
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&)>>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }},
  };
  Generator gen(12);
  for (const auto& named_op : ops)
    for (const Pair& p : pairs) {
      const char* name = named_op.first;
      const auto& op = named_op.second;
      // b in [0.5, 1.5]: division stays well conditioned.
      const Tensor a = U(p.a, gen), b = U(p.b, gen, 0.5f, 1.5f);
      // Forward: one IEEE operation on identical operands. Backward: the broadcast operand's
      // gradient is summed back (sum_to, double accumulation): kSum.
      parity(std::string(name) + " " + shape_name(p.a) + " with " + shape_name(p.b),
             [&](const std::vector<Tensor>& v) { return op(v[0], v[1]); }, {a, b}, kExact, kSum);
    }
  // Same-shape operands at unaligned offsets (the float4 path must not be taken).
  parity("add on unaligned views",
         [](const std::vector<Tensor>& v) { return add(v[0].slice(1, 40), v[1].slice(2, 41)); },
         {U({41, 3}, gen), U({41, 3}, gen)}, kExact, kExact);
}

// ---- reductions ------------------------------------------------------------------------------

TEST_CASE("cuda parity: sums, means, sum_to, expand, argmax") {
  ML_REQUIRE_CUDA();
  Generator gen(13);
  // Whole sums: 1 element, a few, and long ones split into chunks with a second pass.
  for (const Shape& s : std::vector<Shape>{{1}, {7}, {3, 5, 7}, {100003}, {3, 70001}}) {
    parity("sum " + shape_name(s), [](const std::vector<Tensor>& v) { return sum(v[0]); }, {U(s, gen)}, kSum, kExact);
    parity("mean " + shape_name(s), [](const std::vector<Tensor>& v) { return mean(v[0]); }, {U(s, gen)}, kSum,
           kExact);
  }
  struct Case {
    Shape s;
    std::vector<int64_t> dims;
  };
  // Rows (innermost dim reduced): warp per row, block per row, chunked; columns (innermost
  // kept): 32-column tiles, chunked when there are few columns; mixed sets of dims.
  const std::vector<Case> cases = {
      {{5, 7}, {1}},           {{5, 7}, {0}},           {{37, 1500}, {1}},        {{3, 70001}, {1}},
      {{70001, 3}, {0}},       {{1500, 37}, {0}},       {{2, 3, 4, 5}, {0, 2, 3}}, {{2, 3, 4, 5}, {1}},
      {{2, 3, 4, 5}, {3}},     {{2, 3, 4, 5}, {0}},     {{2, 3, 4, 5}, {1, 3}},   {{4, 1, 6}, {1}},
      {{2, 3, 5, 7, 3}, {0, 2, 4}}, {{16, 64, 9, 9}, {0, 2, 3}}, {{1, 1}, {0, 1}},
  };
  for (const Case& c : cases) {
    const std::string name = shape_name(c.s) + " over " + std::to_string(c.dims.size()) + " dims from " +
                             std::to_string(c.dims[0]);
    parity("sum " + name, [&](const std::vector<Tensor>& v) { return sum(v[0], c.dims); }, {U(c.s, gen)}, kSum,
           kExact);
    parity("sum keepdim " + name, [&](const std::vector<Tensor>& v) { return sum(v[0], c.dims, true); },
           {U(c.s, gen)}, kSum, kExact);
    parity("mean " + name, [&](const std::vector<Tensor>& v) { return mean(v[0], c.dims); }, {U(c.s, gen)}, kSum,
           kExact);
  }
  // A sum over an unaligned view.
  parity("sum of an unaligned view", [](const std::vector<Tensor>& v) { return sum(v[0].slice(1, 999), {1}); },
         {U({999, 3}, gen)}, kSum, kExact);
  // sum_to and expand are adjoints: each one's backward is the other.
  parity("sum_to (2,3,4,5) -> (3,1,1)", [](const std::vector<Tensor>& v) { return sum_to(v[0], {3, 1, 1}); },
         {U({2, 3, 4, 5}, gen)}, kSum, kExact);
  parity("expand (3,1,5) -> (2,3,4,5)", [](const std::vector<Tensor>& v) { return expand(v[0], {2, 3, 4, 5}); },
         {U({3, 1, 5}, gen)}, kExact, kSum);
  parity("expand (1) -> (1031)", [](const std::vector<Tensor>& v) { return expand(v[0], {1031}); }, {U({1}, gen)},
         kExact, kSum);
  // argmax: ties everywhere (values in quarters), the first maximum must win on both.
  for (const Shape& s : std::vector<Shape>{{9, 1}, {17, 13}, {5, 1000}, {3, 5000}, {1, 1}})
    parity("argmax " + shape_name(s), [](const std::vector<Tensor>& v) { return argmax(v[0]); }, {quantized(s, gen)},
           kExact, kExact, false);
}

// ---- dense layers ---------------------------------------------------------------------------------

TEST_CASE("cuda parity: matmul and linear") {
  ML_REQUIRE_CUDA();
  struct Mkn {
    int64_t M, K, N;
  };
  const std::vector<Mkn> sizes = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {1, 300, 1}, {64, 128, 32}, {129, 257, 65}};
  Generator gen(14);
  for (const Mkn& z : sizes) {
    const Tol t = gemm_tol(std::max({z.M, z.K, z.N}));  // the backward's inner dims are M and N
    const std::string name = shape_name({z.M, z.K}) + " x " + shape_name({z.K, z.N});
    parity("matmul " + name, [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); },
           {U({z.M, z.K}, gen), U({z.K, z.N}, gen)}, t, t);
    parity("linear with bias " + name, [](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); },
           {U({z.M, z.K}, gen), U({z.N, z.K}, gen), U({z.N}, gen)}, t, t);
    parity("linear without bias " + name, [](const std::vector<Tensor>& v) { return linear(v[0], v[1], Tensor()); },
           {U({z.M, z.K}, gen), U({z.N, z.K}, gen)}, t, t);
  }
}

// ---- pooling --------------------------------------------------------------------------------------

TEST_CASE("cuda parity: pooling is bit-exact, argmax included") {
  ML_REQUIRE_CUDA();
  struct Case {
    Shape s;
    int64_t k, stride, pad;
    bool ceil;
  };
  const std::vector<Case> cases = {
      {{1, 1, 1, 1}, 1, 1, 0, false}, {{2, 3, 7, 9}, 2, 2, 0, false}, {{2, 3, 7, 9}, 2, 2, 0, true},
      {{2, 3, 7, 9}, 3, 2, 1, false}, {{2, 3, 7, 9}, 3, 2, 1, true},  {{1, 2, 8, 8}, 3, 1, 1, false},
      {{2, 1, 5, 6}, 2, 1, 0, true},  {{1, 3, 13, 11}, 3, 3, 0, true}, {{4, 5, 32, 32}, 2, 2, 0, false},
      {{1, 1, 6, 6}, 6, 6, 0, false}, {{3, 2, 11, 7}, 5, 2, 2, true},
  };
  Generator gen(15);
  for (const Case& c : cases) {
    const std::string name = shape_name(c.s) + " k" + std::to_string(c.k) + " s" + std::to_string(c.stride) + " p" +
                             std::to_string(c.pad) + (c.ceil ? " ceil" : "");
    // Quantized inputs: ties inside windows, so the first-maximum rule is exercised.
    parity("max_pool2d " + name,
           [&](const std::vector<Tensor>& v) { return max_pool2d(v[0], c.k, c.stride, c.pad, c.ceil); },
           {quantized(c.s, gen)}, kExact, kExact);
    for (bool include_pad : {true, false})
      parity("avg_pool2d " + name + (include_pad ? " count_include_pad" : ""),
             [&](const std::vector<Tensor>& v) { return avg_pool2d(v[0], c.k, c.stride, c.pad, c.ceil, include_pad); },
             {U(c.s, gen)}, kExact, kExact);

    // The argmax tensor itself, straight from the kernels.
    kernels::Pool2dParams p{};
    p.N = c.s[0];
    p.C = c.s[1];
    p.H = c.s[2];
    p.W = c.s[3];
    p.kh = p.kw = c.k;
    p.sh = p.sw = c.stride;
    p.ph = p.pw = c.pad;
    p.ceil_mode = c.ceil;
    REQUIRE(kernels::pool2d_output_size(p));
    const Tensor x = quantized(c.s, gen);
    Tensor yc, ac, yg, ag;
    for (Device d : {Device::CPU, kCuda}) {
      const Tensor xd = x.to(d);
      Tensor y = Tensor::empty({p.N, p.C, p.P, p.Q}, DType::F32, d);
      Tensor a = Tensor::empty({p.N, p.C, p.P, p.Q}, DType::I32, d);
      dispatch(d, [&](auto D) {
        kernels::max_pool2d_forward<D>(y.data(), a.data_i32(), xd.data(), p, device_stream(D));
      });
      (d == Device::CPU ? yc : yg) = y;
      (d == Device::CPU ? ac : ag) = a;
    }
    INFO("max_pool2d_forward kernel ", name);
    CHECK_PARITY(yg, yc, kExact);
    CHECK_PARITY(ag, ac, kExact);
  }
  struct Adaptive {
    Shape s;
    int64_t P, Q;
  };
  const std::vector<Adaptive> adaptive = {{{2, 3, 7, 9}, 3, 4}, {{1, 2, 5, 5}, 5, 5}, {{1, 1, 4, 6}, 7, 9},
                                          {{2, 3, 7, 9}, 1, 1}, {{1, 1, 1, 1}, 2, 3}, {{4, 8, 13, 13}, 6, 6}};
  for (const Adaptive& a : adaptive)
    parity("adaptive_avg_pool2d " + shape_name(a.s) + " -> " + std::to_string(a.P) + "x" + std::to_string(a.Q),
           [&](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], a.P, a.Q); }, {U(a.s, gen)}, kExact,
           kExact);
}

// ---- normalisation ------------------------------------------------------------------------------

TEST_CASE("cuda parity: local response norm") {
  ML_REQUIRE_CUDA();
  // s is the same fused sum on both devices; y = x s^-beta inherits powf's difference (kPow).
  // gx = gy s^-beta - coef x sum(gy y / s): both terms are <= ~2 in size here and each carries
  // a few ulp, so |err| <= ~10 ulp of 2 ~ 2.4e-6 absolute.
  const Tol bwd{3e-6, 1e-5, false};
  struct Case {
    Shape s;
    int64_t size;
    float alpha, beta, k;
  };
  const std::vector<Case> cases = {
      {{2, 7, 5, 3}, 5, 1e-4f, 0.75f, 1.f}, {{2, 7, 5, 3}, 5, 1.f, 0.75f, 2.f},  // AlexNet's k, a strong alpha
      {{2, 7, 5, 3}, 2, 1.f, 0.75f, 2.f},   {{2, 7, 5, 3}, 4, 0.5f, 0.5f, 1.f},  // even sizes: asymmetric windows
      {{1, 3, 1, 1}, 3, 1.f, 0.75f, 1.f},   {{3, 1, 4, 4}, 5, 1.f, 0.75f, 2.f},  // one channel
      {{2, 6, 9}, 3, 1.f, 0.75f, 2.f},      {{4, 16, 13, 13}, 5, 1e-3f, 0.75f, 2.f},
  };
  Generator gen(16);
  for (const Case& c : cases)
    parity("local_response_norm " + shape_name(c.s) + " size " + std::to_string(c.size),
           [&](const std::vector<Tensor>& v) { return local_response_norm(v[0], c.size, c.alpha, c.beta, c.k); },
           {U(c.s, gen, -2.f, 2.f)}, kPow, bwd);
}

TEST_CASE("cuda parity: batch norm, training and eval") {
  ML_REQUIRE_CUDA();
  const std::vector<Shape> shapes = {{8, 5}, {4, 3, 7}, {2, 3, 5, 5}, {16, 4, 33, 31}, {2, 1, 1, 2}};
  Generator gen(17);
  for (const Shape& s : shapes)
    for (bool training : {true, false})
      for (bool affine : {true, false})
        // shift: a mean large against the spread. 1000 +- 0.01 is the CPU test's case
        // (tests/test_norm.cpp, commit e1bd7d5): float's spacing at 1000 is 6e-5, so y = a*x + b
        // formed in float (a ~ 170, b ~ -1.7e5), or x - mean with the float-rounded mean, is off
        // by far more than kSum; both devices form them in double.
        for (const auto& [shift, spread] : {std::pair{0.f, 1.f}, std::pair{3.f, 1.f}, std::pair{1000.f, 0.01f}}) {
          const int64_t C = s[1];
          const Tensor rm0 = U({C}, gen, -0.5f, 0.5f), rv0 = U({C}, gen, 0.5f, 1.5f);
          Tensor rm[2], rv[2];  // [0]: cpu, [1]: cuda, after the forward
          auto f = [&](const std::vector<Tensor>& v) {
            const int d = v[0].device() == kCuda ? 1 : 0;
            rm[d] = rm0.to(v[0].device()).detach().clone();
            rv[d] = rv0.to(v[0].device()).detach().clone();
            return batch_norm(v[0], rm[d], rv[d], affine ? v[1] : Tensor(), affine ? v[2] : Tensor(), training, 0.1f,
                              1e-5f);
          };
          std::vector<Tensor> in = {U(s, gen, shift - spread, shift + spread)};
          if (affine) {
            in.push_back(U({C}, gen, 0.5f, 1.5f));
            in.push_back(U({C}, gen));
          }
          const std::string name = std::string(training ? "train " : "eval ") + (affine ? "affine " : "") +
                                   shape_name(s) + (shift != 0.f ? " shifted by " + std::to_string(shift) : "");
          // Statistics and ggamma/gbeta are double sums on both devices; y and gx are one fused
          // multiply-add / one double expression of them: kSum throughout.
          parity("batch_norm " + name, f, in, kSum, kSum);
          INFO("running statistics, batch_norm ", name);
          CHECK_PARITY(rm[1], rm[0], kSum);
          CHECK_PARITY(rv[1], rv[0], kSum);
        }
}

TEST_CASE("cuda parity: dropout masks are bit-exact") {
  ML_REQUIRE_CUDA();
  Generator gen(18);
  // Keys: a small one, and one with both 32-bit halves set (stream_seed's keys are full 64-bit words).
  for (const uint64_t key : {uint64_t{77}, stream_seed(31, kStreamDropout)})
  for (const Shape& s : std::vector<Shape>{{1}, {5}, {1031}, {4, 5, 6}, {100003}})
    for (float p : {0.1f, 0.5f, 0.9f}) {
      // The same seed on both devices: the same mask. y = x * mask and gx = gy * mask are single
      // multiplications by the same values.
      auto f = [p, key](const std::vector<Tensor>& v) {
        Generator g(key);
        g.advance(13);  // a non-zero counter offset
        return dropout(v[0], p, true, g);
      };
      const std::string k = " key " + std::to_string(key);
      parity("dropout p=" + std::to_string(p) + " " + shape_name(s) + k, f, {U(s, gen)}, kExact, kExact);
      // The mask itself: dropout of ones.
      parity("dropout mask p=" + std::to_string(p) + " " + shape_name(s) + k, f, {Tensor::ones(s)}, kExact, kExact,
             false);
    }
}

// ---- random draws -------------------------------------------------------------------------------

TEST_CASE("cuda parity: seeded draws") {
  ML_REQUIRE_CUDA();
  for (int64_t n : {1, 3, 4, 5, 1031, 100003})
    for (const auto& range : std::vector<std::pair<float, float>>{{-1.f, 1.f}, {-0.3f, 0.7f}, {2.f, 5.f}}) {
      const float lo = range.first, hi = range.second;
      Generator gc(123), gg(123);
      gc.advance(7);
      gg.advance(7);
      const Tensor a = Tensor::uniform({n}, lo, hi, gc), b = Tensor::uniform({n}, lo, hi, gg, kCuda);
      INFO("uniform n=", n, " [", lo, ", ", hi, ")");
      CHECK_PARITY(b, a, kExact);
      CHECK(gc.offset() == gg.offset());
      // Box–Muller through logf, sqrtf, cosf: a few ulp apart (kTrans); z is O(1), so atol
      // 1e-6 covers values near zero (cos near its roots) with std = 2.
      const Tensor na = Tensor::normal({n}, 0.5f, 2.f, gc), nb = Tensor::normal({n}, 0.5f, 2.f, gg, kCuda);
      CHECK_PARITY(nb, na, (Tol{1e-6, 1e-6, false}));
    }
}

// ---- softmax and losses --------------------------------------------------------------------------

TEST_CASE("cuda parity: softmax, log-softmax and losses") {
  ML_REQUIRE_CUDA();
  Generator gen(19);
  struct Case {
    Shape s;
    int64_t dim;
  };
  // (N, C) rows: warp per row up to 1024 classes, a block beyond; strided (inner > 1) columns.
  const std::vector<Case> cases = {{{1, 1}, 1},        {{3, 5}, 1},        {{64, 10}, 1},    {{7, 1000}, 1},
                                   {{3, 1031}, 1},     {{2, 4000}, 1},     {{2, 3, 4, 5}, 1}, {{2, 3, 4, 5}, 0},
                                   {{2, 3, 4, 5}, -1}, {{5, 17, 3}, 1}};
  for (const Case& c : cases) {
    const std::string name = shape_name(c.s) + " dim " + std::to_string(c.dim);
    // Both devices: exp and the normaliser in double; only the double sum's order differs.
    // Backward of softmax: y (gy - sum gy y), the sum in double: kSum.
    parity("softmax " + name, [&](const std::vector<Tensor>& v) { return softmax(v[0], c.dim); },
           {U(c.s, gen, -5.f, 5.f)}, kSum, kSum);
    // Backward of log-softmax: gy - exp(y) sum(gy), exp(y) in float (<= 2 ulp apart), times
    // |sum gy| which for n uniform [-1, 1] gradients stays below 4 sqrt(n/3) (4 sigma): the
    // error is <= 2 eps * 4 sqrt(n/3) on top of kSum.
    const int64_t n = c.s[static_cast<size_t>(c.dim < 0 ? c.dim + static_cast<int64_t>(c.s.size()) : c.dim)];
    const Tol lbwd{1e-6 + 8.0 * kEps32 * std::sqrt(static_cast<double>(n) / 3.0), 1e-6, false};
    parity("log_softmax " + name, [&](const std::vector<Tensor>& v) { return log_softmax(v[0], c.dim); },
           {U(c.s, gen, -5.f, 5.f)}, kSum, lbwd);
  }
  for (const Shape& s : std::vector<Shape>{{1, 1}, {1, 10}, {64, 10}, {33, 1000}, {5, 1031}}) {
    const Tensor labels = labels_for(s[0], s[1], gen);
    // The loss is a double sum (kSum); its gradient is -1/N at one class per row, through
    // log-softmax's backward where |sum gy| = 1/N is small: kSum.
    parity("cross_entropy " + shape_name(s),
           [](const std::vector<Tensor>& v) { return cross_entropy(v[0], v[1]); }, {U(s, gen, -5.f, 5.f), labels},
           kSum, kSum);
    parity("nll_loss " + shape_name(s), [](const std::vector<Tensor>& v) { return nll_loss(v[0], v[1]); },
           {U(s, gen, -5.f, 0.f), labels}, kSum, kExact);
  }
  for (const Shape& s : std::vector<Shape>{{1}, {7, 3}, {64, 1031}}) {
    const Tensor counts = U(s, gen, 0.f, 5.f);
    // Means of terms exp(x) - k x (or r - k log r) that can cancel to near zero (one element):
    // the absolute error is a few ulp of the larger part, exp(1) = 2.7 or k log r <= 5.5,
    // i.e. <= ~3e-6 (atol); the mean itself is a double sum. The gradients (exp(x) - k)/n and
    // (1 - k/r)/n carry the same absolute error divided by n.
    const Tol pois{3e-6, 1e-6, false};
    parity("poisson_nll_loss log_input " + shape_name(s),
           [](const std::vector<Tensor>& v) { return poisson_nll_loss(v[0], v[1], true); }, {U(s, gen), counts},
           pois, pois);
    parity("poisson_nll_loss rates " + shape_name(s),
           [](const std::vector<Tensor>& v) { return poisson_nll_loss(v[0], v[1], false); },
           {U(s, gen, 0.1f, 3.f), counts}, pois, pois);
    parity("mse_loss " + shape_name(s), [](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1]); },
           {U(s, gen), U(s, gen)}, kSum, kSum);
  }
}

// ---- the symmetry study's transformations ----------------------------------------------------------

TEST_CASE("cuda parity: flips and quarter turns are bit-exact") {
  ML_REQUIRE_CUDA();
  Generator gen(20);
  // Planes smaller than, equal to and larger than the 32 x 32 tile, non-square, one-pixel.
  const std::vector<Shape> shapes = {{1, 1, 1, 1}, {2, 3, 5, 7},  {1, 2, 32, 32}, {1, 1, 33, 65},
                                     {2, 1, 64, 3}, {1, 1, 1, 40}, {3, 4, 28, 28}, {1, 1, 100, 1}};
  for (const Shape& s : shapes) {
    parity("hflip " + shape_name(s), [](const std::vector<Tensor>& v) { return hflip(v[0]); }, {U(s, gen)}, kExact,
           kExact);
    parity("vflip " + shape_name(s), [](const std::vector<Tensor>& v) { return vflip(v[0]); }, {U(s, gen)}, kExact,
           kExact);
    for (int k : {-1, 0, 1, 2, 3, 5})
      parity("rot90 k=" + std::to_string(k) + " " + shape_name(s),
             [k](const std::vector<Tensor>& v) { return rot90(v[0], k); }, {U(s, gen)}, kExact, kExact);
  }
}

// ---- correlation ---------------------------------------------------------------------------------

TEST_CASE("cuda parity: zscore, row_normalize, corrcoef, rdm") {
  ML_REQUIRE_CUDA();
  Generator gen(21);
  const std::vector<Shape> shapes = {{5, 3}, {2, 7}, {50, 40}, {30, 1000}, {300, 33}, {3, 2000}};
  for (const Shape& s : shapes) {
    // One constant column and one constant row: std 0 / norm 0 must give 0 on both devices.
    auto v = U(s, gen).to_vector();
    const int64_t R = s[0], C = s[1];
    for (int64_t i = 0; i < R; ++i) v[static_cast<size_t>(i * C + C - 1)] = 0.25f;
    for (int64_t j = 0; j < C; ++j) v[static_cast<size_t>(j)] = -0.5f;
    const Tensor x = Tensor::from_vector(s, v);
    // All statistics in double on both devices: kSum.
    parity("zscore " + shape_name(s), [](const std::vector<Tensor>& t) { return zscore(t[0]); }, {x}, kSum, kSum);
    parity("row_normalize " + shape_name(s), [](const std::vector<Tensor>& t) { return row_normalize(t[0]); }, {x},
           kSum, kSum);
    // corrcoef = U U^T over unit rows: |sum_k u_ik u_jk| <= 1 (Cauchy-Schwarz), so each side's
    // gemm error is <= C eps (the worst case, not a random walk); the two sides differ by at
    // most twice that. The backward (G U and G^T U with G in [-1, 1]) sums R terms of size <= 1:
    // gemm_tol(R) on top of the row_normalize backward's kSum. (+1e-6: u itself may differ by
    // an ulp between the devices, rarely.)
    const Tol fwd{2.0 * static_cast<double>(C) * kEps32 + 1e-6, 1e-6, false};
    const Tol bwd{gemm_tol(R).atol + 1e-6, 1e-5, false};
    parity("corrcoef " + shape_name(s), [](const std::vector<Tensor>& t) { return corrcoef(t[0]); }, {x}, fwd, bwd);
    parity("rdm " + shape_name(s), [](const std::vector<Tensor>& t) { return rdm(t[0]); }, {x}, fwd, bwd);
  }
}

// ---- shapes ------------------------------------------------------------------------------------

TEST_CASE("cuda parity: cat, split, narrow, flatten") {
  ML_REQUIRE_CUDA();
  Generator gen(22);
  // Rows of 3 floats (12 bytes: 4-byte words), 4 floats (16-byte words), 2 (8-byte words).
  const Tensor a = U({2, 3, 4, 3}, gen), b = U({2, 5, 4, 3}, gen), c = U({2, 1, 4, 3}, gen);
  parity("cat dim 1", [](const std::vector<Tensor>& v) { return cat({v[0], v[1], v[2]}, 1); }, {a, b, c}, kExact,
         kExact);
  parity("cat dim 0", [](const std::vector<Tensor>& v) { return cat({v[0], v[1]}, 0); },
         {U({3, 7}, gen), U({5, 7}, gen)}, kExact, kExact);
  parity("cat dim -1 (4 + 2 floats)", [](const std::vector<Tensor>& v) { return cat({v[0], v[1]}, -1); },
         {U({9, 4}, gen), U({9, 2}, gen)}, kExact, kExact);
  parity("cat dim 3 (3 + 1 floats)", [](const std::vector<Tensor>& v) { return cat({v[0], v[1]}, 3); },
         {U({2, 2, 5, 3}, gen), U({2, 2, 5, 1}, gen)}, kExact, kExact);
  const Tensor x = U({4, 10, 3}, gen);
  for (int piece = 0; piece < 3; ++piece)
    parity("split {3, 5, 2} dim 1, piece " + std::to_string(piece),
           [piece](const std::vector<Tensor>& v) { return split(v[0], {3, 5, 2}, 1)[static_cast<size_t>(piece)]; },
           {x}, kExact, kExact);
  parity("narrow dim 2", [](const std::vector<Tensor>& v) { return narrow(v[0], 2, 1, 2); }, {x}, kExact, kExact);
  parity("flatten", [](const std::vector<Tensor>& v) { return flatten(v[0]); }, {x}, kExact, kExact);
}

// ---- optimizers' kernels ---------------------------------------------------------------------------

TEST_CASE("cuda parity: SGD and Adam update kernels") {
  ML_REQUIRE_CUDA();
  Generator gen(23);
  const std::vector<kernels::SgdParams> sgds = {
      {0.1f, 0.f, 0.f, 0.f, false, false},     // plain
      {0.05f, 0.9f, 0.f, 1e-4f, false, false},  // momentum + weight decay
      {0.05f, 0.9f, 0.f, 1e-4f, true, false},   // Nesterov
      {0.05f, 0.9f, 0.1f, 0.f, false, false},   // dampening
  };
  const std::vector<kernels::AdamParams> adams = {{1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 0},
                                                  {1e-2f, 0.8f, 0.99f, 1e-6f, 1e-2f, 0}};
  for (int64_t n : {1, 5, 1031, 4096})
    for (int64_t skip : {0, 1}) {  // skip 1: pointers 4 bytes into the buffers (unaligned)
      const int64_t m = n + skip;
      for (size_t si = 0; si < sgds.size(); ++si) {
        Tensor w[2], buf[2];
        const Tensor w0 = U({m}, gen);
        for (int d = 0; d < 2; ++d) {
          w[d] = w0.to(d ? kCuda : Device::CPU).detach().clone();
          buf[d] = Tensor::zeros({m}, DType::F32, d ? kCuda : Device::CPU);
        }
        for (int step = 0; step < 5; ++step) {
          const Tensor g = U({m}, gen);
          kernels::SgdParams p = sgds[si];
          p.first_step = step == 0;
          for (int d = 0; d < 2; ++d) {
            const Device dev = d ? kCuda : Device::CPU;
            const Tensor gd = g.to(dev);
            dispatch(dev, [&](auto D) {
              kernels::sgd_step<D>(w[d].data() + skip, buf[d].data() + skip, gd.data() + skip, n, p,
                                   device_stream(D));
            });
          }
        }
        INFO("sgd variant ", si, " n=", n, " offset ", skip);
        CHECK_PARITY(w[1], w[0], kOptim);
        CHECK_PARITY(buf[1], buf[0], kOptim);
      }
      for (size_t ai = 0; ai < adams.size(); ++ai) {
        Tensor w[2], mm[2], vv[2];
        const Tensor w0 = U({m}, gen);
        for (int d = 0; d < 2; ++d) {
          const Device dev = d ? kCuda : Device::CPU;
          w[d] = w0.to(dev).detach().clone();
          mm[d] = Tensor::zeros({m}, DType::F32, dev);
          vv[d] = Tensor::zeros({m}, DType::F32, dev);
        }
        for (int step = 1; step <= 5; ++step) {
          const Tensor g = U({m}, gen);
          kernels::AdamParams p = adams[ai];
          p.step = step;
          for (int d = 0; d < 2; ++d) {
            const Device dev = d ? kCuda : Device::CPU;
            const Tensor gd = g.to(dev);
            dispatch(dev, [&](auto D) {
              kernels::adam_step<D>(w[d].data() + skip, mm[d].data() + skip, vv[d].data() + skip,
                                    gd.data() + skip, n, p, device_stream(D));
            });
          }
        }
        INFO("adam variant ", ai, " n=", n, " offset ", skip);
        CHECK_PARITY(w[1], w[0], kOptim);
        CHECK_PARITY(mm[1], mm[0], kOptim);
        CHECK_PARITY(vv[1], vv[0], kOptim);
      }
    }
}

// ---- determinism -----------------------------------------------------------------------------------

TEST_CASE("cuda: reruns on the GPU are bit-identical") {
  ML_REQUIRE_CUDA();
  Generator gen(24);
  // No float atomics anywhere and shape-only chunking: the same inputs give the same bits,
  // run after run (forward and gradients).
  struct Case {
    const char* name;
    Fn f;
    std::vector<Tensor> in;
  };
  const Tensor labels = labels_for(7, 1000, gen);
  const std::vector<Case> cases = {
      {"sum (chunked)", [](const std::vector<Tensor>& v) { return sum(v[0]); }, {U({100003}, gen)}},
      {"sum dim 0 (chunked columns)", [](const std::vector<Tensor>& v) { return sum(v[0], {0}); },
       {U({70001, 3}, gen)}},
      {"sum dims 0,2,3", [](const std::vector<Tensor>& v) { return sum(v[0], {0, 2, 3}); },
       {U({16, 4, 33, 31}, gen)}},
      {"batch_norm", [](const std::vector<Tensor>& v) { return batch_norm(v[0], {}, {}, v[1], v[2], true); },
       {U({16, 4, 33, 31}, gen), U({4}, gen), U({4}, gen)}},
      {"cross_entropy", [&](const std::vector<Tensor>& v) { return cross_entropy(v[0], labels.to(kCuda)); },
       {U({7, 1000}, gen, -5.f, 5.f)}},
      {"matmul", [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); },
       {U({129, 257}, gen), U({257, 65}, gen)}},
      {"zscore", [](const std::vector<Tensor>& v) { return zscore(v[0]); }, {U({300, 33}, gen)}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    std::vector<Tensor> outs, grads;
    for (int run = 0; run < 2; ++run) {
      std::vector<Tensor> in;
      for (const Tensor& t : c.in) in.push_back(t.to(kCuda).detach().requires_grad_(true));
      const Tensor y = c.f(in);
      Generator g(5);
      y.backward(Tensor::uniform(y.shape(), -1.f, 1.f, g, kCuda));
      outs.push_back(y.detach());
      for (const Tensor& t : in) grads.push_back(t.grad());
    }
    CHECK(testing::equal(outs[0], outs[1]));
    const size_t k = c.in.size();
    for (size_t i = 0; i < k; ++i) CHECK(testing::equal(grads[i], grads[k + i]));
  }
}

// ---- devices -----------------------------------------------------------------------------------------

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}
}  // namespace

TEST_CASE("cuda: mixing devices in one op is an error naming both devices") {
  ML_REQUIRE_CUDA();
  Generator gen(25);
  const Tensor a = U({3, 4}, gen), b = U({3, 4}, gen).to(kCuda), w = U({4, 4}, gen).to(kCuda);
  const std::vector<std::pair<const char*, std::function<void()>>> calls = {
      {"add", [&] { (void)add(a, b); }},
      {"mul", [&] { (void)mul(b, a); }},
      {"matmul", [&] { (void)matmul(a, w); }},
      {"linear", [&] { (void)linear(a, w, Tensor()); }},
      {"cat", [&] { (void)cat({a, b}, 0); }},
      {"nll_loss", [&] { (void)nll_loss(b, Tensor::from_vector_i32({3}, {0, 1, 2})); }},
  };
  for (const auto& named_call : calls) {
    const std::string msg = error_of(named_call.second);
    INFO(named_call.first, ": ", msg);
    CHECK(msg.find("cpu") != std::string::npos);
    CHECK(msg.find("cuda") != std::string::npos);
  }
}

#if MIRRORLAB_CUDA
TEST_CASE("cuda allocator: accounting, reuse by size class, and out-of-memory errors") {
  ML_REQUIRE_CUDA();
  cuda_empty_cache();
  const CudaMemoryStats s0 = cuda_memory_stats();
  CHECK(s0.cached_bytes == 0);
  CHECK(s0.peak_bytes >= s0.current_bytes);

  // 1000 bytes: the 1024-byte class (512-byte granules below 1 MiB).
  void* p = device_alloc(1000, kCuda);
  REQUIRE(p != nullptr);
  const CudaMemoryStats s1 = cuda_memory_stats();
  CHECK(s1.current_bytes == s0.current_bytes + 1024);
  CHECK(s1.peak_bytes >= s1.current_bytes);
  device_free(p, 1000, kCuda);
  const CudaMemoryStats s2 = cuda_memory_stats();
  CHECK(s2.current_bytes == s0.current_bytes);
  CHECK(s2.cached_bytes == 1024);
  CHECK(s2.peak_bytes >= s1.current_bytes);
  // Any request in the same class gets the cached block back; another class does not.
  void* q = device_alloc(1023, kCuda);
  CHECK(q == p);
  CHECK(cuda_memory_stats().cached_bytes == 0);
  void* r = device_alloc(1025, kCuda);  // the 1536-byte class
  CHECK(r != p);
  device_free(r, 1025, kCuda);
  device_free(q, 1023, kCuda);

  // Above 1 MiB: 2 MiB granules. 3 MiB + 1 and 4 MiB share the 4 MiB class.
  const size_t big = (size_t(3) << 20) + 1;
  void* u = device_alloc(big, kCuda);
  CHECK(cuda_memory_stats().current_bytes == s0.current_bytes + (size_t(4) << 20));
  device_free(u, big, kCuda);
  void* u2 = device_alloc(size_t(4) << 20, kCuda);
  CHECK(u2 == u);
  device_free(u2, size_t(4) << 20, kCuda);

  // Tensors go through the same allocator.
  const size_t before = cuda_memory_stats().current_bytes;
  {
    const Tensor t = Tensor::zeros({1000, 1000}, DType::F32, kCuda);  // 4,000,000 B -> 4 MiB class
    CHECK(cuda_memory_stats().current_bytes == before + (size_t(4) << 20));
    CHECK(t.data() == u);  // the cached 4 MiB block
  }
  CHECK(cuda_memory_stats().current_bytes == before);

  cuda_empty_cache();
  CHECK(cuda_memory_stats().cached_bytes == 0);

  // A petabyte: cudaMalloc fails, the cache is released and the retry fails too, then an
  // ml::Error names the request.
  const size_t huge = size_t(1) << 50;
  const std::string msg = error_of([&] { (void)device_alloc(huge, kCuda); });
  INFO(msg);
  CHECK(msg.find(std::to_string(huge)) != std::string::npos);
  CHECK_THROWS_AS((void)device_alloc(huge, kCuda), Error);
  // The failure leaves the device usable.
  const Tensor after = Tensor::ones({5}, kCuda);
  CHECK(after.to_vector() == std::vector<float>(5, 1.f));
}

// Needs no GPU: the check macros turn an error code into an exception naming file and line.
TEST_CASE("cuda: CUDA and cuBLAS errors name the file, the line and the call") {
  const std::string msg = error_of([] { ML_CUDA_CHECK(cudaErrorInvalidValue); });
  CHECK(msg.find("test_parity.cpp:") != std::string::npos);
  CHECK(msg.find("cudaErrorInvalidValue") != std::string::npos);
  CHECK(msg.find("failed") != std::string::npos);
  const std::string blas = error_of([] { ML_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE); });
  CHECK(blas.find("test_parity.cpp:") != std::string::npos);
  CHECK(blas.find("CUBLAS_STATUS_INVALID_VALUE") != std::string::npos);
  // ml::Error derives from std::runtime_error, which the macros throw: one catch serves both.
  CHECK_THROWS_AS(ML_CUDA_CHECK(cudaErrorMemoryAllocation), std::runtime_error);
}
#endif

// Needs no GPU: where there is none, asking for CUDA memory is an ml::Error carrying the
// reason, never a crash (CI and laptops run this case).
TEST_CASE("cuda: without a device, CUDA tensors are a clear error") {
  if (cuda_available()) {
    CHECK(std::strlen(cuda_unavailable_reason()) == 0);
    return;
  }
  const std::string reason = cuda_unavailable_reason();
  CHECK(!reason.empty());
  const std::string msg = error_of([] { (void)Tensor::zeros({2}, DType::F32, kCuda); });
  INFO(msg);
  CHECK(msg.find(reason) != std::string::npos);
  CHECK_THROWS_AS((void)Tensor::zeros({2}, DType::F32, kCuda), Error);
  // Asking again gives the same answer (it is computed once).
  CHECK(!cuda_available());
  CHECK(std::string(cuda_unavailable_reason()) == reason);
}

// ---- ConvNeXt's and ViT's ops: exact GELU, transpose, layer_norm --------------------------------

TEST_CASE("cuda parity: gelu, transpose and layer_norm") {
  ML_REQUIRE_CUDA();
  Generator gen(23);
  // GELU 0.5 x (1 + erf(x / sqrt 2)): CUDA's erff is within 2 ulp, glibc's within 1, so 1 + erf
  // differs by <= 3 ulp of 1 (3.6e-7) absolute, which 0.5 |x| <= 1.5 on [-3, 3] scales: <= 5.4e-7
  // absolute where 1 + erf cancels (x near -3); atol 1e-6, rtol 1e-6 elsewhere. The gradient
  // 0.5 (1 + erf) + x phi(x) adds expf's 2 ulp on x phi: the same atol, rtol 4e-6 as kTransGrad.
  const Tol gelu_fwd{1e-6, 1e-6, false}, gelu_bwd{1e-6, 4e-6, false};
  for (const Shape& s : std::vector<Shape>{{1}, {5}, {64, 33}, {100003}})
    parity("gelu " + shape_name(s), [](const std::vector<Tensor>& v) { return gelu(v[0]); }, {U(s, gen, -3.f, 3.f)},
           gelu_fwd, gelu_bwd);
  // Pure data movement: bit for bit, both ways (the gradient is the inverse transpose).
  for (const auto& [s, d0, d1] : std::vector<std::tuple<Shape, int64_t, int64_t>>{
           {{2, 3, 4, 5}, 1, 3}, {{2, 768, 196}, 1, 2}, {{2, 197, 12, 64}, 1, 2}, {{7, 1}, 0, 1}, {{3, 5, 2}, 0, 2}})
    parity("transpose " + shape_name(s), [d0, d1](const std::vector<Tensor>& v) { return transpose(v[0], d0, d1); },
           {U(s, gen)}, kExact, kExact);
  // layer_norm: one fused kernel per device (kernels/cuda/layer_norm.cu against
  // kernels/cpu/layer_norm.cpp), formula for formula. The row statistics are double sums in
  // different orders (differences ~1e-16 relative), so the float mean mh, its residual mlo and
  // rstd agree exactly except at a rounding tie (then 1 ulp; the residual absorbs a 1-ulp move of
  // mh). What is left is where each compiler contracts a * b + c into one FMA: <= 1 ulp per
  // operation on |xhat w| + |b| <= 4 here (xhat <= 2.6 for rows of U(-1, 1), w <= 1.5, |b| <= 1),
  // four operations: <= 4 * 4 * 2^-24 = 9.5e-7 absolute; atol = rtol = 2e-6.
  // Backward: gx = rstd (gw - a - xhat bq) with a, bq float roundings of double sums (<= 1 ulp
  // apart) and rstd ~1.7 (std 0.58): <= 5 ulp on magnitudes <= 4, times rstd: ~2e-6; the
  // parameter gradients sum the rows' products in double, each product carrying the forward's
  // <= 1-ulp differences in xhat, over up to 197 rows: a random walk of ~sqrt(197) ulp of 2.6,
  // ~3.4e-6. atol = rtol = 1e-5 bounds both with a margin and is 1e4 x below the size of any
  // real error (a wrong term is O(0.1..1)). The large-offset case (rows at 500 +- 0.3, std 0.17,
  // rstd 5.8) is the one where a float-only mean loses 1e-4 of a normalised unit (the CPU file
  // says why): its forward is O(1) like the others, its gx 3.4 x larger (rstd): atol 4e-5.
  // Shapes: C = 768 (ViT, a warp per row), 130 (not a multiple of 32), 1 (y = b, gx = 0), 1100
  // (over 1024: a block per row), odd row counts (3, 33, 197, 5), no affine, weight only.
  const Tol ln_fwd{2e-6, 2e-6, false}, ln_bwd{1e-5, 1e-5, false};
  for (const Shape& s : std::vector<Shape>{{3, 8}, {3, 768}, {3, 11, 130}, {5, 1}, {1, 197, 768}, {3, 1100}}) {
    const int64_t C = s.back();
    parity("layer_norm " + shape_name(s),
           [](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2], 1e-6f); },
           {U(s, gen), U({C}, gen, 0.5f, 1.5f), U({C}, gen)}, ln_fwd, ln_bwd);
  }
  parity("layer_norm without affine (7, 130)",
         [](const std::vector<Tensor>& v) { return layer_norm(v[0], Tensor(), Tensor(), 1e-5f); }, {U({7, 130}, gen)},
         ln_fwd, ln_bwd);
  parity("layer_norm weight only (9, 768)",
         [](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], Tensor(), 1e-6f); },
         {U({9, 768}, gen), U({768}, gen, 0.5f, 1.5f)}, ln_fwd, ln_bwd);
  parity("layer_norm at a large offset (13, 768)",
         [](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2], 1e-6f); },
         {U({13, 768}, gen, 499.7f, 500.3f), U({768}, gen, 0.5f, 1.5f), U({768}, gen)}, ln_fwd, Tol{4e-5, 1e-5, false});
}

// ---- ViT's attention: the fused multi-head op and the encoder's attention block ------------------

TEST_CASE("cuda parity: multi_head_attention and ViT's self-attention block") {
  ML_REQUIRE_CUDA();
  Generator gen(29);
  // multi_head_attention: scores = scale q kᵀ through the batched GEMM (K = hd), the row softmax
  // (exps in double on both devices: kSum), then P v (K = L). A score error d moves each
  // probability by <= p d, so the output carries sum_j p_j d |v_j| <= d on top of P v's own GEMM
  // error: forward atol = 4 (L + hd) eps (gemm_tol's bound for each of the two products, summed).
  // Each gradient is two GEMMs deep on either side of the softmax's backward (a double sum, <= 1
  // ulp): backward atol = 8 (L + hd) eps. rtol 1e-6 as gemm_tol. Odd token counts (7, 197: ViT's
  // 1 + 14 x 14), one head, heads of 4 and 16 columns.
  struct Case {
    int64_t N, L, D, heads;
  };
  for (const Case& c : std::vector<Case>{{2, 7, 12, 3}, {1, 5, 8, 1}, {3, 1, 8, 2}, {1, 197, 64, 4}}) {
    const int64_t hd = c.D / c.heads;
    const double k = static_cast<double>(c.L + hd) * kEps32;
    parity("multi_head_attention " + shape_name({c.N, c.L, 3 * c.D}) + " heads " + std::to_string(c.heads),
           [h = c.heads](const std::vector<Tensor>& v) { return multi_head_attention(v[0], h); },
           {U({c.N, c.L, 3 * c.D}, gen)}, Tol{4.0 * k, 1e-6, false}, Tol{8.0 * k, 1e-6, false});
  }
  // The block as models/vit_b_16.cpp runs it: linear in-projection over (N L, D) with the bias
  // expanded over rows, the attention op, the out-projection. Two more GEMMs with K = D on each
  // side: atol adds 4 D eps per product (gemm_tol) to the attention's bound, times 2 for the
  // backward; the weights are scaled by 1/sqrt(D) so the projections stay O(1) as gemm_tol assumes.
  for (const Case& c : std::vector<Case>{{2, 7, 12, 3}, {1, 17, 32, 2}}) {
    const int64_t hd = c.D / c.heads;
    const double k = static_cast<double>(c.L + hd + 2 * c.D) * kEps32;
    const float s = 1.f / std::sqrt(static_cast<float>(c.D));
    parity("multi_head_self_attention " + shape_name({c.N, c.L, c.D}) + " heads " + std::to_string(c.heads),
           [h = c.heads](const std::vector<Tensor>& v) {
             return models::multi_head_self_attention(v[0], v[1], v[2], v[3], v[4], h);
           },
           {U({c.N, c.L, c.D}, gen), U({3 * c.D, c.D}, gen, -s, s), U({3 * c.D}, gen), U({c.D, c.D}, gen, -s, s),
            U({c.D}, gen)},
           Tol{4.0 * k, 1e-6, false}, Tol{8.0 * k, 1e-6, false});
  }
}
