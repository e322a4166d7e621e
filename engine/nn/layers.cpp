#include "engine/nn/layers.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/nn/init.h"

namespace ml::nn {

namespace {
// PyTorch's reset_parameters for Conv and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void default_init(Tensor& weight, Tensor* bias, Generator& gen) {
  const float bound = 1.f / std::sqrt(static_cast<float>(init::fans(weight).in));
  init::uniform_(weight, gen, -bound, bound);
  if (bias) init::uniform_(*bias, gen, -bound, bound);
}
}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Generator& gen, int64_t stride,
               int64_t padding, int64_t dilation, int64_t groups, bool has_bias) {
  ML_CHECK(groups >= 1 && in_channels % groups == 0 && out_channels % groups == 0, "Conv2d: channels ", in_channels,
           " -> ", out_channels, " not divisible by groups=", groups);
  options.stride_h = options.stride_w = stride;
  options.pad_h = options.pad_w = padding;
  options.dil_h = options.dil_w = dilation;
  options.groups = groups;
  weight = register_parameter("weight", Tensor::empty({out_channels, in_channels / groups, kernel, kernel}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({out_channels}));
  NoGradGuard ng;
  default_init(weight, has_bias ? &bias : nullptr, gen);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, options); }

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool has_bias) {
  weight = register_parameter("weight", Tensor::empty({out_features, in_features}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({out_features}));
  NoGradGuard ng;
  default_init(weight, has_bias ? &bias : nullptr, gen);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

BatchNorm::BatchNorm(int64_t channels, int64_t expected_dims, float eps_, float momentum_)
    : eps(eps_), momentum(momentum_), expected_dims_(expected_dims) {
  weight = register_parameter("weight", Tensor::ones({channels}));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::ones({channels}));
  // PyTorch keeps an int64 counter; we store it as int32 (a state dict from PyTorch carries
  // int64, which the weight loader narrows).
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I32));
}

Tensor BatchNorm::forward(const Tensor& x) {
  if (expected_dims_ == 1)
    ML_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected (N, C) or (N, C, L) input, got ", x.str());
  else
    ML_CHECK(x.dim() == 4, "BatchNorm2d: expected (N, C, H, W) input, got ", x.str());
  if (is_training()) {  // a host round trip for one int: negligible next to the batch
    Tensor count = num_batches_tracked.to(Device::CPU).clone();
    count.data_i32()[0] += 1;
    num_batches_tracked.copy_(count);
  }
  return batch_norm(x, running_mean, running_var, weight, bias, is_training(), momentum, eps);
}

}  // namespace ml::nn
