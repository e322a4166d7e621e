// models/hog_dalal_triggs_cpu.cpp — see hog_dalal_triggs_cpu.h. Built without FMA contraction
// (models/CMakeLists.txt): the magnitude must round as glibc's hypot does, operation by operation.
#include "models/hog_dalal_triggs_cpu.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#define ML_HOG_DT_AVX2 1
#endif

namespace ml::models {

namespace {

// A gradient closer than this (relative to |u| + |v|) to a bin edge takes the exact path. atan2,
// rad2deg and the edge 180 i / n round at ~1e-16 relative, the cross products at ~1e-16 too.
constexpr double kEdgeMargin = 1e-9;

// scikit-image's bin of an angle a in [0, 180] deg: cell_hog keeps a pixel in bin i when
// a >= per * i and a < per * (i + 1) (both products in double), none when a == 180.
int32_t bin_of_degrees(double a, int64_t n, double per) {
  auto i = std::clamp<int64_t>(static_cast<int64_t>(a / per), 0, n - 1);
  while (i > 0 && a < per * static_cast<double>(i)) --i;
  while (i < n && a >= per * static_cast<double>(i + 1)) ++i;
  return (i < n && a >= per * static_cast<double>(i)) ? static_cast<int32_t>(i) : -1;
}

// The exact path: rad2deg(arctan2(gr, gc)) % 180 as numpy computes it.
int32_t exact_bin(double gc, double gr, int64_t n, double per) {
  double a = std::fmod(std::atan2(gr, gc) * (180.0 / std::numbers::pi), 180.0);
  if (a < 0) a += 180.0;  // numpy's % for a positive divisor
  return bin_of_degrees(a, n, per);
}

// The n - 1 inner bin edges as unit vectors: edge k at pi k / n.
struct Edges {
  int64_t n;
  double per;
  std::vector<double> cos, sin;
  explicit Edges(int64_t n_) : n(n_), per(180.0 / static_cast<double>(n_)) {
    for (int64_t k = 1; k < n; ++k) {
      const double t = std::numbers::pi * static_cast<double>(k) / static_cast<double>(n);
      cos.push_back(std::cos(t));
      sin.push_back(std::sin(t));
    }
  }
};

// The bin of one gradient. gr == 0: the angle is 0 or 180 deg, both bin 0 after % 180. Else the
// gradient is turned into the upper half plane (u, v), v > 0, whose angle a lies in (0, 180):
// a >= edge k exactly when cos_k v - sin_k u >= 0; the count of such edges is the bin.
int32_t fast_bin(double gc, double gr, const Edges& e) {
  if (gr == 0) return 0;
  const double u = gr < 0 ? -gc : gc, v = std::fabs(gr);
  const double margin = kEdgeMargin * (std::fabs(u) + v);
  if (v <= margin) return exact_bin(gc, gr, e.n, e.per);  // near 0 / 180 deg
  int32_t count = 0;
  for (size_t k = 0; k < e.cos.size(); ++k) {
    const double cr = e.cos[k] * v - e.sin[k] * u;
    if (std::fabs(cr) <= margin) return exact_bin(gc, gr, e.n, e.per);
    count += cr > 0 ? 1 : 0;
  }
  return count;
}

#ifdef ML_HOG_DT_AVX2
// glibc 2.35+'s hypot (Borges' corrected sqrt, its non-FMA kernel, which x86-64's libm uses) for
// four lanes; lanes outside its common range (a tiny nonzero or huge input, not finite) are
// left to the library call: bit k of *fallback set.
inline __m256d hypot4(__m256d x, __m256d y, int* fallback) {
  const __m256d sign = _mm256_set1_pd(-0.0), two = _mm256_set1_pd(2.0), four = _mm256_set1_pd(4.0);
  x = _mm256_andnot_pd(sign, x);
  y = _mm256_andnot_pd(sign, y);
  const __m256d lt = _mm256_cmp_pd(x, y, _CMP_LT_OQ);
  const __m256d ax = _mm256_blendv_pd(x, y, lt), ay = _mm256_blendv_pd(y, x, lt);
  __m256d h = _mm256_sqrt_pd(_mm256_add_pd(_mm256_mul_pd(ax, ax), _mm256_mul_pd(ay, ay)));
  const __m256d near = _mm256_cmp_pd(h, _mm256_mul_pd(two, ay), _CMP_LE_OQ);
  const __m256d d1 = _mm256_sub_pd(h, ay);
  const __m256d t1a = _mm256_mul_pd(ax, _mm256_sub_pd(_mm256_mul_pd(two, d1), ax));
  const __m256d t2a = _mm256_mul_pd(_mm256_sub_pd(d1, _mm256_mul_pd(two, _mm256_sub_pd(ax, ay))), d1);
  const __m256d d2 = _mm256_sub_pd(h, ax);
  const __m256d t1b = _mm256_mul_pd(_mm256_mul_pd(two, d2), _mm256_sub_pd(ax, _mm256_mul_pd(two, ay)));
  const __m256d t2b = _mm256_add_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_mul_pd(four, d2), ay), ay), _mm256_mul_pd(d2, d2));
  const __m256d t1 = _mm256_blendv_pd(t1b, t1a, near), t2 = _mm256_blendv_pd(t2b, t2a, near);
  h = _mm256_sub_pd(h, _mm256_div_pd(_mm256_add_pd(t1, t2), _mm256_mul_pd(two, h)));
  // ay <= ax 2^-54 (ay == 0 included): ax + ay, glibc's early return.
  const __m256d small = _mm256_cmp_pd(ay, _mm256_mul_pd(ax, _mm256_set1_pd(0x1p-54)), _CMP_LE_OQ);
  h = _mm256_blendv_pd(h, _mm256_add_pd(ax, ay), small);
  const __m256d ok = _mm256_and_pd(
      _mm256_or_pd(_mm256_cmp_pd(ay, _mm256_set1_pd(0x1p-459), _CMP_GE_OQ), _mm256_cmp_pd(ay, _mm256_setzero_pd(), _CMP_EQ_OQ)),
      _mm256_cmp_pd(ax, _mm256_set1_pd(0x1p+511), _CMP_LE_OQ));
  *fallback = ~_mm256_movemask_pd(ok) & 15;
  return h;
}

