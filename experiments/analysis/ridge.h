// experiments/analysis/ridge.h — ridge regression for many targets at once, cross-validated over
// group folds, with a penalty per target and the bagged (fold-mean) predictor
// (../shared/science/eickenberg2017-encoding.md §3 and §7). Shared by the encoding study and,
// later, the equivariance maps (DESIGN.md: ridge and Gram solvers live once here).
//
// How it is fast (§7). Per fold, one orthogonal reduction of the centred Gram matrix is shared by
// every target and every penalty: the kernel K = X Xᵀ (dual, features >= training rows) or the
// covariance XᵀX (primal, features < training rows), reduced in float64 to tridiagonal form
// G = Q T Qᵀ (Householder; the first stage of LAPACK's dsyevd). Then (G + αI)⁻¹ = Q (T + αI)⁻¹ Qᵀ,
// and T + αI is a symmetric positive definite tridiagonal matrix: a solve costs ~5 flops per row
// and target, so a penalty per target (and every penalty of the grid) is one projection W = QᵀY
// (float32 GEMM), one O(n) solve per column (float64) and one GEMM for the held-out predictions.
// We stop at the tridiagonal form instead of finishing the eigendecomposition because Eigen has
// no divide-and-conquer eigensolver: its QR iteration with vectors costs 3-4x the reduction itself
// (measured 2.3 s vs 0.65 s at n = 1400), and the tridiagonal solve gives the same numbers.
// Held-out predictions are scored tile by tile as they come out of the GEMM, so the α x n_test x t
// predictions are never stored.
//
// On CUDA (device = "cuda"): the float32 Gram and every target-dependent product (W = QᵀY, the
// held-out predictions B S for each penalty, the coefficients Q S) go through the engine's GEMM
// (cuBLAS); the float64 Gram, the fold reductions and the O(n) tridiagonal solves stay on the
// host, and the tiles run one after another. Per tile that is an upload of the targets and of S
// per penalty and a download of each product: a correct path, not yet the fast one (the solves
// and the scoring on the device would remove the transfers). tests/cuda/test_ridge_parity.cpp
// holds it to the CPU path.
//
// Model of fold k (training rows tr, mean features μ_k, mean targets ȳ_k):
//   ŷ_k(x) = (x − μ_k)ᵀ w_k + ȳ_k,  w_k = argmin ‖X_c w − Y_c‖² + α‖w‖²  (X_c, Y_c centred on tr)
// Bagged predictor (no refit): ŷ(x) = mean_k ŷ_k(x) at each target's α*. Dual: kept as one (n, t)
// array of fold-mean dual coefficients over all training rows and a (t) intercept, so a new image
// costs one kernel row and one GEMM; the (p, t) primal weights are never formed. Primal (p < n):
// the fold-mean weights (p, t), smaller than the dual array.
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/analysis/fdr.h"

namespace ml::analysis {

struct RidgeOptions {
  std::vector<double> alphas;     // penalty grid, every value > 0 (sorted ascending internally)
  bool alpha_relative = false;    // alphas are multiples of λ_max of the centred Gram of all rows
  std::string solver = "auto";    // auto (primal when features < training rows) | primal | dual
  std::string select = "r2";      // what picks α*: "r2" (images) or "r" (Pearson, time series)
  std::string gram = "auto";      // Gram precision: float32 GEMM | float64 | auto (float64 when cheap)
  bool keep_oof = false;          // also return the held-out predictions at α* (one more GEMM per fold)
  std::string device = "cpu";     // cpu | cuda: where the float32 GEMMs run (see "On CUDA" above)
  int64_t tile = 256;             // targets per thread task
  double memory_limit_bytes = 0;  // 0: the machine's physical memory
  bool verbose = false;           // print the primal/dual choice and the memory estimate
  std::string who = "ridge";      // prefix of messages (the layer's name)
};

struct RidgeFit {
  std::vector<double> alphas;      // absolute penalties, ascending
  bool dual = false;
  int64_t n_folds = 0, n_features = 0;
  Eigen::MatrixXf cv_r2, cv_r;     // (n_alphas, t): held-out R² and Pearson r, mean over folds
  std::vector<int> best_alpha;     // (t): index into alphas of α*
  Eigen::VectorXf r2, r;           // (t): fold-mean held-out score at α*
  Eigen::MatrixXf oof;             // (n, t) held-out predictions at α* (keep_oof)
  // The bagged predictor.
  Eigen::RowVectorXf feature_mean; // (p): m, the centre of the stored coordinates
  Eigen::MatrixXf train_features;  // dual: (n, p) X − m; empty when primal
  Eigen::MatrixXf coef;            // dual: (n, t) fold-mean dual coefficients; primal: (p, t) mean weights
  Eigen::RowVectorXf intercept;    // (t)
  double seconds = 0;
  // ŷ for new rows (m, p) -> (m, t).
  Eigen::MatrixXf predict(const Eigen::MatrixXf& X) const;
};

// Folds: leave one group out; fold k's test rows are those of the k-th smallest group label.
struct Folds {
  std::vector<std::vector<int64_t>> train, test;
  std::vector<int64_t> labels;
};
// Errors: fewer than 2 groups, a fold without training rows, a size that differs from n.
Folds group_folds(const std::vector<int64_t>& groups, int64_t n, const std::string& who);

// Cross-validated ridge of every column of Y (n, t) on X (n, p), groups (n) the fold labels.
// Errors (before any work): row counts differ, non-finite values, a penalty <= 0 or an empty grid,
// a fold without training rows, a memory estimate above the limit.
RidgeFit ridge_cv(const Eigen::MatrixXf& X, const Eigen::MatrixXf& Y, const std::vector<int64_t>& groups,
                  const RidgeOptions& o);

// Bytes ridge_cv will hold for this problem (features, Gram, per-fold reductions, targets,
// coefficients and the per-thread buffers).
double ridge_memory_bytes(int64_t n, int64_t p, int64_t t, int64_t n_alphas, int64_t n_folds, bool dual,
                          int64_t tile, int threads);

// Responses with NaN/inf voxels removed: the kept columns' indices in `kept`, how many were dropped
// in the return value (never propagated into a fit).
int64_t drop_nonfinite_columns(Eigen::MatrixXf& Y, std::vector<int64_t>& kept);

// `n_perm` copies of the columns `cols` of Y with their rows permuted (one seeded permutation per
// copy, the same for all columns of that copy): the permutation null as extra target columns.
// Returns (n, n_perm * cols.size()), copy-major.
Eigen::MatrixXf permuted_targets(const Eigen::MatrixXf& Y, const std::vector<int64_t>& cols, int64_t n_perm,
                                 uint64_t seed);

// p = (1 + #{null >= observed}) / (1 + N) for each observed value against one pooled null.
std::vector<double> permutation_pvalues(const std::vector<double>& observed, std::vector<double> null);

// Benjamini–Hochberg FDR: experiments/analysis/fdr.h (shared with the mirror study's Fig. 2—S2B).

// Geometric grid of `count` values from lo to hi (both included).
std::vector<double> log_grid(double lo, double hi, int count);

}  // namespace ml::analysis
