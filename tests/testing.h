// tests/testing.h — helpers every test uses: seeded random tensors, closeness with stated
// tolerances, and the finite-difference gradient check.
#pragma once
#include <doctest/doctest.h>

#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace ml::testing {

// Uniform in [lo, hi) from a seeded generator (never zeros: they hide wrong indexing).
inline Tensor rand(const Shape& s, Generator& g, float lo = -1.f, float hi = 1.f) {
  return Tensor::uniform(s, lo, hi, g);
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  double m = 0.0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(va[i]) - vb[i]));
  return m;
}

// |a - b| <= atol + rtol*|b| everywhere (b is the reference). Returns "" or a description
// of the worst element.
inline std::string close(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (a.shape() != b.shape()) return "shape " + shape_str(a.shape()) + " vs reference " + shape_str(b.shape());
  const auto va = a.to_vector(), vb = b.to_vector();
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    const double err = std::fabs(static_cast<double>(va[i]) - vb[i]) - (atol + rtol * std::fabs(vb[i]));
    if (!(err <= worst)) {  // catches NaN too
      worst = std::isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  if (worst <= 0.0) return "";
  std::ostringstream os;
  os << "element " << at << ": " << va[at] << " vs reference " << vb[at] << " (atol " << atol << ", rtol " << rtol
     << ")";
  return os.str();
}

#define CHECK_CLOSE(a, b, atol, rtol)                          \
  do {                                                         \
    const std::string why_ = ::ml::testing::close(a, b, atol, rtol); \
    CHECK_MESSAGE(why_.empty(), why_);                         \
  } while (0)

// Scalar version for CHECK(near(value, reference, atol, rtol)): |a - b| <= atol + rtol*|b|,
// b the reference (doctest's Approx(b).epsilon(e) instead allows e * (1 + max(|a|, |b|)), looser
// than most comments that go with it).
inline bool near(double a, double b, double atol, double rtol) { return std::fabs(a - b) <= atol + rtol * std::fabs(b); }

// Exact equality (data movement must match bit for bit).
inline bool equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  if (a.dtype() == DType::I32) return a.to_vector_i32() == b.to_vector_i32();
  return a.to_vector() == b.to_vector();
}

struct GradcheckOptions {
  // Central differences with step h on float32 forwards. The loss L = sum(out * R) is
  // accumulated in double. The check is relative:
  //   |analytic - numeric| <= tol * max(|analytic|, |numeric|, floor).
  // Truncation error of the central difference is h^2/6 * |f'''| ~ 2e-5 for h = 1e-2 on these
  // ops' scales (|f'''| of order 1), far below tol = 1e-2 of any gradient above `floor`.
  // Rounding: a perturbation changes the outputs that depend on the element, each rounded to
  // float32 (relative 6e-8), so the numeric derivative errs by ~ 6e-8 * sum|o_i R_i| / (2h)
  // over those outputs: ~1e-5 for tens of outputs of size ~1. The floor 1e-2 makes the
  // absolute slack tol * floor = 1e-4, above that; gradients between 1e-2 and 1 (batch means,
  // average pooling: 0.03-0.25) are held to 1 % of their size, not to 1e-2 absolute. An op
  // whose perturbations move many outputs (larger rounding) sets a larger floor and says why.
  float h = 1e-2f;
  double tol = 1e-2;
  double floor = 1e-2;
  // Points where the function has a kink within h (ReLU at 0, a max-pool tie, |x| at 0)
  // are detected because the two one-sided differences disagree, and skipped (Caffe's
  // GradientChecker skips a band around the kink instead). Smooth functions' one-sided
  // differences differ by h * f'' ~ 1e-2, so a kink is a disagreement above
  // 10 * tol * max(|right|, |left|, 1). At most this fraction may be skipped.
  double max_skipped = 0.25;
  int max_points = 400;  // per input, spread evenly over its elements
};

