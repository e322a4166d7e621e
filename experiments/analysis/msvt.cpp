#include "experiments/analysis/msvt.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "experiments/analysis/pearson.h"

namespace ml::analysis {

double msvt_index(const Tensor& D, MsvtDefinition def) {
  ML_CHECK(D.dtype() == DType::F32 && D.dim() == 2 && D.size(0) == D.size(1), "msvt_index: D must be a square float32 RDM, got ",
           D.str());
  const int64_t n = D.size(0);
  ML_CHECK(n >= 3 && n % 2 == 1, "msvt_index: the number of views must be odd (a frontal view in the middle), got ", n);
  const int64_t centre = n / 2;
  const auto d = D.to_vector();
  std::vector<double> x, y;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t k = 0; k < n; ++k) {
      if (k == centre) continue;  // the frontal view's column goes from both
      if (def == MsvtDefinition::NoDiagonal && (j == k || j == n - 1 - k)) continue;
      x.push_back(d[static_cast<size_t>(j * n + k)]);
      y.push_back(d[static_cast<size_t>(j * n + (n - 1 - k))]);  // D^H[j,k] = D[j, n-1-k]
    }
  return pearson(x.data(), y.data(), static_cast<int64_t>(x.size()));
}

Tensor exemplar_rdm(const Tensor& acts) {
  NoGradGuard ng;
  return rdm(acts);
}

std::vector<bool> informative_units(const Tensor& acts) {
  ML_CHECK(acts.dim() == 2, "informative_units: expected (images, units), got ", acts.str());
  const int64_t N = acts.size(0), U = acts.size(1);
  const auto v = acts.to_vector();
  std::vector<bool> keep(static_cast<size_t>(U), false);
  for (int64_t u = 0; u < U; ++u) {
    const float first = v[static_cast<size_t>(u)];
    for (int64_t i = 1; i < N; ++i)
      if (v[static_cast<size_t>(i * U + u)] != first) {
        keep[static_cast<size_t>(u)] = true;
        break;
      }
  }
  return keep;
}

Tensor select_units(const Tensor& acts, const std::vector<bool>& keep) {
  const int64_t N = acts.size(0), U = acts.size(1);
  ML_CHECK(static_cast<int64_t>(keep.size()) == U, "select_units: mask of ", keep.size(), " for ", U, " units");
  int64_t kept = 0;
  for (bool k : keep) kept += k;
  const auto v = acts.to_vector();
  std::vector<float> out;
  out.reserve(static_cast<size_t>(N * kept));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t u = 0; u < U; ++u)
      if (keep[static_cast<size_t>(u)]) out.push_back(v[static_cast<size_t>(i * U + u)]);
  return Tensor::from_vector({N, kept}, out);
}

MeanSem mean_sem(const std::vector<double>& values) {
  MeanSem r;
  r.n = static_cast<int64_t>(values.size());
  if (values.empty()) return r;
  r.mean = 0;
  for (double v : values) r.mean += v;
  r.mean /= static_cast<double>(r.n);
  if (r.n > 1) {
    double ss = 0;
    for (double v : values) ss += (v - r.mean) * (v - r.mean);
    r.sd = std::sqrt(ss / static_cast<double>(r.n - 1));
    r.sem = r.sd / std::sqrt(static_cast<double>(r.n));
  }
  return r;
}

}  // namespace ml::analysis
