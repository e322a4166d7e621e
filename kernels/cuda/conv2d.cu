// kernels/cuda/conv2d.cu — 2-D convolution (cross-correlation, as in PyTorch) and its two
// gradients on the GPU, FP32 throughout (plain FFMA, no TF32), every output overwritten.
//
// What is computed (kernels/conv2d.h; Cg = C/groups, Kg = K/groups, g = a group):
//   forward          y[n,k,p,q]  = b[k] + sum_{c<Cg,r,s} w[k,c,r,s] * x[n, gCg+c, p*sh-ph+r*dh, q*sw-pw+s*dw]
//   backward-data    gx[n,c,h,w] = sum_{k<Kg,r,s} w[k,c,r,s] * gy[n, gKg+k, p, q]
//                                  over the (r,s) with h = p*sh-ph+r*dh, w = q*sw-pw+s*dw, 0<=p<P, 0<=q<Q
//   backward-weight  gw[k,c,r,s] = sum_{n,p,q} gy[n,k,p,q] * x[n, gCg+c, p*sh-ph+r*dh, q*sw-pw+s*dw]
//                    gb[k]       = sum_{n,p,q} gy[n,k,p,q]
// Layout: NCHW for x, y, gx, gy; (K, Cg, R, S) for w; all contiguous, float32.
//
// Fast path: implicit GEMM. Each pass is, per group, one matrix product C = A * B whose
// B operand is the im2col matrix, gathered from the image on the fly (never materialised):
//                 M (rows of C)   N (columns of C)      reduction          A            B (gathered)
//   forward       Kg filters      N*P*Q output pixels   Cg*R*S taps        w            x
//   backward-data Cg channels     N*H*W input pixels    Kg*R*S taps        w (as w^T)   gy, at p = (h+ph-r*dh)/sh
//                                                                                        when that divides exactly
//   backward-wt   Kg filters      Cg*R*S taps           N*P*Q pixels       gy           x
// Groups are a grid dimension (blockIdx.z); backward-weight also splits its long reduction
// (N*P*Q) into contiguous chunks along blockIdx.z ("split-K"), each writing its own partial
// product, summed by a second kernel in chunk order: deterministic, no float atomics.
//
// The tile. A block computes a BM x 128 tile of C (BM = 128, 64 or 32; 256, 128 or 64
// threads: one 32 x 64 warp tile per warp), stepping through the reduction 8 at a time
// (BK = 8). Each step it stages an A tile (BM x 8) and a B tile (8 x 128) in shared memory,
// double-buffered: the next step's global loads are issued into registers before the current
// step's arithmetic, and stored to the other buffer after it, so load latency hides behind
// the FFMAs and one __syncthreads per step suffices. Each thread owns an 8 x 8 block of C in
// registers (two 4x4 sub-blocks 16 rows and 32 columns apart, so that a warp's shared-memory
// reads are float4 and conflict-free: A fragments are broadcast, B fragments are 128
// contiguous bytes). Per reduction step a thread reads 16 floats from shared memory and does
// 64 FMAs: 4 FMAs per shared-memory word, and the block reuses every staged A element 128
// times (once per column) and every B element BM times. Global traffic per step is
// (BM + 128) * 8 floats for 2 * BM * 128 * 8 flops: 32 flops per byte for the 128 x 128
// tile, far above the H100's ~20 flops/byte FP32 balance point, so the kernel is bound by
// instruction issue, as a GEMM should be. The tile is picked per problem: the widest whose
// rows are mostly real (Kg or Cg > 64 for 128 rows, > 32 for 64) and that still gives at least
// one block per SM; forward and backward-data stay without split, backward-weight fills the
// GPU with split-K.
//
// Gathers. The B tile is loaded row by row: warp w loads reduction rows w, w + warps, ...,
// lane l the columns l, l + 32, l + 64, l + 96, so each load instruction covers 32
// consecutive columns (for the forward: 32 consecutive output pixels of one tap, consecutive x
// addresses at stride 1) and a thread's per-row index work serves its four loads. A (the
// weights, or gy for backward-weight) is loaded as 8 consecutive reduction indices of 4 rows
// per warp instruction (32-byte sectors). Every padded or out-of-range element is a
// predicated-off load that yields 0, so padding, stride, dilation and ragged tile edges need
// no special cases. The im2col index (c, r, s) of a reduction row is never divided out per
// load: each thread keeps it as a mixed-radix counter (c*H*W, r*dh, s*dw) advanced by adds
// and compares (Counter below); divisions happen once per thread. Backward-data at stride > 1
// divides by the stride with a multiply-shift (FastDiv) and tests divisibility; at stride 1 it
// does neither (a separate instantiation).
//
// What the compiler made of it (nvcc 13.0, sm_90, ptxas -v and the SASS of the main loop):
// no register spills in any main loop (12 reloads per step in the strided backward-data of
// the 128-row tile only); per BK step the 128-row tile issues ~740 instructions of which 512
// are FFMA (~70%; 32 LDS.128, 8 STS, 8 LDG, the rest index arithmetic), the 64-row tile ~840
// (61%), the 32-row tile ~1200 (42%: each gathered element feeds only 32 rows). That share
// is the ceiling on the fraction of the FP32 peak each tile can reach.
//
// The envelope of the implicit-GEMM kernels (else the direct kernels below run):
//   - 32-bit offsets: x, y and w each below 2^30 elements, padded extents below 2^30
//     (the headroom keeps every intermediate index of the counters inside int32);
//   - at least 8 GEMM rows (Kg for forward and backward-weight, Cg for backward-data):
//     below that a 32-row tile is more than 3/4 idle and the direct kernel should win
//     (a prediction for bench/cuda to confirm or move);
//   - backward-data with stride_h * stride_w <= 4: the GEMM multiplies by every tap but
//     only 1 in (sh*sw) of them meets an output pixel (e.g. AlexNet's first layer, stride 4:
//     1/16), while the direct kernel visits only the taps that do;
//   - grid limits (rows/BM and groups * splits <= 65535).
// Environment (read on every call, so a test can toggle them):
//   ML_CONV_FORCE_FALLBACK=1   always use the direct kernels (to test them);
//   ML_CONV_TILE=128|64|32     force the implicit-GEMM tile height (to test each tile).
//
// Direct kernels (the fallback, any shape the CPU accepts, 64-bit indices): one thread per
// output element looping over its taps (forward, backward-data; backward-data visits only
// the taps whose stride divides), one warp per weight-gradient element (its reduction over
// N*P*Q is long, so 32 lanes share it, then a fixed-order butterfly sum). The bias gradient is
// one block per channel summing in double with a fixed-order block sum.
//
// Accuracy: every output is a float32 sum of float32 products accumulated by FMA in a fixed
// order (sequential along the reduction within a split, then the splits in order), so results
// are reproducible bit for bit run to run; they differ from the CPU's Eigen order by rounding
// only (tests/cuda/test_conv_parity.cpp states the bound).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "kernels/conv2d.h"
#include "kernels/cuda/common.cuh"

