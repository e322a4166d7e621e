// The encoding study's movie pipeline (experiments/analysis/encoding_timeseries.h): TR averages,
// delayed copies within runs, the double-gamma HRF, and the known-answer test of §6's time-series
// option — simulated BOLD (HRF-convolved linear responses plus AR(1) noise) is recovered by ridge
// on the 2-, 3-, 4-TR delayed copies with one-run-out folds and Pearson r, and pure-noise voxels
// are not.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "experiments/analysis/encoding_timeseries.h"
#include "experiments/analysis/ridge.h"

using namespace ml;
using namespace ml::analysis;

TEST_CASE("tr_average and delayed_copies against plain loops") {
  Eigen::MatrixXf frames(12, 2);
  for (int i = 0; i < 12; ++i) frames.row(i) << static_cast<float>(i), static_cast<float>(i * i);
  const Eigen::MatrixXf tr = tr_average(frames, 3);
  REQUIRE(tr.rows() == 4);
  for (int t = 0; t < 4; ++t) {
    CHECK(tr(t, 0) == static_cast<float>(3 * t + 1));  // mean of 3t, 3t+1, 3t+2
    const double sq = (9.0 * t * t + (3.0 * t + 1) * (3.0 * t + 1) + (3.0 * t + 2) * (3.0 * t + 2)) / 3.0;
    CHECK(tr(t, 1) == doctest::Approx(sq).epsilon(1e-6));
  }
  CHECK_THROWS_WITH_AS(tr_average(frames, 5), doctest::Contains("not a whole number of TRs"), Error);

  // Two runs of 4 TRs; delays 0 and 2.
  Eigen::MatrixXf X(8, 1);
  for (int t = 0; t < 8; ++t) X(t, 0) = static_cast<float>(t + 1);
  const std::vector<int64_t> runs{0, 0, 0, 0, 1, 1, 1, 1};
  const Eigen::MatrixXf D = delayed_copies(X, runs, {0, 2});
  REQUIRE(D.cols() == 2);
  const std::vector<float> want{0, 0, 1, 2, 0, 0, 5, 6};  // never reaches into the previous run
  for (int t = 0; t < 8; ++t) {
    CHECK(D(t, 0) == X(t, 0));
    CHECK(D(t, 1) == want[static_cast<size_t>(t)]);
  }
  CHECK_THROWS_WITH_AS(delayed_copies(X, {0, 0, 1, 1, 0, 0, 1, 1}, {2}), doctest::Contains("not one contiguous block"),
                       Error);
  CHECK_THROWS_WITH_AS(delayed_copies(X, runs, {-1}), doctest::Contains("negative"), Error);
}

TEST_CASE("double_gamma_hrf: SPM's canonical shape") {
  const Eigen::VectorXd h = double_gamma_hrf(0.1);
  CHECK(h.sum() == doctest::Approx(1.0));
  Eigen::Index peak;
  h.maxCoeff(&peak);
  // Gamma(6, 1) peaks at 5 s; the undershoot moves it slightly earlier (spm_hrf: ~5 s).
  CHECK(static_cast<double>(peak) * 0.1 == doctest::Approx(5.0).epsilon(0.05));
  Eigen::Index trough;
  h.minCoeff(&trough);
  CHECK(h[trough] < 0);
  CHECK(static_cast<double>(trough) * 0.1 > 12.0);  // the undershoot, ~15 s
  CHECK(static_cast<double>(trough) * 0.1 < 18.0);
}

TEST_CASE("SimVox time series: ridge on delayed copies recovers HRF-convolved voxels, not noise voxels") {
  // 6 runs of 150 TRs (TR 2 s), 10 white features; 20 voxels: 12 linear readouts of the
  // features (SNR 1, AR(1) noise phi 0.5), 8 pure noise. The HRF peaks at ~5 s = 2.5 TRs, so
  // delays 2-4 TRs carry the signal and the one-run-out Pearson r of a signal voxel approaches
  // sqrt(SNR / (1 + SNR)) ~ 0.7; a noise voxel's r is ~0 ± 1/sqrt(150) per fold, averaged
  // over 6 folds: |mean| < 0.1 with room.
  const int64_t runs_n = 6, per = 150, T = runs_n * per, p = 10, V = 20;
  Generator gen(3);
  Eigen::MatrixXf X(T, p);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < p; ++j) X(t, j) = static_cast<float>(gen.next_uniform() * 2 - 1);
  std::vector<int64_t> runs(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) runs[static_cast<size_t>(t)] = t / per;
  Eigen::MatrixXf W(p, V);
  for (int64_t j = 0; j < p; ++j)
    for (int64_t v = 0; v < V; ++v) W(j, v) = static_cast<float>(gen.next_uniform() * 2 - 1);
  std::vector<double> snr(static_cast<size_t>(V), 1.0);
  for (int64_t v = 12; v < V; ++v) snr[static_cast<size_t>(v)] = 0.0;
  const Eigen::MatrixXf Y = simulate_bold(X * W, runs, 2.0, 0.5, snr, gen);

  RidgeOptions o;
  o.select = "r";
  for (int k = -3; k <= 4; ++k) o.alphas.push_back(std::pow(10.0, k));
  const RidgeFit fit = ridge_cv(delayed_copies(X, runs, {2, 3, 4}), Y, runs, o);
  double signal_r = 0, noise_r = 0;
  for (int64_t v = 0; v < V; ++v) (v < 12 ? signal_r : noise_r) += fit.r[v];
  signal_r /= 12;
  noise_r /= 8;
  MESSAGE("mean held-out r: signal voxels ", signal_r, ", noise voxels ", noise_r);  // measured 0.669, -0.023
  CHECK(signal_r > 0.5);
  CHECK(std::fabs(noise_r) < 0.1);
  // Without the haemodynamic delays (delay 0 only) the same voxels are not explained.
  const RidgeFit fit0 = ridge_cv(delayed_copies(X, runs, {0}), Y, runs, o);
  double r0 = 0;
  for (int64_t v = 0; v < 12; ++v) r0 += fit0.r[v];
  CHECK(r0 / 12 < 0.3);
  CHECK_THROWS_WITH_AS(simulate_bold(X * W, runs, 2.0, 1.0, snr, gen), doctest::Contains("phi"), Error);
}

