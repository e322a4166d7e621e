// kernels/correlation.h — the building blocks of representational dissimilarity matrices.
// x: (rows, cols) = (items, units) for z-scoring; (items, features) for row normalisation.
//   zscore_columns: z[i,u] = (x[i,u] - mean_u) / std_u, population std over the rows;
//                   a column with std_u == 0 gives z = 0 (its units carry no information;
//                   the analyses drop them, SCIENCE.md).
//   row_normalize:  u_i = (x_i - mean(x_i)) / ||x_i - mean(x_i)||, so that
//                   Pearson r(x_i, x_j) = <u_i, u_j> and the correlation matrix is U U^T (gemm).
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

template <Device D>
void zscore_columns_forward(float* z, float* mean, float* std, const float* x, int64_t rows, int64_t cols, Stream s);
// gx[i,u] = (gz[i,u] - mean_i gz[.,u] - z[i,u] * mean_i(gz[.,u] z[.,u])) / std_u   (0 where std_u == 0)
template <Device D>
void zscore_columns_backward(float* gx, const float* gz, const float* z, const float* std, int64_t rows, int64_t cols,
                             Stream s);

// norm[i] = ||x_i - mean(x_i)|| is saved; a constant row has norm 0 and gives u_i = 0.
template <Device D>
void row_normalize_forward(float* u, float* norm, const float* x, int64_t rows, int64_t cols, Stream s);
// gc = (gu - u <u, gu>) / norm;  gx = gc - mean(gc)   (per row; 0 where norm == 0)
template <Device D>
void row_normalize_backward(float* gx, const float* gu, const float* u, const float* norm, int64_t rows,
                            int64_t cols, Stream s);

}  // namespace ml::kernels