namespace ml::kernels {

namespace {

using cuda::aligned16;
using cuda::grid_for;
using cuda::stream_of;

// ============================================================================================
// Integer helpers
// ============================================================================================

// n / d for 0 <= n < 2^31 by a multiply and a shift (Granlund & Montgomery): with
// s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1, n / d = (umulhi(n, m) + n) >> s.
struct FastDiv {
  uint32_t d = 1, m = 1, s = 0;
};

FastDiv make_fastdiv(int64_t d) {
  FastDiv f;
  if (d < 1) d = 1;  // never divided by (empty extents take the direct kernels)
  f.d = static_cast<uint32_t>(d);
  uint32_t s = 0;
  while ((uint64_t{1} << s) < static_cast<uint64_t>(d)) ++s;
  f.s = s;
  f.m = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << s) - static_cast<uint64_t>(d))) /
                                  static_cast<uint64_t>(d) +
                              1);
  return f;
}

__device__ __forceinline__ int fdiv(int n, const FastDiv& f) {
  const uint32_t t = __umulhi(static_cast<uint32_t>(n), f.m);
  return static_cast<int>((static_cast<uint64_t>(t) + static_cast<uint32_t>(n)) >> f.s);
}

// A reduction index i written in a mixed radix, i = (hi * Rm + mid) * Rl + lo, each digit
// stored pre-multiplied by the stride it has in memory (lo*sl, mid*sm, hi*sh). For the
// forward's im2col rows, i = (c, r, s) and the stored digits are (s*dw, r*dh, c*H*W): exactly
// the terms of the x address, so stepping i by a constant is three adds and two compares,
// with no division in the loop. (Whether i is still inside the reduction is tested against
// a count of rows remaining in the tile, kept once for both operands.)
struct Radix {
  int Rl = 1, Rm = 1;          // radices of lo and mid (hi is unbounded)
  int sl = 1, sm = 1, sh = 0;  // memory strides of the three digits
};

struct Counter {
  int lo = 0, mid = 0, hi = 0;
};

// Wrap limits and carries of a Radix, pre-multiplied.
struct Digits {
  int lo_wrap = 1, mid_unit = 1, mid_wrap = 1, hi_unit = 0;
};

Digits digits_of(const Radix& r) { return Digits{r.Rl * r.sl, r.sm, r.Rm * r.sm, r.sh}; }

// The digits of a constant step n (host side, for the per-step increments).
Counter step_of(const Radix& r, int64_t n) {
  Counter c;
  c.lo = static_cast<int>(n % r.Rl) * r.sl;
  c.mid = static_cast<int>((n / r.Rl) % r.Rm) * r.sm;
  c.hi = static_cast<int>(n / (static_cast<int64_t>(r.Rl) * r.Rm)) * r.sh;
  return c;
}

// The digits of index n (device side, once per thread).
__device__ __forceinline__ Counter counter_at(const Radix& r, int n) {
  Counter c;
  const int q = n / r.Rl;
  c.lo = (n - q * r.Rl) * r.sl;
  const int q2 = q / r.Rm;
  c.mid = (q - q2 * r.Rm) * r.sm;
  c.hi = q2 * r.sh;
  return c;
}

// c += d, digit by digit with carries. Each digit of c and d is below its radix, so one
// conditional carry per digit is enough.
__device__ __forceinline__ void advance(Counter& c, const Digits& w, const Counter& d) {
  c.lo += d.lo;
  if (c.lo >= w.lo_wrap) {
    c.lo -= w.lo_wrap;
    c.mid += w.mid_unit;
  }
  c.mid += d.mid;
  if (c.mid >= w.mid_wrap) {
    c.mid -= w.mid_wrap;
    c.hi += w.hi_unit;
  }
  c.hi += d.hi;
}

// The same for a radix with no middle digit (Rm == 1, the A operands): a carry out of lo
// goes straight to hi.
__device__ __forceinline__ void advance2(Counter& c, const Digits& w, const Counter& d) {
  c.lo += d.lo;
  if (c.lo >= w.lo_wrap) {
    c.lo -= w.lo_wrap;
    c.hi += w.hi_unit;
  }
  c.hi += d.hi;
}

// A column that lies past the GEMM's last column gets this as its row offset: every
// position computed from it is negative, so every load from it is predicated off.
constexpr int kInvalid = -(1 << 30);

// ============================================================================================
// Implicit GEMM
// ============================================================================================

