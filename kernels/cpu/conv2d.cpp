// kernels/cpu/conv2d.cpp — the reference convolution: im2col + GEMM (Eigen) per image and
// group, images spread over OpenMP threads.
//
// For image n and group g (Cg = C/groups input channels, Kg = K/groups filters):
//   col   (Cg*R*S, P*Q): col[(c*R + r)*S + s, p*Q + q] = x[n, g*Cg + c, p*sh - ph + r*dh, q*sw - pw + s*dw]
//   forward          y_g  (Kg, P*Q)      = W_g (Kg, Cg*R*S) * col
//   backward-data    dcol (Cg*R*S, P*Q)  = W_g^T * gy_g,  then col2im scatters dcol into gx
//   backward-weight  gW_g (Kg, Cg*R*S)  += gy_g * col^T  (summed over images)
// A 1x1, stride-1, unpadded convolution skips im2col: col is x itself.
// Each thread owns its col buffer (allocated once per call, reused for every image), so the
// hot loop allocates nothing. With fewer images than threads, the images run one after
// another and Eigen parallelises each product instead.
// 3x3 stride-1 convolutions with enough channels go to Winograd's F(2x2, 3x3) instead
// (kernels/cpu/winograd.h: 4 multiplications an output where im2col needs 9), pass by pass and
// ISA by ISA where it measured faster (cpu_conv::chosen below; kernels/cpu/conv2d_path.h).
#include "kernels/conv2d.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/cpu/conv2d_path.h"
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/tile_gemm.h"
#include "kernels/cpu/winograd.h"
#include "kernels/gemm.h"

namespace ml::kernels {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<RowMat>;
using CMap = Eigen::Map<const RowMat>;

bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

// The output columns q whose input column q*sw + w_off lies inside [0, W) (the others read
// zero padding): [q_lo, q_hi).
std::pair<int64_t, int64_t> valid_columns(const Conv2dParams& p, int64_t w_off) {
  const int64_t q_lo = std::clamp<int64_t>((-w_off + p.stride_w - 1) / p.stride_w, 0, p.Q);
  const int64_t q_hi = std::clamp<int64_t>((p.W - w_off + p.stride_w - 1) / p.stride_w, q_lo, p.Q);
  return {q_lo, q_hi};
}

// x_g: (Cg, H, W) -> col: (Cg*R*S, P*Q)
void im2col(float* col, const float* x_g, int64_t Cg, const Conv2dParams& p) {
  const int64_t PQ = p.P * p.Q;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        float* row = col + ((c * p.R + r) * p.S + s) * PQ;
        const float* xc = x_g + c * p.H * p.W;
        const int64_t w_off = s * p.dil_w - p.pad_w;
        const auto [q_lo, q_hi] = valid_columns(p, w_off);
        for (int64_t pp = 0; pp < p.P; ++pp) {
          float* out = row + pp * p.Q;
          const int64_t h = pp * p.stride_h - p.pad_h + r * p.dil_h;
          if (h < 0 || h >= p.H) {
            std::fill(out, out + p.Q, 0.f);
            continue;
          }
          const float* xr = xc + h * p.W + w_off;
          std::fill(out, out + q_lo, 0.f);
          if (p.stride_w == 1)
            std::copy(xr + q_lo, xr + q_hi, out + q_lo);
          else
            for (int64_t q = q_lo; q < q_hi; ++q) out[q] = xr[q * p.stride_w];
          std::fill(out + q_hi, out + p.Q, 0.f);
        }
      }
}

