// kernels/cpu/winograd.cpp — F(2x2, 3x3) Winograd convolution on the CPU (see winograd.h for
// the algebra).
//
// The transform matrices (Lavin & Gray 2016):
//   B^T = [1  0 -1  0]     G = [1    0    0 ]     A^T = [1  1  1  0]
//         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
//         [0 -1  1  0]         [1/2 -1/2  1/2]
//         [0  1  0 -1]         [0    0    1 ]
// Every entry is 0, ±1 or ±1/2, so the transforms are additions (and halvings, exact in binary):
// a convolution of small integers stays exact, as the im2col path is.
//
// Work is split into chunks of whole images; a chunk's tiles are the T columns of the 16
// products, so small feature maps (conv2_2 of vgg_small has 25 tiles an image) still give
// products wide enough to run near the GEMM's speed. Chunks go to OpenMP threads with a static
// schedule, and each thread sums its own weight gradient, added up in thread order at the end:
// for a given thread count the result is reproducible, as the im2col path's is.
//
// Layouts: U[xi] (K x C), V[xi] / dV[xi] (C x T), M[xi] / dM[xi] (K x T), row-major, xi = 4a + b
// the position in the 4x4 transformed tile; column t = (image in chunk) * tiles + i * tw + j for
// tile row i, tile column j.
//
// The transforms compute 16 tiles at once, one vector lane each (kernels/cpu/lanes.h), over all
// the tiles of an image rather than one tile row (rows of 4 or 5 tiles would fill a quarter of a
// vector). Tile (i, j) reads input rows 2i..2i+3, which is no fixed stride from tile to tile;
// so each channel's rows are first copied ("staged") into two arrays, the even input rows
// (2i - ph for i = 0..th) side by side in one and the odd rows in the other, each row
// 2 (tw + 1) wide. Input row 2i + r of tile row i is then row i + r/2 of array r%2, and tile
// (i, j) starts at its column 2 (i (tw + 1) + j): a stride of 2 over a staged tile index
// t' = i (tw + 1) + j, in which every tile row has one dummy tile at its end (j = tw). Vectors
// run over t'; the dummy lanes are squeezed out (compress) on the way into V and M, and put
// back (expand, as zeros) on the way out. Output and gradient rows are staged the same way.
// The products are kernels/cpu/tile_gemm.h's, except the weight gradient's dM V^T, whose inner
// dimension is the tiles (contiguous in both operands) and which Eigen does well.
#include "kernels/cpu/winograd.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "kernels/cpu/lanes.h"
#include "kernels/cpu/tile_gemm.h"

