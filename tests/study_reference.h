// tests/study_reference.h — the mirror-symmetry study's definitions written out again, by plain
// loops over std::vector, straight from the equations (Farzmahdi et al. 2024, eqs. 1-3;
// SCIENCE.md "The index" and "Invariance and equivariance"). Nothing here calls the code under
// test (experiments/analysis/*): the study tests compare that code with these, so a wrong index
// definition, mask or rotation sense fails instead of agreeing with itself.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace ml::testing::reference {

// Which transformation (the tests map analysis::Transform onto this by hand).
enum class G { HFlip, VFlip, Rot90 };

// Pearson r of two equally long lists, two-pass in double.
inline double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// The RDM of one exemplar: acts (views, units) row-major; D[j][k] = 1 - Pearson r of rows j, k.
inline std::vector<double> rdm(const std::vector<float>& acts, int64_t views, int64_t units) {
  std::vector<double> D(static_cast<size_t>(views * views));
  for (int64_t j = 0; j < views; ++j)
    for (int64_t k = 0; k < views; ++k) {
      std::vector<double> a(acts.begin() + j * units, acts.begin() + (j + 1) * units);
      std::vector<double> b(acts.begin() + k * units, acts.begin() + (k + 1) * units);
      D[static_cast<size_t>(j * views + k)] = 1.0 - pearson(a, b);
    }
  return D;
}

// Eq. 1, 1-based as in SCIENCE.md: D^H[j,k] = D[j, n+1-k]; column k = (n+1)/2 (the frontal
// view) is deleted from both; the index is the Pearson r of the two n x (n-1) matrices,
// flattened. diagonal_free additionally leaves out every entry that lies on the diagonal of D
// (j == k) or that comes from it into D^H (n+1-k == j, i.e. D^H's anti-diagonal).
inline double msvt(const std::vector<double>& D, int n, bool diagonal_free) {
  std::vector<double> a, b;
  for (int j = 1; j <= n; ++j)
    for (int k = 1; k <= n; ++k) {
      if (k == (n + 1) / 2) continue;
      const int kh = n + 1 - k;  // D^H's column k is D's column n+1-k
      if (diagonal_free && (j == k || j == kh)) continue;
      a.push_back(D[static_cast<size_t>((j - 1) * n + (k - 1))]);
      b.push_back(D[static_cast<size_t>((j - 1) * n + (kh - 1))]);
    }
  return pearson(a, b);
}

// Where g sends each pixel, written as index maps (np.fliplr, np.flipud, np.rot90 with k = 1,
// counter-clockwise): out[i][j] = in[src(i, j)]. x is (N, C, H, W); the result is (N, C, H, W)
// for the flips and (N, C, W, H) for rot90.
//   hflip  out[i][j] = in[i][W-1-j]
//   vflip  out[i][j] = in[H-1-i][j]
//   rot90  out[i][j] = in[j][W-1-i]    (i < W, j < H): the top row of the output is the
//                                       input's last column, read top to bottom
inline std::vector<float> transform(G g, const std::vector<float>& x, int64_t N, int64_t C, int64_t H, int64_t W) {
  const int64_t OH = g == G::Rot90 ? W : H, OW = g == G::Rot90 ? H : W;
  std::vector<float> out(x.size());
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) {
        int64_t si = i, sj = j;
        if (g == G::HFlip) sj = W - 1 - j;
        if (g == G::VFlip) si = H - 1 - i;
        if (g == G::Rot90) {
          si = j;
          sj = W - 1 - i;
        }
        out[static_cast<size_t>((p * OH + i) * OW + j)] = x[static_cast<size_t>((p * H + si) * W + sj)];
      }
  return out;
}

// SCIENCE.md "Masks": h-flip removes column floor(W/2) of every map, v-flip row floor(H/2),
// rot90 the pixel (floor(H/2), floor(W/2)); keep[(c*H + h)*W + w]. At odd sizes that is the
// set g fixes; at even sizes g fixes no pixel and the same index is removed all the same
// (the released code's rule).
inline std::vector<bool> mask(G g, int64_t C, int64_t H, int64_t W) {
  std::vector<bool> keep;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) {
        bool removed = false;
        if (g == G::HFlip) removed = w == W / 2;
        if (g == G::VFlip) removed = h == H / 2;
        if (g == G::Rot90) removed = h == H / 2 && w == W / 2;
        keep.push_back(!removed);
      }
  return keep;
}

// Eqs. 2-3 per image: a and b are (N, U) row-major; each unit is z-scored across the N images
// within its own condition (population sd); units constant in either condition or with
// keep[u] false are dropped; r_i is the Pearson r over the remaining units of row i of a and b.
inline std::vector<double> per_image_r(const std::vector<float>& a, const std::vector<float>& b, int64_t N, int64_t U,
                                       const std::vector<bool>& keep) {
  std::vector<double> za(a.size()), zb(b.size());
  std::vector<bool> use = keep;
  for (const auto* pr : {&a, &b}) {
    const std::vector<float>& v = *pr;
    std::vector<double>& z = pr == &a ? za : zb;
    for (int64_t u = 0; u < U; ++u) {
      double m = 0, ss = 0;
      for (int64_t i = 0; i < N; ++i) m += v[static_cast<size_t>(i * U + u)];
      m /= static_cast<double>(N);
      for (int64_t i = 0; i < N; ++i) ss += (v[static_cast<size_t>(i * U + u)] - m) * (v[static_cast<size_t>(i * U + u)] - m);
      const double sd = std::sqrt(ss / static_cast<double>(N));
      if (sd == 0) use[static_cast<size_t>(u)] = false;
      for (int64_t i = 0; i < N; ++i) z[static_cast<size_t>(i * U + u)] = sd > 0 ? (v[static_cast<size_t>(i * U + u)] - m) / sd : 0;
    }
  }
  std::vector<double> r;
  for (int64_t i = 0; i < N; ++i) {
    std::vector<double> x, y;
    for (int64_t u = 0; u < U; ++u)
      if (use[static_cast<size_t>(u)]) {
        x.push_back(za[static_cast<size_t>(i * U + u)]);
        y.push_back(zb[static_cast<size_t>(i * U + u)]);
      }
    r.push_back(pearson(x, y));
  }
  return r;
}

}  // namespace ml::testing::reference
