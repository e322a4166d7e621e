#include "experiments/analysis/equivariance.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace ml::analysis {

const char* transform_name(Transform g) {
  switch (g) {
    case Transform::HFlip: return "hflip";
    case Transform::VFlip: return "vflip";
    case Transform::Rot90: return "rot90";
  }
  return "?";
}

Tensor apply_transform(Transform g, const Tensor& x) {
  NoGradGuard ng;
  switch (g) {
    case Transform::HFlip: return hflip(x);
    case Transform::VFlip: return vflip(x);
    case Transform::Rot90: return rot90(x, 1);
  }
  return x;
}

std::vector<bool> central_mask(Transform g, int64_t C, int64_t H, int64_t W) {
  std::vector<bool> keep(static_cast<size_t>(C * H * W), true);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) {
        const bool centre = g == Transform::HFlip   ? w == W / 2
                            : g == Transform::VFlip ? h == H / 2
                                                    : (h == H / 2 && w == W / 2);
        if (centre) keep[static_cast<size_t>((c * H + h) * W + w)] = false;
      }
  return keep;
}

std::vector<double> per_image_correlation(const Tensor& a, const Tensor& b, const std::vector<bool>& keep) {
  ML_CHECK(a.dim() == 2 && a.shape() == b.shape(), "per_image_correlation: expected two (images, units) tensors of one shape, got ",
           a.str(), " and ", b.str());
  const int64_t N = a.size(0), U = a.size(1);
  ML_CHECK(static_cast<int64_t>(keep.size()) == U, "per_image_correlation: mask of ", keep.size(), " for ", U, " units");
  const auto va = a.to_vector(), vb = b.to_vector();
  // z-score each unit across images, in double; a constant unit has no z-score (NaN in the
  // released code) and is dropped.
  auto zscore = [&](const std::vector<float>& v, std::vector<double>& z, std::vector<bool>& ok) {
    z.assign(v.size(), 0.0);
    for (int64_t u = 0; u < U; ++u) {
      double m = 0, ss = 0;
      for (int64_t i = 0; i < N; ++i) m += v[static_cast<size_t>(i * U + u)];
      m /= static_cast<double>(N);
      for (int64_t i = 0; i < N; ++i) {
        const double d = v[static_cast<size_t>(i * U + u)] - m;
        ss += d * d;
      }
      const double sd = std::sqrt(ss / static_cast<double>(N));
      if (!(sd > 0)) ok[static_cast<size_t>(u)] = false;
      for (int64_t i = 0; i < N; ++i)
        z[static_cast<size_t>(i * U + u)] = sd > 0 ? (v[static_cast<size_t>(i * U + u)] - m) / sd : 0.0;
    }
  };
  std::vector<bool> ok = keep;
  std::vector<double> za, zb;
  zscore(va, za, ok);
  zscore(vb, zb, ok);
  std::vector<double> r(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) {
    double ma = 0, mb = 0, n = 0;
    for (int64_t u = 0; u < U; ++u)
      if (ok[static_cast<size_t>(u)]) {
        ma += za[static_cast<size_t>(i * U + u)];
        mb += zb[static_cast<size_t>(i * U + u)];
        n += 1;
      }
    ma /= n;
    mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t u = 0; u < U; ++u)
      if (ok[static_cast<size_t>(u)]) {
        const double x = za[static_cast<size_t>(i * U + u)] - ma, y = zb[static_cast<size_t>(i * U + u)] - mb;
        sab += x * y;
        saa += x * x;
        sbb += y * y;
      }
    r[static_cast<size_t>(i)] = sab / std::sqrt(saa * sbb);
  }
  return r;
}

}  // namespace ml::analysis
