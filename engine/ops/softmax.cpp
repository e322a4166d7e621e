// engine/ops/softmax.cpp — softmax, log-softmax, and the negative log-likelihood of
// integer labels (cross-entropy = nll_loss(log_softmax(logits, 1), labels)).
#include "kernels/softmax.h"

#include "engine/ops/common.h"

namespace ml {

namespace {

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  detail::check_f32(op, x, "input");
  const int64_t d = detail::wrap_dim(op, dim, x.dim());
  kernels::SoftmaxParams p{1, x.shape()[static_cast<size_t>(d)], 1, log};
  for (int64_t k = 0; k < d; ++k) p.outer *= x.shape()[static_cast<size_t>(k)];
  for (int64_t k = d + 1; k < x.dim(); ++k) p.inner *= x.shape()[static_cast<size_t>(k)];
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  if (y.numel() > 0)
    dispatch(x.device(), [&](auto D) { kernels::softmax_forward<D>(y.data(), x.data(), p, device_stream(D)); });
  const Tensor ys = y.detach();
  return record(y, op, {x}, [ys, p](const Tensor& g) {
    Tensor gx = Tensor::empty(ys.shape(), DType::F32, g.device());
    if (gx.numel() > 0)
      dispatch(g.device(), [&](auto D) {
        kernels::softmax_backward<D>(gx.data(), g.data(), ys.data(), p, device_stream(D));
      });
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

Tensor nll_loss(const Tensor& logp, const Tensor& labels) {
  detail::check_f32("nll_loss", logp, "input");
  detail::check_dim("nll_loss", logp, "input", 2);
  ML_CHECK(labels.defined() && labels.dtype() == DType::I32, "nll_loss: labels must be int32, got ", labels.str());
  ML_CHECK(labels.dim() == 1 && labels.size(0) == logp.size(0), "nll_loss: labels ", shape_str(labels.shape()),
           " do not match input ", shape_str(logp.shape()), " (one label per row)");
  const Device dev = common_device("nll_loss", {&logp, &labels});
  const int64_t N = logp.size(0), C = logp.size(1);
  ML_CHECK(N > 0, "nll_loss: empty batch");
  // Out-of-range labels would read outside a row: check them (on the host; for a CUDA
  // tensor this costs one small copy and a sync, worth it for a clear error).
  for (int32_t l : labels.to_vector_i32())
    ML_CHECK(l >= 0 && l < C, "nll_loss: label ", l, " out of range [0, ", C, ")");
  Tensor loss = Tensor::empty({}, DType::F32, dev);
  dispatch(dev, [&](auto D) {
    kernels::nll_loss_forward<D>(loss.data(), logp.data(), labels.data_i32(), N, C, device_stream(D));
  });
  const Tensor ls = labels.detach();
  return record(loss, "nll_loss", {logp, labels}, [ls, N, C](const Tensor& g) {
    Tensor gx = Tensor::empty({N, C}, DType::F32, g.device());
    dispatch(g.device(), [&](auto D) {
      kernels::nll_loss_backward<D>(gx.data(), g.data(), ls.data_i32(), N, C, device_stream(D));
    });
    return std::vector<Tensor>{gx, Tensor()};
  });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  detail::check_f32("cross_entropy", logits, "logits");
  detail::check_dim("cross_entropy", logits, "logits", 2);
  return nll_loss(log_softmax(logits, 1), labels);
}

}  // namespace ml
