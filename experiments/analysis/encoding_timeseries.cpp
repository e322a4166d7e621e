#include "experiments/analysis/encoding_timeseries.h"

#include <cmath>

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

}  // namespace ml::analysis
