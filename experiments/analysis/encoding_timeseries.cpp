#include "experiments/analysis/encoding_timeseries.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engine/error.h"

namespace ml::analysis {

namespace {

// [start, end) of each run, checking that every run is one contiguous block.
std::vector<std::pair<int64_t, int64_t>> run_blocks(const std::vector<int64_t>& runs, int64_t T, const char* who) {
  ML_CHECK(static_cast<int64_t>(runs.size()) == T, who, ": ", runs.size(), " run labels for ", T, " TRs");
  std::vector<std::pair<int64_t, int64_t>> blocks;
  std::vector<int64_t> seen;
  for (int64_t t = 0; t < T; ++t) {
    if (t == 0 || runs[static_cast<size_t>(t)] != runs[static_cast<size_t>(t - 1)]) {
      for (int64_t r : seen)
        ML_CHECK(r != runs[static_cast<size_t>(t)], who, ": run ", r, " is not one contiguous block of TRs (again at TR ",
                 t, ")");
      seen.push_back(runs[static_cast<size_t>(t)]);
      blocks.emplace_back(t, t);
    }
    blocks.back().second = t + 1;
  }
  return blocks;
}

// Standard normal from the generator (Box–Muller on two 53-bit uniforms).
double normal(Generator& g) {
  const double u1 = 1.0 - g.next_uniform(), u2 = g.next_uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

Eigen::MatrixXf tr_average(const Eigen::MatrixXf& frames, int64_t frames_per_tr) {
  ML_CHECK(frames_per_tr >= 1, "tr_average: frames per TR must be >= 1, got ", frames_per_tr);
  ML_CHECK(frames.rows() % frames_per_tr == 0, "tr_average: ", frames.rows(), " frames are not a whole number of TRs of ",
           frames_per_tr, " frames");
  const int64_t T = frames.rows() / frames_per_tr;
  Eigen::MatrixXf out(T, frames.cols());
  for (int64_t t = 0; t < T; ++t)
    out.row(t) = (frames.middleRows(t * frames_per_tr, frames_per_tr).cast<double>().colwise().sum() /
                  static_cast<double>(frames_per_tr))
                     .cast<float>();
  return out;
}

Eigen::MatrixXf delayed_copies(const Eigen::MatrixXf& X, const std::vector<int64_t>& runs,
                               const std::vector<int64_t>& delays) {
  ML_CHECK(!delays.empty(), "delayed_copies: no delays");
  for (int64_t d : delays) ML_CHECK(d >= 0, "delayed_copies: delay ", d, " TRs is negative");
  const int64_t T = X.rows(), p = X.cols();
  const auto blocks = run_blocks(runs, T, "delayed_copies");
  Eigen::MatrixXf out = Eigen::MatrixXf::Zero(T, p * static_cast<int64_t>(delays.size()));
  for (size_t j = 0; j < delays.size(); ++j)
    for (const auto& [start, end] : blocks)
      for (int64_t t = start + delays[j]; t < end; ++t)
        out.block(t, static_cast<int64_t>(j) * p, 1, p) = X.row(t - delays[j]);
  return out;
}

Eigen::VectorXd double_gamma_hrf(double tr, double length_s) {
  ML_CHECK(tr > 0 && length_s > tr, "double_gamma_hrf: TR ", tr, " s and length ", length_s, " s must be positive, length > TR");
  const auto n = static_cast<int64_t>(std::ceil(length_s / tr));
  Eigen::VectorXd h(n);
  // Gamma(k, 1) density t^(k-1) e^(-t) / (k-1)!.
  auto gamma_pdf = [](double t, double k) { return t <= 0 ? 0.0 : std::exp((k - 1) * std::log(t) - t - std::lgamma(k)); };
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) * tr;
    h[i] = gamma_pdf(t, 6.0) - gamma_pdf(t, 16.0) / 6.0;
  }
  return h / h.sum();
}

Eigen::MatrixXf simulate_bold(const Eigen::MatrixXf& neural, const std::vector<int64_t>& runs, double tr, double phi,
                              const std::vector<double>& snr, Generator& gen) {
  const int64_t T = neural.rows(), V = neural.cols();
  ML_CHECK(phi >= 0 && phi < 1, "simulate_bold: AR(1) coefficient phi must be in [0, 1), got ", phi);
  ML_CHECK(static_cast<int64_t>(snr.size()) == V, "simulate_bold: ", snr.size(), " SNRs for ", V, " voxels");
  for (double s : snr) ML_CHECK(s >= 0 && std::isfinite(s), "simulate_bold: SNR ", s, " must be >= 0");
  const auto blocks = run_blocks(runs, T, "simulate_bold");
  const Eigen::VectorXd h = double_gamma_hrf(tr);
  Eigen::MatrixXd signal = Eigen::MatrixXd::Zero(T, V);
  for (const auto& [start, end] : blocks)
    for (int64_t t = start; t < end; ++t)
      for (int64_t k = 0; k < h.size() && t - k >= start; ++k)
        signal.row(t) += h[k] * neural.row(t - k).cast<double>();
  Eigen::MatrixXf out(T, V);
  for (int64_t v = 0; v < V; ++v) {
    const double var_s = (signal.col(v).array() - signal.col(v).mean()).square().mean();
    const double sd_noise = snr[static_cast<size_t>(v)] > 0 ? std::sqrt(var_s / snr[static_cast<size_t>(v)]) : 1.0;
    const double gain = snr[static_cast<size_t>(v)] > 0 ? 1.0 : 0.0;
    for (const auto& [start, end] : blocks) {
      double e = normal(gen);  // the stationary distribution at the run's first TR
      for (int64_t t = start; t < end; ++t) {
        if (t > start) e = phi * e + std::sqrt(1 - phi * phi) * normal(gen);
        out(t, v) = static_cast<float>(gain * signal(t, v) + sd_noise * e);
      }
    }
  }
  return out;
}

Eigen::MatrixXf block_permuted_targets(const Eigen::MatrixXf& Y, const std::vector<int64_t>& cols,
                                       const std::vector<int64_t>& runs, int64_t block, int64_t n_perm,
                                       uint64_t seed) {
  const int64_t T = Y.rows(), c = static_cast<int64_t>(cols.size());
  ML_CHECK(block >= 1, "block_permuted_targets: block length must be >= 1 TR, got ", block);
  ML_CHECK(n_perm >= 0, "block_permuted_targets: n_perm must be >= 0, got ", n_perm);
  for (int64_t j : cols) ML_CHECK(j >= 0 && j < Y.cols(), "block_permuted_targets: column ", j, " of ", Y.cols());
  const auto runs_b = run_blocks(runs, T, "block_permuted_targets");
  // Blocks [start, end) of every run, in order; per run the range of its blocks in that list.
  std::vector<std::pair<int64_t, int64_t>> blocks;
  std::vector<std::pair<size_t, size_t>> run_range;
  for (const auto& [start, end] : runs_b) {
    ML_CHECK(end - start >= 2 * block, "block_permuted_targets: a run of ", end - start, " TRs (from TR ", start,
             ") holds fewer than 2 blocks of ", block, " TRs: nothing to permute (use shorter blocks)");
    const size_t first = blocks.size();
    for (int64_t b = start; b < end; b += block) blocks.emplace_back(b, std::min(end, b + block));
    run_range.emplace_back(first, blocks.size());
  }
  Eigen::MatrixXf out(T, n_perm * c);
  std::vector<int64_t> src(static_cast<size_t>(T));  // row of Y that lands at each TR
  std::vector<size_t> order(blocks.size());
  for (int64_t k = 0; k < n_perm; ++k) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(k));
    std::iota(order.begin(), order.end(), size_t{0});
    for (const auto& [b0, b1] : run_range) std::shuffle(order.begin() + static_cast<std::ptrdiff_t>(b0),
                                                        order.begin() + static_cast<std::ptrdiff_t>(b1), rng);
    int64_t t = 0;
    for (size_t i : order)
      for (int64_t s = blocks[i].first; s < blocks[i].second; ++s) src[static_cast<size_t>(t++)] = s;
    for (int64_t j = 0; j < c; ++j)
      for (int64_t i = 0; i < T; ++i) out(i, k * c + j) = Y(src[static_cast<size_t>(i)], cols[static_cast<size_t>(j)]);
  }
  return out;
}

}  // namespace ml::analysis
