// engine/nn/layers.h — modules over the ops in engine/ops.h, with PyTorch's parameter and
// buffer names (weight, bias, running_mean, running_var, num_batches_tracked) so that a
// torchvision state dict loads unchanged. Layers with weights take the Generator that
// initialises them (PyTorch's default: kaiming_uniform with a = sqrt(5), i.e.
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias).
#pragma once
#include <memory>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "engine/ops.h"

namespace ml::nn {

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, Generator& gen, int64_t stride = 1,
         int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1, bool bias = true);
  Tensor forward(const Tensor& x) override;  // (N, C, H, W) -> (N, K, P, Q)
  Tensor weight, bias;                       // (K, C/groups, k, k), (K)
  Conv2dOptions options;
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);
  Tensor forward(const Tensor& x) override;  // (N, in) -> (N, out)
  Tensor weight, bias;                       // (out, in), (out)
};

// BatchNorm over channels of (N, C) / (N, C, L) (1d) or (N, C, H, W) (2d).
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t channels, int64_t expected_dims, float eps = 1e-5f, float momentum = 0.1f);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  float eps, momentum;

 private:
  int64_t expected_dims_;
};
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f)
      : BatchNorm(channels, 1, eps, momentum) {}
};
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t channels, float eps = 1e-5f, float momentum = 0.1f)
      : BatchNorm(channels, 2, eps, momentum) {}
};

// Draws its masks from its own seeded Generator, so a training run is reproducible.
class Dropout : public Module {
 public:
  explicit Dropout(float p = 0.5f, uint64_t seed = 0) : p(p), gen(seed) {}
  Tensor forward(const Tensor& x) override { return dropout(x, p, is_training(), gen); }
  float p;
  Generator gen;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class ELU : public Module {
 public:
  explicit ELU(float alpha = 1.f) : alpha(alpha) {}
  Tensor forward(const Tensor& x) override { return elu(x, alpha); }
  float alpha;
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0, bool ceil_mode = false)
      : kernel(kernel), stride(stride), padding(padding), ceil_mode(ceil_mode) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel, stride, padding, ceil_mode); }
  int64_t kernel, stride, padding;
  bool ceil_mode;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0, bool ceil_mode = false,
            bool count_include_pad = true)
      : kernel(kernel), stride(stride), padding(padding), ceil_mode(ceil_mode), count_include_pad(count_include_pad) {}
  Tensor forward(const Tensor& x) override {
    return avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad);
  }
  int64_t kernel, stride, padding;
  bool ceil_mode, count_include_pad;
};

class AdaptiveAvgPool2d : public Module {
 public:
  AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) : out_h(out_h), out_w(out_w) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, out_h, out_w); }
  int64_t out_h, out_w;
};

class LocalResponseNorm : public Module {
 public:
  LocalResponseNorm(int64_t size, float alpha = 1e-4f, float beta = 0.75f, float k = 1.f)
      : size(size), alpha(alpha), beta(beta), k(k) {}
  Tensor forward(const Tensor& x) override { return local_response_norm(x, size, alpha, beta, k); }
  int64_t size;
  float alpha, beta, k;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1) : start_dim(start_dim) {}
  Tensor forward(const Tensor& x) override { return flatten(x, start_dim); }
  int64_t start_dim;
};

// nn.LayerNorm over the last dimension of (..., C), with weight and bias (C).
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t channels, float eps = 1e-5f) : eps(eps) {
    weight = register_parameter("weight", Tensor::ones({channels}));
    bias = register_parameter("bias", Tensor::zeros({channels}));
  }
  Tensor forward(const Tensor& x) override { return layer_norm(x, weight, bias, eps); }
  Tensor weight, bias;
  float eps;
};

// nn.Linear applied to the last dimension of (..., in), as PyTorch's Linear does on any rank
// (the engine's linear op takes (N, in)); the same parameters and names as Linear.
class PointwiseLinear : public Linear {
 public:
  PointwiseLinear(int64_t in, int64_t out, Generator& gen) : Linear(in, out, gen) {}
  Tensor forward(const Tensor& x) override {
    Shape out = x.shape();
    out.back() = weight.size(0);
    return linear(x.reshape({-1, x.size(x.dim() - 1)}), weight, bias).reshape(out);
  }
};

class GELU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return gelu(x); }
};

}  // namespace ml::nn
