// experiments/analysis/encoding_timeseries.h — the encoding study's movie data as time series
// (eickenberg2017-encoding.md §2 "Video", §3; Fig. 4 right) and SimVox's time-series option
// (§6: double-gamma HRF, AR(1) noise) that is its known-answer test.
//
// Features: the frames of each TR averaged (15 Hz frames, 2-s TRs: 30 per TR), then copies of
// the TR features delayed by 2, 3 and 4 TRs (4, 6, 8 s: the haemodynamic lag) side by side, the
// delays never crossing a run boundary (the first d TRs of a run get zeros). Folds: one run
// out; score: Pearson r (RidgeOptions::select = "r").
#pragma once
#include <cstdint>
#include <vector>

#include <Eigen/Dense>

#include "engine/generator.h"

namespace ml::analysis {

// frames (F, p) -> (F / frames_per_tr, p), the mean of each TR's frames. F must be a multiple.
Eigen::MatrixXf tr_average(const Eigen::MatrixXf& frames, int64_t frames_per_tr);

// X (T, p), runs (T) the run label of each TR (TRs of a run contiguous) -> (T, p · delays):
// block j holds X delayed by delays[j] TRs within its run, zeros where that reaches before the run.
Eigen::MatrixXf delayed_copies(const Eigen::MatrixXf& X, const std::vector<int64_t>& runs,
                               const std::vector<int64_t>& delays);

// The canonical double-gamma HRF (SPM's spm_hrf: response Gamma(6, 1) minus 1/6 of an undershoot
// Gamma(16, 1), time in seconds) sampled every `tr` seconds over [0, length_s), scaled to sum 1.
Eigen::VectorXd double_gamma_hrf(double tr, double length_s = 32.0);

// SimVox's time series: each column of `neural` (T, V) convolved within its run with the HRF
// (causal; a run starts from rest), plus AR(1) noise e_t = phi e_{t-1} + sqrt(1 - phi²) η_t
// (stationary, unit variance, restarted each run) scaled to Var = Var(signal) / snr[v]; snr[v] = 0
// gives a pure-noise voxel of unit variance.
Eigen::MatrixXf simulate_bold(const Eigen::MatrixXf& neural, const std::vector<int64_t>& runs, double tr, double phi,
                              const std::vector<double>& snr, Generator& gen);

// The permutation null of a time series (§3 "block permutation for time series"): `n_perm` copies
// of the columns `cols` of Y (T, V) whose TRs are reordered by shuffling blocks of `block` TRs
// within each run (the last block of a run may be shorter). Rows permuted one by one would make
// the null targets white while real noise is autocorrelated (AR(1), the HRF), so the null would be
// too narrow and p too small; whole blocks keep the autocorrelation inside them, and staying within
// the run keeps each TR in its fold. One seeded shuffle per copy, the same for all its columns.
// Returns (T, n_perm * cols.size()), copy-major as permuted_targets (ridge.h). Errors: a block
// < 1 TR, a run with fewer than 2 blocks (nothing to permute), run labels not contiguous.
Eigen::MatrixXf block_permuted_targets(const Eigen::MatrixXf& Y, const std::vector<int64_t>& cols,
                                       const std::vector<int64_t>& runs, int64_t block, int64_t n_perm,
                                       uint64_t seed);

}  // namespace ml::analysis