// Block tile: BM x BN, warps arranged WM x WN, each warp a 32 x 64 tile, each lane 8 x 8.
// MIN_BLOCKS (launch bounds) caps the registers at 65536 / (MIN_BLOCKS * THREADS): 128 for
// the 128-row tile, ~170 and ~200 for the smaller ones, whose threads each gather more B
// elements (more column and counter state); ptxas then spills nothing inside the main loop
// (it did at a 128 cap), and an SM still holds 8-12 warps of 64 accumulators each.
template <int WM_, int WN_, int MIN_BLOCKS_>
struct Tile {
  static constexpr int WM = WM_, WN = WN_;
  static constexpr int BM = 32 * WM, BN = 64 * WN, BK = 8;
  static constexpr int THREADS = 32 * WM * WN;
  static constexpr int MIN_BLOCKS = MIN_BLOCKS_;
  // A tile (BM x BK): thread t loads column kk = t % BK of rows t / BK + i * A_ROW_STEP.
  static constexpr int A_LOADS = BM * BK / THREADS;
  static constexpr int A_ROW_STEP = THREADS / BK;
  // B tile (BK x BN): warp w loads whole rows w, w + WARPS, ... (B_KP of them), lane l the
  // columns l + 32 * jp (B_JP of them). Every load instruction is 32 consecutive columns
  // (coalesced), and a thread's reduction-index counter is shared by its B_JP loads of a row.
  static constexpr int WARPS = WM * WN;
  static constexpr int B_JP = BN / 32;
  static constexpr int B_KSTEP = WARPS;
  static constexpr int B_KP = BK / WARPS;
  // As is stored transposed (As[kk][m]); 4 floats of padding per row make the transposing
  // stores conflict-free (lanes kk = 0..7 land 4 banks apart) and keep rows 16-byte aligned.
  static constexpr int APAD = 4;
  static_assert(THREADS % BK == 0 && A_LOADS * THREADS == BM * BK, "A tile mapping");
  static_assert(BK % WARPS == 0 && B_KP * B_JP * THREADS == BK * BN, "B tile mapping");
};
using Tile128 = Tile<4, 2, 2>;  // 128 x 128, 256 threads, <= 128 registers
using Tile64 = Tile<2, 2, 3>;   //  64 x 128, 128 threads, <= 170 registers
using Tile32 = Tile<1, 2, 5>;   //  32 x 128,  64 threads, <= 204 registers

enum class Pass { Forward, DataUnitStride, DataStrided, Weight };

// Everything a GEMM kernel needs, by value (it lands in the constant bank: free operands).
struct GemmArgs {
  // C (M x Ncols) per group = A (M x k_total) * B (k_total x Ncols); the reduction is cut into
  // splits of k_chunk (a multiple of BK).
  int M, Ncols, k_total, k_chunk, groups;
  // A element (m, i) = a[group * a_group + counter(i).hi + counter(i).lo + m * a_ld].
  const float* a;
  int a_group, a_ld;
  Radix a_radix;
  Digits a_digits;
  Counter a_step;  // + BK
  // B is gathered from `b` (x or gy); its counter runs over the reduction index.
  const float* b;
  Radix b_radix;
  Digits b_digits;
  Counter b_step;   // + BK
  Counter b_kstep;  // + B_KSTEP (depends on the tile)
  // Geometry.
  int C, H, W, K, P, Q, S, RS, HW, PQ, Cg, Kg;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  FastDiv div_PQ, div_Q, div_HW, div_W, div_RS, div_S, div_sh, div_sw, div_plane;
  // Epilogue: out[split * split_stride + (n * out_c + group * M + m) * plane + pix], where
  // (n, pix) = divmod(column, plane), plus bias[group * M + m] when bias is not null.
  float* out;
  const float* bias;
  int out_c, plane, split_stride;
  bool vec_store;  // plane % 4 == 0 and out 16-byte aligned: float4 stores
};

// Loads of the A operand: thread t owns column kk = t % BK and rows m0 + t / BK + i * A_ROW_STEP.
// `rem` is the number of reduction rows left from the current tile's first (the same for
// every thread of the block).
template <class T>
struct ALoader {
  const float* base;  // A at (this thread's first row, reduction index 0)
  int rows_left;      // rows of A from this thread's first to the last
  Counter c;          // the thread's reduction index, as (lo, -, hi)

  __device__ __forceinline__ void init(const GemmArgs& a, int g, int m0, int k_begin) {
    const int row = m0 + static_cast<int>(threadIdx.x) / T::BK;
    base = a.a + static_cast<int64_t>(g) * a.a_group + static_cast<int64_t>(row) * a.a_ld;
    rows_left = a.M - row;
    c = counter_at(a.a_radix, k_begin + static_cast<int>(threadIdx.x) % T::BK);
  }
  __device__ __forceinline__ void fetch(const GemmArgs& a, int rem, float (&v)[T::A_LOADS]) const {
    const bool k_ok = static_cast<int>(threadIdx.x) % T::BK < rem;
    const float* p = base + c.hi + c.lo;
#pragma unroll
    for (int i = 0; i < T::A_LOADS; ++i)
      v[i] = (k_ok && i * T::A_ROW_STEP < rows_left) ? __ldg(p + i * T::A_ROW_STEP * a.a_ld) : 0.f;
  }
  __device__ __forceinline__ void next(const GemmArgs& a) { advance2(c, a.a_digits, a.a_step); }
};

// Gathers of the B operand: thread t owns columns t % 32 + 32 * jp and reduction rows
// t / 32 + i * B_KSTEP. Per column it keeps where the column's window starts (col_off,
// col_h, col_w); per row the Counter gives the tap's (or pixel's) offsets.
template <class T, Pass PASS>
struct BLoader {
  int col_off[T::B_JP], col_h[T::B_JP], col_w[T::B_JP];
  Counter c;  // at this thread's first row

  __device__ __forceinline__ void init(const GemmArgs& a, int g, int j0, int k_begin) {
    const int t = static_cast<int>(threadIdx.x);
    c = counter_at(a.b_radix, k_begin + t / 32);
#pragma unroll
    for (int jp = 0; jp < T::B_JP; ++jp) {
      const int j = j0 + t % 32 + jp * 32;
      col_off[jp] = 0;
      col_h[jp] = kInvalid;
      col_w[jp] = 0;
      if (j >= a.Ncols) continue;
      if constexpr (PASS == Pass::Forward) {
        // column = output pixel (n, p, q); its window starts at (p*sh - ph, q*sw - pw).
        const int n = fdiv(j, a.div_PQ), pq = j - n * a.PQ;
        const int p = fdiv(pq, a.div_Q), q = pq - p * a.Q;
        col_off[jp] = (n * a.C + g * a.Cg) * a.HW;
        col_h[jp] = p * a.stride_h - a.pad_h;
        col_w[jp] = q * a.stride_w - a.pad_w;
      } else if constexpr (PASS == Pass::Weight) {
        // column = tap (c, r, s); at pixel (n, p, q) it reads x at (p*sh + r*dh - ph, ...).
        const int c0 = fdiv(j, a.div_RS), rs = j - c0 * a.RS;
        const int r = fdiv(rs, a.div_S), s = rs - r * a.S;
        col_off[jp] = (g * a.Cg + c0) * a.HW;
        col_h[jp] = r * a.dil_h - a.pad_h;
        col_w[jp] = s * a.dil_w - a.pad_w;
      } else {
        // column = input pixel (n, h, w); tap (k, r, s) meets output row p = (h + ph - r*dh) / sh.
        const int n = fdiv(j, a.div_HW), hw = j - n * a.HW;
        const int h = fdiv(hw, a.div_W), w = hw - h * a.W;
        col_off[jp] = (n * a.K + g * a.Kg) * a.PQ;
        col_h[jp] = h + a.pad_h;
        col_w[jp] = w + a.pad_w;
      }
    }
  }

