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

// y = x w^T + b as two kernels: the bias broadcast over the rows, then the GEMM accumulating onto it.
void linear_into_composite(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t N = y.size(0), out = y.size(1);
  const Device dev = y.device();
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

namespace {

// The checks of a linear layer's arguments; returns their common device. `name` names the op.
Device check_linear(const char* name, const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_f32(name, x, "input");
  detail::check_f32(name, w, "weight");
  detail::check_dim(name, x, "input", 2);
  detail::check_dim(name, w, "weight", 2);
  ML_CHECK(x.size(1) == w.size(1), name, ": input ", shape_str(x.shape()), " has ", x.size(1),
           " features but weight ", shape_str(w.shape()), " expects ", w.size(1));
  if (b.defined()) {
    detail::check_f32(name, b, "bias");
    ML_CHECK(b.dim() == 1 && b.size(0) == w.size(0), name, ": bias ", shape_str(b.shape()),
             " does not match weight ", shape_str(w.shape()));
  }
  return common_device(name, {&x, &w, &b});
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const Device dev = check_linear("linear", x, w, b);
  const int64_t N = x.size(0), out = w.size(0);
  Tensor y = Tensor::empty({N, out}, DType::F32, dev);
  if (dev == Device::CPU) {  // the bias fill inside the GEMM's parallel region; the same bits
    kernels::LinearParams p;
    p.M = N, p.N = out, p.K = x.size(1);
    kernels::linear_forward_cpu(y.data(), nullptr, x.data(), w.data(), b.defined() ? b.data() : nullptr, nullptr,
                                p);
  } else {
    linear_into_composite(y, x, w, b);
  }
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

namespace {

// epilogue(linear(prologue(x), w, b)), the prologue a layer norm when `ln`: in the GEMM's parallel
// region on the CPU when no gradient is recorded (kernels::linear_forward_cpu, the composite's
// bits); otherwise the composite ops, which record their backward.
struct Prologue {
  bool ln = false;
  Tensor weight, bias;
  float eps = 0.f;
};

Tensor linear_fused(const char* name, const Prologue& pro, const Tensor& x, const Tensor& w, const Tensor& b,
                    const Tensor& residual, kernels::LinearEpilogue e) {
  const bool with_residual = e == kernels::LinearEpilogue::Residual;
  const Device dev = check_linear(name, x, w, b);
  const int64_t M = x.size(0), K = x.size(1), out = w.size(0);
  if (with_residual) {
    detail::check_f32(name, residual, "residual");
    ML_CHECK(residual.shape() == Shape({M, out}), name, ": residual ", shape_str(residual.shape()),
             " must have the output's shape (", M, ", ", out, ")");
    ML_CHECK(residual.device() == dev, name, ": residual is on ", device_name(residual.device()), ", input on ",
             device_name(dev));
  }
  const bool grad = GradMode::enabled() && (x.requires_grad() || w.requires_grad() ||
                                            (b.defined() && b.requires_grad()) ||
                                            (with_residual && residual.requires_grad()) ||
                                            (pro.weight.defined() && pro.weight.requires_grad()) ||
                                            (pro.bias.defined() && pro.bias.requires_grad()));
  if (grad || dev != Device::CPU) {  // the composite (layer_norm checks its own arguments)
    const Tensor y = linear(pro.ln ? layer_norm(x, pro.weight, pro.bias, pro.eps) : x, w, b);
    if (e == kernels::LinearEpilogue::Gelu) return gelu(y);
    return with_residual ? add(residual, y) : y;
  }
  kernels::LinearParams p;
  p.M = M, p.N = out, p.K = K;
  p.epilogue = e;
  Tensor xn;
  if (pro.ln) {
    ML_CHECK(pro.eps >= 0.f, name, ": eps must be non-negative, got ", pro.eps);
    for (const auto& [t, what] :
         {std::pair<const Tensor*, const char*>{&pro.weight, "ln_weight"}, {&pro.bias, "ln_bias"}}) {
      if (!t->defined()) continue;
      detail::check_f32(name, *t, what);
      ML_CHECK(t->dim() == 1 && t->size(0) == K && t->device() == dev, name, ": ", what, " must be (", K,
               ") on the input's device to match the input's ", K, " features, got ", t->str());
    }
    xn = Tensor::empty({M, K}, DType::F32, dev);
    p.layer_norm = true;
    p.ln_weight = pro.weight.defined() ? pro.weight.data() : nullptr;
    p.ln_bias = pro.bias.defined() ? pro.bias.data() : nullptr;
    p.ln_eps = pro.eps;
  }
  Tensor y = Tensor::empty({M, out}, DType::F32, dev);
  kernels::linear_forward_cpu(y.data(), pro.ln ? xn.data() : nullptr, x.data(), w.data(),
                              b.defined() ? b.data() : nullptr, with_residual ? residual.data() : nullptr, p);
  return y;
}

}  // namespace

Tensor layer_norm_linear(const Tensor& x, const Tensor& ln_weight, const Tensor& ln_bias, float eps, const Tensor& w,
                         const Tensor& b, bool gelu_after) {
  return linear_fused("layer_norm_linear", {true, ln_weight, ln_bias, eps}, x, w, b, Tensor{},
                      gelu_after ? kernels::LinearEpilogue::Gelu : kernels::LinearEpilogue::None);
}

Tensor linear_residual(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual) {
  return linear_fused("linear_residual", {}, x, w, b, residual, kernels::LinearEpilogue::Residual);
}

}  // namespace ml
