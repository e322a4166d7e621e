// engine/ops/norm.cpp — local response normalisation (kernels/lrn.h) and batch
// normalisation (kernels/batchnorm.h), with PyTorch's argument rules.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/batchnorm.h"
#include "kernels/lrn.h"

namespace ml {

// ---- local response normalisation ---------------------------------------------------------

Tensor local_response_norm(const Tensor& x, int64_t size, float alpha, float beta, float k) {
  ML_CHECK(x.defined(), "local_response_norm: the input is undefined");
  ML_CHECK(x.dim() >= 3, "local_response_norm: input ", x.str(),
           " must be (N, C, H, W) or (N, C, L) or (N, C, D, H, W)");
  ML_CHECK(x.dtype() == DType::F32, "local_response_norm: input ", x.str(), " must be float32");
  ML_CHECK(size >= 1, "local_response_norm: size must be positive, got ", size, " for input ", shape_str(x.shape()));
  kernels::LrnParams p{};
  p.N = x.size(0);
  p.C = x.size(1);
  // The normalisation runs across channels only: the trailing dims are one flat plane.
  p.H = 1;
  for (int64_t d = 2; d < x.dim(); ++d) p.H *= x.size(d);
  p.W = 1;
  p.size = size;
  p.alpha = alpha;
  p.beta = beta;
  p.k = k;
  const Device dev = x.device();
  Tensor y = Tensor::empty(x.shape(), DType::F32, dev);
  Tensor scale = Tensor::empty(x.shape(), DType::F32, dev);  // k + alpha/size * window sum of x^2
  dispatch(dev, [&](auto D) { kernels::lrn_forward<D>(y.data(), scale.data(), x.data(), p, device_stream(D)); });
  const Tensor xs = x.detach(), ys = y.detach();
  return record(y, "local_response_norm", {x}, [xs, ys, scale, p](const Tensor& gy) {
    Tensor gx = Tensor::empty(xs.shape(), DType::F32, gy.device());
    dispatch(gy.device(), [&](auto D) {
      kernels::lrn_backward<D>(gx.data(), gy.data(), xs.data(), ys.data(), scale.data(), p, device_stream(D));
    });
    return std::vector<Tensor>{gx};
  });
}

// ---- batch normalisation --------------------------------------------------------------------

namespace {

// weight, bias, running_mean, running_var: undefined or float32 (C) on x's device.
void check_channel_vector(const char* what, const Tensor& t, int64_t C, const Tensor& x) {
  if (!t.defined()) return;
  ML_CHECK(t.dtype() == DType::F32 && t.dim() == 1 && t.size(0) == C, "batch_norm: ", what, " ", t.str(),
           " must be float32 (", C, ") for input ", shape_str(x.shape()));
  ML_CHECK(t.device() == x.device(), "batch_norm: ", what, " is on ", device_name(t.device()), ", the input ",
           x.str());
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, float momentum, float eps) {
  ML_CHECK(x.defined(), "batch_norm: the input is undefined");
  ML_CHECK(x.dim() >= 2, "batch_norm: input ", x.str(), " must be (N, C), (N, C, L) or (N, C, H, W)");
  ML_CHECK(x.dtype() == DType::F32, "batch_norm: input ", x.str(), " must be float32");
  kernels::BatchNormParams p{};
  p.N = x.size(0);
  p.C = x.size(1);
  p.L = 1;
  for (int64_t d = 2; d < x.dim(); ++d) p.L *= x.size(d);
  p.eps = eps;
  p.momentum = momentum;
  check_channel_vector("weight", weight, p.C, x);
  check_channel_vector("bias", bias, p.C, x);
  check_channel_vector("running_mean", running_mean, p.C, x);
  check_channel_vector("running_var", running_var, p.C, x);
  ML_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: running_mean and running_var must both be given or both be undefined");
  const bool tracking = running_mean.defined();
  // The running statistics are buffers, written in place below: never part of the graph.
  ML_CHECK(!tracking || (!running_mean.requires_grad() && !running_var.requires_grad()),
           "batch_norm: running_mean/running_var are buffers and must not require grad");
  ML_CHECK(p.N * p.L >= 1 && p.C >= 1, "batch_norm: input ", shape_str(x.shape()), " is empty");

  const Device dev = x.device();
  Tensor y = Tensor::empty(x.shape(), DType::F32, dev);
  const float* g = weight.defined() ? weight.data() : nullptr;
  const float* b = bias.defined() ? bias.data() : nullptr;
  const Tensor xs = x.detach(), ws = weight.defined() ? weight.detach() : Tensor();
  const Shape wshape{p.C};
  const bool affine_w = weight.defined(), affine_b = bias.defined();

  if (training) {
    // The batch variance of a single value is 0 and the unbiased one undefined; PyTorch refuses.
    ML_CHECK(p.N * p.L > 1, "batch_norm: expected more than 1 value per channel when training, got input ",
             shape_str(x.shape()));
    Tensor save_mean = Tensor::empty(wshape, DType::F32, dev);
    Tensor save_invstd = Tensor::empty(wshape, DType::F32, dev);
    Tensor rm = running_mean, rv = running_var;  // handles sharing the buffers' storage
    dispatch(dev, [&](auto D) {
      kernels::batchnorm_forward_train<D>(y.data(), save_mean.data(), save_invstd.data(),
                                          tracking ? rm.data() : nullptr, tracking ? rv.data() : nullptr, x.data(), g,
                                          b, p, device_stream(D));
    });
    return record(y, "batch_norm", {x, weight, bias},
                  [xs, ws, save_mean, save_invstd, p, wshape, affine_w, affine_b](const Tensor& gy) {
                    Tensor gx = Tensor::empty(xs.shape(), DType::F32, gy.device());
                    Tensor gw = affine_w ? Tensor::empty(wshape, DType::F32, gy.device()) : Tensor();
                    Tensor gb = affine_b ? Tensor::empty(wshape, DType::F32, gy.device()) : Tensor();
                    dispatch(gy.device(), [&](auto D) {
                      kernels::batchnorm_backward<D>(gx.data(), affine_w ? gw.data() : nullptr,
                                                     affine_b ? gb.data() : nullptr, gy.data(), xs.data(),
                                                     affine_w ? ws.data() : nullptr, save_mean.data(),
                                                     save_invstd.data(), p, device_stream(D));
                    });
                    return std::vector<Tensor>{gx, gw, gb};
                  });
  }

  ML_CHECK(tracking, "batch_norm: eval mode normalises with running_mean and running_var, which are undefined "
                     "(input ", shape_str(x.shape()), ")");
  dispatch(dev, [&](auto D) {
    kernels::batchnorm_forward_eval<D>(y.data(), x.data(), g, b, running_mean.data(), running_var.data(), p,
                                       device_stream(D));
  });
  if (!any_requires_grad({x, weight, bias})) return y;  // inference: no snapshot needed
  // Snapshot the statistics: a training step before this backward would update them in place.
  const Tensor rm = running_mean.detach().clone(), rv = running_var.detach().clone();
  return record(y, "batch_norm", {x, weight, bias}, [xs, ws, rm, rv, p, wshape, affine_w, affine_b](const Tensor& gy) {
    Tensor gx = Tensor::empty(xs.shape(), DType::F32, gy.device());
    Tensor gw = affine_w ? Tensor::empty(wshape, DType::F32, gy.device()) : Tensor();
    Tensor gb = affine_b ? Tensor::empty(wshape, DType::F32, gy.device()) : Tensor();
    dispatch(gy.device(), [&](auto D) {
      kernels::batchnorm_backward_eval<D>(gx.data(), affine_w ? gw.data() : nullptr, affine_b ? gb.data() : nullptr,
                                          gy.data(), xs.data(), affine_w ? ws.data() : nullptr, rm.data(), rv.data(),
                                          p, device_stream(D));
    });
    return std::vector<Tensor>{gx, gw, gb};
  });
}

}  // namespace ml
