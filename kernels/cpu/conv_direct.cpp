// kernels/cpu/conv_direct.cpp — the direct forward convolution (see conv_direct.h for why).
//
// For one image n, group g and a block of KB = KV * kLanes output channels, the output is built
// pixel-major in a per-thread buffer, out[j][k] for the flattened output pixel j = p Q + q, by a
// register-blocked micro-kernel: NP pixels x KV vectors of channels stay in registers (NP KV
// accumulators) while it runs over the taps t = (c R + r) S + s; per tap it loads KV vectors of
// the packed weights wp[t][k] and broadcasts the NP input values x[c, p sh - ph + r dh,
// q sw - pw + s dw] straight from the (padded) input, so nothing like the im2col matrix is built.
//   AVX-512 (32 zmm): KV 4 (64 channels) x NP 6 pixels = 24 accumulators, 4 + 1 more registers.
//   AVX2    (16 ymm): KV 2 (16 channels) x NP 6 pixels = 12 accumulators, 2 + 1 more.
// Either way a tap costs KV loads and NP broadcasts for NP KV fused multiply-adds, so the FMA
// units, not the loads, set the pace.
//
// Blocking: the taps run in chunks whose packed weights (taps x KB floats) take 16 KiB of L1,
// and every pixel block of the task's tile (32 KiB of out) passes over one chunk before the next
// chunk starts; the partial sums go back to out between chunks (still one sum per output, in tap
// order). So each weight is read from L1 once per pixel block, and from memory once per
// tile. The pixels of a block are consecutive in j and may straddle output rows: each has its
// own input pointer. At the end the tile is transposed into y (N, K, P, Q) with the bias added.
//
// The input is first copied into a zero-padded buffer (N, C, H + 2 ph, W + 2 pw), so the inner
// loop has no bounds checks; pads are zeros, read as the definition's zero padding.
//
// Sums: out[j][k] = sum over taps in order (c, r, s), one fused multiply-add per tap, starting
// from 0; the bias is added last. The order, hence the result, does not depend on the thread
// count or tiling. Tasks (image, group, tile of pixels) go to OpenMP threads.
#include "kernels/cpu/conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/lanes.h"

namespace ml::kernels::direct_conv {

namespace {

using lanes::vf;
constexpr int kL = lanes::kLanes;

#if defined(__AVX512F__)
constexpr int kKV = 4;  // vectors of output channels per block
#else
constexpr int kKV = 2;
#endif
constexpr int kNP = 6;                         // output pixels per block
constexpr int kKB = kKV * kL;                  // output channels per block
// Measured on AlexNet conv1/conv2 (batch 16, 1 thread, CPU time, load 13-16; 8-64 KiB chunks and
// 32-128 KiB tiles all within ~10 %): 16 KiB of weights (leaving L1 room for the input rows the
// taps read) and 32 KiB tiles were at or near the best on AVX-512 and AVX2.
constexpr int64_t kWeightChunkBytes = 16 << 10;  // packed weights of one chunk of taps (L1)
constexpr int64_t kTileBytes = 32 << 10;         // one tile's out buffer

inline vf loadu(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void storeu(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
// One float to every lane, read straight from memory (vbroadcastss m32): lanes::broadcast's
// vf{} + a made GCC add the scalar to 0 and then broadcast a register, two more instructions a
// term on the shuffle port the FMAs share.
inline vf splat(const float* a) {
#if defined(__AVX512F__)
  return reinterpret_cast<vf>(_mm512_set1_ps(*a));
#elif defined(__AVX2__)
  return reinterpret_cast<vf>(_mm256_set1_ps(*a));
#else
  return lanes::broadcast(*a);
#endif
}

// out[i][k] (i < kNP, k < kKB, row stride kKB) = (first ? 0 : out[i][k]) + sum over the taps
// [0, ntaps) of wp[t][k] * px[i][off[t]].
void micro(float* out, const float* wp, const int64_t* off, int64_t ntaps, const float* const (&px)[kNP],
           bool first) {
  vf acc[kNP][kKV];
#pragma GCC unroll 8
  for (int i = 0; i < kNP; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < kKV; ++v) acc[i][v] = first ? lanes::zero() : loadu(out + i * kKB + v * kL);
  static_assert(kNP == 6, "the pixel pointers below are named");
  const float *p0 = px[0], *p1 = px[1], *p2 = px[2], *p3 = px[3], *p4 = px[4], *p5 = px[5];
  for (int64_t t = 0; t < ntaps; ++t) {
    const float* wt = wp + t * kKB;
    const int64_t o = off[t];
    vf wv[kKV];
#pragma GCC unroll 8
    for (int v = 0; v < kKV; ++v) wv[v] = loadu(wt + v * kL);
    const float* xs[kNP] = {p0 + o, p1 + o, p2 + o, p3 + o, p4 + o, p5 + o};
#pragma GCC unroll 8
    for (int i = 0; i < kNP; ++i) {
      const vf xb = splat(xs[i]);
#pragma GCC unroll 8
      for (int v = 0; v < kKV; ++v) acc[i][v] += xb * wv[v];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kNP; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < kKV; ++v) storeu(out + i * kKB + v * kL, acc[i][v]);
}

struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;
Buffer allocate(int64_t n) {
  return Buffer(static_cast<float*>(::operator new[](static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float),
                                                     std::align_val_t{64})));
}

}  // namespace

void forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, RS = p.R * p.S, taps = Cg * RS;
  const int64_t Hp = p.H + 2 * p.pad_h, Wp = p.W + 2 * p.pad_w, plane = Hp * Wp, PQ = p.P * p.Q;
  const int64_t kblocks = (Kg + kKB - 1) / kKB;

  // The zero-padded input (N, C, Hp, Wp).
  Buffer xp = allocate(p.N * p.C * plane);
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < p.N * p.C; ++nc) {
    float* d = xp.get() + nc * plane;
    const float* s = x + nc * p.H * p.W;
    std::fill(d, d + p.pad_h * Wp, 0.f);
    for (int64_t h = 0; h < p.H; ++h) {
      float* row = d + (p.pad_h + h) * Wp;
      std::fill(row, row + p.pad_w, 0.f);
      std::copy(s + h * p.W, s + (h + 1) * p.W, row + p.pad_w);
      std::fill(row + p.pad_w + p.W, row + Wp, 0.f);
    }
    std::fill(d + (p.pad_h + p.H) * Wp, d + plane, 0.f);
  }

