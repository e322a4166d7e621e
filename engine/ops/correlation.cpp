// engine/ops/correlation.cpp — z-scoring, Pearson correlation between rows, and the RDM
// (1 - r), the representational-similarity analyses' hot path (kernels/correlation.h).
#include "kernels/correlation.h"

#include "engine/ops/common.h"
#include "kernels/gemm.h"

namespace ml {

Tensor zscore(const Tensor& x) {
  detail::check_f32("zscore", x, "input");
  detail::check_dim("zscore", x, "input (items, units)", 2);
  ML_CHECK(x.size(0) >= 1, "zscore: no items in ", x.str());
  const int64_t rows = x.size(0), cols = x.size(1);
  Tensor z = Tensor::empty(x.shape(), DType::F32, x.device());
  Tensor m = Tensor::empty({cols}, DType::F32, x.device());
  Tensor sd = Tensor::empty({cols}, DType::F32, x.device());
  if (z.numel() > 0)
    dispatch(x.device(), [&](auto D) {
      kernels::zscore_columns_forward<D>(z.data(), m.data(), sd.data(), x.data(), rows, cols, device_stream(D));
    });
  const Tensor zs = z.detach();
  return record(z, "zscore", {x}, [zs, sd, rows, cols](const Tensor& g) {
    Tensor gx = Tensor::empty(zs.shape(), DType::F32, g.device());
    if (gx.numel() > 0)
      dispatch(g.device(), [&](auto D) {
        kernels::zscore_columns_backward<D>(gx.data(), g.data(), zs.data(), sd.data(), rows, cols, device_stream(D));
      });
    return std::vector<Tensor>{gx};
  });
}

Tensor row_normalize(const Tensor& x) {
  detail::check_f32("row_normalize", x, "input");
  detail::check_dim("row_normalize", x, "input (rows, features)", 2);
  ML_CHECK(x.size(1) >= 2, "row_normalize: a correlation needs at least 2 features per row, got ", x.str());
  const int64_t rows = x.size(0), cols = x.size(1);
  Tensor u = Tensor::empty(x.shape(), DType::F32, x.device());
  Tensor norm = Tensor::empty({rows}, DType::F32, x.device());
  if (u.numel() > 0)
    dispatch(x.device(), [&](auto D) {
      kernels::row_normalize_forward<D>(u.data(), norm.data(), x.data(), rows, cols, device_stream(D));
    });
  const Tensor us = u.detach();
  return record(u, "row_normalize", {x}, [us, norm, rows, cols](const Tensor& g) {
    Tensor gx = Tensor::empty(us.shape(), DType::F32, g.device());
    if (gx.numel() > 0)
      dispatch(g.device(), [&](auto D) {
        kernels::row_normalize_backward<D>(gx.data(), g.data(), us.data(), norm.data(), rows, cols, device_stream(D));
      });
    return std::vector<Tensor>{gx};
  });
}

Tensor corrcoef(const Tensor& x) {
  const Tensor u = row_normalize(x);
  const int64_t n = u.size(0), f = u.size(1);
  // R = U U^T: one GEMM (cuBLAS on the GPU).
  Tensor r = Tensor::empty({n, n}, DType::F32, u.device());
  kernels::GemmParams p;
  p.M = n;
  p.N = n;
  p.K = f;
  p.trans_b = true;
  p.lda = p.ldb = f;
  p.ldc = n;
  if (n > 0)
    dispatch(u.device(), [&](auto D) { kernels::gemm<D>(r.data(), u.data(), u.data(), p, device_stream(D)); });
  const Tensor us = u.detach();
  return record(r, "corrcoef", {u}, [us, p](const Tensor& g) {
    // dU = (G + G^T) U, as two accumulating GEMMs.
    Tensor gu = Tensor::empty(us.shape(), DType::F32, g.device());
    kernels::GemmParams q;
    q.M = p.M;
    q.N = p.K;
    q.K = p.M;
    q.lda = p.M;
    q.ldb = q.ldc = p.K;
    if (gu.numel() > 0)
      dispatch(g.device(), [&](auto D) {
        kernels::gemm<D>(gu.data(), g.data(), us.data(), q, device_stream(D));
        q.trans_a = true;
        q.beta = 1.f;
        kernels::gemm<D>(gu.data(), g.data(), us.data(), q, device_stream(D));
      });
    return std::vector<Tensor>{gu};
  });
}

Tensor rdm(const Tensor& x) { return rsub(1.f, corrcoef(x)); }

}  // namespace ml
