// tests/test_ridge.cpp — the many-target ridge solver (experiments/analysis/ridge.h) against a
// plain float64 normal-equations solve, primal vs dual, the bagged predictor, penalty choice vs
// SNR, permutation p-values with Benjamini–Hochberg on null voxels, and its bad-input errors.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/device.h"
#include "experiments/analysis/ridge.h"
#include "tests/ridge_problem.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;
using ml::testing::make_problem;
using ml::testing::Problem;

namespace {

// The reference: per fold, centre on the training rows, solve (XᵀX + αI) w = XᵀY in float64 by
// LDLT on the normal equations, predict the held-out rows and new rows.
struct Direct {
  Eigen::MatrixXd r2, r;                  // (alphas, t) fold means
  std::vector<Eigen::MatrixXd> pred_new;  // per alpha: mean over folds of the fold models on Xnew
};

Direct direct_solve(const Problem& pr, const std::vector<double>& alphas) {
  const int64_t n = pr.X.rows(), t = pr.Y.cols();
  const Folds f = group_folds(pr.groups, n, "test");
  const int64_t K = static_cast<int64_t>(f.train.size()), A = static_cast<int64_t>(alphas.size());
  Direct d;
  d.r2 = Eigen::MatrixXd::Zero(A, t);
  d.r = Eigen::MatrixXd::Zero(A, t);
  d.pred_new.assign(static_cast<size_t>(A), Eigen::MatrixXd::Zero(pr.Xnew.rows(), t));
  const Eigen::MatrixXd X = pr.X.cast<double>(), Y = pr.Y.cast<double>(), Xn = pr.Xnew.cast<double>();
  for (int64_t k = 0; k < K; ++k) {
    const auto& tr = f.train[static_cast<size_t>(k)];
    const auto& te = f.test[static_cast<size_t>(k)];
    const Eigen::RowVectorXd mx = X(tr, Eigen::all).colwise().mean();
    const Eigen::RowVectorXd my = Y(tr, Eigen::all).colwise().mean();
    const Eigen::MatrixXd Xc = X(tr, Eigen::all).rowwise() - mx;
    const Eigen::MatrixXd Yc = Y(tr, Eigen::all).rowwise() - my;
    const Eigen::MatrixXd Xte = X(te, Eigen::all).rowwise() - mx;
    const Eigen::MatrixXd Yte = Y(te, Eigen::all);
    for (int64_t a = 0; a < A; ++a) {
      Eigen::MatrixXd G = Xc.transpose() * Xc;
      G.diagonal().array() += alphas[static_cast<size_t>(a)];
      const Eigen::MatrixXd w = G.ldlt().solve(Xc.transpose() * Yc);
      const Eigen::MatrixXd pred = (Xte * w).rowwise() + my;
      d.pred_new[static_cast<size_t>(a)] += ((Xn.rowwise() - mx) * w).rowwise() + my;
      for (int64_t j = 0; j < t; ++j) {
        const Eigen::VectorXd y = Yte.col(j), yh = pred.col(j);
        const double stot = (y.array() - y.mean()).square().sum();
        d.r2(a, j) += 1.0 - (y - yh).squaredNorm() / stot;
        const Eigen::ArrayXd yc = y.array() - y.mean(), pc = yh.array() - yh.mean();
        d.r(a, j) += (yc * pc).sum() / std::sqrt(yc.square().sum() * pc.square().sum());
      }
    }
  }
  d.r2 /= static_cast<double>(K);
  d.r /= static_cast<double>(K);
  for (auto& m : d.pred_new) m /= static_cast<double>(K);
  return d;
}

// Absolute penalties spanning the Gram's spectrum from 1e-3 λ_max to 10 λ_max.
std::vector<double> grid_for(const Problem& pr) {
  const Eigen::MatrixXd Xc = pr.X.cast<double>().rowwise() - pr.X.cast<double>().colwise().mean();
  const double lmax = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(Xc.transpose() * Xc).eigenvalues().maxCoeff();
  return log_grid(1e-3 * lmax, 10 * lmax, 6);
}

void check_against_direct(const Problem& pr, const std::string& solver, const std::string& gram) {
  const auto alphas = grid_for(pr);
  RidgeOptions o;
  o.alphas = alphas;
  o.solver = solver;
  o.gram = gram;
  o.keep_oof = true;
  o.tile = 3;  // several tiles, one partial, so the tiling itself is exercised
  const RidgeFit fit = ridge_cv(pr.X, pr.Y, pr.groups, o);
  CHECK(fit.dual == (solver == "dual"));
  const Direct d = direct_solve(pr, alphas);
  // Tolerance: the solver multiplies in float32 (projections, held-out GEMM), so each prediction
  // carries a relative error ~ sqrt(r) * 6e-8 * cond(T + αI) <= ~1e-6 * 1e3 at the smallest α here;
  // on R² (a ratio of sums of squares of O(1) values) that is <~ 1e-4 absolute. A wrong centring,
  // fold or penalty moves R² by > 1e-2.
  double worst_r2 = 0, worst_r = 0;
  for (int64_t a = 0; a < fit.cv_r2.rows(); ++a)
    for (int64_t j = 0; j < fit.cv_r2.cols(); ++j) {
      worst_r2 = std::max(worst_r2, std::fabs(fit.cv_r2(a, j) - d.r2(a, j)));
      worst_r = std::max(worst_r, std::fabs(fit.cv_r(a, j) - d.r(a, j)));
    }
  CHECK(worst_r2 <= 1e-4);
  CHECK(worst_r <= 1e-4);
  // α* = the argmax of the direct fold-mean R², and the bagged predictor = the mean of the
  // direct fold models at α* (same float32 tolerance on predictions of O(10) values).
  const Eigen::MatrixXf pred = fit.predict(pr.Xnew);
  for (int64_t j = 0; j < pr.Y.cols(); ++j) {
    Eigen::Index best;
    d.r2.col(j).maxCoeff(&best);
    CHECK(fit.best_alpha[static_cast<size_t>(j)] == best);
    const Eigen::VectorXd ref = d.pred_new[static_cast<size_t>(best)].col(j);
    for (int64_t i = 0; i < ref.size(); ++i) CHECK(std::fabs(pred(i, j) - ref[i]) <= 1e-3 * (1 + std::fabs(ref[i])));
  }
}

}  // namespace