TEST_CASE("block_permuted_targets shuffles whole blocks within runs") {
  // Two runs of 7 TRs, blocks of 3 (3, 3, 1 per run): every copy keeps each run's TRs in the run,
  // each block's TRs consecutive, and is a permutation of the rows.
  const int64_t T = 14;
  Eigen::MatrixXf Y(T, 2);
  for (int64_t t = 0; t < T; ++t) Y.row(t) << static_cast<float>(t), static_cast<float>(100 + t);
  std::vector<int64_t> runs(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) runs[static_cast<size_t>(t)] = t / 7;
  const Eigen::MatrixXf P = block_permuted_targets(Y, {1, 0}, runs, 3, 20, 5);
  REQUIRE(P.cols() == 40);
  bool moved = false;
  for (int64_t k = 0; k < 20; ++k) {
    std::vector<int64_t> at(static_cast<size_t>(T), -1);  // output TR of each source row
    for (int64_t t = 0; t < T; ++t) {
      const auto src = static_cast<int64_t>(P(t, 2 * k + 1));
      CHECK(P(t, 2 * k) == static_cast<float>(100 + src));  // the same shuffle for both columns
      CHECK(src / 7 == t / 7);                              // stays in its run
      CHECK(at[static_cast<size_t>(src)] == -1);            // each row once
      at[static_cast<size_t>(src)] = t;
      moved = moved || src != t;
    }
    // A source block (starting at 0, 3, 6 of its run) lands as one consecutive stretch.
    for (int64_t s = 0; s < T; ++s)
      if ((s % 7) % 3 != 0) CHECK(at[static_cast<size_t>(s)] == at[static_cast<size_t>(s - 1)] + 1);
  }
  CHECK(moved);
  CHECK_THROWS_WITH_AS(block_permuted_targets(Y, {0}, runs, 4, 1, 0), doctest::Contains("fewer than 2 blocks"), Error);
  CHECK_THROWS_WITH_AS(block_permuted_targets(Y, {0}, runs, 0, 1, 0), doctest::Contains("block length"), Error);
}

TEST_CASE("block permutation keeps the time-series null calibrated where row permutation is not") {
  // Null voxels (AR(1) noise, phi 0.9, no signal) scored by one-run-out ridge on delayed copies of
  // smooth (AR(1), phi 0.9) features; each voxel's p-value against a pooled null from 20 other
  // noise voxels x 50 permutations. Block permutation (blocks of 25 TRs, ~10x the noise's
  // correlation length 1/(1 - phi)) keeps the null's width, so P(p <= 0.05) must be 0.05 within
  // binomial error: sd = sqrt(0.05 * 0.95 / 400) = 0.011, accepted within 3 sd (0.017 .. 0.083).
  // Row-by-row permutation makes the null targets white: its null r is ~3x too narrow for
  // autocorrelated noise and features (the variance of r grows by (1 + phi²)/(1 - phi²) ~ 10),
  // so its rejection rate must exceed 0.083 (measured values in the MESSAGE).
  const int64_t runs_n = 4, per = 200, T = runs_n * per, p = 5, V = 400, Vn = 20;
  Generator gen(11);
  auto ar1 = [&](int64_t cols, double phi) {
    Eigen::MatrixXf m(T, cols);
    for (int64_t j = 0; j < cols; ++j) {
      double e = 0;
      for (int64_t t = 0; t < T; ++t) {
        const double u1 = 1.0 - gen.next_uniform(), u2 = gen.next_uniform();
        const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
        e = t % per == 0 ? z : phi * e + std::sqrt(1 - phi * phi) * z;
        m(t, j) = static_cast<float>(e);
      }
    }
    return m;
  };
  std::vector<int64_t> runs(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) runs[static_cast<size_t>(t)] = t / per;
  const Eigen::MatrixXf X = delayed_copies(ar1(p, 0.9), runs, {2, 3, 4});
  const Eigen::MatrixXf Y = ar1(V + Vn, 0.9);
  std::vector<int64_t> null_cols;
  for (int64_t j = V; j < V + Vn; ++j) null_cols.push_back(j);
  RidgeOptions o;
  o.select = "r";
  o.alphas = log_grid(1e-2, 1e5, 8);
  auto rejection_rate = [&](const Eigen::MatrixXf& Yp) {
    Eigen::MatrixXf all(T, V + Yp.cols());
    all << Y.leftCols(V), Yp;
    const RidgeFit fit = ridge_cv(X, all, runs, o);
    const std::vector<double> obs(fit.r.data(), fit.r.data() + V), null(fit.r.data() + V, fit.r.data() + all.cols());
    const auto pv = permutation_pvalues(obs, null);
    return static_cast<double>(std::count_if(pv.begin(), pv.end(), [](double q) { return q <= 0.05; })) / V;
  };
  const double block = rejection_rate(block_permuted_targets(Y, null_cols, runs, 25, 50, 7));
  const double rows = rejection_rate(permuted_targets(Y, null_cols, 50, 7));
  MESSAGE("P(p <= 0.05) on null voxels: block permutation ", block, ", row permutation ", rows);
  CHECK(block >= 0.017);
  CHECK(block <= 0.083);
  CHECK(rows > 0.083);
}
