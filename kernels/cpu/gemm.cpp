// kernels/cpu/gemm.cpp — row-major GEMM through Eigen's blocked, vectorised product.
// Eigen parallelises a large product itself with OpenMP; inside an OpenMP region it runs
// on the calling thread, so callers may parallelise over batch items instead.
//
// One shape goes around Eigen: C (M, N) = A (M, K) * B (N, K)^T with few rows M and a large B,
// which is a fully connected layer's forward at small batch (nn.Linear: x (batch, in) times the
// weight (out, in) transposed; AlexNet's fc6 weight is 151 MB). Eigen packs B into panels before
// multiplying, so B crosses memory twice (read + packed copy) for only M uses of each element;
// thin_abt streams each row of B once, as a GEMV does, with A (M*K floats, at most a few MB)
// staying in cache, and splits the rows of B over the threads.
//
// linear_forward_cpu (end of file) is a linear layer on the row split with its layer norm before
// and its bias, GELU or residual add after, per thread's rows in the one region (kernels/gemm.h).
#include "kernels/gemm.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>

#include "kernels/cpu/gelu.h"
#include "kernels/layer_norm.h"

namespace ml::kernels {

namespace {

constexpr int64_t kThinMaxRows = 16;          // M up to which thin_abt takes C = A B^T
constexpr int64_t kThinMinB = int64_t{1} << 18;  // N*K from which B no longer fits in L2 (1 MiB)

// C[m, n] = alpha * sum_k A[m, k] B[n, k] + beta * C[m, n] (beta 0: C is not read, as BLAS).
// Blocks of 2 rows of A by 4 rows of B: 8 dot products share each loaded chunk of the 6 rows
// (6 loads per 8 FMAs); omp simd keeps each of the 8 sums in its own vector register. The four
// B rows (4 K floats, 144 KiB at K = 9216) stay in L2 while the M/2 row pairs of A pass over them.
void thin_abt(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
              int64_t ldc, float alpha, float beta) {
  const auto store = [&](int64_t m, int64_t n, float acc) {
    float& c = C[m * ldc + n];
    c = beta == 0.f ? alpha * acc : alpha * acc + beta * c;
  };
  const int64_t blocks = (N + 3) / 4;
#pragma omp parallel for schedule(static)
  for (int64_t nb = 0; nb < blocks; ++nb) {
    const int64_t n0 = nb * 4;
    if (n0 + 4 <= N) {
      const float *b0 = B + n0 * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      int64_t m = 0;
      for (; m + 2 <= M; m += 2) {
        const float *a0 = A + m * lda, *a1 = a0 + lda;
        float s00 = 0.f, s01 = 0.f, s02 = 0.f, s03 = 0.f, s10 = 0.f, s11 = 0.f, s12 = 0.f, s13 = 0.f;
#pragma omp simd reduction(+ : s00, s01, s02, s03, s10, s11, s12, s13)
        for (int64_t k = 0; k < K; ++k) {
          s00 += a0[k] * b0[k];
          s01 += a0[k] * b1[k];
          s02 += a0[k] * b2[k];
          s03 += a0[k] * b3[k];
          s10 += a1[k] * b0[k];
          s11 += a1[k] * b1[k];
          s12 += a1[k] * b2[k];
          s13 += a1[k] * b3[k];
        }
        store(m, n0, s00), store(m, n0 + 1, s01), store(m, n0 + 2, s02), store(m, n0 + 3, s03);
        store(m + 1, n0, s10), store(m + 1, n0 + 1, s11), store(m + 1, n0 + 2, s12), store(m + 1, n0 + 3, s13);
      }
      if (m < M) {  // the odd row of A
        const float* a0 = A + m * lda;
        float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (int64_t k = 0; k < K; ++k) {
          s0 += a0[k] * b0[k];
          s1 += a0[k] * b1[k];
          s2 += a0[k] * b2[k];
          s3 += a0[k] * b3[k];
        }
        store(m, n0, s0), store(m, n0 + 1, s1), store(m, n0 + 2, s2), store(m, n0 + 3, s3);
      }
    } else {  // the last N % 4 rows of B, one at a time
      for (int64_t n = n0; n < N; ++n)
        for (int64_t m = 0; m < M; ++m) {
          const float *a0 = A + m * lda, *b0 = B + n * ldb;
          float s0 = 0.f;
#pragma omp simd reduction(+ : s0)
          for (int64_t k = 0; k < K; ++k) s0 += a0[k] * b0[k];
          store(m, n, s0);
        }
    }
  }
}

}  // namespace

// C = A B^T with more rows than thin_abt takes but fewer than the row split wants, and a large B
// (a fully connected layer at batch 17 to a few hundred): split by columns over the threads.
bool fc_column_split(const GemmParams& p, int threads) {
  return p.batch == 1 && threads > 1 && !p.trans_a && p.trans_b && p.M > kThinMaxRows && p.M < 256 * threads &&
         p.N * p.K >= kThinMinB && p.N >= 64 * threads;
}

bool gemm_takes_thin_path(const GemmParams& p) {
  return p.batch == 1 && !p.trans_a && p.trans_b && p.M >= 1 && p.M <= kThinMaxRows && p.K > 0 &&
         p.N * p.K >= kThinMinB;
}

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
using CMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;

// One product C = alpha op(A) op(B) + beta C through Eigen (batch item pointers given).
static void item_of(const GemmParams& p, float* C, const float* A, const float* B) {
  const int64_t a_rows = p.trans_a ? p.K : p.M, a_cols = p.trans_a ? p.M : p.K;
  const int64_t b_rows = p.trans_b ? p.N : p.K, b_cols = p.trans_b ? p.K : p.N;
  CMap a(A, a_rows, a_cols, Eigen::OuterStride<>(p.lda));
  CMap b(B, b_rows, b_cols, Eigen::OuterStride<>(p.ldb));
  Map c(C, p.M, p.N, Eigen::OuterStride<>(p.ldc));
  if (p.beta == 0.f) c.setZero();
  else if (p.beta != 1.f) c *= p.beta;
  if (p.K == 0) return;
  if (!p.trans_a && !p.trans_b) c.noalias() += p.alpha * (a * b);
  else if (p.trans_a && !p.trans_b) c.noalias() += p.alpha * (a.transpose() * b);
  else if (!p.trans_a && p.trans_b) c.noalias() += p.alpha * (a * b.transpose());
  else c.noalias() += p.alpha * (a.transpose() * b.transpose());
}

// Whether gemm<CPU> splits the rows of C over `threads` (below).
static bool row_split(const GemmParams& p, int threads) {
  return p.batch == 1 && threads > 1 && p.M >= 256 * threads && p.M * p.N * p.K >= (int64_t{1} << 24);
}

// Rows m0..m1 of C as one single-threaded Eigen product (the row split's work item).
static void rows_of(const GemmParams& p, int64_t m0, int64_t m1, float* C, const float* A, const float* B) {
  GemmParams q = p;
  q.M = m1 - m0;
  // Rows m0.. of op(A): rows of A, or columns of A when it is transposed.
  const float* a0 = A + (p.trans_a ? m0 : m0 * p.lda);
  item_of(q, C + m0 * p.ldc, a0, B);
}

template <>
void gemm<Device::CPU>(float* C, const float* A, const float* B, const GemmParams& p, Stream) {
  if (gemm_takes_thin_path(p)) return thin_abt(C, A, B, p.M, p.N, p.K, p.lda, p.ldb, p.ldc, p.alpha, p.beta);
  const auto item = [&](int64_t i) { item_of(p, C + i * p.stride_c, A + i * p.stride_a, B + i * p.stride_b); };
  // A batch (attention's heads: 12 products of 197 x 197 x 64) is split over the threads by item:
  // each product is too small for Eigen's own split to pay, and inside the parallel region Eigen
  // runs each one on its calling thread. Items write disjoint blocks of C.
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (p.batch > 1 && threads > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < p.batch; ++i) item(i);
    return;
  }
  // One large product with many rows (a transformer's linear layers: 3,152 tokens at batch 16):
  // the rows of C in one contiguous block per thread, each block one single-threaded Eigen
  // product. Eigen's own split has its threads wait on each other's packed panels at every block
  // of K; on a loaded machine a descheduled peer stalls the others at each of those waits. Here
  // the only wait is the end of the loop; the cost is each thread packing all of B (for a
  // linear layer, the weight: N K floats against the M N K multiply-adds).
  if (row_split(p, threads)) {
    const int64_t chunk = (p.M + threads - 1) / threads;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < threads; ++t) {
      const int64_t m0 = std::min(p.M, t * chunk), m1 = std::min(p.M, m0 + chunk);
      if (m1 > m0) rows_of(p, m0, m1, C, A, B);
    }
    return;
  }
  // A fully connected layer's forward above thin_abt's batch (RISE's masked batches of 50 through
  // AlexNet's fc6: 50 x 9216 times a 4096 x 9216 weight): the columns of C (rows of B, the layer's
  // outputs) in one contiguous block per thread, each a single-threaded Eigen product, for the
  // same reason as the row split above; each thread streams only its share of the weight.
  if (fc_column_split(p, threads)) {
    const int64_t chunk = ((p.N + threads - 1) / threads + 15) / 16 * 16;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < threads; ++t) {
      const int64_t n0 = std::min(p.N, t * chunk), n1 = std::min(p.N, n0 + chunk);
      if (n1 <= n0) continue;
      GemmParams q = p;
      q.N = n1 - n0;
      item_of(q, C + n0, A, B + n0 * p.ldb);  // columns n0.. of C: rows n0.. of B (B is transposed)
    }
    return;
  }
  for (int64_t i = 0; i < p.batch; ++i) item(i);
}