// The adjoint of im2col: gx_g (Cg, H, W) += scatter of col.
void col2im(float* gx_g, const float* col, int64_t Cg, const Conv2dParams& p) {
  const int64_t PQ = p.P * p.Q;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        const float* row = col + ((c * p.R + r) * p.S + s) * PQ;
        float* gc = gx_g + c * p.H * p.W;
        const int64_t w_off = s * p.dil_w - p.pad_w;
        const auto [q_lo, q_hi] = valid_columns(p, w_off);
        for (int64_t pp = 0; pp < p.P; ++pp) {
          const int64_t h = pp * p.stride_h - p.pad_h + r * p.dil_h;
          if (h < 0 || h >= p.H) continue;
          float* gr = gc + h * p.W + w_off;
          const float* in = row + pp * p.Q;
          for (int64_t q = q_lo; q < q_hi; ++q) gr[q * p.stride_w] += in[q];
        }
      }
}

// Runs body(n, thread) for every image: across threads when there are enough images.
// Static schedule: image n always lands on the same thread for a given thread count, so the
// per-thread partial sums of backward-weight, and hence training runs, are reproducible.
template <class F>
void for_each_image(int64_t N, F&& body) {
  const int threads = omp_get_max_threads();
  if (N >= threads && threads > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) body(n, omp_get_thread_num());
  } else {
    for (int64_t n = 0; n < N; ++n) body(n, 0);
  }
}

// gb[k] = sum over images and pixels of gy[n, k]: each image's P*Q pixels in float (a
// vectorised sum; the compiler may reassociate it under omp simd), the N image sums in double.
void bias_gradient(float* gb, const float* gy, const Conv2dParams& p) {
  const int64_t PQ = p.P * p.Q;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < p.K; ++k) {
    double s = 0.0;
    for (int64_t n = 0; n < p.N; ++n) {
      const float* row = gy + (n * p.K + k) * PQ;
      float plane = 0.f;
#pragma omp simd reduction(+ : plane)
      for (int64_t i = 0; i < PQ; ++i) plane += row[i];
      s += plane;
    }
    gb[k] = static_cast<float>(s);
  }
}

// The im2col + Eigen path.
void forward_im2col(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, PQ = p.P * p.Q, CRS = Cg * p.R * p.S;
  const bool direct = is_pointwise(p);
  std::vector<std::vector<float>> cols(static_cast<size_t>(omp_get_max_threads()));
  for_each_image(p.N, [&](int64_t n, int t) {
    auto& col = cols[static_cast<size_t>(t)];
    if (!direct && col.size() < static_cast<size_t>(CRS * PQ)) col.resize(static_cast<size_t>(CRS * PQ));
    for (int64_t g = 0; g < p.groups; ++g) {
      const float* x_g = x + (n * p.C + g * Cg) * p.H * p.W;
      if (!direct) im2col(col.data(), x_g, Cg, p);
      CMap colm(direct ? x_g : col.data(), CRS, PQ);
      CMap wm(w + g * Kg * CRS, Kg, CRS);
      Map ym(y + (n * p.K + g * Kg) * PQ, Kg, PQ);
      ym.noalias() = wm * colm;
      if (b)
        for (int64_t k = 0; k < Kg; ++k) ym.row(k).array() += b[g * Kg + k];
    }
  });
}

void backward_data_im2col(float* gx, const float* gy, const float* w, const Conv2dParams& p) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, PQ = p.P * p.Q, CRS = Cg * p.R * p.S;
  const bool direct = is_pointwise(p);
  std::vector<std::vector<float>> cols(static_cast<size_t>(omp_get_max_threads()));
  for_each_image(p.N, [&](int64_t n, int t) {
    auto& col = cols[static_cast<size_t>(t)];
    if (!direct && col.size() < static_cast<size_t>(CRS * PQ)) col.resize(static_cast<size_t>(CRS * PQ));
    for (int64_t g = 0; g < p.groups; ++g) {
      float* gx_g = gx + (n * p.C + g * Cg) * p.H * p.W;
      CMap wm(w + g * Kg * CRS, Kg, CRS);
      CMap gym(gy + (n * p.K + g * Kg) * PQ, Kg, PQ);
      if (direct) {
        Map(gx_g, CRS, PQ).noalias() = wm.transpose() * gym;
        continue;
      }
      Map colm(col.data(), CRS, PQ);
      colm.noalias() = wm.transpose() * gym;
      std::fill(gx_g, gx_g + Cg * p.H * p.W, 0.f);
      col2im(gx_g, col.data(), Cg, p);
    }
  });
}

