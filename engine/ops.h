// engine/ops.h — the differentiable functions. Each one checks its arguments (errors
// name the op and the shapes), picks the device from its inputs, calls one kernel family
// (kernels/*.h), and records its backward (engine/autograd.h). Implementations live in
// engine/ops/<family>.cpp, one family per file.
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace ml {

// ---- pointwise (engine/ops/elementwise.cpp) -------------------------------------------
Tensor relu(const Tensor& x);
Tensor elu(const Tensor& x, float alpha = 1.f);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x, float beta = 1.f);  // threshold 20, as PyTorch
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, float exponent);
Tensor neg(const Tensor& x);
// Exact GELU x * Phi(x) (erf form), torch.nn.GELU's default; ConvNeXt's and ViT's activation.
Tensor gelu(const Tensor& x);

// Broadcasting as numpy: shapes aligned on the right; each dimension equal or 1.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, float b);
Tensor sub(const Tensor& a, float b);
Tensor mul(const Tensor& a, float b);
Tensor div(const Tensor& a, float b);
Tensor rsub(float a, const Tensor& b);  // a - b
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, float b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, float b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, float b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, float b) { return div(a, b); }
inline Tensor operator*(float a, const Tensor& b) { return mul(b, a); }
inline Tensor operator-(const Tensor& x) { return neg(x); }

// ---- reductions (engine/ops/reduce.cpp) -------------------------------------------------
Tensor sum(const Tensor& x);                                                 // scalar, shape ()
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Sums `x` down to `shape` (the adjoint of broadcasting to x's shape).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Broadcasts `x` up to `shape`.
Tensor expand(const Tensor& x, const Shape& shape);
Tensor argmax(const Tensor& x);  // x: (N, C) -> int32 (N); not differentiable

// ---- dense layers (engine/ops/linear.cpp) -----------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);  // (M, K) x (K, N) -> (M, N)
// x: (N, in), w: (out, in), b: (out) or undefined -> (N, out) = x w^T + b
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// A pre-norm transformer block's linear layers with what precedes or follows them:
//   layer_norm_linear: linear(layer_norm(x, ln_weight, ln_bias, eps), w, b), then gelu when
//                      gelu_after (the attention's q, k, v projection; the MLP's first layer);
//   linear_residual:   residual + linear(x, w, b), residual (N, out) (the residual adds).
// Without a recorded gradient on the CPU each is one parallel region with the GEMM
// (kernels::linear_forward_cpu), bit for bit the composite's result; otherwise the composite.
Tensor layer_norm_linear(const Tensor& x, const Tensor& ln_weight, const Tensor& ln_bias, float eps, const Tensor& w,
                         const Tensor& b, bool gelu_after = false);
Tensor linear_residual(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual);

// ---- convolution (engine/ops/conv.cpp) --------------------------------------------------
struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};
// x: (N, C, H, W), w: (K, C/groups, R, S), b: (K) or undefined -> (N, K, P, Q)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o);
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, int64_t stride = 1, int64_t padding = 0,
              int64_t dilation = 1, int64_t groups = 1);

// ---- pooling (engine/ops/pool.cpp) ------------------------------------------------------
// stride 0 means stride = kernel (PyTorch's default).
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0, bool ceil_mode = false,
                  bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

// ---- normalisation and regularisation (engine/ops/norm.cpp, engine/ops/dropout.cpp) -----
// Across channels of (N, C, H, W). PyTorch's defaults; AlexNet (Krizhevsky 2012) uses size 5, k 2.
Tensor local_response_norm(const Tensor& x, int64_t size, float alpha = 1e-4f, float beta = 0.75f, float k = 1.f);
// x: (N, C) or (N, C, L) or (N, C, H, W). In training the batch statistics normalise x and
// running_mean / running_var (if defined) are updated in place with `momentum`; in eval
// the running statistics normalise x. weight/bias may be undefined (affine = false).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, float momentum = 0.1f, float eps = 1e-5f);
// Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p); identity when
// !training or p == 0. The mask comes from `gen`, so runs are reproducible.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);

// ---- shape (engine/ops/shape.cpp) -------------------------------------------------------
Tensor flatten(const Tensor& x, int64_t start_dim = 1);  // (N, C, H, W) -> (N, C*H*W)
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);  // a copy
// Swaps dimensions d0 and d1 (negative counts from the end), as torch.transpose(x, d0, d1)
// followed by .contiguous(): a copy (engine/ops/transpose.cpp, kernels/transpose.h).
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);

// ---- layer normalisation (engine/ops/layer_norm.cpp) -------------------------------------
// Normalises over the last dimension, as torch.nn.functional.layer_norm(x, (C,), weight, bias,
// eps): (x - mean) / sqrt(var + eps) * weight + bias, var the biased (population) variance.
// x: (..., C); weight, bias: (C) or undefined. ConvNeXt and ViT use eps = 1e-6.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);

// ---- softmax and losses (engine/ops/softmax.cpp, engine/ops/loss.cpp) -------------------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// logp: (N, C), labels: int32 (N) in [0, C) -> scalar mean negative log-likelihood
Tensor nll_loss(const Tensor& logp, const Tensor& labels);
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// Poisson negative log-likelihood of spike counts, mean over elements, as PyTorch's
// poisson_nll_loss(full=False): log_input: exp(input) - target*input; else input - target*log(input+eps).
Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, bool log_input = true, float eps = 1e-8f);
Tensor mse_loss(const Tensor& input, const Tensor& target);  // mean of squared differences

// ---- the symmetry study's transformations (engine/ops/flip.cpp) -------------------------
// On (N, C, H, W); see kernels/flip.h for the exact index maps.
Tensor hflip(const Tensor& x);
Tensor vflip(const Tensor& x);
Tensor rot90(const Tensor& x, int k = 1);  // counter-clockwise, as torch.rot90(x, k, (2, 3)); any integer k

// ---- correlation, the RDM building blocks (engine/ops/correlation.cpp) ------------------
// x: (items, units). z-scores every unit (column) across the items, population std;
// constant columns give 0.
Tensor zscore(const Tensor& x);
// x: (rows, features). Centres each row and scales it to unit norm.
Tensor row_normalize(const Tensor& x);
// Pearson correlation between the rows of x: (rows, rows).
Tensor corrcoef(const Tensor& x);
// Representational dissimilarity matrix: 1 - corrcoef(x).
Tensor rdm(const Tensor& x);

}  // namespace ml