namespace ml::kernels::winograd {

namespace {

using lanes::vf;

constexpr int64_t kXi = 16;         // positions in a 4x4 transformed tile
// A chunk's transformed tiles, 16 (C + K) floats a tile, should stay in the core's L2 cache
// (1 MiB on the machines here) between their transform and their product: at most this many bytes,
// and at least one image. Measured on vgg_small's layers (bench_cpu, 2 threads): 512 KiB beat
// a fixed product width of 64 to 384 columns, which overflowed L2 for conv2_2 (K = 128).
constexpr int64_t kChunkBytes = 512 * 1024;

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
using CMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;

struct Plan {
  int64_t th, tw, tiles;  // tile rows and columns of one image (2x2 outputs each), th * tw
  int64_t tp, wpad;       // staged tiles per tile row (tw + 1: one dummy) and their span 2 tp
  int64_t staged;         // floats in one staged array: (th + 1) rows of wpad, and room for a
                          // vector's overrun
  // Per block of 16 staged tiles: which lanes are real tiles, where their first lands in the
  // columns of V / M (the dummies before it squeezed out), and how many there are.
  std::vector<uint16_t> mask;
  std::vector<int64_t> off;
  std::vector<int> count;
  int64_t nb, chunks;  // images per chunk, number of chunks
  int64_t T;           // columns of the products for a full chunk, nb * tiles
};

Plan make_plan(const Conv2dParams& p) {
  Plan L{};
  L.th = (p.P + 1) / 2;
  L.tw = (p.Q + 1) / 2;
  L.tiles = L.th * L.tw;
  L.tp = L.tw + 1;
  L.wpad = 2 * L.tp;
  L.staged = (L.th + 1) * L.wpad + 2 * lanes::kLanes + 2;
  const int64_t staged_tiles = L.th * L.tp;
  for (int64_t t0 = 0; t0 < staged_tiles; t0 += lanes::kLanes) {
    uint16_t m = 0;
    for (int l = 0; l < lanes::kLanes; ++l)
      if (t0 + l < staged_tiles && (t0 + l) % L.tp != L.tw) m = static_cast<uint16_t>(m | (1u << l));
    L.mask.push_back(m);
    L.off.push_back(t0 - t0 / L.tp);
    L.count.push_back(__builtin_popcount(m));
  }
  const int64_t threads = std::max(1, omp_get_max_threads());
  const int64_t per_thread = (p.N + threads - 1) / threads;  // keep every thread busy first
  const int64_t bytes_per_image = L.tiles * kXi * (p.C + p.K) * static_cast<int64_t>(sizeof(float));
  L.nb = std::clamp<int64_t>(kChunkBytes / bytes_per_image, 1, per_thread);
  L.chunks = (p.N + L.nb - 1) / L.nb;
  L.T = L.nb * L.tiles;
  return L;
}

// One thread's buffers, allocated (zeroed) on its first chunk and reused: the two sides of the
// products (16 C x T and 16 K x T) and two staged arrays.
struct Scratch {
  std::vector<float> a, b, rows;
};

// Runs body(S, n0, n1, cols, thread) for every chunk of images [n0, n1) (cols = their tiles),
// with that thread's buffers S ready: across threads when there are at least two chunks, else
// on this thread.
template <class F>
void for_each_chunk(const Conv2dParams& p, const Plan& L, F&& body) {
  std::vector<Scratch> scratch(static_cast<size_t>(omp_get_max_threads()));
  auto run = [&](int64_t chunk, int t) {
    Scratch& S = scratch[static_cast<size_t>(t)];
    if (S.a.empty()) {
      S.a.resize(static_cast<size_t>(kXi * p.C * L.T));
      S.b.resize(static_cast<size_t>(kXi * p.K * L.T));
      S.rows.resize(static_cast<size_t>(2 * L.staged));
    }
    const int64_t n0 = chunk * L.nb, n1 = std::min(p.N, n0 + L.nb);
    body(S, n0, n1, (n1 - n0) * L.tiles, t);
  };
  if (L.chunks > 1 && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < L.chunks; ++c) run(c, omp_get_thread_num());
  } else {
    for (int64_t c = 0; c < L.chunks; ++c) run(c, 0);
  }
}

// ---- weights --------------------------------------------------------------------------------
// U[xi][k][c] = (G g G^T)[xi] for the filter g = w[k, c] (3x3).
// Split over the filters k (each writes its own run of U's columns): with AlexNet's conv3-5 it is
// 55-98 thousand filters per call, done once per forward whatever the batch, and run on one
// thread it left the other spinning at the next barrier (3.6 % of a 2-thread batch-4 forward's
// samples, most of what that thread was doing outside the spin).
void transform_weights(float* U, const float* w, int64_t K, int64_t C) {
  const int64_t KC = K * C;
#pragma omp parallel for schedule(static) if (KC >= 4096)
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (k * C + c) * 9;
      float h[4][3];  // G g: rows of the filter combined
      for (int s = 0; s < 3; ++s) {
        h[0][s] = g[s];
        h[1][s] = 0.5f * (g[s] + g[3 + s] + g[6 + s]);
        h[2][s] = 0.5f * (g[s] - g[3 + s] + g[6 + s]);
        h[3][s] = g[6 + s];
      }
      for (int a = 0; a < 4; ++a) {
        float* u = U + (4 * a) * KC + k * C + c;
        u[0] = h[a][0];
        u[KC] = 0.5f * (h[a][0] + h[a][1] + h[a][2]);
        u[2 * KC] = 0.5f * (h[a][0] - h[a][1] + h[a][2]);
        u[3 * KC] = h[a][2];
      }
    }
}

std::vector<float> transformed_weights(const float* w, int64_t K, int64_t C) {
  std::vector<float> U(static_cast<size_t>(kXi * K * C));
  transform_weights(U.data(), w, K, C);
  return U;
}

