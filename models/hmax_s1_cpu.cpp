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
#if defined(__AVX512F__)
#define ML_HMAX_AVX512 1
#endif

namespace ml::models {

namespace {

// Whether every filter of w (4, s, s) is point-symmetric, w[t] == w[s^2 - 1 - t] (CBCL's Gabors
// are: a centred, even cosine times a Gaussian on a disc). Then the correlation adds the two
// pixels of each tap pair first, once for the 4 orientations: (s^2 + 1) / 2 multiply-adds per
// output and filter instead of s^2.
bool point_symmetric(const float* w, int64_t s) {
  const int64_t ss = s * s;
  for (int64_t o = 0; o < 4; ++o)
    for (int64_t t = 0; t < ss / 2; ++t)
      if (w[o * ss + t] != w[o * ss + ss - 1 - t]) return false;
  return true;
}

#ifdef ML_HMAX_AVX512
// 16 x V output columns of the 4 filters at row p, column q (V zmm accumulators per filter).
// Taps t < ss/2 are paired with ss-1-t when `sym`, the centre tap last. `lanes` masks the last
// vector's columns (the row's tail: the loads past it never touch memory).
template <int V>
inline void block512(const float* x, int64_t W, const float* w, int64_t s, int64_t p, int64_t q, int64_t PQ, int64_t Q,
                     bool sym, float* y, __mmask16 lanes = 0xFFFF) {
  auto load = [lanes](int v, const float* a) {
    return v == V - 1 ? _mm512_maskz_loadu_ps(lanes, a) : _mm512_loadu_ps(a);
  };
  const int64_t ss = s * s;
  __m512 acc[4][V];
  for (int o = 0; o < 4; ++o)
    for (int v = 0; v < V; ++v) acc[o][v] = _mm512_setzero_ps();
  auto tap = [&](int64_t t, const __m512* xv) {
    for (int o = 0; o < 4; ++o) {
      const __m512 wv = _mm512_set1_ps(w[o * ss + t]);
      for (int v = 0; v < V; ++v) acc[o][v] = _mm512_fmadd_ps(wv, xv[v], acc[o][v]);
    }
  };
  const int64_t pairs = sym ? ss / 2 : ss;
  for (int64_t t = 0; t < pairs; ++t) {
    const int64_t r = t / s, c = t % s;
    const float* a = x + (p + r) * W + q + c;
    __m512 xv[V];
    if (sym) {
      const float* b = x + (p + s - 1 - r) * W + q + s - 1 - c;
      for (int v = 0; v < V; ++v) xv[v] = _mm512_add_ps(load(v, a + 16 * v), load(v, b + 16 * v));
    } else {
      for (int v = 0; v < V; ++v) xv[v] = load(v, a + 16 * v);
    }
    tap(t, xv);
  }
  if (sym) {  // the centre tap
    const int64_t h = (s - 1) / 2;
    const float* a = x + (p + h) * W + q + h;
    __m512 xv[V];
    for (int v = 0; v < V; ++v) xv[v] = load(v, a + 16 * v);
    tap(ss / 2, xv);
  }
  for (int o = 0; o < 4; ++o)
    for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(y + o * PQ + p * Q + q + 16 * v, v == V - 1 ? lanes : 0xFFFF, acc[o][v]);
}
#endif

#ifdef ML_HMAX_AVX2
// The same with 8 x V columns in ymm registers.
template <int V>
inline void block256(const float* x, int64_t W, const float* w, int64_t s, int64_t p, int64_t q, int64_t PQ, int64_t Q,
                     bool sym, float* y) {
  const int64_t ss = s * s;
  __m256 acc[4][V];
  for (int o = 0; o < 4; ++o)
    for (int v = 0; v < V; ++v) acc[o][v] = _mm256_setzero_ps();
  auto tap = [&](int64_t t, const __m256* xv) {
    for (int o = 0; o < 4; ++o) {
      const __m256 wv = _mm256_broadcast_ss(w + o * ss + t);
      for (int v = 0; v < V; ++v) acc[o][v] = _mm256_fmadd_ps(wv, xv[v], acc[o][v]);
    }
  };
  const int64_t pairs = sym ? ss / 2 : ss;
  for (int64_t t = 0; t < pairs; ++t) {
    const int64_t r = t / s, c = t % s;
    const float* a = x + (p + r) * W + q + c;
    __m256 xv[V];
    if (sym) {
      const float* b = x + (p + s - 1 - r) * W + q + s - 1 - c;
      for (int v = 0; v < V; ++v) xv[v] = _mm256_add_ps(_mm256_loadu_ps(a + 8 * v), _mm256_loadu_ps(b + 8 * v));
    } else {
      for (int v = 0; v < V; ++v) xv[v] = _mm256_loadu_ps(a + 8 * v);
    }
    tap(t, xv);
  }
  if (sym) {
    const int64_t h = (s - 1) / 2;
    const float* a = x + (p + h) * W + q + h;
    __m256 xv[V];
    for (int v = 0; v < V; ++v) xv[v] = _mm256_loadu_ps(a + 8 * v);
    tap(ss / 2, xv);
  }
  for (int o = 0; o < 4; ++o)
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(y + o * PQ + p * Q + q + 8 * v, acc[o][v]);
}
#endif

// y (4, P, Q) = correlation of x (rows of stride W) with w (4, s, s), the valid positions.
void correlate4(const float* x, int64_t W, const float* w, int64_t s, int64_t P, int64_t Q, float* y) {
  const int64_t PQ = P * Q, ss = s * s;
  const bool sym = point_symmetric(w, s);
  for (int64_t p = 0; p < P; ++p) {
    int64_t q = 0;
#ifdef ML_HMAX_AVX512
    for (; q + 48 <= Q; q += 48) block512<3>(x, W, w, s, p, q, PQ, Q, sym, y);
    for (; q < Q; q += 16)
      block512<1>(x, W, w, s, p, q, PQ, Q, sym, y, q + 16 <= Q ? 0xFFFF : static_cast<__mmask16>((1u << (Q - q)) - 1));
#endif
#ifdef ML_HMAX_AVX2
    for (; q + 24 <= Q; q += 24) block256<3>(x, W, w, s, p, q, PQ, Q, sym, y);
    for (; q + 8 <= Q; q += 8) block256<1>(x, W, w, s, p, q, PQ, Q, sym, y);
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
  // Local energy: horizontal window sums of x^2, then vertical sums of those (2s adds a pixel),
  // each summed in tap order with the output columns innermost (so the compiler vectorises).
  std::vector<float> x2(static_cast<size_t>(S * S));
  for (int64_t i = 0; i < S * S; ++i) x2[static_cast<size_t>(i)] = x[i] * x[i];
  std::vector<float> h(static_cast<size_t>(S * P), 0.f);
  for (int64_t i = 0; i < S; ++i) {
    float* hr = h.data() + i * P;
    const float* xr = x2.data() + i * S;
    for (int64_t c = 0; c < s; ++c)
      for (int64_t q = 0; q < P; ++q) hr[q] += xr[q + c];
  }
  std::vector<float> inv(static_cast<size_t>(P * P), 0.f);
  for (int64_t p = 0; p < P; ++p) {
    float* ir = inv.data() + p * P;
    for (int64_t r = 0; r < s; ++r) {
      const float* hr = h.data() + (p + r) * P;
      for (int64_t q = 0; q < P; ++q) ir[q] += hr[q];
    }
    for (int64_t q = 0; q < P; ++q) ir[q] = 1.f / std::sqrt(ir[q] + 1e-12f);
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
