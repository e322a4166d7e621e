// experiments/analysis/v1_readout_types.cpp — see the header.
#include "experiments/analysis/v1_readout_types.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace ml::analysis {

RolledReadouts roll_readouts(const std::vector<double>& w, int64_t N, int64_t R, int64_t F, bool align_sign) {
  ML_CHECK(N > 0 && R > 0 && F > 0 && static_cast<int64_t>(w.size()) == R * F * N, "roll_readouts: ", w.size(),
           " weights are not ", R, " rotations x ", F, " features x ", N, " neurons");
  const int64_t C = R * F;
  RolledReadouts o;
  o.rolled.assign(static_cast<size_t>(N * C), 0.0);
  o.plain.assign(o.rolled.size(), 0.0);
  o.peak.assign(static_cast<size_t>(N), 0);
  o.energy.assign(static_cast<size_t>(N * R), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    auto at = [&](int64_t r, int64_t f) { return w[static_cast<size_t>((r * F + f) * N + n)]; };
    double norm = 0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t f = 0; f < F; ++f) {
        o.energy[static_cast<size_t>(n * R + r)] += at(r, f) * at(r, f);
        norm += at(r, f) * at(r, f);
      }
    norm = std::sqrt(std::max(norm, 1e-30));
    int64_t pk = 0;
    for (int64_t r = 1; r < R; ++r)
      if (o.energy[static_cast<size_t>(n * R + r)] > o.energy[static_cast<size_t>(n * R + pk)]) pk = r;
    o.peak[static_cast<size_t>(n)] = static_cast<int>(pk);
    double sign = 1;
    if (align_sign) {
      int64_t big = 0;
      for (int64_t f = 1; f < F; ++f)
        if (std::fabs(at(pk, f)) > std::fabs(at(pk, big))) big = f;
      sign = at(pk, big) < 0 ? -1.0 : 1.0;
    }
    for (int64_t r = 0; r < R; ++r)
      for (int64_t f = 0; f < F; ++f) {
        o.rolled[static_cast<size_t>(n * C + r * F + f)] = sign * at((r + pk) % R, f) / norm;
        o.plain[static_cast<size_t>(n * C + r * F + f)] = at(r, f) / norm;
      }
  }
  return o;
}

std::vector<double> drive_space_readouts(const std::vector<double>& w, int64_t C, int64_t N, const std::vector<double>& G) {
  ML_CHECK(C > 0 && N > 0 && static_cast<int64_t>(w.size()) == C * N && static_cast<int64_t>(G.size()) == C * C,
           "drive_space_readouts: weights (", w.size(), ") and covariance (", G.size(), ") do not fit ", C,
           " channels x ", N, " neurons");
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> g(G.data(), C, C);
  const Eigen::MatrixXd sym = 0.5 * (g + g.transpose());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(sym);
  ML_CHECK(es.info() == Eigen::Success, "drive_space_readouts: the covariance's eigendecomposition failed");
  const Eigen::VectorXd root = es.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const Eigen::MatrixXd half = es.eigenvectors() * root.asDiagonal() * es.eigenvectors().transpose();
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> wm(w.data(), C, N);
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> v = half * wm;
  return std::vector<double>(v.data(), v.data() + C * N);
}

std::vector<double> rotation_copy_correlation(const std::vector<double>& G, int64_t R, int64_t F) {
  const int64_t C = R * F;
  ML_CHECK(R > 0 && F > 0 && static_cast<int64_t>(G.size()) == C * C, "rotation_copy_correlation: covariance (",
           G.size(), ") is not (", C, ", ", C, ")");
  auto g = [&](int64_t a, int64_t b) { return G[static_cast<size_t>(a * C + b)]; };
  std::vector<double> out(static_cast<size_t>(F * R), 0.0);
  for (int64_t f = 0; f < F; ++f)
    for (int64_t s = 0; s < R; ++s) {
      double acc = 0;
      for (int64_t r = 0; r < R; ++r) {
        const int64_t a = r * F + f, b = ((r + s) % R) * F + f;
        const double den = std::sqrt(std::max(g(a, a) * g(b, b), 1e-300));
        acc += g(a, b) / den;
      }
      out[static_cast<size_t>(f * R + s)] = acc / static_cast<double>(R);
    }
  return out;
}

