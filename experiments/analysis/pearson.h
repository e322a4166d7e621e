// experiments/analysis/pearson.h — the Pearson correlation every measure of the study ends in
// (the msvt index between D and D^H, invariance and equivariance between two activation
// vectors), accumulated in double whatever the inputs' type.
#pragma once
#include <cmath>
#include <cstdint>

namespace ml::analysis {

// r of a[0..n) and b[0..n); NaN when either side is constant, as numpy's corrcoef.
template <class T>
double pearson(const T* a, const T* b, int64_t n) {
  double ma = 0, mb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / std::sqrt(saa * sbb);
}

}  // namespace ml::analysis