// gw[k, c] = G^T dU[.][k][c] G (3x3): the adjoint of transform_weights.
void weight_gradient(float* gw, const float* dU, int64_t K, int64_t C) {
  const int64_t KC = K * C;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      float du[4][4];
      for (int xi = 0; xi < 16; ++xi) du[xi / 4][xi % 4] = dU[xi * KC + k * C + c];
      float f[3][4];  // G^T dU: columns of G weight the rows a
      for (int b = 0; b < 4; ++b) {
        f[0][b] = du[0][b] + 0.5f * (du[1][b] + du[2][b]);
        f[1][b] = 0.5f * (du[1][b] - du[2][b]);
        f[2][b] = 0.5f * (du[1][b] + du[2][b]) + du[3][b];
      }
      float* g = gw + (k * C + c) * 9;
      for (int r = 0; r < 3; ++r) {
        g[3 * r + 0] = f[r][0] + 0.5f * (f[r][1] + f[r][2]);
        g[3 * r + 1] = 0.5f * (f[r][1] - f[r][2]);
        g[3 * r + 2] = 0.5f * (f[r][1] + f[r][2]) + f[r][3];
      }
    }
}

// ---- staging --------------------------------------------------------------------------------
// Z + par * L.staged, par = 0, 1: row i (L.wpad wide, i <= th) = row 2i + par - ph of the plane
// src (H, W), column u = src column u - pw; zero outside the plane.
void stage(float* Z, const float* src, int64_t H, int64_t W, int64_t ph, int64_t pw, const Plan& L) {
  const int64_t lo = std::min(pw, L.wpad), hi = std::min(pw + W, L.wpad);
  for (int par = 0; par < 2; ++par)
    for (int64_t i = 0; i <= L.th; ++i) {
      float* d = Z + par * L.staged + i * L.wpad;
      const int64_t h = 2 * i + par - ph;
      if (h < 0 || h >= H) {
        for (int64_t u = 0; u < L.wpad; ++u) d[u] = 0.f;
        continue;
      }
      const float* row = src + h * W;
      for (int64_t u = 0; u < lo; ++u) d[u] = 0.f;
#pragma omp simd
      for (int64_t u = lo; u < hi; ++u) d[u] = row[u - pw];
      for (int64_t u = hi; u < L.wpad; ++u) d[u] = 0.f;
    }
}

// The staged copy of input row 2i + r (r < 4) for tile row i = 0, as stage() lays it out.
inline float* staged_row(float* Z, int r, const Plan& L) { return Z + (r % 2) * L.staged + (r / 2) * L.wpad; }

// ---- input tiles ----------------------------------------------------------------------------
// V[xi][c][t0 + i*tw + j] = (B^T d B)[xi] for the 4x4 input tile d at rows 2i - ph.., columns
// 2j - pw.. of image x_n (C, H, W); ldv = the products' column count T.
void transform_input(float* V, int64_t ldv, int64_t t0, const float* x_n, int64_t C, const Conv2dParams& p,
                     const Plan& L, float* Z) {
  const int64_t CT = C * ldv;
  for (int64_t c = 0; c < C; ++c) {
    stage(Z, x_n + c * p.H * p.W, p.H, p.W, p.pad_h, p.pad_w, L);
    float* out = V + c * ldv + t0;
    for (size_t blk = 0; blk < L.mask.size(); ++blk) {
      const int64_t at = 2 * lanes::kLanes * static_cast<int64_t>(blk);  // staged column of the block
      vf cb[4][4];  // d B: each input row's four column combinations
      for (int r = 0; r < 4; ++r) {
        vf d0, d1, d2, d3;
        const float* zr = staged_row(Z, r, L) + at;
        lanes::load_pairs(zr, 2 * lanes::kLanes, d0, d1);
        lanes::load_pairs(zr + 2, 2 * lanes::kLanes, d2, d3);
        cb[r][0] = d0 - d2;
        cb[r][1] = d1 + d2;
        cb[r][2] = d2 - d1;
        cb[r][3] = d1 - d3;
      }
      const uint16_t mk = L.mask[blk];
      const int n = L.count[blk];
      float* o = out + L.off[blk];
      for (int b = 0; b < 4; ++b) {  // B^T (d B)
        lanes::store(o + b * CT, lanes::compress(cb[0][b] - cb[2][b], mk), n);
        lanes::store(o + (4 + b) * CT, lanes::compress(cb[1][b] + cb[2][b], mk), n);
        lanes::store(o + (8 + b) * CT, lanes::compress(cb[2][b] - cb[1][b], mk), n);
        lanes::store(o + (12 + b) * CT, lanes::compress(cb[1][b] - cb[3][b], mk), n);
      }
    }
  }
}