  // Packed weights wp[g][kb][t][k] (k < kKB; channels past Kg are zero) and the input offset of
  // each tap from a pixel's first input, c plane + r dh Wp + s dw.
  Buffer wp = allocate(G * kblocks * taps * kKB);
#pragma omp parallel for schedule(static)
  for (int64_t gk = 0; gk < G * kblocks; ++gk) {
    const int64_t g = gk / kblocks, kb = gk % kblocks;
    float* d = wp.get() + gk * taps * kKB;
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t k = 0; k < kKB; ++k) {
        const int64_t kk = kb * kKB + k;
        d[t * kKB + k] = kk < Kg ? w[((g * Kg + kk) * taps) + t] : 0.f;
      }
  }
  std::vector<int64_t> off(static_cast<size_t>(taps));
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) off[static_cast<size_t>((c * p.R + r) * p.S + s)] = c * plane + r * p.dil_h * Wp + s * p.dil_w;

  const int64_t chunk_taps = std::max<int64_t>(1, kWeightChunkBytes / (kKB * int64_t{sizeof(float)}));
  const int64_t tile = std::max<int64_t>(kNP, kTileBytes / (kKB * int64_t{sizeof(float)}) / kNP * kNP);
  const int64_t tiles = (PQ + tile - 1) / tile;
  const int64_t tasks = p.N * G * tiles;

  const int threads = omp_get_max_threads();
  std::vector<Buffer> outs(static_cast<size_t>(threads));
#pragma omp parallel for schedule(static) if (tasks > 1 && threads > 1)
  for (int64_t task = 0; task < tasks; ++task) {
    Buffer& out_buf = outs[static_cast<size_t>(omp_get_thread_num())];
    if (!out_buf) out_buf = allocate((tile + kNP) * kKB);
    float* out = out_buf.get();
    const int64_t n = task / (G * tiles), g = task / tiles % G, j0 = task % tiles * tile;
    const int64_t j1 = std::min(PQ, j0 + tile);
    const float* xg = xp.get() + (n * p.C + g * Cg) * plane;
    for (int64_t kb = 0; kb < kblocks; ++kb) {
      const float* wk = wp.get() + (g * kblocks + kb) * taps * kKB;
      for (int64_t t0 = 0; t0 < taps; t0 += chunk_taps) {
        const int64_t t1 = std::min(taps, t0 + chunk_taps);
        for (int64_t jb = j0; jb < j1; jb += kNP) {
          // Each pixel's first input; pixels past j1 repeat the last one (computed, not used).
          const float* px[kNP];
          for (int i = 0; i < kNP; ++i) {
            const int64_t j = std::min(jb + i, j1 - 1), pp = j / p.Q, q = j % p.Q;
            px[i] = xg + pp * p.stride_h * Wp + q * p.stride_w;
          }
          micro(out + (jb - j0) * kKB, wk + t0 * kKB, off.data() + t0, t1 - t0, px, t0 == 0);
        }
      }
      // out (pixels x kKB) -> y[n, g Kg + kb kKB + k, j0 .. j1) + b.
      const int64_t kn = std::min<int64_t>(kKB, Kg - kb * kKB);
      for (int64_t k = 0; k < kn; ++k) {
        const int64_t kk = g * Kg + kb * kKB + k;
        float* yr = y + (n * p.K + kk) * PQ;
        const float bias = b ? b[kk] : 0.f;
        for (int64_t j = j0; j < j1; ++j) yr[j] = out[(j - j0) * kKB + k] + bias;
      }
    }
  }
}

}  // namespace ml::kernels::direct_conv
