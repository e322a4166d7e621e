// kernels/cpu/gemm.cpp — row-major GEMM through Eigen's blocked, vectorised product.
// Eigen parallelises a large product itself with OpenMP; inside an OpenMP region it runs
// on the calling thread, so callers may parallelise over batch items instead.
#include "kernels/gemm.h"

#include <Eigen/Core>

namespace ml::kernels {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
using CMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;

template <>
void gemm<Device::CPU>(float* C, const float* A, const float* B, const GemmParams& p, Stream) {
  const int64_t a_rows = p.trans_a ? p.K : p.M, a_cols = p.trans_a ? p.M : p.K;
  const int64_t b_rows = p.trans_b ? p.N : p.K, b_cols = p.trans_b ? p.K : p.N;
  for (int64_t i = 0; i < p.batch; ++i) {
    CMap a(A + i * p.stride_a, a_rows, a_cols, Eigen::OuterStride<>(p.lda));
    CMap b(B + i * p.stride_b, b_rows, b_cols, Eigen::OuterStride<>(p.ldb));
    Map c(C + i * p.stride_c, p.M, p.N, Eigen::OuterStride<>(p.ldc));
    if (p.beta == 0.f) c.setZero();
    else if (p.beta != 1.f) c *= p.beta;
    if (p.K == 0) continue;
    if (!p.trans_a && !p.trans_b) c.noalias() += p.alpha * (a * b);
    else if (p.trans_a && !p.trans_b) c.noalias() += p.alpha * (a.transpose() * b);
    else if (!p.trans_a && p.trans_b) c.noalias() += p.alpha * (a * b.transpose());
    else c.noalias() += p.alpha * (a.transpose() * b.transpose());
  }
}

}  // namespace ml::kernels