TEST_CASE("ridge_cv primal equals a direct float64 solve for every penalty and target") {
  const Problem pr = make_problem(60, 12, 7, 4, 1);
  check_against_direct(pr, "primal", "float64");
  check_against_direct(pr, "primal", "float32");
}

TEST_CASE("ridge_cv dual equals a direct float64 solve for every penalty and target") {
  const Problem pr = make_problem(48, 90, 7, 4, 2);
  check_against_direct(pr, "dual", "float64");
  check_against_direct(pr, "dual", "float32");
}

TEST_CASE("ridge_cv primal and dual give the same scores and predictions") {
  const Problem pr = make_problem(64, 20, 9, 5, 3);
  RidgeOptions o;
  o.alphas = {1e-3, 1e-2, 1e-1, 1, 10};
  o.alpha_relative = true;
  o.keep_oof = true;
  o.solver = "primal";
  const RidgeFit a = ridge_cv(pr.X, pr.Y, pr.groups, o);
  o.solver = "dual";
  const RidgeFit b = ridge_cv(pr.X, pr.Y, pr.groups, o);
  CHECK(!a.dual);
  CHECK(b.dual);
  // Both are float32 products of float64 reductions of the same problem: 1e-4 as above.
  CHECK((a.cv_r2 - b.cv_r2).cwiseAbs().maxCoeff() <= 1e-4);
  CHECK(a.best_alpha == b.best_alpha);
  CHECK((a.oof - b.oof).cwiseAbs().maxCoeff() <= 1e-3);
  CHECK((a.predict(pr.Xnew) - b.predict(pr.Xnew)).cwiseAbs().maxCoeff() <= 1e-3);
}

TEST_CASE("ridge_cv bagged predictor equals the mean of the fold predictions with a penalty per target") {
  // Strongly different noise per target, so the targets pick different penalties and the
  // per-column solve is what is tested.
  const Problem pr = make_problem(50, 70, 12, 5, 4, 0.3);
  RidgeOptions o;
  o.alphas = log_grid(1e-4, 1e2, 8);
  o.alpha_relative = true;
  const RidgeFit fit = ridge_cv(pr.X, pr.Y, pr.groups, o);
  std::vector<int> distinct = fit.best_alpha;
  std::sort(distinct.begin(), distinct.end());
  CHECK(std::unique(distinct.begin(), distinct.end()) - distinct.begin() >= 3);
  const Direct d = direct_solve(pr, fit.alphas);
  const Eigen::MatrixXf pred = fit.predict(pr.Xnew);
  for (int64_t j = 0; j < pr.Y.cols(); ++j) {
    const Eigen::VectorXd ref = d.pred_new[static_cast<size_t>(fit.best_alpha[static_cast<size_t>(j)])].col(j);
    for (int64_t i = 0; i < ref.size(); ++i) CHECK(std::fabs(pred(i, j) - ref[i]) <= 1e-3 * (1 + std::fabs(ref[i])));
  }
}