// gx_n (C, H, W) = the sum over tiles of B dV B^T: the adjoint of transform_input. Tiles overlap
// by two rows and two columns; their contributions are summed in the staged arrays, then copied
// into the image. Every pixel of gx_n has exactly one staged copy (row h is row (h + ph) / 2 of
// array (h + ph) % 2, and the staged rows span columns -pw .. 2 tw + 1 - pw >= W - 1), so the
// copy overwrites all of gx_n and nothing needs zeroing first.
void transform_input_grad(float* gx_n, const float* dV, int64_t ldv, int64_t t0, int64_t C, const Conv2dParams& p,
                          const Plan& L, float* Z) {
  const int64_t CT = C * ldv;
  const int64_t lo = std::min(p.pad_w, L.wpad), hi = std::min(p.pad_w + p.W, L.wpad);
  for (int64_t c = 0; c < C; ++c) {
    std::fill(Z, Z + 2 * L.staged, 0.f);
    const float* in = dV + c * ldv + t0;
    for (size_t blk = 0; blk < L.mask.size(); ++blk) {
      const uint16_t mk = L.mask[blk];
      const int n = L.count[blk];
      const float* v = in + L.off[blk];
      vf u[4][4];  // B dV: the rows a of dV combined by the columns of B^T; dummy lanes 0
      for (int b = 0; b < 4; ++b) {
        const vf v0 = lanes::expand(lanes::load(v + b * CT, n), mk),
                 v1 = lanes::expand(lanes::load(v + (4 + b) * CT, n), mk),
                 v2 = lanes::expand(lanes::load(v + (8 + b) * CT, n), mk),
                 v3 = lanes::expand(lanes::load(v + (12 + b) * CT, n), mk);
        u[0][b] = v0;
        u[1][b] = v1 - v2 + v3;
        u[2][b] = v1 + v2 - v0;
        u[3][b] = -v3;
      }
      const int64_t at = 2 * lanes::kLanes * static_cast<int64_t>(blk);
      for (int r = 0; r < 4; ++r) {  // (B dV) B^T, added at staged columns 2t'.. and 2t'+2..
        float* pr = staged_row(Z, r, L) + at;
        vf e, o;
        lanes::load_pairs(pr, 2 * lanes::kLanes, e, o);
        lanes::store_pairs(pr, e + u[r][0], o + (u[r][1] - u[r][2] + u[r][3]), 2 * lanes::kLanes);
        lanes::load_pairs(pr + 2, 2 * lanes::kLanes, e, o);
        lanes::store_pairs(pr + 2, e + (u[r][1] + u[r][2] - u[r][0]), o - u[r][3], 2 * lanes::kLanes);
      }
    }
    float* gc = gx_n + c * p.H * p.W;
    for (int par = 0; par < 2; ++par)
      for (int64_t i = 0; i <= L.th; ++i) {
        const int64_t h = 2 * i + par - p.pad_h;
        if (h < 0 || h >= p.H) continue;
        const float* zr = Z + par * L.staged + i * L.wpad;
        float* gr = gc + h * p.W;
#pragma omp simd
        for (int64_t s = lo; s < hi; ++s) gr[s - p.pad_w] = zr[s];
      }
  }
}

// ---- output tiles ---------------------------------------------------------------------------
// y_n[k, 2i.., 2j..] = A^T M A (+ b[k]) for every tile, the parts inside P x Q (via two staged
// output rows per tile row, Y[0] and Y[1]).
void transform_output(float* y_n, const float* M, int64_t ldm, int64_t t0, int64_t K, const float* bias,
                      const Conv2dParams& p, const Plan& L, float* Y) {
  const int64_t KT = K * ldm;
  for (int64_t k = 0; k < K; ++k) {
    const vf bk = lanes::broadcast(bias ? bias[k] : 0.f);
    const float* m = M + k * ldm + t0;
    for (size_t blk = 0; blk < L.mask.size(); ++blk) {
      const uint16_t mk = L.mask[blk];
      const int n = L.count[blk];
      const float* mb = m + L.off[blk];
      vf s0[4], s1[4];  // A^T M
      for (int b = 0; b < 4; ++b) {
        const vf m0 = lanes::expand(lanes::load(mb + b * KT, n), mk),
                 m1 = lanes::expand(lanes::load(mb + (4 + b) * KT, n), mk),
                 m2 = lanes::expand(lanes::load(mb + (8 + b) * KT, n), mk),
                 m3 = lanes::expand(lanes::load(mb + (12 + b) * KT, n), mk);
        s0[b] = m0 + m1 + m2;
        s1[b] = m1 - m2 - m3;
      }
      const int64_t at = 2 * lanes::kLanes * static_cast<int64_t>(blk);
      lanes::store_pairs(Y + at, s0[0] + s0[1] + s0[2] + bk, s0[1] - s0[2] - s0[3] + bk, 2 * lanes::kLanes);
      lanes::store_pairs(Y + L.staged + at, s1[0] + s1[1] + s1[2] + bk, s1[1] - s1[2] - s1[3] + bk,
                         2 * lanes::kLanes);
    }
    for (int64_t i = 0; i < L.th; ++i)
      for (int64_t uu = 0; uu < 2 && 2 * i + uu < p.P; ++uu) {
        const float* yr = Y + uu * L.staged + i * L.wpad;
        float* dst = y_n + (k * p.P + 2 * i + uu) * p.Q;
#pragma omp simd
        for (int64_t q = 0; q < p.Q; ++q) dst[q] = yr[q];
      }
  }
}