  __device__ __forceinline__ void fetch(const GemmArgs& a, int rem, float (&v)[T::B_KP][T::B_JP]) const {
    Counter k = c;
    const int row0 = static_cast<int>(threadIdx.x) / 32;
#pragma unroll
    for (int i = 0; i < T::B_KP; ++i) {
      if (i > 0) advance(k, a.b_digits, a.b_kstep);
      const bool k_ok = row0 + i * T::B_KSTEP < rem;
#pragma unroll
      for (int jp = 0; jp < T::B_JP; ++jp) {
        if constexpr (PASS == Pass::Forward || PASS == Pass::Weight) {
          // x[col_off + hi + h*W + w] with (h, w) = column start + (mid, lo).
          const int h = col_h[jp] + k.mid, w = col_w[jp] + k.lo;
          const bool ok = k_ok && static_cast<unsigned>(h) < static_cast<unsigned>(a.H) &&
                          static_cast<unsigned>(w) < static_cast<unsigned>(a.W);
          v[i][jp] = ok ? __ldg(a.b + col_off[jp] + k.hi + h * a.W + w) : 0.f;
        } else if constexpr (PASS == Pass::DataUnitStride) {
          const int p = col_h[jp] - k.mid, q = col_w[jp] - k.lo;
          const bool ok = k_ok && static_cast<unsigned>(p) < static_cast<unsigned>(a.P) &&
                          static_cast<unsigned>(q) < static_cast<unsigned>(a.Q);
          v[i][jp] = ok ? __ldg(a.b + col_off[jp] + k.hi + p * a.Q + q) : 0.f;
        } else {  // DataStrided: the tap contributes only if the stride divides exactly
          const int hp = col_h[jp] - k.mid, wq = col_w[jp] - k.lo;
          const int p = fdiv(max(hp, 0), a.div_sh), q = fdiv(max(wq, 0), a.div_sw);
          const bool ok = k_ok && hp >= 0 && wq >= 0 && p * a.stride_h == hp && q * a.stride_w == wq && p < a.P &&
                          q < a.Q;
          v[i][jp] = ok ? __ldg(a.b + col_off[jp] + k.hi + p * a.Q + q) : 0.f;
        }
      }
    }
  }
  __device__ __forceinline__ void next(const GemmArgs& a) { advance(c, a.b_digits, a.b_step); }
};

template <class T, Pass PASS>
__global__ void __launch_bounds__(T::THREADS, T::MIN_BLOCKS) conv_gemm_kernel(const GemmArgs a) {
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK;
  ML_SHARED(__align__(16) float, As, [2][BK][BM + T::APAD]);
  ML_SHARED(__align__(16) float, Bs, [2][BK][BN]);

  const int t = static_cast<int>(threadIdx.x);
  const int j0 = static_cast<int>(blockIdx.x) * BN;
  const int m0 = static_cast<int>(blockIdx.y) * BM;
  const int g = static_cast<int>(blockIdx.z) % a.groups;
  const int split = static_cast<int>(blockIdx.z) / a.groups;
  const int k_begin = split * a.k_chunk;
  const int k_len = min(a.k_chunk, a.k_total - k_begin);  // this split's share of the reduction
  const int ktiles = (k_len + BK - 1) / BK;

  ALoader<T> al;
  BLoader<T, PASS> bl;
  al.init(a, g, m0, k_begin);
  bl.init(a, g, j0, k_begin);

  float ra[T::A_LOADS];
  float rb[T::B_KP][T::B_JP];
  auto stage = [&](int buf) {
#pragma unroll
    for (int i = 0; i < T::A_LOADS; ++i) As[buf][t % BK][t / BK + i * T::A_ROW_STEP] = ra[i];
#pragma unroll
    for (int i = 0; i < T::B_KP; ++i)
#pragma unroll
      for (int jp = 0; jp < T::B_JP; ++jp) Bs[buf][t / 32 + i * T::B_KSTEP][t % 32 + jp * 32] = rb[i][jp];
  };

  // This thread's 8 x 8 of the block tile: rows wm*32 + {0,16} + lm*4 + 0..3,
  // columns wn*64 + {0,32} + ln*4 + 0..3.
  const int warp = t / 32, lane = t % 32;
  const int a_col = (warp / T::WN) * 32 + (lane / 8) * 4;
  const int b_col = (warp % T::WN) * 64 + (lane % 8) * 4;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  al.fetch(a, k_len, ra);
  bl.fetch(a, k_len, rb);
  stage(0);
  __syncthreads();

  for (int kt = 0; kt < ktiles; ++kt) {
    const int cur = kt & 1;
    const bool more = kt + 1 < ktiles;
    if (more) {  // issue the next tile's global loads now; they land while we compute
      const int rem = k_len - (kt + 1) * BK;
      al.next(a);
      bl.next(a);
      al.fetch(a, rem, ra);
      bl.fetch(a, rem, rb);
    }
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[cur][kk][a_col]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[cur][kk][a_col + 16]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][kk][b_col]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][kk][b_col + 32]);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    // The other buffer was last read in step kt-1, which every thread finished before the
    // barrier that ended it; one barrier per step therefore orders both hazards.
    if (more) stage(cur ^ 1);
    __syncthreads();
  }

  // Epilogue: columns in two runs of 4 consecutive, each run split into (image, pixel).
  float* out = a.out + static_cast<int64_t>(split) * a.split_stride;
