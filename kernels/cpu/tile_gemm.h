// kernels/cpu/tile_gemm.h — a matrix product for operands already laid out for it,
//     out (R x T) = A (R x Q) * B (Q x T)   (or out += A * B),
// with B and out row-major (T contiguous) and A read through two strides, so that A may be U
// (rs = C, qs = 1) or U^T (rs = 1, qs = C) without a copy. Used for the Winograd products and
// for im2col products with a short inner dimension (a first layer's 3 x 3 x 3 = 27).
//
// Why not Eigen: these products are small in R or Q (27 to 128) and there are many of them
// (16 per chunk of images, or one per image); Eigen packs both operands into its own layouts on
// every call, which cost about as much as the arithmetic here. B's rows are already contiguous, so the kernel reads
// them in place: for a block of kRows rows of A and two vectors' worth of columns of B it keeps
// 2 kRows vector accumulators, and per step q loads two vectors of B and broadcasts kRows values
// of A (8 x 32 on AVX-512, 6 x 16 on AVX2; see kRows). The block's columns of B (Q x 128 or
// 64 bytes) stay in L1 while every row block of A passes over them.
//
// Sums run over q in order, one fused multiply-add per step (as a plain loop would), so the
// result does not depend on T, R or the blocking.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/lanes.h"

namespace ml::kernels::tile_gemm {

// The register blocking, per ISA. A block keeps kRows x 2 vector accumulators, loads two vectors
// of B per step and broadcasts kRows values of A; accumulators + 2 + 1 must fit the registers.
//   AVX-512 (32 zmm): 8 rows x 32 columns, 16 accumulators (2 loads + 8 broadcasts : 16 FMAs).
//   AVX2    (16 ymm): 6 rows x 16 columns, 12 accumulators + 2 of B + 1 broadcast = 15
//                     (the usual AVX2 SGEMM micro-tile; 8 rows would need 19 and spill).
#if defined(__AVX512F__)
constexpr int kRows = 8;  // rows of A per block
#else
constexpr int kRows = 6;
#endif
constexpr int kCols = 2 * lanes::kLanes;  // columns of B per block

// Rows past nr (a last, partial block) read row 0 of A again and are never stored.
inline void row_offsets(int64_t (&o)[kRows], int nr, int64_t rs) {
  for (int r = 0; r < kRows; ++r) o[r] = (r < nr ? r : 0) * rs;
}

// The accumulators back into out (+= with accumulate), rows [0, nr), n0 + n1 columns.
inline void store_block(float* out, int64_t ldo, const lanes::vf (&acc)[kRows][2], int n0, int n1, int nr,
                        bool accumulate) {
  constexpr int w = lanes::kLanes;
  for (int r = 0; r < nr; ++r) {
    float* o0 = out + r * ldo;
    lanes::store(o0, accumulate ? acc[r][0] + lanes::load(o0, n0) : acc[r][0], n0);
    lanes::store(o0 + w, accumulate ? acc[r][1] + lanes::load(o0 + w, n1) : acc[r][1], n1);
  }
}

// One block: rows [0, nr) of A (nr <= kRows), columns [0, n0 + n1) of B with n0 <= kLanes in
// the first vector and n1 <= kLanes in the second. The accumulators are named variables: GCC
// keeps an array of vectors in memory and stored all of them back on every step.
inline void block(float* out, int64_t ldo, const float* A, int64_t rs, int64_t qs, const float* B, int64_t ldb,
                  int64_t Q, int n0, int n1, int nr, bool accumulate) {
  using lanes::vf;
  constexpr int w = lanes::kLanes;
  int64_t o[kRows];
  row_offsets(o, nr, rs);
#if defined(__AVX512F__)
  vf c00{}, c01{}, c10{}, c11{}, c20{}, c21{}, c30{}, c31{}, c40{}, c41{}, c50{}, c51{}, c60{}, c61{}, c70{}, c71{};
  for (int64_t q = 0; q < Q; ++q) {
    const vf b0 = lanes::load(B + q * ldb, n0), b1 = lanes::load(B + q * ldb + w, n1);
    const float* a = A + q * qs;
    const float a0 = a[o[0]], a1 = a[o[1]], a2 = a[o[2]], a3 = a[o[3]], a4 = a[o[4]], a5 = a[o[5]], a6 = a[o[6]],
                a7 = a[o[7]];
    c00 += a0 * b0, c01 += a0 * b1, c10 += a1 * b0, c11 += a1 * b1;
    c20 += a2 * b0, c21 += a2 * b1, c30 += a3 * b0, c31 += a3 * b1;
    c40 += a4 * b0, c41 += a4 * b1, c50 += a5 * b0, c51 += a5 * b1;
    c60 += a6 * b0, c61 += a6 * b1, c70 += a7 * b0, c71 += a7 * b1;
  }
  const vf acc[kRows][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                            {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
#else
  vf c00{}, c01{}, c10{}, c11{}, c20{}, c21{}, c30{}, c31{}, c40{}, c41{}, c50{}, c51{};
  for (int64_t q = 0; q < Q; ++q) {
    const vf b0 = lanes::load(B + q * ldb, n0), b1 = lanes::load(B + q * ldb + w, n1);
    const float* a = A + q * qs;
    const float a0 = a[o[0]], a1 = a[o[1]], a2 = a[o[2]], a3 = a[o[3]], a4 = a[o[4]], a5 = a[o[5]];
    c00 += a0 * b0, c01 += a0 * b1, c10 += a1 * b0, c11 += a1 * b1;
    c20 += a2 * b0, c21 += a2 * b1, c30 += a3 * b0, c31 += a3 * b1;
    c40 += a4 * b0, c41 += a4 * b1, c50 += a5 * b0, c51 += a5 * b1;
  }
  const vf acc[kRows][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
#endif
  store_block(out, ldo, acc, n0, n1, nr, accumulate);
}

// out (R x T, leading dimension ldo) = A * B, or += A * B with accumulate.
inline void multiply(float* out, int64_t ldo, const float* A, int64_t rs, int64_t qs, const float* B, int64_t ldb,
                     int64_t R, int64_t Q, int64_t T, bool accumulate = false) {
  for (int64_t t0 = 0; t0 < T; t0 += kCols) {
    const int nt = static_cast<int>(std::min<int64_t>(kCols, T - t0));
    const int n0 = std::min(nt, lanes::kLanes), n1 = nt - n0;
    for (int64_t r0 = 0; r0 < R; r0 += kRows)
      block(out + r0 * ldo + t0, ldo, A + r0 * rs, rs, qs, B + t0, ldb, Q, n0, n1,
            static_cast<int>(std::min<int64_t>(kRows, R - r0)), accumulate);
  }
}

}  // namespace ml::kernels::tile_gemm
