// kernels/transpose.h — the swap of two dimensions of a contiguous tensor, as a copy.
// Any swap of dimensions d0 < d1 is, after merging the dimensions around them, the 5-D
//   x (A, M, B, N, C) -> y (A, N, B, M, C),   y[a, n, b, m, c] = x[a, m, b, n, c]
// with A = prod(shape[:d0]), M = shape[d0], B = prod(shape[d0+1:d1]), N = shape[d1],
// C = prod(shape[d1+1:]). Pure data movement: CPU and CUDA agree bit for bit.
// ViT needs it for the patch embedding ((B, 768, 196) -> (B, 196, 768)) and for splitting
// attention heads ((B, L, H, D) -> (B, H, L, D)).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

struct TransposeParams {
  int64_t A, M, B, N, C;
};

template <Device D>
void transpose(float* y, const float* x, const TransposeParams& p, Stream s);

}  // namespace ml::kernels