TEST_CASE("ridge_cv chosen penalties fall with SNR and null targets take the largest") {
  const int64_t n = 200, p = 40, per = 30;
  const std::vector<double> snr = {0.0, 0.1, 1.0, 10.0};
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd(0.0, 1.0);
  Eigen::MatrixXf X(n, p), Y(n, per * static_cast<int64_t>(snr.size()));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < p; ++j) X(i, j) = static_cast<float>(nd(rng));
  for (size_t b = 0; b < snr.size(); ++b)
    for (int64_t v = 0; v < per; ++v) {
      Eigen::VectorXd w(p);
      for (int64_t j = 0; j < p; ++j) w[j] = nd(rng);
      Eigen::VectorXd s = X.cast<double>() * w;
      s /= std::sqrt((s.array() - s.mean()).square().mean());
      for (int64_t i = 0; i < n; ++i)
        Y(i, static_cast<int64_t>(b) * per + v) = static_cast<float>(std::sqrt(snr[b]) * s[i] + nd(rng));
    }
  std::vector<int64_t> groups(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) groups[static_cast<size_t>(i)] = i / 40;
  RidgeOptions o;
  o.alphas = log_grid(1e-5, 1e2, 15);
  o.alpha_relative = true;
  const RidgeFit fit = ridge_cv(X, Y, groups, o);
  std::vector<double> med;
  for (size_t b = 0; b < snr.size(); ++b) {
    std::vector<int> a(fit.best_alpha.begin() + static_cast<int64_t>(b) * per,
                       fit.best_alpha.begin() + static_cast<int64_t>(b + 1) * per);
    std::nth_element(a.begin(), a.begin() + per / 2, a.end());
    med.push_back(a[static_cast<size_t>(per / 2)]);
  }
  CHECK(med[0] == 14);  // null targets: the largest penalty of the grid
  for (size_t b = 1; b < med.size(); ++b) CHECK(med[b] < med[b - 1]);
}

TEST_CASE("permutation p-values with Benjamini-Hochberg hold the FDR on null voxels over 40 seeds") {
  // Per seed: 30 signal and 30 null voxels; the null distribution is the score (R² at α*) of
  // 4 voxels x 500 row permutations, pooled (§3); BH at q = 0.05 and 0.01. 2000 null values make
  // p as small as 5e-4, below the 0.01 * k / 60 that BH at 0.01 needs (160 would not).
  const int64_t n = 80, p = 10, n_sig = 30, n_null = 30, n_perm = 500, n_seeds = 40;
  double fdp_sum05 = 0, fdp_sum01 = 0, power = 0, power01 = 0;
  std::vector<double> null_p;
  for (uint64_t seed = 0; seed < static_cast<uint64_t>(n_seeds); ++seed) {
    std::mt19937_64 rng(100 + seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    Eigen::MatrixXf X(n, p), Y(n, n_sig + n_null);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < p; ++j) X(i, j) = static_cast<float>(nd(rng));
    for (int64_t v = 0; v < n_sig + n_null; ++v) {
      Eigen::VectorXd w(p);
      for (int64_t j = 0; j < p; ++j) w[j] = v < n_sig ? 0.5 * nd(rng) / std::sqrt(p) * 2 : 0.0;
      const Eigen::VectorXd s = X.cast<double>() * w;
      for (int64_t i = 0; i < n; ++i) Y(i, v) = static_cast<float>(s[i] + nd(rng));
    }
    const Eigen::MatrixXf Yp = permuted_targets(Y, {0, 1, n_sig, n_sig + 1}, n_perm, seed);
    Eigen::MatrixXf all(n, Y.cols() + Yp.cols());
    all << Y, Yp;
    std::vector<int64_t> groups(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) groups[static_cast<size_t>(i)] = i % 4;
    RidgeOptions o;
    o.alphas = log_grid(1e-3, 1e2, 6);
    o.alpha_relative = true;
    const RidgeFit fit = ridge_cv(X, all, groups, o);
    std::vector<double> obs, null;
    for (int64_t v = 0; v < Y.cols(); ++v) obs.push_back(fit.r2[v]);
    for (int64_t v = Y.cols(); v < all.cols(); ++v) null.push_back(fit.r2[v]);
    const auto pv = permutation_pvalues(obs, null);
    for (int64_t v = n_sig; v < n_sig + n_null; ++v) null_p.push_back(pv[static_cast<size_t>(v)]);
    for (double q : {0.05, 0.01}) {
      const auto rej = benjamini_hochberg(pv, q).rejected;
      int64_t r = 0, fr = 0, tr = 0;
      for (int64_t v = 0; v < Y.cols(); ++v)
        if (rej[static_cast<size_t>(v)]) {
          ++r;
          if (v >= n_sig) ++fr; else ++tr;
        }
      (q == 0.05 ? fdp_sum05 : fdp_sum01) += r ? static_cast<double>(fr) / r : 0.0;
      (q == 0.05 ? power : power01) += static_cast<double>(tr) / n_sig;
    }
  }
  // BH controls E[FDP] <= q (here <= q * n_null / m = q / 2). Mean of 40 FDPs: allow q.
  MESSAGE("mean FDP at 0.05: ", fdp_sum05 / n_seeds, ", at 0.01: ", fdp_sum01 / n_seeds, ", power at 0.05: ", power / n_seeds, ", at 0.01: ", power01 / n_seeds);
  CHECK(fdp_sum05 / n_seeds <= 0.05);
  CHECK(fdp_sum01 / n_seeds <= 0.01);
  CHECK(power / n_seeds >= 0.5);  // the test has teeth: signal voxels are found at both levels
  CHECK(power01 / n_seeds >= 0.3);
  // Null p-values are uniform: mean ~ 0.5 (1200 values, sd of the mean ~ 0.008; allow 6 sd), and
  // the share below 0.1 is ~0.1.
  double mean = 0, below = 0;
  for (double v : null_p) {
    mean += v;
    below += v <= 0.1;
  }
  mean /= static_cast<double>(null_p.size());
  below /= static_cast<double>(null_p.size());
  CHECK(std::fabs(mean - 0.5) <= 0.05);
  CHECK(below <= 0.15);
}