// fast_bin for four lanes; bit k of *exact set where lane k needs the exact path.
inline __m128i bins4(__m256d gc, __m256d gr, const Edges& e, int* exact) {
  const __m256d zero = _mm256_setzero_pd(), sign = _mm256_set1_pd(-0.0), one = _mm256_set1_pd(1.0);
  const __m256d neg = _mm256_cmp_pd(gr, zero, _CMP_LT_OQ);
  const __m256d u = _mm256_blendv_pd(gc, _mm256_xor_pd(gc, sign), neg), v = _mm256_andnot_pd(sign, gr);
  const __m256d margin = _mm256_mul_pd(_mm256_set1_pd(kEdgeMargin), _mm256_add_pd(_mm256_andnot_pd(sign, u), v));
  const __m256d zero_gr = _mm256_cmp_pd(gr, zero, _CMP_EQ_OQ);
  __m256d bad = _mm256_andnot_pd(zero_gr, _mm256_cmp_pd(v, margin, _CMP_LE_OQ));
  __m256d count = zero;
  for (size_t k = 0; k < e.cos.size(); ++k) {
    const __m256d cr = _mm256_sub_pd(_mm256_mul_pd(_mm256_set1_pd(e.cos[k]), v), _mm256_mul_pd(_mm256_set1_pd(e.sin[k]), u));
    bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_andnot_pd(sign, cr), margin, _CMP_LE_OQ));
    count = _mm256_add_pd(count, _mm256_and_pd(_mm256_cmp_pd(cr, zero, _CMP_GT_OQ), one));
  }
  count = _mm256_andnot_pd(zero_gr, count);  // gr == 0: bin 0
  *exact = _mm256_movemask_pd(_mm256_andnot_pd(zero_gr, bad));
  return _mm256_cvtpd_epi32(count);
}
#endif