#pragma unroll
  for (int hc = 0; hc < 2; ++hc) {
    const int jc = j0 + b_col + hc * 32;
    if (jc >= a.Ncols) continue;
    const int n = fdiv(jc, a.div_plane), pix = jc - n * a.plane;
#pragma unroll
    for (int hr = 0; hr < 2; ++hr)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int m = m0 + a_col + hr * 16 + i;
        if (m >= a.M) continue;
        const int mo = g * a.M + m;
        const float bias = a.bias ? __ldg(a.bias + mo) : 0.f;
        const int row = hr * 4 + i;  // compile-time after unrolling: acc stays in registers
        if (a.vec_store) {  // plane % 4 == 0: the 4 columns are one image, contiguous, aligned
          *reinterpret_cast<float4*>(out + (n * a.out_c + mo) * a.plane + pix) =
              make_float4(acc[row][hc * 4 + 0] + bias, acc[row][hc * 4 + 1] + bias, acc[row][hc * 4 + 2] + bias,
                          acc[row][hc * 4 + 3] + bias);
        } else {
          int nn = n, pp = pix;
#pragma unroll
          for (int jj = 0; jj < 4; ++jj) {
            if (jc + jj < a.Ncols) out[(nn * a.out_c + mo) * a.plane + pp] = acc[row][hc * 4 + jj] + bias;
            if (++pp == a.plane) {
              pp = 0;
              ++nn;
            }
          }
        }
      }
  }
}

// ============================================================================================
// Second passes and direct kernels
// ============================================================================================

// out[i] = sum over splits of part[s][i], in split order (deterministic).
__global__ void sum_splits_kernel(float* out, const float* part, int64_t size, int splits) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < size;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int k = 0; k < splits; ++k) s += part[k * size + i];
    out[i] = s;
  }
}

// gb[k] = sum_{n, pq} gy[n, k, pq]: one block per channel, double accumulation, fixed-order
// block sum (as the CPU reference, which sums in double).
constexpr int kBiasThreads = 256;
__global__ void bias_grad_kernel(float* gb, const float* gy, int64_t N, int64_t K, int64_t PQ) {
  ML_SHARED(double, red, [kBiasThreads / 32]);
  const int64_t k = blockIdx.x;
  double s = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = gy + (n * K + k) * PQ;
    for (int64_t i = threadIdx.x; i < PQ; i += kBiasThreads) s += row[i];
  }
  s = cuda::block_sum<kBiasThreads>(s, red);
  if (threadIdx.x == 0) gb[k] = static_cast<float>(s);
}

// The direct kernels carry the geometry in 64-bit.
struct DirectArgs {
  int64_t N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, dh, dw, Cg, Kg;
};

DirectArgs direct_args(const Conv2dParams& p) {
  DirectArgs d;
  d.N = p.N, d.C = p.C, d.H = p.H, d.W = p.W, d.K = p.K, d.R = p.R, d.S = p.S, d.P = p.P, d.Q = p.Q;
  d.sh = p.stride_h, d.sw = p.stride_w, d.ph = p.pad_h, d.pw = p.pad_w, d.dh = p.dil_h, d.dw = p.dil_w;
  d.Cg = p.C / p.groups, d.Kg = p.K / p.groups;
  return d;
}

// One thread per y[n, k, p, q].
__global__ void conv_forward_direct(float* y, const float* x, const float* w, const float* b, DirectArgs d) {
  const int64_t total = d.N * d.K * d.P * d.Q;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t q = i % d.Q, p = (i / d.Q) % d.P, k = (i / (d.Q * d.P)) % d.K, n = i / (d.Q * d.P * d.K);
    const int64_t g = k / d.Kg;
    float acc = 0.f;
    for (int64_t c = 0; c < d.Cg; ++c) {
      const float* xc = x + (n * d.C + g * d.Cg + c) * d.H * d.W;
      const float* wc = w + (k * d.Cg + c) * d.R * d.S;
      for (int64_t r = 0; r < d.R; ++r) {
        const int64_t h = p * d.sh - d.ph + r * d.dh;
        if (h < 0 || h >= d.H) continue;
        for (int64_t s = 0; s < d.S; ++s) {
          const int64_t ww = q * d.sw - d.pw + s * d.dw;
          if (ww < 0 || ww >= d.W) continue;
          acc = fmaf(wc[r * d.S + s], xc[h * d.W + ww], acc);
        }
      }
    }
    y[i] = acc + (b ? b[k] : 0.f);
  }
}

// One thread per gx[n, c, h, w]: only taps with (h + ph - r*dh) divisible by sh (and the same
// along w) meet an output pixel; the others are skipped before the channel loop.
__global__ void conv_backward_data_direct(float* gx, const float* gy, const float* w, DirectArgs d) {
  const int64_t total = d.N * d.C * d.H * d.W;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ww = i % d.W, h = (i / d.W) % d.H, c = (i / (d.W * d.H)) % d.C, n = i / (d.W * d.H * d.C);
    const int64_t g = c / d.Cg, cl = c % d.Cg;
    float acc = 0.f;
    for (int64_t r = 0; r < d.R; ++r) {
      const int64_t hp = h + d.ph - r * d.dh;
      if (hp < 0 || hp % d.sh != 0 || hp / d.sh >= d.P) continue;
      const int64_t p = hp / d.sh;
      for (int64_t s = 0; s < d.S; ++s) {
        const int64_t wq = ww + d.pw - s * d.dw;
        if (wq < 0 || wq % d.sw != 0 || wq / d.sw >= d.Q) continue;
        const int64_t q = wq / d.sw;
        for (int64_t kl = 0; kl < d.Kg; ++kl) {
          const int64_t k = g * d.Kg + kl;
          acc = fmaf(w[((k * d.Cg + cl) * d.R + r) * d.S + s], gy[((n * d.K + k) * d.P + p) * d.Q + q], acc);
        }
      }
    }
    gx[i] = acc;
  }
}

