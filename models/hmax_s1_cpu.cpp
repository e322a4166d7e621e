#include "models/hmax_s1_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ML_HMAX_AVX2 1
#endif

namespace ml::models {

namespace {

// y (4, P, Q) = correlation of x (rows of stride W) with w (4, s, s), P = Q-style valid sizes.
void correlate4(const float* x, int64_t W, const float* w, int64_t s, int64_t P, int64_t Q, float* y) {
  const int64_t PQ = P * Q, ss = s * s;
  for (int64_t p = 0; p < P; ++p) {
    int64_t q = 0;
#ifdef ML_HMAX_AVX2
    for (; q + 24 <= Q; q += 24) {
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
      __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
      for (int64_t r = 0; r < s; ++r) {
        const float* xr = x + (p + r) * W + q;
        const float* wr = w + r * s;
        for (int64_t c = 0; c < s; ++c) {
          const __m256 x0 = _mm256_loadu_ps(xr + c), x1 = _mm256_loadu_ps(xr + c + 8), x2 = _mm256_loadu_ps(xr + c + 16);
          __m256 wv = _mm256_broadcast_ss(wr + c);
          a00 = _mm256_fmadd_ps(wv, x0, a00), a01 = _mm256_fmadd_ps(wv, x1, a01), a02 = _mm256_fmadd_ps(wv, x2, a02);
          wv = _mm256_broadcast_ss(wr + ss + c);
          a10 = _mm256_fmadd_ps(wv, x0, a10), a11 = _mm256_fmadd_ps(wv, x1, a11), a12 = _mm256_fmadd_ps(wv, x2, a12);
          wv = _mm256_broadcast_ss(wr + 2 * ss + c);
          a20 = _mm256_fmadd_ps(wv, x0, a20), a21 = _mm256_fmadd_ps(wv, x1, a21), a22 = _mm256_fmadd_ps(wv, x2, a22);
          wv = _mm256_broadcast_ss(wr + 3 * ss + c);
          a30 = _mm256_fmadd_ps(wv, x0, a30), a31 = _mm256_fmadd_ps(wv, x1, a31), a32 = _mm256_fmadd_ps(wv, x2, a32);
        }
      }
      float* yp = y + p * Q + q;
      _mm256_storeu_ps(yp, a00), _mm256_storeu_ps(yp + 8, a01), _mm256_storeu_ps(yp + 16, a02);
      _mm256_storeu_ps(yp + PQ, a10), _mm256_storeu_ps(yp + PQ + 8, a11), _mm256_storeu_ps(yp + PQ + 16, a12);
      _mm256_storeu_ps(yp + 2 * PQ, a20), _mm256_storeu_ps(yp + 2 * PQ + 8, a21), _mm256_storeu_ps(yp + 2 * PQ + 16, a22);
      _mm256_storeu_ps(yp + 3 * PQ, a30), _mm256_storeu_ps(yp + 3 * PQ + 8, a31), _mm256_storeu_ps(yp + 3 * PQ + 16, a32);
    }
    for (; q + 8 <= Q; q += 8) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t r = 0; r < s; ++r) {
        const float* xr = x + (p + r) * W + q;
        const float* wr = w + r * s;
        for (int64_t c = 0; c < s; ++c) {
          const __m256 x0 = _mm256_loadu_ps(xr + c);
          a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + c), x0, a0);
          a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + ss + c), x0, a1);
          a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 2 * ss + c), x0, a2);
          a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(wr + 3 * ss + c), x0, a3);
        }
      }
      float* yp = y + p * Q + q;
      _mm256_storeu_ps(yp, a0), _mm256_storeu_ps(yp + PQ, a1), _mm256_storeu_ps(yp + 2 * PQ, a2), _mm256_storeu_ps(yp + 3 * PQ, a3);
    }
#endif
    for (; q < Q; ++q)
      for (int64_t o = 0; o < 4; ++o) {
        float acc = 0;
        for (int64_t r = 0; r < s; ++r)
          for (int64_t c = 0; c < s; ++c) acc += w[o * ss + r * s + c] * x[(p + r) * W + q + c];
        y[o * PQ + p * Q + q] = acc;
      }
  }
}

}  // namespace

void hmax_s1_cpu(const float* x, int64_t S, const float* w, int64_t s, float* out) {
  const int64_t P = S - s + 1, half = (s - 1) / 2;
  std::vector<float> y(static_cast<size_t>(4 * P * P));
  correlate4(x, S, w, s, P, P, y.data());
  // Local energy: horizontal window sums of x^2, then vertical sums of those (2s adds a pixel).
  std::vector<float> h(static_cast<size_t>(S * P));
  for (int64_t i = 0; i < S; ++i)
    for (int64_t q = 0; q < P; ++q) {
      float acc = 0;
      for (int64_t c = 0; c < s; ++c) acc += x[i * S + q + c] * x[i * S + q + c];
      h[static_cast<size_t>(i * P + q)] = acc;
    }
  std::vector<float> inv(static_cast<size_t>(P * P));
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < P; ++q) {
      float acc = 0;
      for (int64_t r = 0; r < s; ++r) acc += h[static_cast<size_t>((p + r) * P + q)];
      inv[static_cast<size_t>(p * P + q)] = 1.f / std::sqrt(acc + 1e-12f);
    }
  std::memset(out, 0, sizeof(float) * static_cast<size_t>(4 * S * S));
  for (int64_t o = 0; o < 4; ++o)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < P; ++q)
        out[(o * S + p + half) * S + q + half] =
            std::fabs(y[static_cast<size_t>((o * P + p) * P + q)]) * inv[static_cast<size_t>(p * P + q)];
}

void hmax_c1_cpu(const float* a, const float* b, int64_t S, int64_t m, int64_t step, int64_t offset, int64_t L, float* out) {
  std::vector<float> rows(static_cast<size_t>(S * L));
  for (int64_t i = 0; i < S; ++i)
    for (int64_t k = 0; k < L; ++k) {
      const int64_t c0 = std::max<int64_t>(0, k * step - offset), c1 = std::min(S, k * step - offset + m);
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t c = c0; c < c1; ++c) mx = std::max(mx, std::max(a[i * S + c], b[i * S + c]));
      rows[static_cast<size_t>(i * L + k)] = mx;
    }
  for (int64_t k = 0; k < L; ++k) {
    const int64_t r0 = std::max<int64_t>(0, k * step - offset), r1 = std::min(S, k * step - offset + m);
    for (int64_t q = 0; q < L; ++q) {
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t r = r0; r < r1; ++r) mx = std::max(mx, rows[static_cast<size_t>(r * L + q)]);
      out[k * L + q] = mx;
    }
  }
}

}  // namespace ml::models
