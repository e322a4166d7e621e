// tests/cuda/test_ridge_parity.cpp — the many-target ridge solver (experiments/analysis/ridge.h)
// with its GEMMs on CUDA (RidgeOptions::device = "cuda": the float32 Gram, the projections QᵀY,
// the held-out predictions B S of every penalty and the coefficients Q S through the engine's
// GEMM) against the same fit on the CPU (Eigen), on small primal and dual problems so that the
// interpret mode (tools/ci/interpret.sh) stays quick (0.02 s).
//
// Tolerance. Both devices run the same float64 reductions and O(n) solves on the host; they
// differ only in how the float32 products round: Eigen's float32 GEMM, cuBLAS on a GPU, a
// double-accumulated loop in the interpret mode. Each product of K terms carries a relative
// rounding error of about sqrt(K) eps (eps = 6e-8, K <= 90 here: ~6e-7), which the solve with
// T + αI amplifies by at most its condition number, <= λ_max / α_min = 1e3 on this grid
// (1e-3 λ_max .. 10 λ_max). The float32 Gram's rounding enters the reduction the same way. So
// predictions agree to ~1e-3 relative at the smallest penalty, and R² and r (ratios of sums of
// squares of O(1) values) to ~1e-4 absolute: the bounds tests/test_ridge.cpp holds the CPU path
// to against a float64 solve. Measured in the interpret mode (where the products are nearly
// exact, so this is the CPU's own float32 rounding): R² within 2.6e-6, r within 2.8e-7,
// held-out and new-row predictions within 2.1e-6 relative. What a real error does: the products
// of the neighbouring fold moved R² by 2.9 and the predictions by 1.4 (relative); a product with
// the wrong layout (the row-major/column-major swap of device_product) fails on its shapes; a fit
// that never reaches the device leaves the allocator's cache empty.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "experiments/analysis/ridge.h"
#include "tests/cuda_skip.h"
#include "tests/ridge_problem.h"
#include "tests/testing.h"

#if MIRRORLAB_CUDA
#include "engine/cuda/allocator_stats.h"

using namespace ml;
using namespace ml::analysis;
using ml::testing::make_problem;
using ml::testing::Problem;

namespace {

double max_rel(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  double worst = 0;
  for (int64_t j = 0; j < a.cols(); ++j)
    for (int64_t i = 0; i < a.rows(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(a(i, j)) - b(i, j)) / (1.0 + std::fabs(static_cast<double>(b(i, j)))));
  return worst;
}

void check_parity(const Problem& pr, const std::string& solver) {
  RidgeOptions o;
  o.alphas = log_grid(1e-3, 10, 6);
  o.alpha_relative = true;
  o.solver = solver;
  o.gram = "float32";  // the Gram through the device GEMM too
  o.keep_oof = true;
  o.tile = 3;          // several tiles, one partial
  const RidgeFit cpu = ridge_cv(pr.X, pr.Y, pr.groups, o);
  o.device = "cuda";
  cuda_empty_cache();
  const RidgeFit gpu = ridge_cv(pr.X, pr.Y, pr.groups, o);
  // The products ran on the device: its allocator holds the freed blocks of the fit's tensors.
  CHECK(cuda_memory_stats().cached_bytes > 0);
  CHECK(gpu.dual == (solver == "dual"));
  CHECK(gpu.dual == cpu.dual);
  REQUIRE(gpu.alphas.size() == cpu.alphas.size());
  for (size_t a = 0; a < cpu.alphas.size(); ++a) CHECK(gpu.alphas[a] == doctest::Approx(cpu.alphas[a]).epsilon(1e-4));
  const double d_r2 = (gpu.cv_r2 - cpu.cv_r2).cwiseAbs().maxCoeff(), d_r = (gpu.cv_r - cpu.cv_r).cwiseAbs().maxCoeff();
  INFO(solver, ": max |dR2| ", d_r2, ", max |dr| ", d_r);
  CHECK(d_r2 <= 1e-4);
  CHECK(d_r <= 1e-4);
  CHECK(gpu.best_alpha == cpu.best_alpha);
  const double d_oof = max_rel(gpu.oof, cpu.oof), d_coef = max_rel(gpu.coef, cpu.coef),
               d_icpt = max_rel(gpu.intercept, cpu.intercept), d_pred = max_rel(gpu.predict(pr.Xnew), cpu.predict(pr.Xnew));
  INFO("relative: held-out ", d_oof, ", coefficients ", d_coef, ", intercepts ", d_icpt, ", new rows ", d_pred);
  CHECK(d_oof <= 1e-3);
  CHECK(d_coef <= 1e-3);
  CHECK(d_icpt <= 1e-3);
  CHECK(d_pred <= 1e-3);
}

}  // namespace

TEST_CASE("cuda parity: ridge_cv with its GEMMs on CUDA equals the CPU fit, primal and dual") {
  ML_REQUIRE_CUDA();
  check_parity(make_problem(60, 12, 7, 4, 1, 0.4), "primal");
  check_parity(make_problem(48, 90, 7, 4, 2, 0.4), "dual");
}

#endif  // MIRRORLAB_CUDA