// One warp per gw[k, c, r, s]: the lanes stride over the N*P*Q pixels (consecutive lanes,
// consecutive q: coalesced), then a butterfly sum in fixed order.
constexpr int kWgradDirectThreads = 256;
__global__ void conv_backward_weight_direct(float* gw, const float* gy, const float* x, DirectArgs d) {
  const int64_t total = d.K * d.Cg * d.R * d.S;
  const int64_t L = d.N * d.P * d.Q;
  const int lane = threadIdx.x % 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t o = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32; o < total; o += warps) {
    const int64_t s = o % d.S, r = (o / d.S) % d.R, cl = (o / (d.S * d.R)) % d.Cg, k = o / (d.S * d.R * d.Cg);
    const int64_t c = (k / d.Kg) * d.Cg + cl;
    float acc = 0.f;
    for (int64_t l = lane; l < L; l += 32) {
      const int64_t q = l % d.Q, p = (l / d.Q) % d.P, n = l / (d.Q * d.P);
      const int64_t h = p * d.sh - d.ph + r * d.dh, ww = q * d.sw - d.pw + s * d.dw;
      if (h < 0 || h >= d.H || ww < 0 || ww >= d.W) continue;
      acc = fmaf(gy[((n * d.K + k) * d.P + p) * d.Q + q], x[((n * d.C + c) * d.H + h) * d.W + ww], acc);
    }
    acc = cuda::warp_sum(acc);
    if (lane == 0) gw[o] = acc;
  }
}

// ============================================================================================
// Host side: checks, the envelope, tile and split choice, launches
// ============================================================================================

std::string params_str(const Conv2dParams& p) {
  std::ostringstream os;
  os << "x (" << p.N << ", " << p.C << ", " << p.H << ", " << p.W << "), w (" << p.K << ", "
     << (p.groups > 0 ? p.C / p.groups : 0) << ", " << p.R << ", " << p.S << "), y (" << p.N << ", " << p.K << ", "
     << p.P << ", " << p.Q << "), stride " << p.stride_h << "x" << p.stride_w << ", padding " << p.pad_h << "x"
     << p.pad_w << ", dilation " << p.dil_h << "x" << p.dil_w << ", groups " << p.groups;
  return os.str();
}

// The engine checks shapes before calling; this guards direct callers (tests, benchmarks)
// against parameters that would make the kernels index out of bounds.
void check_params(const Conv2dParams& p, const char* op) {
  const bool ok = p.N >= 0 && p.C >= 0 && p.H >= 0 && p.W >= 0 && p.K >= 0 && p.R >= 1 && p.S >= 1 &&
                  p.stride_h >= 1 && p.stride_w >= 1 && p.dil_h >= 1 && p.dil_w >= 1 && p.pad_h >= 0 &&
                  p.pad_w >= 0 && p.groups >= 1 && p.C % p.groups == 0 && p.K % p.groups == 0;
  if (!ok) throw std::runtime_error(std::string(op) + " (cuda): invalid parameters: " + params_str(p));
  Conv2dParams q = p;
  if (!conv2d_output_size(q) || q.P != p.P || q.Q != p.Q)
    throw std::runtime_error(std::string(op) + " (cuda): output size P x Q does not follow from the input, kernel, " +
                             "stride, padding and dilation (or is empty): " + params_str(p));
}

bool force_fallback() {
  const char* e = std::getenv("ML_CONV_FORCE_FALLBACK");
  return e && *e && std::strcmp(e, "0") != 0;
}

// 0 = choose; else the forced tile height.
int tile_override() {
  const char* e = std::getenv("ML_CONV_TILE");
  if (!e || !*e) return 0;
  if (!std::strcmp(e, "128")) return 128;
  if (!std::strcmp(e, "64")) return 64;
  if (!std::strcmp(e, "32")) return 32;
  throw std::runtime_error(std::string("conv2d (cuda): ML_CONV_TILE must be 128, 64 or 32, got '") + e + "'");
}

constexpr int64_t kMaxElems = int64_t{1} << 30;  // 32-bit offsets with headroom (file header)
constexpr int kMinGemmRows = 8;

// The implicit-GEMM envelope (file header). `rows` is the GEMM's M.
bool gemm_envelope(const Conv2dParams& p, int64_t rows) {
  const int64_t x = p.N * p.C * p.H * p.W, y = p.N * p.K * p.P * p.Q, w = p.K * (p.C / p.groups) * p.R * p.S;
  return x < kMaxElems && y < kMaxElems && w < kMaxElems && p.H >= 1 && p.W >= 1 && p.H + 2 * p.pad_h < kMaxElems &&
         p.W + 2 * p.pad_w < kMaxElems && p.C >= p.groups && rows >= kMinGemmRows &&
         (rows + Tile32::BM - 1) / Tile32::BM <= 65535 && p.groups <= 65535;
}

// The SM count backward-weight's split-K is sized for: the H100/H200's 132, a constant so that
// the split (and with it every weight gradient's rounding) depends on the shape alone.
constexpr int64_t kSplitSms = 132;

// Tile height for a GEMM of M rows and `blocks_per_row_tile` blocks per row tile: the widest
// tile whose rows are mostly real and that still puts a block on every SM.
int choose_tile(int64_t M, int64_t blocks_per_row_tile) {
  if (const int forced = tile_override()) return forced;
  const int64_t sms = cuda::sm_count();
  auto blocks = [&](int64_t bm) { return (M + bm - 1) / bm * blocks_per_row_tile; };
  if (M > 64 && blocks(128) >= sms) return 128;
  if (M > 32 && blocks(64) >= sms) return 64;
  return 32;
}