void magnitudes(const double* gc, const double* gr, int64_t count, double* mag) {
  int64_t j = 0;
#ifdef ML_HOG_DT_AVX2
  for (; j + 4 <= count; j += 4) {
    int fallback = 0;
    _mm256_storeu_pd(mag + j, hypot4(_mm256_loadu_pd(gc + j), _mm256_loadu_pd(gr + j), &fallback));
    for (int l = 0; fallback; ++l, fallback >>= 1)
      if (fallback & 1) mag[j + l] = std::hypot(gc[j + l], gr[j + l]);
  }
#endif
  for (; j < count; ++j) mag[j] = std::hypot(gc[j], gr[j]);
}

void bins_of(const double* gc, const double* gr, int64_t count, const Edges& e, int32_t* bins) {
  int64_t j = 0;
#ifdef ML_HOG_DT_AVX2
  for (; j + 4 <= count; j += 4) {
    int exact = 0;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bins + j), bins4(_mm256_loadu_pd(gc + j), _mm256_loadu_pd(gr + j), e, &exact));
    for (int l = 0; exact; ++l, exact >>= 1)
      if (exact & 1) bins[j + l] = exact_bin(gc[j + l], gr[j + l], e.n, e.per);
  }
#endif
  for (; j < count; ++j) bins[j] = fast_bin(gc[j], gr[j], e);
}

}  // namespace

void hog_gradient_magnitude(const double* gc, const double* gr, int64_t count, double* mag) { magnitudes(gc, gr, count, mag); }

void hog_orientation_bins(const double* gc, const double* gr, int64_t count, int64_t n, int32_t* bins) {
  const Edges e(n);
  bins_of(gc, gr, count, e, bins);
}