namespace {

// y rows m0..m1 = b broadcast over the rows (rows of y are N apart); nothing without a bias.
void bias_rows(float* y, const float* b, int64_t m0, int64_t m1, int64_t N) {
  if (b)
    for (int64_t m = m0; m < m1; ++m) std::copy(b, b + N, y + m * N);
}

// The epilogue on elements i0..i1 of y (flat).
void epilogue_range(float* y, const float* residual, int64_t i0, int64_t i1, LinearEpilogue e) {
  if (e == LinearEpilogue::Gelu) {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) y[i] = gelu_value(y[i]);
  } else if (e == LinearEpilogue::Residual) {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) y[i] = y[i] + residual[i];
  }
}

// The prologue's layer norm of rows m0..m1 of x into xn (row by row, so any split gives the same bits).
void layer_norm_rows(float* xn, const float* x, int64_t m0, int64_t m1, const LinearParams& lp) {
  const LayerNormParams q{m1 - m0, lp.K, lp.ln_eps};
  layer_norm_forward<Device::CPU>(xn + m0 * lp.K, nullptr, nullptr, x + m0 * lp.K, lp.ln_weight, lp.ln_bias, q,
                                  Stream{});
}

}  // namespace

void linear_forward_cpu(float* y, float* xn, const float* x, const float* w, const float* b, const float* residual,
                        const LinearParams& lp) {
  GemmParams p;
  p.M = lp.M;
  p.N = lp.N;
  p.K = lp.K;
  p.trans_b = true;
  p.lda = lp.K;
  p.ldb = lp.K;
  p.ldc = lp.N;
  p.beta = b ? 1.f : 0.f;  // onto the bias, as the composite linear (expand, then gemm with beta 1)
  if (p.M == 0 || p.N == 0) return;
  const float* a = lp.layer_norm ? xn : x;  // what the product reads
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (row_split(p, threads)) {
    const int64_t chunk = (p.M + threads - 1) / threads;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < threads; ++t) {
      const int64_t m0 = std::min(p.M, t * chunk), m1 = std::min(p.M, m0 + chunk);
      if (m1 <= m0) continue;
      if (lp.layer_norm) layer_norm_rows(xn, x, m0, m1, lp);
      bias_rows(y, b, m0, m1, p.N);
      rows_of(p, m0, m1, y, a, w);
      epilogue_range(y, residual, m0 * p.N, m1 * p.N, lp.epilogue);
    }
    return;
  }
  // The composite, each step as its own kernel splits it.
  if (lp.layer_norm) layer_norm_rows(xn, x, 0, p.M, lp);
  const int64_t n = p.M * p.N;
  const int64_t chunk = (p.M + threads - 1) / threads;
#pragma omp parallel for schedule(static) if (b && n > (int64_t{1} << 15))
  for (int t = 0; t < threads; ++t) {
    const int64_t m0 = std::min(p.M, t * chunk), m1 = std::min(p.M, m0 + chunk);
    if (m1 > m0) bias_rows(y, b, m0, m1, p.N);
  }
  gemm<Device::CPU>(y, a, w, p, Stream{});
  if (lp.epilogue == LinearEpilogue::None) return;
#pragma omp parallel for schedule(static) if (n > (int64_t{1} << 15))
  for (int t = 0; t < threads; ++t) {
    const int64_t c = (n + threads - 1) / threads;
    const int64_t i0 = std::min(n, t * c), i1 = std::min(n, i0 + c);
    if (i1 > i0) epilogue_range(y, residual, i0, i1, lp.epilogue);
  }
}

}  // namespace ml::kernels