// Checks d sum(f(inputs) * R) / d input against central differences for every input that
// is float32. R is a fixed random weighting so that every output element matters.
inline void gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                      uint64_t seed = 1234, GradcheckOptions o = {}) {
  // Private copies: the caller's tensors keep their .grad and values untouched, and a second
  // gradcheck on the same inputs does not accumulate into the first one's gradients.
  for (auto& t : inputs)
    if (t.dtype() == DType::F32) t = t.detach().clone().requires_grad_(true);
  Tensor out = f(inputs);
  Generator g(seed);
  const Tensor R = Tensor::uniform(out.shape(), 0.5f, 1.5f, g);
  const auto rv = R.to_vector();
  auto loss_of = [&](const std::vector<Tensor>& in) {
    NoGradGuard ng;
    const auto ov = f(in).to_vector();
    double L = 0.0;
    for (size_t i = 0; i < ov.size(); ++i) L += static_cast<double>(ov[i]) * rv[i];
    return L;
  };
  sum(mul(out, R)).backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (x.dtype() != DType::F32) continue;
    REQUIRE_MESSAGE(x.grad().defined(), "input ", k, " received no gradient");
    const auto analytic = x.grad().to_vector();
    const int64_t n = x.numel();
    const int64_t step = std::max<int64_t>(1, n / o.max_points);
    int64_t checked = 0, skipped = 0;
    for (int64_t i = 0; i < n; i += step) {
      ++checked;
      float* p = x.data() + i;
      const float orig = *p;
      const double L0 = loss_of(inputs);
      *p = orig + o.h;
      const double Lp = loss_of(inputs);
      *p = orig - o.h;
      const double Lm = loss_of(inputs);
      *p = orig;
      const double numeric = (Lp - Lm) / (2.0 * o.h);
      const double right = (Lp - L0) / o.h, left = (L0 - Lm) / o.h;
      const double scale = std::max({std::fabs(right), std::fabs(left), 1.0});
      if (std::fabs(right - left) > 10 * o.tol * scale) {  // a kink within h
        ++skipped;
        continue;
      }
      const double a = analytic[static_cast<size_t>(i)];
      const double s = std::max({std::fabs(a), std::fabs(numeric), o.floor});
      CHECK_MESSAGE(std::fabs(a - numeric) <= o.tol * s, "input ", k, " element ", i, ": analytic ", a,
                    " vs numeric ", numeric);
    }
    CHECK_MESSAGE(skipped <= o.max_skipped * checked, "input ", k, ": ", skipped, " of ", checked,
                  " points skipped as kinks");
  }
}

// ---- small helpers shared by the test files ----

// Runs the enclosing scope with n OpenMP threads and restores the previous count afterwards.
// The suite runs with OMP_NUM_THREADS=1 (tools/test.sh), so a test that claims to exercise a
// kernel's threaded path asks for its threads itself.
struct OmpThreads {
  int previous;
  explicit OmpThreads(int n) : previous(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(previous); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;
};

template <class... A>
std::string skip_text(const A&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// Ends the current test case as skipped, with a one-line reason: under ctest (ML_UNDER_CTEST)
// the process exits with 77, which tests/CMakeLists.txt declares as SKIP_RETURN_CODE, so ctest
// reports "Skipped" (tests/cuda_skip.h does the same for GPU tests); run directly, it prints
// the reason and returns from the test case so the other cases still run.
#define ML_SKIP_TEST(...)                                                                  \
  do {                                                                                     \
    std::printf("SKIPPED: %s\n", ::ml::testing::skip_text(__VA_ARGS__).c_str());           \
    std::fflush(stdout);                                                                   \
    if (std::getenv("ML_UNDER_CTEST")) std::exit(77);                                      \
    return;                                                                                \
  } while (0)

// The message of the ml::Error that f throws, or a marker when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no ml::Error thrown>";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Every part must appear in the message (errors name the op, the argument and the shapes).
inline void expect_parts(const std::string& msg, const std::vector<std::string>& parts) {
  for (const auto& p : parts)
    CHECK_MESSAGE(msg.find(p) != std::string::npos, "message \"", msg, "\" lacks \"", p, "\"");
}

// A fresh, empty folder under the system's temporary directory, removed with everything in it
// when the object goes (unique per process and object).
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "tmp") {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("mirrorlab_test_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
    return names;
  }
};

}  // namespace ml::testing
