// engine/ops/linear.cpp — matrix products through the one GEMM kernel (kernels/gemm.h).
#include "kernels/gemm.h"

#include "engine/ops/common.h"
#include "kernels/reduce.h"

namespace ml {

namespace {

// C (M, N) = alpha * op(A) op(B) + beta * C for row-major contiguous A, B.
void gemm_into(Tensor& C, const Tensor& A, bool ta, const Tensor& B, bool tb, float beta = 0.f) {
  kernels::GemmParams p;
  p.M = C.size(0);
  p.N = C.size(1);
  p.K = ta ? A.size(0) : A.size(1);
  p.trans_a = ta;
  p.trans_b = tb;
  p.lda = A.size(1);
  p.ldb = B.size(1);
  p.ldc = C.size(1);
  p.beta = beta;
  if (p.M == 0 || p.N == 0) return;
  dispatch(C.device(), [&](auto D) { kernels::gemm<D>(C.data(), A.data(), B.data(), p, device_stream(D)); });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_f32("matmul", a, "a");
  detail::check_f32("matmul", b, "b");
  detail::check_dim("matmul", a, "a", 2);
  detail::check_dim("matmul", b, "b", 2);
  ML_CHECK(a.size(1) == b.size(0), "matmul: inner dimensions differ: ", shape_str(a.shape()), " x ",
           shape_str(b.shape()));
  const Device dev = common_device("matmul", {&a, &b});
  Tensor y = Tensor::empty({a.size(0), b.size(1)}, DType::F32, dev);
  gemm_into(y, a, false, b, false);
  const Tensor as = a.detach(), bs = b.detach();
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(y, "matmul", {a, b}, [as, bs, ga, gb](const Tensor& g) {
    Tensor da, db;
    if (ga) {  // dA = G B^T
      da = Tensor::empty(as.shape(), DType::F32, g.device());
      gemm_into(da, g, false, bs, true);
    }
    if (gb) {  // dB = A^T G
      db = Tensor::empty(bs.shape(), DType::F32, g.device());
      gemm_into(db, as, true, g, false);
    }
    return std::vector<Tensor>{da, db};
  });
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_f32("linear", x, "input");
  detail::check_f32("linear", w, "weight");
  detail::check_dim("linear", x, "input", 2);
  detail::check_dim("linear", w, "weight", 2);
  ML_CHECK(x.size(1) == w.size(1), "linear: input ", shape_str(x.shape()), " has ", x.size(1),
           " features but weight ", shape_str(w.shape()), " expects ", w.size(1));
  if (b.defined()) {
    detail::check_f32("linear", b, "bias");
    ML_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias ", shape_str(b.shape()), " does not match weight ",
             shape_str(w.shape()));
  }
  const Device dev = common_device("linear", {&x, &w, &b});
  const int64_t N = x.size(0), out = w.size(0);
  Tensor y = Tensor::empty({N, out}, DType::F32, dev);
  float beta = 0.f;
  if (b.defined()) {  // start from the bias broadcast over rows, then accumulate x w^T onto it
    kernels::ReduceParams rp{};
    for (int d = 0; d < kernels::kMaxDims; ++d) rp.shape[d] = 1;
    rp.shape[3] = N;
    rp.shape[4] = out;
    rp.reduce[3] = true;
    if (y.numel() > 0)
      dispatch(dev, [&](auto D) { kernels::expand<D>(y.data(), b.data(), rp, device_stream(D)); });
    beta = 1.f;
  }
  gemm_into(y, x, false, w, true, beta);
  const Tensor xs = x.detach(), ws = w.detach();
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gbias = b.defined() && b.requires_grad();
  return record(y, "linear", {x, w, b}, [xs, ws, gx, gw, gbias](const Tensor& g) {
    Tensor dx, dw, db;
    if (gx) {  // dx = G W   (N, out) x (out, in)
      dx = Tensor::empty(xs.shape(), DType::F32, g.device());
      gemm_into(dx, g, false, ws, false);
    }
    if (gw) {  // dW = G^T X  (out, N) x (N, in)
      dw = Tensor::empty(ws.shape(), DType::F32, g.device());
      gemm_into(dw, g, true, xs, false);
    }
    if (gbias) db = sum(g, {0});
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace ml
