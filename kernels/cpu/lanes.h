// kernels/cpu/lanes.h — one hardware vector of floats as one value (GCC vector extension): 16
// lanes with AVX-512, 8 with AVX2 (the floor, x86-64-v3), with loads and stores of the first n
// lanes only, compress/expand, and the stride-2 (de)interleaving that 2x2 tiles need.
//
// Why: the Winograd transforms and 2x2 pooling work on runs of tiles or windows whose length is
// rarely a multiple of the vector width (a row of vgg_small's conv2_2 has 5 tiles, a block of an
// image's tiles has some dummies to skip). GCC 12 vectorises such loops into full vectors plus a
// scalar remainder, and a 5-tile row ran entirely as scalar code. Partial loads and stores let one
// vector iteration cover the remainder. Masked-off lanes are neither read nor written, so reading
// past the end of a buffer cannot fault.
//
// The width is the build's register width, never more: a 64-byte vector on a 32-byte ISA is two
// registers to GCC, which spilled the GEMM's accumulators and turned every masked load, compress
// and interleave into an element loop (issue 13: Winograd 25-30x slower on AVX2 than AVX-512).
//   AVX-512: masked loads/stores, vcompressps/vexpandps, vpermt2ps for the pairs.
//   AVX2:    vmaskmovps (a plain load/store when all 8 lanes are wanted, the common case),
//            vpermps with an index from a 256-entry table for compress/expand,
//            vshufps + vpermpd / vunpck + vperm2f128 for the pairs.
// Without AVX2 (not a supported target, kept so the code still compiles) plain loops stand in.
// Every variant gives the same values: only data movement differs, no arithmetic.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

// Without AVX, GCC warns that passing a 32-byte vector by value "changes the ABI": true, and
// harmless for these inline helpers, which never cross a library boundary.
#if !defined(__AVX2__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace ml::kernels::lanes {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#else
constexpr int kLanes = 8;
#endif
typedef float vf __attribute__((vector_size(4 * kLanes)));
typedef int32_t vi __attribute__((vector_size(4 * kLanes)));  // also what comparing two vf gives (-1 / 0)

inline vf zero() { return vf{}; }
inline vf broadcast(float a) { return vf{} + a; }
#if defined(__AVX512F__)
inline vi iota() { return vi{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }
#else
inline vi iota() { return vi{0, 1, 2, 3, 4, 5, 6, 7}; }
#endif

#if defined(__AVX512F__)
inline __mmask16 first(int n) { return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << std::max(n, 0)) - 1u); }

// Lanes [0, n) from p, the rest 0.
inline vf load(const float* p, int n) { return reinterpret_cast<vf>(_mm512_maskz_loadu_ps(first(n), p)); }
// p[0, n) = lanes [0, n).
inline void store(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, first(n), reinterpret_cast<__m512>(v)); }
inline void store(int32_t* p, vi v, int n) { _mm512_mask_storeu_epi32(p, first(n), reinterpret_cast<__m512i>(v)); }

// even[j] = p[2j], odd[j] = p[2j + 1] for 2j (+1) < m; lanes past m are 0. m <= 2 kLanes.
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

// p[2j] = even[j], p[2j + 1] = odd[j], the first m floats only. m <= 2 kLanes.
inline void store_pairs(float* p, vf even, vf odd, int m) {
  const __m512 e = reinterpret_cast<__m512>(even), o = reinterpret_cast<__m512>(odd);
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  _mm512_mask_storeu_ps(p, first(m), _mm512_permutex2var_ps(e, lo, o));
  _mm512_mask_storeu_ps(p + 16, first(m - 16), _mm512_permutex2var_ps(e, hi, o));
}
#elif defined(__AVX2__)
// All ones in lanes [0, n), the mask vmaskmovps wants.
inline __m256i first(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }

inline vf load(const float* p, int n) {
  return reinterpret_cast<vf>(n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first(n)));
}
inline void store(float* p, vf v, int n) {
  if (n >= 8)
    _mm256_storeu_ps(p, reinterpret_cast<__m256>(v));
  else
    _mm256_maskstore_ps(p, first(n), reinterpret_cast<__m256>(v));
}
inline void store(int32_t* p, vi v, int n) {
  if (n >= 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(v));
  else
    _mm256_maskstore_epi32(p, first(n), reinterpret_cast<__m256i>(v));
}

// vpermpd's lane order (0, 2, 1, 3) in 64-bit units: undoes vshufps's per-128-bit-half result.
inline __m256 swap_middle(__m256 x) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(x), 0xD8)); }

inline void load_pairs(const float* p, int m, vf& even, vf& odd) {
  const __m256 a = reinterpret_cast<__m256>(load(p, m)), b = reinterpret_cast<__m256>(load(p + 8, m - 8));
  // vshufps: [a0 a2 b0 b2 | a4 a6 b4 b6]; the swap: [a0 a2 a4 a6 b0 b2 b4 b6].
  even = reinterpret_cast<vf>(swap_middle(_mm256_shuffle_ps(a, b, 0x88)));
  odd = reinterpret_cast<vf>(swap_middle(_mm256_shuffle_ps(a, b, 0xDD)));
}

// Byte j of kCompressIndex[mask]: the lane of the j-th set bit of mask; byte i of
// kExpandIndex[mask]: how many set bits lie below bit i (the source lane of lane i).
inline constexpr std::array<uint64_t, 256> kCompressIndex = [] {
  std::array<uint64_t, 256> t{};
  for (unsigned m = 0; m < 256; ++m) {
    int k = 0;
    for (unsigned i = 0; i < 8; ++i)
      if (m >> i & 1) t[m] |= uint64_t{i} << (8 * k++);
  }
  return t;
}();
inline constexpr std::array<uint64_t, 256> kExpandIndex = [] {
  std::array<uint64_t, 256> t{};
  for (unsigned m = 0; m < 256; ++m) {
    uint64_t k = 0;
    for (unsigned i = 0; i < 8; ++i)
      if (m >> i & 1) t[m] |= k++ << (8 * i);
  }
  return t;
}();
inline __m256i index_of(uint64_t bytes) { return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(bytes))); }

inline vf compress(vf v, uint16_t mask) {
  const unsigned m = mask & 0xFFu;
  const __m256 r = _mm256_permutevar8x32_ps(reinterpret_cast<__m256>(v), index_of(kCompressIndex[m]));
  return reinterpret_cast<vf>(_mm256_and_ps(r, _mm256_castsi256_ps(first(__builtin_popcount(m)))));
}
inline vf expand(vf v, uint16_t mask) {
  const unsigned m = mask & 0xFFu;
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i sel = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>(m)), bit), bit);
  const __m256 r = _mm256_permutevar8x32_ps(reinterpret_cast<__m256>(v), index_of(kExpandIndex[m]));
  return reinterpret_cast<vf>(_mm256_and_ps(r, _mm256_castsi256_ps(sel)));
}

inline void store_pairs(float* p, vf even, vf odd, int m) {
  const __m256 e = reinterpret_cast<__m256>(even), o = reinterpret_cast<__m256>(odd);
  const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);  // [e0 o0 e1 o1 | e4 o4 e5 o5], [e2 ..]
  store(p, reinterpret_cast<vf>(_mm256_permute2f128_ps(lo, hi, 0x20)), m);
  store(p + 8, reinterpret_cast<vf>(_mm256_permute2f128_ps(lo, hi, 0x31)), m - 8);
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
