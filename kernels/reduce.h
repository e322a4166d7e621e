// kernels/reduce.h — sums over any set of dimensions, their adjoint (expand), and argmax.
#pragma once
#include <cstdint>
#include "kernels/common.h"
#include "kernels/elementwise.h"

namespace ml::kernels {

// x has shape `shape` (padded on the left to kMaxDims with 1s); y has the same shape with
// every dimension where reduce[d] is true set to 1. y = sum of x over those dimensions.
struct ReduceParams {
  int64_t shape[kMaxDims];
  bool reduce[kMaxDims];
};

template <Device D>
void sum_reduce(float* y, const float* x, const ReduceParams& p, Stream s);

// The adjoint of sum_reduce: y (full shape) = x broadcast along the reduced dimensions.
template <Device D>
void expand(float* y, const float* x, const ReduceParams& p, Stream s);

// idx[r] = argmax over the `cols` entries of row r (first maximum wins).
template <Device D>
void argmax_rows(int32_t* idx, const float* x, int64_t rows, int64_t cols, Stream s);

}  // namespace ml::kernels