// rows (PQ, CRS) = col (CRS, PQ) transposed: the layout tile_gemm wants for B in the weight
// gradient gW (Kg, CRS) += gy (Kg, PQ) * col^T.
void transpose(float* rows, const float* col, int64_t CRS, int64_t PQ) {
  for (int64_t i = 0; i < CRS; ++i)
    for (int64_t j = 0; j < PQ; ++j) rows[j * CRS + i] = col[i * PQ + j];
}

// The weight gradient (not the bias's) through im2col; its product by tile_gemm with short_inner
// (Eigen's per-call packing of a 27 x P*Q operand dominated it on AVX-512), else by Eigen.
void backward_weight_im2col(float* gw, const float* gy, const float* x, const Conv2dParams& p, bool short_inner) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, PQ = p.P * p.Q, CRS = Cg * p.R * p.S;
  const int64_t wsize = p.K * CRS;
  const bool direct = is_pointwise(p);
  const int threads = omp_get_max_threads();
  // One partial gradient per thread, summed at the end (fixed order: deterministic for a
  // given thread count).
  std::vector<std::vector<float>> partial(static_cast<size_t>(threads));
  std::vector<std::vector<float>> cols(static_cast<size_t>(threads)), rows(static_cast<size_t>(threads));
  for_each_image(p.N, [&](int64_t n, int t) {
    auto& acc = partial[static_cast<size_t>(t)];
    if (acc.empty()) acc.assign(static_cast<size_t>(wsize), 0.f);
    auto& col = cols[static_cast<size_t>(t)];
    if (!direct && col.size() < static_cast<size_t>(CRS * PQ)) col.resize(static_cast<size_t>(CRS * PQ));
    auto& row = rows[static_cast<size_t>(t)];
    if (short_inner && row.size() < static_cast<size_t>(CRS * PQ)) row.resize(static_cast<size_t>(CRS * PQ));
    for (int64_t g = 0; g < p.groups; ++g) {
      const float* x_g = x + (n * p.C + g * Cg) * p.H * p.W;
      if (!direct) im2col(col.data(), x_g, Cg, p);
      const float* colp = direct ? x_g : col.data();
      const float* gy_g = gy + (n * p.K + g * Kg) * PQ;
      float* acc_g = acc.data() + g * Kg * CRS;
      if (short_inner) {
        transpose(row.data(), colp, CRS, PQ);
        tile_gemm::multiply(acc_g, CRS, gy_g, PQ, 1, row.data(), CRS, Kg, PQ, CRS, /*accumulate=*/true);
      } else {
        Map(acc_g, Kg, CRS).noalias() += CMap(gy_g, Kg, PQ) * CMap(colp, CRS, PQ).transpose();
      }
    }
  });
  std::fill(gw, gw + wsize, 0.f);
  for (const auto& acc : partial)
    if (!acc.empty())
      for (int64_t i = 0; i < wsize; ++i) gw[i] += acc[static_cast<size_t>(i)];
}

}  // namespace