// dM[xi][k][t] = (A dY A^T)[xi] for the 2x2 gradient tile dY of gy_n (K, P, Q) (zero outside
// P x Q): the adjoint of transform_output.
void transform_output_grad(float* dM, int64_t ldm, int64_t t0, const float* gy_n, int64_t K, const Conv2dParams& p,
                           const Plan& L, float* G) {
  const int64_t KT = K * ldm;
  for (int64_t k = 0; k < K; ++k) {
    stage(G, gy_n + k * p.P * p.Q, p.P, p.Q, 0, 0, L);
    float* out = dM + k * ldm + t0;
    for (size_t blk = 0; blk < L.mask.size(); ++blk) {
      const int64_t at = 2 * lanes::kLanes * static_cast<int64_t>(blk);
      vf y[2][2];
      lanes::load_pairs(G + at, 2 * lanes::kLanes, y[0][0], y[0][1]);
      lanes::load_pairs(G + L.staged + at, 2 * lanes::kLanes, y[1][0], y[1][1]);
      vf e[2][4];  // dY A^T
      for (int uu = 0; uu < 2; ++uu) {
        e[uu][0] = y[uu][0];
        e[uu][1] = y[uu][0] + y[uu][1];
        e[uu][2] = y[uu][0] - y[uu][1];
        e[uu][3] = -y[uu][1];
      }
      const uint16_t mk = L.mask[blk];
      const int n = L.count[blk];
      float* o = out + L.off[blk];
      for (int b = 0; b < 4; ++b) {  // A (dY A^T)
        lanes::store(o + b * KT, lanes::compress(e[0][b], mk), n);
        lanes::store(o + (4 + b) * KT, lanes::compress(e[0][b] + e[1][b], mk), n);
        lanes::store(o + (8 + b) * KT, lanes::compress(e[0][b] - e[1][b], mk), n);
        lanes::store(o + (12 + b) * KT, lanes::compress(-e[1][b], mk), n);
      }
    }
  }
}

// The passes of the backward, per chunk of images [n0, n1) whose tiles are `cols` columns:
// dM = A gy A^T into S.b, then gx from it (dV = U^T dM in S.a), then dU += dM V^T with V = B^T x B
// in S.a. backward_data, backward_weight and backward run the parts they need, in this order,
// so the combined call gives the separate calls' results bit for bit.
void chunk_output_grad(Scratch& S, const float* gy, int64_t n0, int64_t n1, const Conv2dParams& p, const Plan& L) {
  for (int64_t n = n0; n < n1; ++n)
    transform_output_grad(S.b.data(), L.T, (n - n0) * L.tiles, gy + n * p.K * p.P * p.Q, p.K, p, L, S.rows.data());
}
void chunk_data_grad(Scratch& S, float* gx, const std::vector<float>& U, int64_t n0, int64_t n1, int64_t cols,
                     const Conv2dParams& p, const Plan& L) {
  const int64_t C = p.C, K = p.K;
  for (int64_t xi = 0; xi < kXi; ++xi)  // dV[xi] = U[xi]^T dM[xi]
    tile_gemm::multiply(S.a.data() + xi * C * L.T, L.T, U.data() + xi * K * C, 1, C, S.b.data() + xi * K * L.T, L.T,
                        C, K, cols);
  for (int64_t n = n0; n < n1; ++n) {
    float* gx_n = gx + n * C * p.H * p.W;
    transform_input_grad(gx_n, S.a.data(), L.T, (n - n0) * L.tiles, C, p, L, S.rows.data());
  }
}
void chunk_weight_grad(Scratch& S, std::vector<float>& dU, const float* x, int64_t n0, int64_t n1, int64_t cols,
                       const Conv2dParams& p, const Plan& L) {
  const int64_t C = p.C, K = p.K;
  if (dU.empty()) dU.assign(static_cast<size_t>(kXi * K * C), 0.f);
  for (int64_t n = n0; n < n1; ++n)
    transform_input(S.a.data(), L.T, (n - n0) * L.tiles, x + n * C * p.H * p.W, C, p, L, S.rows.data());
  for (int64_t xi = 0; xi < kXi; ++xi) {  // dU[xi] += dM[xi] V[xi]^T
    CMap v(S.a.data() + xi * C * L.T, C, cols, Eigen::OuterStride<>(L.T));
    CMap dm(S.b.data() + xi * K * L.T, K, cols, Eigen::OuterStride<>(L.T));
    Map du(dU.data() + xi * K * C, K, C, Eigen::OuterStride<>(C));
    du.noalias() += dm * v.transpose();
  }
}
// gw from the threads' dU, added up in thread order.
void finish_weight_grad(float* gw, const std::vector<std::vector<float>>& partial, const Conv2dParams& p) {
  const int64_t usize = kXi * p.K * p.C;
  std::vector<float> dU(static_cast<size_t>(usize), 0.f);
  for (const auto& part : partial)
    if (!part.empty())
      for (int64_t i = 0; i < usize; ++i) dU[static_cast<size_t>(i)] += part[static_cast<size_t>(i)];
  weight_gradient(gw, dU.data(), p.K, p.C);
}

}  // namespace

