// kernels/cpu/fast_math.h — e^x, log, softplus and sigmoid in float from multiply-adds, selects and
// bit operations only, written once for a float and for a hardware vector of floats (lanes::vf):
// every function is a template on V, and ?: on a vector comparison is GCC's lane-wise select.
// std::exp and std::log1p are scalar calls into libm: softplus through them was 34 % of a V1 ci
// training step (perf, 2 threads AVX-512: __log1pf 21 %, __expf 4 %, the loops around them 9 %);
// PyTorch's is vectorised.
//
// Accuracy (measured against double over dense grids; tests/test_elementwise.cpp asserts the
// bounds in brackets, which leave a margin for other compilers' contraction of a * b + c):
//   exp_nonpositive  relative 8.4e-8 on [-87.3, 0]   [1.2e-7] (Cephes' expf)
//   log_1_2          absolute 3.9e-8 on [1, 2]       [6e-8]   (Cephes' logf polynomial)
//   log1p_unit       relative 1.6e-7 on [0, 1]       [2.4e-7] (Goldberg: ln(u) t / (u - 1), u = 1 + t)
//   softplus_value   relative 2.2e-7 for z >= -87.3  [3.6e-7] (below, e^z is subnormal: 0 returned)
//   sigmoid_value    relative 2.0e-7 for z >= -87.3  [3.6e-7]
// i.e. 1-3 float ulps (2^-23 = 1.2e-7), what std:: gives within its own 1-ulp bound plus the
// roundings of the formula around it. The vector forms do the same operations lane by lane, so they
// give the scalar forms' values bit for bit (tested).
//
// Why explicit vectors: written as scalar code with ?:, GCC 12 kept branches in the loop (it will
// not if-convert a division or a call it cannot prove trap-free, -ftrapping-math being the default),
// and a loop with control flow does not vectorise; the scalar loop was no faster than libm's.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/lanes.h"

namespace ml::kernels::fast_math {

using lanes::vf;
using lanes::vi;

// The integer type of the same width: int32_t for float, lanes::vi for lanes::vf.
template <class V>
using int_of = std::conditional_t<std::is_same_v<V, float>, int32_t, vi>;

template <class V>
inline V splat(float c) {
  if constexpr (std::is_same_v<V, float>) return c; else return V{} + c;
}

// floor(x) for |x| < 2^31.
template <class V>
inline V floor_of(V x) {
  if constexpr (std::is_same_v<V, float>) {
    return std::floor(x);
  } else {
    const V t = __builtin_convertvector(__builtin_convertvector(x, vi), vf);  // toward zero
    return t - (t > x ? splat<V>(1.f) : splat<V>(0.f));
  }
}

// 2^n for integral n in [-126, 127], from the exponent bits.
template <class V>
inline V pow2_of(V n) {
  using I = int_of<V>;
  I k;
  if constexpr (std::is_same_v<V, float>) k = static_cast<int32_t>(n); else k = __builtin_convertvector(n, vi);
  return std::bit_cast<V>(static_cast<I>((k + 127) << 23));
}

// e^x for x <= 0 (range reduction by ln 2 in two parts, a degree-6 polynomial, the exponent built
// from bits). Below -87.34 (where e^x leaves float's normal range) it returns 0; NaN stays NaN.
template <class V>
inline V exp_nonpositive(V x) {
  const V lo = splat<V>(-87.33654f), zero = splat<V>(0.f);
  // NaN goes through as 0 (x <= 0 is false for it), so no NaN reaches the integer conversion in
  // pow2_of (undefined behaviour for a float); the select at the end returns it.
  const V xc = x < lo ? lo : (x <= zero ? x : zero);
  const V n = floor_of(xc * 1.44269504088896341f + 0.5f);
  V r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V q = splat<V>(1.9875691500e-4f);
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  q = q * r * r + r + 1.f;
  const V e = q * pow2_of(n);
  return x < lo ? zero : (x != x ? x : e);
}

// ln u for u in [1, 2]: u = 2^e m with m in [sqrt(1/2), sqrt 2), e in {0, 1}, and Cephes' degree-9
// polynomial in m - 1 (m - 1 is exact in float for u < sqrt 2, and u / 2 is exact).
template <class V>
inline V log_1_2(V u) {
  const auto high = u > splat<V>(1.41421356f);
  const V e = high ? splat<V>(1.f) : splat<V>(0.f);
  const V x = (high ? u * 0.5f : u) - 1.f;
  const V z = x * x;
  V p = splat<V>(7.0376836292e-2f);
  p = p * x - 1.1514610310e-1f;
  p = p * x + 1.1676998740e-1f;
  p = p * x - 1.2420140846e-1f;
  p = p * x + 1.4249322787e-1f;
  p = p * x - 1.6668057665e-1f;
  p = p * x + 2.0000714765e-1f;
  p = p * x - 2.4999993993e-1f;
  p = p * x + 3.3333331174e-1f;
  V y = p * x * z;
  y += e * -2.12194440e-4f;
  y += z * -0.5f;
  return x + y + e * 0.693359375f;
}

// ln(1 + t) for t in [0, 1]. u = 1 + t rounds, but u - 1 is then exact, and ln(u) / (u - 1) is
// smooth, so ln(u) * t / (u - 1) keeps t's full relative precision (Goldberg 1991); u == 1 means
// t < 2^-24, where ln(1 + t) = t to float precision.
template <class V>
inline V log1p_unit(V t) {
  const V u = t + 1.f;
  const V d = u - 1.f;
  const auto tiny = d == splat<V>(0.f);
  const V l = log_1_2(u) * (t / (tiny ? splat<V>(1.f) : d));
  return tiny ? t : l;
}

// ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|), no overflow for any z; NaN stays NaN.
template <class V>
inline V softplus_value(V z) {
  const auto positive = z > splat<V>(0.f);
  const V v = (positive ? z : splat<V>(0.f)) + log1p_unit(exp_nonpositive(positive ? -z : z));
  return z != z ? z : v;
}

// 1 / (1 + e^-z) from e = e^-|z| <= 1 (no overflow): 1 / (1 + e) for z >= 0, e / (1 + e) below.
template <class V>
inline V sigmoid_value(V z) {
  const V e = exp_nonpositive(z > splat<V>(0.f) ? -z : z);
  const V inv = splat<V>(1.f) / (e + 1.f);
  return z >= splat<V>(0.f) ? inv : e * inv;
}

}  // namespace ml::kernels::fast_math