namespace cpu_conv {

// ---- the dispatch ----------------------------------------------------------------------------
// Winograd where winograd::preferred() (3x3, stride 1, >= 16 channels in and out), except where
// the weights are large and the maps small: there a chunk of one or two images gives the 16
// products only T = 49-98 columns (13x13 or 14x14 outputs), and re-reading the transformed weights
// U (16 K C floats: 16 MiB for 512 x 512) for so few columns costs more than the 9/4
// multiplications Winograd saves. A weight gradient with a short patch (CRS <= 64: a 1- or
// 3-channel first layer) goes to tile_gemm on AVX-512 and to Eigen on AVX2.
//
// Measured 2026-12-01 on a 2-core Intel Xeon (AVX-512) with bench_cpu (bench/cpu/compare_paths.sh),
// the native build and a -DMIRRORLAB_ARCH=x86-64-v3 (AVX2) build of the same code: im2col+Eigen
// time / the fast path's time, 1 thread (CPU time) and 2 threads (wall), on a machine shared
// with 7 other jobs (load 15-24 on 2 cores; bench/RESULTS.md, issue 13, has the full tables):
//                                                  AVX-512        AVX2
//   forward   VGG16 conv5_1 (14x14, C K = 2^18)      0.81-0.84      0.85-0.86   -> im2col, both
//   forward   AlexNet conv3-5 (13x13, C K <= 98304)  1.11-1.26      1.15-1.22
//   forward   every other Winograd-able layer of vgg_small (32 and 28 px) and VGG16: 1.25-2.1
//   bw-data   AlexNet conv3 / conv4 / conv5          AVX-512 0.82-1.05 / 0.81-0.87 / 0.92-1.02
//                                                    AVX2    1.01-1.15 / 0.92-1.03 / 1.15-1.29
//   bw-data   vgg_small(28) conv1_2..conv2_2: 1.17-1.69 on both
//   bw-weight every Winograd-able layer: 1.25-2.16 on both
//   bw-weight short patch by tile_gemm, vgg_small conv1_1 (CRS 27) / vgg_small28 conv1_1 (CRS 9):
//             AVX2 0.68-0.82 / 0.96-1.10 -> Eigen;  AVX-512 0.81-0.95 / 0.94-0.95 (see below)
// Under that load other jobs evict the caches between time slices, which costs Winograd's
// L2-sized chunks and tile_gemm's L1-resident panels more than Eigen's packed GEMM. On the quiet
// machine of 2026-11-24 (load 1.5, AVX-512, 2 threads, bench/RESULTS.md "Since then: Winograd")
// Winograd was 1.13-1.20x faster on AlexNet conv3-5's backward-data and tile_gemm 1.22x on
// vgg_small conv1_1's weight gradient; where the two disagree (by at most 0.8x here), the quiet
// measurement decides: AVX-512 keeps both, to be re-measured on a quiet machine. The VGG16 conv5
// limit is also applied to backward-data, whose product has the same U and width (not measured).
// Re-measured 2026-12-02 (session 4) on a 2-core AMD EPYC with AVX-512, A/B twice under the
// measurement lock (bench/cpu/compare_paths.sh, 1 thread, load 16-19 from builds), im2col+Eigen CPU
// time / chosen: AlexNet conv3 / conv4 / conv5 backward-data by Winograd 1.39-1.48 / 1.48-1.58 /
// 1.54-1.56; vgg_small conv1_1 weight gradient by tile_gemm 1.22-1.26, vgg_small28 1.13-1.15 (after
// its transpose became tile_gemm::transpose). Both AVX-512 choices stand.
constexpr int64_t kSmallMap = 14 * 14;           // output pixels (P*Q) up to which the limit applies
constexpr int64_t kMaxCK = int64_t{1} << 18;     // C*K from which such a layer goes to im2col
constexpr int64_t kShortPatch = 64;              // Cg*R*S up to which tile_gemm takes the weight gradient
// ... but not the narrowest patches nor large maps. Quiet re-measurement 2026-12-02 (session 6; 2-core
// AMD EPYC, AVX-512, bench/cpu/compare_paths.sh at 1 thread, load 1.0, nothing else running),
// im2col+Eigen / tile_gemm CPU time on the weight gradient: vgg_small conv1_1 (Cg*R*S 27, 30x30
// outputs) 1.37 in the whole table, 0.94 / 1.01 / 1.13 in three short reruns of that row alone (the
// same quiet machine: the spread of one row is ~20 %); vgg_small28 conv1_1 (9, 26x26) 0.85; VGG16
// conv1_1 (27, 224x224) 0.93. Session 4's 1.13-1.15 for vgg_small28 was taken at load 16-19. So
// tile_gemm keeps only vgg_small's shape, where 3 of 4 measurements are >= 1: patches of at least 16
// on maps up to 32x32; the rest goes to the reference (never slower than itself). Session 7 (same
// machine, quiet) reran that row six times: 1.00 / 0.84 / 1.03 / 1.09 at 1 thread, 0.96 / 1.24 at 2
// threads; with session 6's four, median 1.02 of ten (0.84-1.37): a tie on this AMD EPYC, 1.22x on
// the Intel Xeon of 2026-11-24 (quiet, 2 threads). Kept for that.
constexpr int64_t kShortPatchMin = 16;
constexpr int64_t kShortPatchMaxMap = 32 * 32;
#if defined(__AVX512F__)
constexpr bool kShortPatchTileGemm = true;
#else
constexpr bool kShortPatchTileGemm = false;  // 6x16 blocks waste a third of a 27-wide patch
#endif

// The direct forward (kernels/cpu/conv_direct.h) for ungrouped kernels of 5x5 and more whose
// windows overlap (stride < kernel), with >= 32 filters: AlexNet's conv1 (11x11 / 4) and conv2
// (5x5), where im2col's matrix is 121 / 4^2 or 25 times the input. Measured 2026-12-02 (bench_cpu,
// batch 16, 1 thread, CPU time, load 13-16), direct vs im2col + Eigen:
//                       AVX-512            AVX2
//   AlexNet conv1       19.2-20.7 / 31.7   29.8-30.4 / 44.6 ms
//   AlexNet conv2       44.3-46.4 / 67.7   77.5-81.4 / 92.4 ms
// Not sent there by this rule: 3x3 kernels (but see the thin-input case below and the Winograd-able
// ones in chosen()), grouped and depthwise kernels (ConvNeXt's 7x7: the kernel's 16- or 64-filter block would be
// mostly padding), non-overlapping patches (ViT's 16x16 / 16: im2col is a plain reordering
// there), fewer than 32 filters; none of them measured on this path.
//
// Also 3x3 kernels with too few input channels for Winograd (C < 16) on large maps: VGG16's conv1_1
// (3 -> 64, 224x224 outputs), whose im2col matrix is 27 x 50176 floats an image and whose product is
// too thin (27-long dot products) for Eigen's packing to pay. Quiet per-layer table of 2026-12-02
// (session 6; compare_paths.sh, batch 4, 1 thread, CPU time), direct vs im2col + Eigen: AVX-512
// 9.8 / 15.4 ms, AVX2 12.7 / 14.0 ms. vgg_small's conv1_1 (1 or 3 -> 32 channels, 26x26 or 30x30
// outputs) is far below the map limit and keeps im2col.
constexpr int64_t kDirectThinInputMinMap = 112 * 112;
bool direct_preferred(const Conv2dParams& p) {
  const bool overlapping = p.stride_h < p.R && p.stride_w < p.S;
  if (p.groups != 1 || p.K < 32 || !overlapping) return false;
  if (p.R >= 5 && p.S >= 5) return true;
  return p.R >= 3 && p.S >= 3 && p.C < 16 && p.P * p.Q >= kDirectThinInputMinMap;
}

// The forward of a Winograd-able layer on a large map also goes to the direct path: Winograd's
// chunks are at least one image, and one 112x112 image's transformed tiles (16 (C + K) floats a
// tile, 3136 tiles) already overflow L2, so Winograd streams them through memory. Measured
// 2026-12-02 (bench_cpu, VGG16 batch 4, 1 thread, CPU time, load 16-22, two alternations),
// Winograd / direct ms:
//              conv1_2 (224x224)  conv2_1 (112x112)  conv2_2 (112x112)  conv3_2 (56x56)
//   AVX-512    237-275 / 128-136  92-95 / 56-57      154-162 / 106      99 / 102-108
//   AVX2       299-312 / 200-202  91-92 / 88-91      166-167 / 176      109-112 / 174
// so from 112x112 outputs on AVX-512 and from 224x224 on AVX2. vgg_small's maps (<= 30x30) are
// far below both limits: its training paths are unchanged.
#if defined(__AVX512F__)
constexpr int64_t kDirectMinMap = 112 * 112;
#else
constexpr int64_t kDirectMinMap = 224 * 224;
#endif

// And the forward of a Winograd-able layer with large weights on a small map (<= 14x14 outputs,
// C K >= 2^15): AlexNet's conv3-5 (13x13, C K 65536-98304) and VGG16's conv5 (14x14, 2^18). There
// Winograd transforms all K C filters into 16 K C floats on every call, whatever the batch, and
// pads 13x13 to 14x14 tiles, and im2col + Eigen packs a 9 C x P Q matrix per image; the direct
// kernel only repacks the weights (K C 9 floats). Measured 2026-12-02 on a 2-core AMD EPYC
// (AVX-512; bench_cpu, 1 thread, CPU time, load 16-18):
//   AlexNet forward, whole net (BM_forward), Winograd / direct for conv3-5, two alternations:
//     batch 16: 149 / 134, 138 / 130 ms;  batch 4: 47.5 / 39.4, 51.2 / 38.8 ms
//   per layer (compare_paths.sh, batch 16, weights hot in cache): AlexNet conv3 / conv4 / conv5
//     Winograd 17.6 / 25.4 / 15.6 ms, direct 17.2 / 25.1 / 15.7 ms;
//   VGG16 conv5_1 (batch 4): im2col + Eigen 30.1 ms, direct 22.6 ms.
// On AVX2 (x86-64-v3 build, same machine and day) the direct kernel's 6 x 16 block is slower there:
//   AlexNet conv3 / conv4 / conv5 Winograd 28.9 / 33.7 / 23.0 ms, direct 35.3 / 46.4 / 30.4 ms;
//   VGG16 conv5_1 im2col + Eigen 37.7 ms, direct 36.1 ms (a tie: left to im2col)
// so the rule is AVX-512 only. The C K limit keeps vgg_small's 10x10-14x14 layers (C K <= 8192:
// training shapes) where they were.
#if defined(__AVX512F__)
constexpr int64_t kDirectSmallMapMinCK = int64_t{1} << 15;
#else
constexpr int64_t kDirectSmallMapMinCK = INT64_MAX;  // never
#endif
// ... but only at small batches where Winograd would otherwise take the layer: its filter transform
// is paid once a call, so its cheaper products win once there are enough output pixels to spread it
// over. Quiet A/B of 2026-12-02 (session 7; nothing else running, AVX-512, the whole AlexNet forward,
// BM_forward, medians of 8 alternated pairs, Winograd / direct for conv3-5): 2 threads, batch 16 (N P Q
// = 2704) 0.94 and batch 4 (676) 1.13; 1 thread 1.00 and 1.16; RISE's AlexNet to fc6 at batch 50
// (bench_rise, 4 pairs, 2 threads) Winograd 184-216 against direct 165-183 masks/s. Per layer
// (compare_paths.sh, batch 16, 1 thread, quiet, session 6) Winograd was 4-12 % faster. So the direct
// kernel keeps N P Q up to 8 images of 13x13; VGG16's conv5 (C K = 2^18, which Winograd does not
// take on small maps) keeps the direct kernel at every batch.
constexpr int64_t kDirectSmallMapMaxNPQ = 8 * 13 * 13;

Path chosen(const Conv2dParams& p, Pass pass) {
  const bool big_weights_small_map = p.P * p.Q <= kSmallMap && p.C * p.K >= kMaxCK;
  if (pass == Pass::Forward && winograd::preferred(p) && p.groups == 1 && p.K >= 32) {
    if (p.P * p.Q >= kDirectMinMap) return Path::Direct;
    if (p.P * p.Q <= kSmallMap && p.C * p.K >= kDirectSmallMapMinCK &&
        (big_weights_small_map || p.N * p.P * p.Q <= kDirectSmallMapMaxNPQ))
      return Path::Direct;
  }
  if (winograd::preferred(p)) {
    if (pass == Pass::BackwardWeight || !big_weights_small_map) return Path::Winograd;
    return Path::Im2col;
  }
  if (pass == Pass::Forward && direct_preferred(p)) return Path::Direct;
  const int64_t patch = p.C / p.groups * p.R * p.S;
  if (pass == Pass::BackwardWeight && kShortPatchTileGemm && patch >= kShortPatchMin && patch <= kShortPatch &&
      p.P * p.Q <= kShortPatchMaxMap)
    return Path::TileGemm;
  return Path::Im2col;
}

const char* name(Path path) {
  switch (path) {
    case Path::Im2col: return "im2col+eigen";
    case Path::Winograd: return "winograd";
    case Path::TileGemm: return "im2col+tile_gemm";
    case Path::Direct: return "direct";
  }
  return "?";
}

const char* isa() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#else
  return "generic";
#endif
}