bool supported(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 && p.dil_w == 1 &&
         p.groups == 1 && p.P > 0 && p.Q > 0;
}

bool preferred(const Conv2dParams& p) { return supported(p) && p.C >= 16 && p.K >= 16; }

void forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p) {
  const Plan L = make_plan(p);
  const int64_t C = p.C, K = p.K;
  const std::vector<float> U = transformed_weights(w, K, C);
  for_each_chunk(p, L, [&](Scratch& S, int64_t n0, int64_t n1, int64_t cols, int) {
    for (int64_t n = n0; n < n1; ++n)
      transform_input(S.a.data(), L.T, (n - n0) * L.tiles, x + n * C * p.H * p.W, C, p, L, S.rows.data());
    for (int64_t xi = 0; xi < kXi; ++xi)  // M[xi] = U[xi] V[xi]
      tile_gemm::multiply(S.b.data() + xi * K * L.T, L.T, U.data() + xi * K * C, C, 1, S.a.data() + xi * C * L.T,
                          L.T, K, C, cols);
    for (int64_t n = n0; n < n1; ++n)
      transform_output(y + n * K * p.P * p.Q, S.b.data(), L.T, (n - n0) * L.tiles, K, b, p, L, S.rows.data());
  });
}

void backward_data(float* gx, const float* gy, const float* w, const Conv2dParams& p) {
  const Plan L = make_plan(p);
  const std::vector<float> U = transformed_weights(w, p.K, p.C);
  for_each_chunk(p, L, [&](Scratch& S, int64_t n0, int64_t n1, int64_t cols, int) {
    chunk_output_grad(S, gy, n0, n1, p, L);
    chunk_data_grad(S, gx, U, n0, n1, cols, p, L);
  });
}

void backward_weight(float* gw, const float* gy, const float* x, const Conv2dParams& p) {
  const Plan L = make_plan(p);
  std::vector<std::vector<float>> partial(static_cast<size_t>(omp_get_max_threads()));  // dU per thread
  for_each_chunk(p, L, [&](Scratch& S, int64_t n0, int64_t n1, int64_t cols, int t) {
    chunk_output_grad(S, gy, n0, n1, p, L);
    chunk_weight_grad(S, partial[static_cast<size_t>(t)], x, n0, n1, cols, p, L);
  });
  finish_weight_grad(gw, partial, p);
}

void backward(float* gx, float* gw, const float* gy, const float* x, const float* w, const Conv2dParams& p) {
  const Plan L = make_plan(p);
  const std::vector<float> U = transformed_weights(w, p.K, p.C);
  std::vector<std::vector<float>> partial(static_cast<size_t>(omp_get_max_threads()));
  for_each_chunk(p, L, [&](Scratch& S, int64_t n0, int64_t n1, int64_t cols, int t) {
    chunk_output_grad(S, gy, n0, n1, p, L);
    chunk_data_grad(S, gx, U, n0, n1, cols, p, L);
    chunk_weight_grad(S, partial[static_cast<size_t>(t)], x, n0, n1, cols, p, L);
  });
  finish_weight_grad(gw, partial, p);
}

}  // namespace ml::kernels::winograd
