// kernels/cpu/reduce.cpp — sums over any set of dimensions and their adjoint.
// The shape is split into "kept" and "reduced" dimensions; each output element sums its
// reduced sub-block in double, so the result does not depend on thread count or order.
#include "kernels/reduce.h"

#include <algorithm>

namespace ml::kernels {

namespace {
struct Split {
  int64_t kept_shape[kMaxDims], kept_stride[kMaxDims];
  int64_t red_shape[kMaxDims], red_stride[kMaxDims];
  int nk = 0, nr = 0;
  int64_t kept_n = 1, red_n = 1;
};

Split split_dims(const ReduceParams& p) {
  Split s;
  int64_t stride = 1, strides[kMaxDims];
  for (int d = kMaxDims - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= p.shape[d];
  }
  for (int d = 0; d < kMaxDims; ++d) {
    if (p.reduce[d]) {
      s.red_shape[s.nr] = p.shape[d];
      s.red_stride[s.nr++] = strides[d];
      s.red_n *= p.shape[d];
    } else {
      s.kept_shape[s.nk] = p.shape[d];
      s.kept_stride[s.nk++] = strides[d];
      s.kept_n *= p.shape[d];
    }
  }
  return s;
}

// The shape as (outer, red, inner) blocks when, leaving out dimensions of size 1, the reduced
// dimensions are adjacent, with kept ones only before (outer) and after (inner) them: a sum over
// the middle axis of (B, C, N) (the V1 readout's channel sum), over the batch of (B, C, N) or of
// (B, features) (weight and bias gradients). False otherwise.
bool three_blocks(const ReduceParams& p, int64_t& outer, int64_t& red, int64_t& inner) {
  outer = red = inner = 1;
  int phase = 0;  // 0: outer kept dims, 1: reduced dims, 2: inner kept dims
  for (int d = 0; d < kMaxDims; ++d) {
    if (p.shape[d] == 1) continue;
    if (p.reduce[d]) {
      if (phase == 2) return false;
      phase = 1;
      red *= p.shape[d];
    } else if (phase == 0) {
      outer *= p.shape[d];
    } else {
      phase = 2;
      inner *= p.shape[d];
    }
  }
  if (phase == 0) std::swap(outer, inner);  // nothing reduced: one contiguous row, not outer rows of 1
  return true;
}

inline int64_t offset_of(int64_t i, const int64_t* shape, const int64_t* stride, int n) {
  int64_t off = 0;
  for (int d = n - 1; d >= 0; --d) {
    off += (i % shape[d]) * stride[d];
    i /= shape[d];
  }
  return off;
}
}  // namespace

template <>
void sum_reduce<Device::CPU>(float* y, const float* x, const ReduceParams& p, Stream) {
  // Reduced dimensions between kept ones, (outer, red, inner) with inner > 1: each output row
  // y[o, :] is the sum of the `red` contiguous rows x[o, r, :], added row by row (vectorised along
  // the row, in double, r in increasing order: the same sums in the same order as the loop below,
  // so the same bits). The loop below read them with a stride and a division per index digit per
  // element (11 % of the V1 readout's forward + backward).
  int64_t n_outer, n_red, n_inner;
  if (three_blocks(p, n_outer, n_red, n_inner) && n_inner > 1) {
    constexpr int64_t kChunk = 256;  // doubles per accumulator: 2 KiB, in L1
    const int64_t chunks = (n_inner + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n_outer * n_red * n_inner > (1 << 16))
    for (int64_t oc = 0; oc < n_outer * chunks; ++oc) {
      const int64_t o = oc / chunks, i0 = (oc % chunks) * kChunk, n = std::min(kChunk, n_inner - i0);
      double acc[kChunk] = {};
      const float* xo = x + o * n_red * n_inner + i0;
      for (int64_t r = 0; r < n_red; ++r)
        for (int64_t i = 0; i < n; ++i) acc[i] += xo[r * n_inner + i];
      for (int64_t i = 0; i < n; ++i) y[o * n_inner + i0 + i] = static_cast<float>(acc[i]);
    }
    return;
  }
  const Split s = split_dims(p);
  // Innermost reduced dimension contiguous (stride 1) is the common case (rows, planes).
  const bool inner_contig = s.nr > 0 && s.red_stride[s.nr - 1] == 1;
  const int64_t inner = inner_contig ? s.red_shape[s.nr - 1] : 1;
  const int64_t outer_red = s.red_n / (inner ? inner : 1);
#pragma omp parallel for schedule(static) if (s.kept_n * s.red_n > (1 << 16))
  for (int64_t k = 0; k < s.kept_n; ++k) {
    const int64_t base = offset_of(k, s.kept_shape, s.kept_stride, s.nk);
    double acc = 0.0;
    if (inner_contig) {
      for (int64_t r = 0; r < outer_red; ++r) {
        const float* row = x + base + offset_of(r, s.red_shape, s.red_stride, s.nr - 1);
        for (int64_t i = 0; i < inner; ++i) acc += row[i];
      }
    } else {
      for (int64_t r = 0; r < s.red_n; ++r) acc += x[base + offset_of(r, s.red_shape, s.red_stride, s.nr)];
    }
    y[k] = static_cast<float>(acc);
  }
}

template <>
void expand<Device::CPU>(float* y, const float* x, const ReduceParams& p, Stream) {
  // Broadcast dimensions adjacent, kept ones only around them, (outer, red, inner): y is red
  // copies of each row x[o, :] (a bias over rows, (out) -> (N, out), is outer = 1). One contiguous
  // copy per row; the general loop below pays a division per index digit per element and wrote
  // the rows column by column (13.7 % of a ViT-B/16 forward went to it).
  int64_t outer, red, inner;
  if (three_blocks(p, outer, red, inner)) {
#pragma omp parallel for schedule(static) if (outer * red * inner > (1 << 16))
    for (int64_t orow = 0; orow < outer * red; ++orow) {
      const float* row = x + (orow / red) * inner;
      std::copy(row, row + inner, y + orow * inner);
    }
    return;
  }
  const Split s = split_dims(p);
#pragma omp parallel for schedule(static) if (s.kept_n * s.red_n > (1 << 16))
  for (int64_t k = 0; k < s.kept_n; ++k) {
    const int64_t base = offset_of(k, s.kept_shape, s.kept_stride, s.nk);
    for (int64_t r = 0; r < s.red_n; ++r) y[base + offset_of(r, s.red_shape, s.red_stride, s.nr)] = x[k];
  }
}

template <>
void argmax_rows<Device::CPU>(int32_t* idx, const float* x, int64_t rows, int64_t cols, Stream) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c)
      if (row[c] > row[best]) best = c;
    idx[r] = static_cast<int32_t>(best);
  }
}

}  // namespace ml::kernels