void im2col_forward(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p) {
  forward_im2col(y, x, w, b, p);
}
void im2col_backward_data(float* gx, const float* gy, const float* w, const Conv2dParams& p) {
  backward_data_im2col(gx, gy, w, p);
}
void im2col_backward_weight(float* gw, float* gb, const float* gy, const float* x, const Conv2dParams& p) {
  if (gb) bias_gradient(gb, gy, p);
  backward_weight_im2col(gw, gy, x, p, /*short_inner=*/false);
}

}  // namespace cpu_conv

using cpu_conv::Pass;
using cpu_conv::Path;

template <>
void conv2d_forward<Device::CPU>(float* y, const float* x, const float* w, const float* b, const Conv2dParams& p,
                                 Stream) {
  const Path path = cpu_conv::chosen(p, Pass::Forward);
  if (path == Path::Winograd) return winograd::forward(y, x, w, b, p);
  if (path == Path::Direct) return direct_conv::forward(y, x, w, b, p);
  forward_im2col(y, x, w, b, p);
}

template <>
void conv2d_backward_data<Device::CPU>(float* gx, const float* gy, const float* w, const Conv2dParams& p, Stream) {
  if (cpu_conv::chosen(p, Pass::BackwardData) == Path::Winograd) return winograd::backward_data(gx, gy, w, p);
  backward_data_im2col(gx, gy, w, p);
}

template <>
void conv2d_backward_weight<Device::CPU>(float* gw, float* gb, const float* gy, const float* x, const Conv2dParams& p,
                                         Stream) {
  if (gb) bias_gradient(gb, gy, p);
  const Path path = cpu_conv::chosen(p, Pass::BackwardWeight);
  if (path == Path::Winograd) return winograd::backward_weight(gw, gy, x, p);
  backward_weight_im2col(gw, gy, x, p, path == Path::TileGemm);
}

template <>
void conv2d_backward<Device::CPU>(float* gx, float* gw, float* gb, const float* gy, const float* x, const float* w,
                                  const Conv2dParams& p, Stream s) {
  if (gx && gw && cpu_conv::chosen(p, Pass::BackwardData) == Path::Winograd &&
      cpu_conv::chosen(p, Pass::BackwardWeight) == Path::Winograd) {
    if (gb) bias_gradient(gb, gy, p);
    winograd::backward(gx, gw, gy, x, w, p);
    return;
  }
  if (gx) conv2d_backward_data<Device::CPU>(gx, gy, w, p, s);
  if (gw) conv2d_backward_weight<Device::CPU>(gw, gb, gy, x, p, s);
}

}  // namespace ml::kernels
