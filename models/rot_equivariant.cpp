// models/rot_equivariant.cpp — Hermite basis, coefficient rotation and weight assembly
// (see the header; science file §2.1-2.2).
#include "models/rot_equivariant.h"

#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace ml::models {

HermiteBasis hermite_basis(int64_t K) {
  ML_CHECK(K >= 1 && K <= 31, "hermite_basis: kernel size ", K, " must be in [1, 31]");
  HermiteBasis b;
  b.K = K;
  for (int rank = 0; rank < K; ++rank) {
    // mu = rank, rank-2, ... >= 0, in increasing order; mu = 0 gives one function, mu > 0 two.
    for (int m = rank % 2; m <= rank; m += 2) {
      const int n = (rank - m) / 2;
      if (m == 0) {
        b.mu.push_back(0), b.nu.push_back(n), b.part.push_back('z');
      } else {
        b.mu.push_back(m), b.nu.push_back(n), b.part.push_back('r');
        b.mu.push_back(m), b.nu.push_back(n), b.part.push_back('i');
      }
    }
  }
  const int64_t Q = b.count(), S = 2 * K;
  // Grid: S points spanning +-xmax with xmax = 2 sqrt(K) (1 - 1/S), as hermite_2d(K, 2K, 2 sqrt K).
  const double xmax = 2.0 * std::sqrt(static_cast<double>(K)) * (1.0 - 1.0 / static_cast<double>(S));
  std::vector<double> xs(static_cast<size_t>(S));
  for (int64_t i = 0; i < S; ++i) xs[static_cast<size_t>(i)] = -xmax + 2.0 * xmax * static_cast<double>(i) / (S - 1.0);
  b.fine.assign(static_cast<size_t>(Q * S * S), 0.0);
  for (int64_t q = 0; q < Q; ++q) {
    const int m = b.mu[static_cast<size_t>(q)], n = b.nu[static_cast<size_t>(q)];
    // Generalised Laguerre polynomial in t = rho^2, coefficients as pinned (§2.1).
    std::vector<double> c(static_cast<size_t>(n) + 1);
    for (int k = 0; k <= n; ++k)
      c[static_cast<size_t>(k)] = std::tgamma(m + n + 1.0) * std::tgamma(n + 1.0) * std::pow(-2.0, n - k) /
                                  (std::tgamma(m + 1.0 + k) * std::tgamma(k + 1.0) * std::tgamma(n + 1.0 - k));
    const double norm = std::sqrt(std::pow(2.0, m + 2 * n) * std::numbers::pi * std::tgamma(m + n + 1.0) *
                                  std::tgamma(n + 1.0));
    double ss = 0.0;
    double* f = b.fine.data() + q * S * S;
    for (int64_t r = 0; r < S; ++r)
      for (int64_t col = 0; col < S; ++col) {
        const double y = xs[static_cast<size_t>(r)], x = xs[static_cast<size_t>(col)];
        const double t = x * x + y * y, phi = std::atan2(y, x);
        double L = 0.0;
        for (int k = n; k >= 0; --k) L = L * t + c[static_cast<size_t>(k)];
        const double radial = std::exp(-t / 4.0) * std::pow(t, m / 2.0) * L / norm;
        const char p = b.part[static_cast<size_t>(q)];
        const double v = p == 'z' ? radial * std::cos(m * phi) / std::sqrt(2.0)
                         : p == 'r' ? radial * std::cos(m * phi)
                                    : radial * std::sin(m * phi);
        f[r * S + col] = v;
        ss += v * v;
      }
    for (int64_t i = 0; i < S * S; ++i) f[i] /= std::sqrt(ss);
  }
  b.values.assign(static_cast<size_t>(Q * K * K), 0.0);
  for (int64_t q = 0; q < Q; ++q)
    for (int64_t r = 0; r < S; ++r)
      for (int64_t col = 0; col < S; ++col)
        b.values[static_cast<size_t>(q * K * K + (r / 2) * K + col / 2)] += b.fine[static_cast<size_t>(q * S * S + r * S + col)];
  return b;
}

std::vector<double> hermite_rotation(const HermiteBasis& basis, double alpha) {
  const int64_t Q = basis.count();
  std::vector<double> M(static_cast<size_t>(Q * Q), 0.0);
  for (int64_t q = 0; q < Q;) {
    if (basis.part[static_cast<size_t>(q)] == 'z') {
      M[static_cast<size_t>(q * Q + q)] = 1.0;
      ++q;
      continue;
    }
    // (real, imaginary) pair of frequency mu: [cos mu a, sin mu a; -sin mu a, cos mu a].
    const double a = basis.mu[static_cast<size_t>(q)] * alpha, c = std::cos(a), s = std::sin(a);
    M[static_cast<size_t>(q * Q + q)] = c;
    M[static_cast<size_t>(q * Q + q + 1)] = s;
    M[static_cast<size_t>((q + 1) * Q + q)] = -s;
    M[static_cast<size_t>((q + 1) * Q + q + 1)] = c;
    q += 2;
  }
  return M;
}