void hog_dalal_triggs_cpu(const float* image, int64_t C, int64_t H, int64_t W, int64_t n, int64_t cs, int64_t bs,
                          float* out) {
  const int64_t cr = H / cs, cc = W / cs, br = cr - bs + 1, bc = cc - bs + 1;
  const int64_t Wc = cc * cs;  // columns that fall in a cell (the rest never count)
  const int64_t plane = H * W;
  const Edges edges(n);
  // One pixel row: the chosen channel's gradient, its magnitude and bin.
  std::vector<double> gc(static_cast<size_t>(Wc)), gr(static_cast<size_t>(Wc)), mag(static_cast<size_t>(Wc));
  std::vector<double> gc_ch, gr_ch, mag_ch;
  if (C > 1) gc_ch.resize(static_cast<size_t>(Wc)), gr_ch.resize(static_cast<size_t>(Wc)), mag_ch.resize(static_cast<size_t>(Wc));
  std::vector<int32_t> bin(static_cast<size_t>(Wc));
  // One row of cells: the float sums of cell_hog, cell x's bin i at x * n + i.
  std::vector<float> total(static_cast<size_t>(cc * n));
  std::vector<double> cells(static_cast<size_t>(cr * cc * n));

  // Central differences of channel ch at row r in double; scikit-image sets the row derivative of
  // the first and last row and the column derivative of the first and last column to 0.
  auto gradient_row = [&](int64_t ch, int64_t r, double* gcr, double* grr) {
    const float* p = image + ch * plane + r * W;
    if (r > 0 && r < H - 1) {
      const float *up = p - W, *dn = p + W;
      for (int64_t c = 0; c < Wc; ++c) grr[c] = static_cast<double>(dn[c]) - static_cast<double>(up[c]);
    } else {
      std::fill(grr, grr + Wc, 0.0);
    }
    gcr[0] = 0;
    const int64_t last = std::min(Wc, W - 1);  // columns 1 .. last-1 have both neighbours
    for (int64_t c = 1; c < last; ++c) gcr[c] = static_cast<double>(p[c + 1]) - static_cast<double>(p[c - 1]);
    for (int64_t c = std::max<int64_t>(last, 1); c < Wc; ++c) gcr[c] = 0;
  };

  for (int64_t y = 0; y < cr; ++y) {
    std::fill(total.begin(), total.end(), 0.f);
    for (int64_t r = y * cs; r < (y + 1) * cs; ++r) {
      gradient_row(0, r, gc.data(), gr.data());
      magnitudes(gc.data(), gr.data(), Wc, mag.data());
      // Colour: per pixel the channel of largest magnitude, the first on ties (numpy's argmax).
      for (int64_t ch = 1; ch < C; ++ch) {
        gradient_row(ch, r, gc_ch.data(), gr_ch.data());
        magnitudes(gc_ch.data(), gr_ch.data(), Wc, mag_ch.data());
        for (int64_t c = 0; c < Wc; ++c) {
          const bool take = mag_ch[static_cast<size_t>(c)] > mag[static_cast<size_t>(c)];
          mag[static_cast<size_t>(c)] = take ? mag_ch[static_cast<size_t>(c)] : mag[static_cast<size_t>(c)];
          gc[static_cast<size_t>(c)] = take ? gc_ch[static_cast<size_t>(c)] : gc[static_cast<size_t>(c)];
          gr[static_cast<size_t>(c)] = take ? gr_ch[static_cast<size_t>(c)] : gr[static_cast<size_t>(c)];
        }
      }
      bins_of(gc.data(), gr.data(), Wc, edges, bin.data());
      // cell_hog's `total += magnitude` with a float total: the sum in double, rounded to float,
      // pixel by pixel in row-major order within each cell (a zero magnitude changes nothing).
      for (int64_t x = 0; x < cc; ++x) {
        float* t = total.data() + x * n;
        for (int64_t c = x * cs; c < (x + 1) * cs; ++c) {
          const int32_t i = bin[static_cast<size_t>(c)];
          const double m = mag[static_cast<size_t>(c)];
          if (i < 0 || m == 0) continue;
          t[i] = static_cast<float>(static_cast<double>(t[i]) + m);
        }
      }
    }
    const auto area = static_cast<float>(cs * cs);
    for (int64_t k = 0; k < cc * n; ++k)
      cells[static_cast<size_t>(y * cc * n + k)] = static_cast<double>(total[static_cast<size_t>(k)] / area);
  }

  // Blocks: L2-Hys with eps = 1e-5, as scikit-image's _hog_normalize_block.
  const int64_t D = bs * bs * n, bstride = br * bc;
  std::vector<double> v(static_cast<size_t>(D));
  const double eps2 = 1e-10;
  for (int64_t y = 0; y < br; ++y)
    for (int64_t x = 0; x < bc; ++x) {
      double s = 0;
      for (int64_t a = 0; a < bs; ++a)
        for (int64_t b = 0; b < bs; ++b) {
          const double* h = cells.data() + ((y + a) * cc + x + b) * n;
          double* vb = v.data() + (a * bs + b) * n;
          for (int64_t i = 0; i < n; ++i) {
            vb[i] = h[i];
            s += h[i] * h[i];
          }
        }
      const double norm1 = std::sqrt(s + eps2);
      double s2 = 0;
      for (double& h : v) {
        h = std::min(h / norm1, 0.2);
        s2 += h * h;
      }
      const double norm2 = std::sqrt(s2 + eps2);
      float* o = out + y * bc + x;
      for (int64_t d = 0; d < D; ++d) o[d * bstride] = static_cast<float>(v[static_cast<size_t>(d)] / norm2);
    }
}

}  // namespace ml::models
