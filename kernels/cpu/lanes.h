// kernels/cpu/lanes.h — 16 floats as one value (GCC vector extension), with loads and stores of
// the first n lanes only and the stride-2 (de)interleaving that 2x2 tiles need.
//
// Why: the Winograd transforms and 2x2 pooling work on runs of tiles or windows whose length is
// rarely a multiple of 16 (a row of vgg_small's conv2_2 has 5 tiles, a block of an image's tiles
// has some dummies to skip). GCC 12 vectorises such loops into full vectors plus a scalar
// remainder, and a 5-tile row ran entirely as scalar code. Partial loads and stores let one vector
// iteration cover the remainder. With AVX-512 they are single masked instructions (masked-off
// lanes are neither read nor written, so reading past the end of a buffer cannot fault); elsewhere
// a plain loop stands in (same results).
#pragma once
#include <algorithm>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// Without AVX-512 GCC warns that passing a 64-byte vector by value "changes the ABI": true, and
// harmless for these inline helpers, which never cross a library boundary.
#if !defined(__AVX512F__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace ml::kernels::lanes {

constexpr int kLanes = 16;
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));  // also what comparing two vf gives (-1 / 0)

inline vf zero() { return vf{}; }
inline vf broadcast(float a) { return vf{} + a; }
inline vi iota() { return vi{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }

#if defined(__AVX512F__)
inline __mmask16 first(int n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << std::max(n, 0)) - 1u); }

// Lanes [0, n) from p, the rest 0.
inline vf load(const float* p, int n) { return reinterpret_cast<vf>(_mm512_maskz_loadu_ps(first(n), p)); }
// p[0, n) = lanes [0, n).
inline void store(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, first(n), reinterpret_cast<__m512>(v)); }
inline void store(int32_t* p, vi v, int n) { _mm512_mask_storeu_epi32(p, first(n), reinterpret_cast<__m512i>(v)); }

// even[j] = p[2j], odd[j] = p[2j + 1] for 2j (+1) < m; lanes past m are 0. m <= 32.
inline void load_pairs(const float* p, int m, vf& even, vf& odd) {
  const __m512 a = _mm512_maskz_loadu_ps(first(m), p);
  const __m512 b = _mm512_maskz_loadu_ps(first(m - 16), p + 16);
  const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  even = reinterpret_cast<vf>(_mm512_permutex2var_ps(a, ie, b));
  odd = reinterpret_cast<vf>(_mm512_permutex2var_ps(a, io, b));
}

// The lanes of v selected by mask, moved down to lanes 0, 1, ... (the rest 0); and back.
inline vf compress(vf v, uint16_t mask) { return reinterpret_cast<vf>(_mm512_maskz_compress_ps(mask, reinterpret_cast<__m512>(v))); }
inline vf expand(vf v, uint16_t mask) { return reinterpret_cast<vf>(_mm512_maskz_expand_ps(mask, reinterpret_cast<__m512>(v))); }

// p[2j] = even[j], p[2j + 1] = odd[j], the first m floats only. m <= 32.
inline void store_pairs(float* p, vf even, vf odd, int m) {
  const __m512 e = reinterpret_cast<__m512>(even), o = reinterpret_cast<__m512>(odd);
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  _mm512_mask_storeu_ps(p, first(m), _mm512_permutex2var_ps(e, lo, o));
  _mm512_mask_storeu_ps(p + 16, first(m - 16), _mm512_permutex2var_ps(e, hi, o));
}
#else
inline vf load(const float* p, int n) {
  vf v{};
  for (int i = 0; i < std::min(n, kLanes); ++i) v[i] = p[i];
  return v;
}
inline void store(float* p, vf v, int n) {
  for (int i = 0; i < std::min(n, kLanes); ++i) p[i] = v[i];
}
inline void store(int32_t* p, vi v, int n) {
  for (int i = 0; i < std::min(n, kLanes); ++i) p[i] = v[i];
}
inline vf compress(vf v, uint16_t mask) {
  vf r{};
  int k = 0;
  for (int i = 0; i < kLanes; ++i)
    if (mask >> i & 1) r[k++] = v[i];
  return r;
}
inline vf expand(vf v, uint16_t mask) {
  vf r{};
  int k = 0;
  for (int i = 0; i < kLanes; ++i)
    if (mask >> i & 1) r[i] = v[k++];
  return r;
}
inline void load_pairs(const float* p, int m, vf& even, vf& odd) {
  even = vf{};
  odd = vf{};
  for (int i = 0; i < std::min(m, 2 * kLanes); ++i) (i % 2 ? odd : even)[i / 2] = p[i];
}
inline void store_pairs(float* p, vf even, vf odd, int m) {
  for (int i = 0; i < std::min(m, 2 * kLanes); ++i) p[i] = (i % 2 ? odd : even)[i / 2];
}
#endif

}  // namespace ml::kernels::lanes