void check_exact_rotations(int64_t rotations, const std::string& who) {
  ML_CHECK(rotations == 1 || rotations == 2 || rotations == 4, who, ": ", rotations,
           " orientations (steps of ", 360.0 / static_cast<double>(rotations),
           " degrees) are not exact rotations of the sampling grid; exactness needs multiples of 90 degrees "
           "(1, 2 or 4 orientations)");
}

void truncated_normal_(Tensor& t, Generator& gen, float std) {
  NoGradGuard ng;
  Tensor draw = Tensor::normal(t.shape(), 0.f, std, gen);
  auto v = draw.to_vector();
  for (auto& x : v)
    while (std::fabs(x) > 2.f * std) x = Tensor::normal({1}, 0.f, std, gen).item();
  t.copy_(Tensor::from_vector(t.shape(), v).to(t.device()));
}

RotEquiConv2d::RotEquiConv2d(const RotEquiConvOptions& o, Generator& gen) : options(o) {
  const std::string who = "RotEquiConv2d";
  ML_CHECK(o.rotations >= 1, who, ": rotations must be >= 1, got ", o.rotations);
  ML_CHECK(o.features >= 1 && o.in_channels >= 1, who, ": features ", o.features, " and in_channels ",
           o.in_channels, " must be >= 1");
  ML_CHECK(o.kernel >= 1 && o.kernel % 2 == 1, who, ": kernel ", o.kernel, " must be odd (SAME padding)");
  if (o.require_exact) check_exact_rotations(o.rotations, who);
  if (!o.first_layer)
    ML_CHECK(o.in_channels % o.rotations == 0, who, ": a group layer's in_channels ", o.in_channels,
             " must be rotations (", o.rotations, ") x features of the layer below");
  const HermiteBasis b = hermite_basis(o.kernel);
  const int64_t Q = b.count(), KK = o.kernel * o.kernel;
  for (int64_t i = 0; i < o.rotations; ++i) {
    const double alpha = 2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(o.rotations);
    const auto M = hermite_rotation(b, alpha);
    // kernel = sum_q (M c)_q H_q = sum_p c_p (M^T H)_p
    std::vector<float> B(static_cast<size_t>(Q * KK), 0.f);
    for (int64_t p = 0; p < Q; ++p)
      for (int64_t k = 0; k < KK; ++k) {
        double s = 0.0;
        for (int64_t q = 0; q < Q; ++q) s += M[static_cast<size_t>(q * Q + p)] * b.values[static_cast<size_t>(q * KK + k)];
        B[static_cast<size_t>(p * KK + k)] = static_cast<float>(s);
      }
    rotated_basis_.push_back(register_buffer("rotated_basis." + std::to_string(i), Tensor::from_vector({Q, KK}, B)));
  }
  Tensor c = Tensor::zeros({o.features, o.in_channels, Q});
  truncated_normal_(c, gen, o.init_std);
  coeffs = register_parameter("coeffs", c);
}

Tensor RotEquiConv2d::weights() const {
  const auto& o = options;
  const int64_t Q = coeffs.size(2), K = o.kernel, F = o.features, C = o.in_channels, R = o.rotations;
  const Tensor flat = coeffs.reshape({F * C, Q});
  std::vector<Tensor> blocks;
  blocks.reserve(static_cast<size_t>(R));
  for (int64_t i = 0; i < R; ++i) {
    Tensor w = matmul(flat, rotated_basis_[static_cast<size_t>(i)]);  // (F*C, K*K), slices rotated by alpha_i
    if (!o.first_layer && i > 0) {
      // Cyclic group shift: block i applies the slice of group g to group (g + i) mod R,
      // i.e. new group h takes old group (h - i) mod R.
      const int64_t G = R, Fin = C / R;
      Tensor grouped = w.reshape({F, G, Fin * K * K});
      w = cat({narrow(grouped, 1, G - i, i), narrow(grouped, 1, 0, G - i)}, 1);
    }
    blocks.push_back(w.reshape({F, C, K, K}));
  }
  return R == 1 ? blocks[0] : cat(blocks, 0);
}

Tensor RotEquiConv2d::forward(const Tensor& x) {
  ML_CHECK(x.defined() && x.dim() == 4 && x.size(1) == options.in_channels, "RotEquiConv2d: input ",
           x.defined() ? x.str() : std::string("undefined"), " must be (N, ", options.in_channels, ", H, W)");
  return conv2d(x, weights(), Tensor(), 1, options.kernel / 2);
}

}  // namespace ml::models