GemmArgs base_args(const Conv2dParams& p) {
  GemmArgs a{};
  a.C = static_cast<int>(p.C);
  a.H = static_cast<int>(p.H);
  a.W = static_cast<int>(p.W);
  a.K = static_cast<int>(p.K);
  a.P = static_cast<int>(p.P);
  a.Q = static_cast<int>(p.Q);
  a.S = static_cast<int>(p.S);
  a.RS = static_cast<int>(p.R * p.S);
  a.HW = static_cast<int>(p.H * p.W);
  a.PQ = static_cast<int>(p.P * p.Q);
  a.Cg = static_cast<int>(p.C / p.groups);
  a.Kg = static_cast<int>(p.K / p.groups);
  a.groups = static_cast<int>(p.groups);
  a.stride_h = static_cast<int>(p.stride_h);
  a.stride_w = static_cast<int>(p.stride_w);
  a.pad_h = static_cast<int>(p.pad_h);
  a.pad_w = static_cast<int>(p.pad_w);
  a.dil_h = static_cast<int>(p.dil_h);
  a.dil_w = static_cast<int>(p.dil_w);
  a.div_PQ = make_fastdiv(a.PQ);
  a.div_Q = make_fastdiv(a.Q);
  a.div_HW = make_fastdiv(a.HW);
  a.div_W = make_fastdiv(a.W);
  a.div_RS = make_fastdiv(a.RS);
  a.div_S = make_fastdiv(a.S);
  a.div_sh = make_fastdiv(a.stride_h);
  a.div_sw = make_fastdiv(a.stride_w);
  a.split_stride = 0;
  return a;
}

template <class T, Pass PASS>
void launch_gemm(GemmArgs a, int splits, cudaStream_t st) {
  a.a_digits = digits_of(a.a_radix);
  a.a_step = step_of(a.a_radix, T::BK);
  a.b_digits = digits_of(a.b_radix);
  a.b_step = step_of(a.b_radix, T::BK);
  a.b_kstep = step_of(a.b_radix, T::B_KSTEP);
  a.div_plane = make_fastdiv(a.plane);
  a.vec_store = a.plane % 4 == 0 && aligned16(a.out);
  const dim3 grid(static_cast<unsigned>((a.Ncols + T::BN - 1) / T::BN),
                  static_cast<unsigned>((a.M + T::BM - 1) / T::BM), static_cast<unsigned>(a.groups * splits));
  ML_LAUNCH(grid, T::THREADS, 0, st, conv_gemm_kernel<T, PASS>)(a);
  ML_CUDA_CHECK_LAST();
}

template <Pass PASS>
void launch_gemm_tile(int bm, const GemmArgs& a, int splits, cudaStream_t st) {
  if (bm == 128)
    launch_gemm<Tile128, PASS>(a, splits, st);
  else if (bm == 64)
    launch_gemm<Tile64, PASS>(a, splits, st);
  else
    launch_gemm<Tile32, PASS>(a, splits, st);
}

constexpr int kDirectThreads = 256;

}  // namespace

// --------------------------------------------------------------------------------------------
template <>
void conv2d_forward<Device::CUDA>(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p,
                                  Stream s) {
  check_params(p, "conv2d_forward");
  const cudaStream_t st = stream_of(s);
  if (p.N == 0 || p.K == 0) return;  // y is empty
  const int64_t Kg = p.K / p.groups;
  if (force_fallback() || !gemm_envelope(p, Kg)) {
    const int64_t total = p.N * p.K * p.P * p.Q;
    ML_LAUNCH(grid_for(total, kDirectThreads), kDirectThreads, 0, st, conv_forward_direct)(y, x, w, b, direct_args(p));
    ML_CUDA_CHECK_LAST();
    return;
  }
  GemmArgs a = base_args(p);
  const int CRS = a.Cg * a.RS;
  a.M = a.Kg;
  a.Ncols = static_cast<int>(p.N * p.P * p.Q);
  a.k_total = a.k_chunk = CRS;
  // A = w_g (Kg x CRS), row-major: a plain linear index (lo never wraps).
  a.a = w;
  a.a_group = a.Kg * CRS;
  a.a_ld = CRS;
  a.a_radix = Radix{1 << 30, 1, 1, 1, 0};
  // B = im2col(x): reduction index (c, r, s) -> (s*dw, r*dh, c*H*W).
  a.b = x;
  a.b_radix = Radix{a.S, static_cast<int>(p.R), a.dil_w, a.dil_h, a.HW};
  a.out = y;
  a.bias = b;
  a.out_c = a.K;
  a.plane = a.PQ;
  const int64_t col_blocks = (a.Ncols + Tile128::BN - 1) / Tile128::BN;
  launch_gemm_tile<Pass::Forward>(choose_tile(a.M, col_blocks * p.groups), a, 1, st);
}

// --------------------------------------------------------------------------------------------
template <>
void conv2d_backward_data<Device::CUDA>(float* gx, const float* gy, const float* w, const Conv2dParams& p, Stream s) {
  check_params(p, "conv2d_backward_data");
  const cudaStream_t st = stream_of(s);
  if (p.N == 0 || p.C == 0) return;  // gx is empty
  const int64_t Cg = p.C / p.groups;
  if (p.K == 0) {  // no filter reads x: its gradient is zero
    ML_CUDA_CHECK(cudaMemsetAsync(gx, 0, static_cast<size_t>(p.N * p.C * p.H * p.W) * sizeof(float), st));
    return;
  }
  if (force_fallback() || !gemm_envelope(p, Cg) || p.stride_h * p.stride_w > 4) {
    const int64_t total = p.N * p.C * p.H * p.W;
    ML_LAUNCH(grid_for(total, kDirectThreads), kDirectThreads, 0, st, conv_backward_data_direct)(
        gx, gy, w, direct_args(p));
    ML_CUDA_CHECK_LAST();
    return;
  }
  GemmArgs a = base_args(p);
  a.M = a.Cg;
  a.Ncols = static_cast<int>(p.N * p.H * p.W);
  a.k_total = a.k_chunk = a.Kg * a.RS;
  // A[c, (k, rs)] = w[(gKg + k, c, rs)]: reduction index (k, rs) -> (rs, -, k*Cg*RS), row c at c*RS.
  a.a = w;
  a.a_group = a.Kg * a.Cg * a.RS;
  a.a_ld = a.RS;
  a.a_radix = Radix{a.RS, 1, 1, 1, a.Cg * a.RS};
  // B[(k, r, s), (n, h, w)] = gy[n, gKg + k, (h+ph-r*dh)/sh, (w+pw-s*dw)/sw]: (k, r, s) -> (s*dw, r*dh, k*P*Q).
  a.b = gy;
  a.b_radix = Radix{a.S, static_cast<int>(p.R), a.dil_w, a.dil_h, a.PQ};
  a.out = gx;
  a.bias = nullptr;
  a.out_c = a.C;
  a.plane = a.HW;
  const int64_t col_blocks = (a.Ncols + Tile128::BN - 1) / Tile128::BN;
  const int bm = choose_tile(a.M, col_blocks * p.groups);
  if (p.stride_h == 1 && p.stride_w == 1)
    launch_gemm_tile<Pass::DataUnitStride>(bm, a, 1, st);
  else
    launch_gemm_tile<Pass::DataStrided>(bm, a, 1, st);
}

