// tests/ridge_problem.h — a ridge problem with a known structure, shared by the CPU ridge tests
// (tests/test_ridge.cpp) and the CUDA parity test (tests/cuda/test_ridge_parity.cpp).
#pragma once

#include <Eigen/Dense>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace ml::testing {

struct Problem {
  Eigen::MatrixXf X, Y, Xnew;
  std::vector<int64_t> groups;
};

// n rows in `k` groups, p features with unequal scales (a realistic spread of Gram eigenvalues),
// targets = X w + noise with per-target noise levels.
inline Problem make_problem(int64_t n, int64_t p, int64_t t, int64_t k, uint64_t seed, double noise = 0.5) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  Problem pr;
  pr.X.resize(n, p);
  pr.Xnew.resize(7, p);
  std::vector<double> scale(static_cast<size_t>(p));
  for (int64_t j = 0; j < p; ++j) scale[static_cast<size_t>(j)] = std::exp(-2.0 * j / p);
  // X first, then Xnew, row by row from the one stream.
  for (Eigen::MatrixXf* m : {&pr.X, &pr.Xnew})
    for (int64_t i = 0; i < m->rows(); ++i)
      for (int64_t j = 0; j < p; ++j) (*m)(i, j) = static_cast<float>(1.0 + scale[static_cast<size_t>(j)] * nd(rng));
  Eigen::MatrixXd w(p, t);
  for (int64_t i = 0; i < p; ++i)
    for (int64_t j = 0; j < t; ++j) w(i, j) = nd(rng);
  const Eigen::MatrixXd s = pr.X.cast<double>() * w;
  pr.Y.resize(n, t);
  for (int64_t j = 0; j < t; ++j) {
    const double sd = std::sqrt((s.col(j).array() - s.col(j).mean()).square().mean());
    for (int64_t i = 0; i < n; ++i)
      pr.Y(i, j) = static_cast<float>(s(i, j) + 3.0 + noise * (1 + j) * sd * nd(rng));
  }
  pr.groups.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pr.groups[static_cast<size_t>(i)] = (i * 7) % k;  // interleaved groups
  return pr;
}

}  // namespace ml::testing