std::vector<double> ideal_core_readouts(const V1Truth& truth, const Tensor& images, int64_t R,
                                        std::vector<double>* covariance, bool rectified) {
  ML_CHECK(images.dim() == 3 && images.size(0) >= 2, "ideal_core_readouts: images ", images.str(),
           " must be (n >= 2, H, W)");
  ML_CHECK(R >= 1, "ideal_core_readouts: ", R, " rotations");
  const int64_t n = images.size(0), H = images.size(1), W = images.size(2), N = static_cast<int64_t>(truth.type.size());
  constexpr int64_t F = 4;  // even, odd, energy, DoG: the cell types T1-T4 as core features
  const int64_t C = R * F;
  const auto own = V1CellBank(truth, H, W).drives(images);  // (n, N)
  std::vector<double> w(static_cast<size_t>(C * N), 0.0);
  Eigen::MatrixXd gsum = Eigen::MatrixXd::Zero(C, C);
  for (int64_t j = 0; j < N; ++j) {
    V1Truth bank;
    for (int64_t r = 0; r < R; ++r)
      for (int t = 1; t <= static_cast<int>(F); ++t) {  // channel r*F + (t-1)
        bank.type.push_back(t);
        bank.theta.push_back(static_cast<float>(-2 * std::numbers::pi * static_cast<double>(r) / static_cast<double>(R)));
        bank.cx.push_back(truth.cx[static_cast<size_t>(j)]);
        bank.cy.push_back(truth.cy[static_cast<size_t>(j)]);
        bank.gain.push_back(1.f);
      }
    const auto x = V1CellBank(bank, H, W).drives(images);  // (n, C)
    Eigen::MatrixXd X(n, C);
    Eigen::VectorXd u(n);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < C; ++c) X(i, c) = x[static_cast<size_t>(i * C + c)];
      u(i) = own[static_cast<size_t>(i * N + j)];
    }
    // Every column of M as 1.5 z, z the column standardised over the images, or (rectify) as the
    // cells' rate, softplus(1.5 z - 1).
    auto drive_of = [](auto&& M, bool rectify) {
      for (Eigen::Index c = 0; c < M.cols(); ++c) {
        const double mu = M.col(c).mean();
        const double s = std::max(std::sqrt((M.col(c).array() - mu).square().mean()), 1e-300);
        for (Eigen::Index i = 0; i < M.rows(); ++i) {
          const double a = 1.5 * (M(i, c) - mu) / s;
          M(i, c) = !rectify ? a : (a - 1.0 > 30.0 ? a - 1.0 : std::log1p(std::exp(a - 1.0)));
        }
      }
    };
    // Linear: 1.5 z - 1, centred (the -1 goes to the bias); rectified: features and target through
    // the cells' nonlinearity, the target then centred as well.
    drive_of(u, rectified);
    if (rectified) {
      drive_of(X, true);
      u.array() -= u.mean();
    }
    X.rowwise() -= X.colwise().mean();
    gsum += X.transpose() * X / static_cast<double>(n);
    // Min-norm: identical copies (even and energy at r and r + R/2, the DoG at every r) share
    // equally, opposite ones (odd) get opposite equal weights.
    Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod;
    cod.setThreshold(1e-9);  // copies equal up to rounding (~1e-16) count as one direction
    cod.compute(X);
    const Eigen::VectorXd b = cod.solve(u);
    for (int64_t c = 0; c < C; ++c) w[static_cast<size_t>(c * N + j)] = b(c);
  }
  if (covariance) {
    covariance->assign(static_cast<size_t>(C * C), 0.0);
    for (int64_t a = 0; a < C; ++a)
      for (int64_t b = 0; b < C; ++b) (*covariance)[static_cast<size_t>(a * C + b)] = gsum(a, b) / static_cast<double>(N);
  }
  return w;
}

}  // namespace ml::analysis