// --------------------------------------------------------------------------------------------
template <>
void conv2d_backward_weight<Device::CUDA>(float* gw, float* gb, const float* gy, const float* x,
                                          const Conv2dParams& p, Stream s) {
  check_params(p, "conv2d_backward_weight");
  const cudaStream_t st = stream_of(s);
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, CRS = Cg * p.R * p.S;
  const int64_t wsize = p.K * CRS;
  if (gb && p.K > 0) {
    if (p.N * p.P * p.Q == 0)
      ML_CUDA_CHECK(cudaMemsetAsync(gb, 0, static_cast<size_t>(p.K) * sizeof(float), st));
    else {
      ML_LAUNCH(static_cast<unsigned>(p.K), kBiasThreads, 0, st, bias_grad_kernel)(gb, gy, p.N, p.K, p.P * p.Q);
      ML_CUDA_CHECK_LAST();
    }
  }
  if (wsize == 0) return;
  if (p.N == 0) {  // an empty batch: the sum over it is zero
    ML_CUDA_CHECK(cudaMemsetAsync(gw, 0, static_cast<size_t>(wsize) * sizeof(float), st));
    return;
  }
  if (force_fallback() || !gemm_envelope(p, Kg)) {
    const int64_t threads = wsize * 32;  // a warp per element
    ML_LAUNCH(grid_for(threads, kWgradDirectThreads), kWgradDirectThreads, 0, st, conv_backward_weight_direct)(
        gw, gy, x, direct_args(p));
    ML_CUDA_CHECK_LAST();
    return;
  }
  GemmArgs a = base_args(p);
  a.M = a.Kg;
  a.Ncols = static_cast<int>(CRS);
  const int64_t L = p.N * p.P * p.Q;
  a.k_total = static_cast<int>(L);
  // A[k, (n, pq)] = gy[n, gKg + k, pq]: reduction index (n, pq) -> (pq, -, n*K*PQ), row k at k*PQ.
  a.a = gy;
  a.a_group = a.Kg * a.PQ;
  a.a_ld = a.PQ;
  a.a_radix = Radix{a.PQ, 1, 1, 1, a.K * a.PQ};
  // B[(n, p, q), (c, r, s)] = x[n, gCg + c, p*sh + r*dh - ph, q*sw + s*dw - pw]: (n, p, q) -> (q*sw, p*sh, n*C*H*W).
  a.b = x;
  a.b_radix = Radix{a.Q, a.P, a.stride_w, a.stride_h, a.C * a.HW};
  a.bias = nullptr;
  a.out_c = a.K;
  a.plane = static_cast<int>(CRS);

  // Output tiles are few (Kg x CRS is small next to N*P*Q), so the reduction is split until
  // about two waves of blocks fill an H100/H200 (kSplitSms); each split keeps >= 32 steps of
  // BK so its partial write stays small next to its arithmetic, and the partials stay below
  // 64 MB. The SM count is a constant, not the device's, as in reduce.cu: the split fixes
  // where the partial sums are cut, so with the device's count the weight gradient would
  // differ bit for bit between GPU models.
  const int forced = tile_override();
  const int bm = forced ? forced : (a.M > 64 ? 128 : a.M > 32 ? 64 : 32);
  const int min_blocks_per_sm = bm == 128 ? Tile128::MIN_BLOCKS : bm == 64 ? Tile64::MIN_BLOCKS : Tile32::MIN_BLOCKS;
  const int64_t tiles = (a.M + bm - 1) / bm * ((CRS + Tile128::BN - 1) / Tile128::BN) * p.groups;
  const int64_t target = 2 * kSplitSms * min_blocks_per_sm;
  int64_t splits = (target + tiles - 1) / tiles;
  splits = std::min<int64_t>(splits, std::max<int64_t>(1, L / (32 * Tile128::BK)));
  splits = std::min<int64_t>(splits, std::max<int64_t>(1, (int64_t{16} << 20) / wsize));
  splits = std::min<int64_t>(splits, 65535 / p.groups);
  splits = std::max<int64_t>(splits, 1);
  int64_t chunk = (L + splits - 1) / splits;
  chunk = (chunk + Tile128::BK - 1) / Tile128::BK * Tile128::BK;
  splits = (L + chunk - 1) / chunk;
  a.k_chunk = static_cast<int>(chunk);

  if (splits == 1) {
    a.out = gw;
    launch_gemm_tile<Pass::Weight>(bm, a, 1, st);
    return;
  }
  // The partial products live in the per-thread scratch buffer (common.cuh), which work
  // queued from this thread on this stream reuses in order.
  float* part = static_cast<float*>(cuda::scratch(static_cast<size_t>(splits * wsize) * sizeof(float)));
  a.out = part;
  a.split_stride = static_cast<int>(wsize);
  launch_gemm_tile<Pass::Weight>(bm, a, static_cast<int>(splits), st);
  ML_LAUNCH(grid_for(wsize), cuda::kThreads, 0, st, sum_splits_kernel)(gw, part, wsize, static_cast<int>(splits));
  ML_CUDA_CHECK_LAST();
}

// --------------------------------------------------------------------------------------------
template <>
void conv2d_backward<Device::CUDA>(float* gx, float* gw, float* gb, const float* gy, const float* x, const float* w,
                                   const Conv2dParams& p, Stream s) {
  if (gx) conv2d_backward_data<Device::CUDA>(gx, gy, w, p, s);
  if (gw) conv2d_backward_weight<Device::CUDA>(gw, gb, gy, x, p, s);
}

}  // namespace ml::kernels