TEST_CASE("benjamini_hochberg and permutation_pvalues on hand-worked values") {
  // m = 5, q = 0.05: thresholds 0.01 0.02 0.03 0.04 0.05; sorted p 0.001 0.015 0.035 0.038 0.9:
  // the largest k with p_(k) <= k q / m is k = 4 (0.038 <= 0.04) => reject the first four.
  const auto rej = benjamini_hochberg({0.9, 0.035, 0.001, 0.038, 0.015}, 0.05).rejected;
  CHECK(rej == std::vector<bool>{false, true, true, true, true});
  CHECK(benjamini_hochberg({0.2, 0.3}, 0.05).rejected == std::vector<bool>{false, false});
  const auto pv = permutation_pvalues({0.5, 2.0, -1.0}, {0.1, 0.5, 0.7, 1.0});
  CHECK(pv[0] == doctest::Approx(4.0 / 5));  // 0.5, 0.7, 1.0 >= 0.5
  CHECK(pv[1] == doctest::Approx(1.0 / 5));
  CHECK(pv[2] == doctest::Approx(5.0 / 5));
}

TEST_CASE("ridge_cv rejects bad input with named errors before any work") {
  const Problem pr = make_problem(40, 8, 3, 4, 6);
  RidgeOptions o;
  o.alphas = {1.0, 10.0};
  o.who = "ridge conv1";
  Eigen::MatrixXf Yshort = pr.Y.topRows(39);
  CHECK_THROWS_WITH_AS(ridge_cv(pr.X, Yshort, pr.groups, o), doctest::Contains("40 rows but responses have 39"),
                       ml::Error);
  Eigen::MatrixXf Ynan = pr.Y;
  Ynan(3, 1) = NAN;
  CHECK_THROWS_WITH_AS(ridge_cv(pr.X, Ynan, pr.groups, o), doctest::Contains("NaN"), ml::Error);
  std::vector<int64_t> kept;
  CHECK(drop_nonfinite_columns(Ynan, kept) == 1);
  CHECK(kept == std::vector<int64_t>{0, 2});
  CHECK(Ynan.cols() == 2);
  RidgeOptions bad = o;
  bad.alphas = {1.0, 0.0};
  CHECK_THROWS_WITH_AS(ridge_cv(pr.X, pr.Y, pr.groups, bad), doctest::Contains("penalty 0 is not > 0"), ml::Error);
  bad.alphas = {};
  CHECK_THROWS_WITH_AS(ridge_cv(pr.X, pr.Y, pr.groups, bad), doctest::Contains("empty penalty grid"), ml::Error);
  const std::vector<int64_t> one(40, 3);
  CHECK_THROWS_WITH_AS(ridge_cv(pr.X, pr.Y, one, o), doctest::Contains("holds out group 3 has 0 training rows"),
                       ml::Error);
  bad = o;
  bad.memory_limit_bytes = 1000;
  CHECK_THROWS_WITH_AS(ridge_cv(pr.X, pr.Y, pr.groups, bad), doctest::Contains("ridge conv1: memory estimate"),
                       ml::Error);
  bad = o;
  bad.device = "tpu";
  CHECK_THROWS_WITH_AS(ridge_cv(pr.X, pr.Y, pr.groups, bad), doctest::Contains("device must be cpu or cuda, got 'tpu'"),
                       ml::Error);
  if (!cuda_available()) {  // the CUDA path where there is none: the reason, named
    bad.device = "cuda";
    CHECK_THROWS_WITH_AS(ridge_cv(pr.X, pr.Y, pr.groups, bad), doctest::Contains("ridge conv1: device cuda: "), ml::Error);
  }
}
