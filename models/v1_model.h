// models/v1_model.h — the V1 system-identification model of Ecker et al. 2019 and its CNN
// controls (../shared/science/ecker2019-v1-model.md §2): a convolutional core shared by all
// neurons, a factorised readout per neuron, the Poisson loss and the three regularisers.
//
// Core (stride 1, SAME zero padding, no pooling, convs without bias):
//   equivariant: RotEquiConv2d layers (models/rot_equivariant.h), R orientations x F features;
//     BN TF-decay 0.9 (momentum 0.1), eps 1e-3; beta and gamma on all but the last layer (beta
//     only); softplus after all but the last layer. BN per channel (the analysed model) or,
//     with bn_tied_rotations, pooled over each feature's R rotated copies.
//   cnn: ordinary convolutions, weights truncated normal sd 0.01, BN decay 0.98 (momentum 0.02)
//     without gamma, same nonlinearities.
// Readout (SpatialXFeatureJointL1Readout): rate_n = softplus(sum_c w_nc sum_yx |m_n(y,x)| Phi_c(y,x) + b_n).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "models/rot_equivariant.h"

namespace ml::models {

struct V1CoreOptions {
  std::string kind = "equivariant";       // "equivariant" | "cnn"
  std::vector<int64_t> kernels{13, 5, 5};  // per layer
  std::vector<int64_t> features{16, 16, 16};  // equivariant: F per layer; cnn: channels per layer
  int64_t rotations = 8;                   // equivariant only
  bool bn_tied_rotations = false;          // equivariant only
  bool require_exact_rotations = false;    // equivariant only: refuse R not in {1, 2, 4}
  int64_t in_channels = 1;
};

class V1Core : public nn::Module {
 public:
  V1Core(const V1CoreOptions& o, Generator& gen);
  Tensor forward(const Tensor& x) override;  // (N, C, H, W) -> (N, out_channels, H, W)
  int64_t out_channels() const;
  // Each layer's assembled (equivariant) or plain (cnn) weights, (O, I, K, K), differentiable.
  std::vector<Tensor> layer_weights() const;
  int64_t conv_parameter_count() const;
  // Per layer, each output channel's squared BN gain gamma^2 / (running var + eps), (O_l); gamma
  // is 1 where the layer has none; differentiable in gamma. For composite_centring_penalty.
  std::vector<Tensor> bn_squared_gains() const;
  // Per layer, each output channel's slope d(layer output)/d(conv output) at a blank (all-zero,
  // i.e. mean-grey) image with BN in inference mode: gamma / sqrt(var + eps) times softplus' of the
  // channel's constant BN output (1 for the last layer, which has no softplus). Differentiable in
  // the weights, gamma and beta. For blank_rf_centring_penalty.
  std::vector<Tensor> blank_image_slopes() const;
  V1CoreOptions options;

 private:
  std::vector<std::shared_ptr<RotEquiConv2d>> equi_;
  std::vector<Tensor> conv_w_;
  std::vector<Tensor> bn_gamma_, bn_beta_, bn_mean_, bn_var_;
  float bn_momentum_ = 0.1f, bn_eps_ = 1e-3f;
};

class FactorisedReadout : public nn::Module {
 public:
  // Init: mask and feature weights truncated normal sd 0.01; bias b_n = 0.5 softplus^-1(mean_n).
  FactorisedReadout(int64_t channels, int64_t height, int64_t width, const std::vector<float>& mean_response,
                    Generator& gen);
  // (B, C, H, W) -> (B, N) rates
  Tensor forward(const Tensor& features) override;
  // sum_n ||m_n||_1 ||w_n||_1
  Tensor l1_penalty() const;
  Tensor mask;      // (H*W, N): stored transposed so the readout is one (B*C, HW) x (HW, N) GEMM
  Tensor weight;    // (C, N)
  Tensor bias;      // (N)
  int64_t channels, height, width, neurons;
};

struct V1ModelOptions {
  V1CoreOptions core;
  int64_t height = 36, width = 64, neurons = 0;
  // Regulariser weights (§2.4; the chosen draw of the paper by default).
  float smooth = 0.0249692f, sparse = 0.0152482f, readout = 0.0170696f;
  std::vector<float> smooth_layer_weights{1.f, 0.5f, 0.5f};  // relative, per layer
  // Centring (NOT in the paper; 0 = off, the paper's model): weight of centring_penalty summed over
  // the core's layers. The core and the readout masks share a translation freedom, and in an
  // equivariant core a displaced feature's rotated copies are displaced in R different
  // directions, so one mask per neuron cannot pool them; this pins each filter's energy to its
  // kernel centre so that argmax |m_n| marks the receptive field (fit_v1 --centre-features).
  float centring = 0.f;
  // Composite centring (NOT in the paper; 0 = off): weight of composite_centring_penalty on the
  // core (fit_v1 --centre-composite).
  float composite_centring = 0.f;
  // Blank-image RF centring (NOT in the paper; 0 = off): weight of blank_rf_centring_penalty on the
  // core with its blank_image_slopes (fit_v1 --centre-blank-rf).
  float blank_rf_centring = 0.f;
};

class V1Model : public nn::Module {
 public:
  V1Model(const V1ModelOptions& o, const std::vector<float>& mean_response, Generator& gen);
  Tensor forward(const Tensor& images) override;  // (B, 1, H, W) -> (B, N) rates
  // Smoothness + group sparsity + readout penalty, with the option weights.
  Tensor regularizer() const;
  V1ModelOptions options;
  std::shared_ptr<V1Core> core;
  std::shared_ptr<FactorisedReadout> readout;
};

// Poisson loss of §2.4: batch mean of sum_neurons [rate - y log(rate + 1e-5)]. rate, y: (B, N).
Tensor v1_poisson_loss(const Tensor& rate, const Tensor& y);
// Laplacian smoothness of one layer's weights (O, I, K, K): sum_o sum_i ||Lap * w_oi||^2 / ||w_o||^2.
Tensor smoothness_penalty(const Tensor& w);
// Group sparsity: sum_o sum_i ||w_oi||_2 / ||w_o||_2.
Tensor group_sparsity_penalty(const Tensor& w);
// Centring (our addition, not the paper's): sum_o |c_o|^2, c_o = the centroid, in pixels from the
// kernel centre, of the filter's energy sum_i w_oi(y, x)^2 over its K x K grid. Zero for any
// filter whose energy is point-symmetric about the centre; a 1-px displacement costs 1.
Tensor centring_penalty(const Tensor& w);
// Composite centring (our addition, not the paper's): sum over the last layer's channels of
// |c|^2, c the energy centroid (pixels from the map position) of the channel's receptive field
// composed through every layer: a channel's composed energy is sum_i S_ci g_i T_i and its
// centroid the same-weighted mean of (tap centroid of kernel ci + centroid of input i), with S_ci
// = ||w_ci||^2, T_i and the centroid of input i from the layer below (the image: 1 and 0) and
// g_i the squared gain of input i (`gains[l - 1]`, e.g. BN gamma^2 / (running var + eps); an
// undefined tensor counts as 1). Softplus slopes count as 1 and coherent sums as energies: an
// approximation of the gradient RF's centroid that needs no double backward. Unlike
// centring_penalty it sees an offset that only the composition makes (a layer-2 kernel reading
// displaced layer-1 features). ws[l]: (O_l, I_l, K_l, K_l); gains[l]: (O_l).
Tensor composite_centring_penalty(const std::vector<Tensor>& ws, const std::vector<Tensor>& gains);
// Blank-image RF centring (our addition, not the paper's): sum over the last layer's channels of
// |c|^2, c the centroid (pixels from the map position) of the squared gradient receptive field at
// a blank image (the paper's Fig. 6 RFs): there every BN + softplus acts as one constant slope per
// channel, so the RF is exactly the kernels composed by full convolutions with those slopes
// between layers (away from the SAME border), coherent sums included. ws[l]: (O_l, I_l, K_l, K_l)
// with I_0 = 1; slopes[l]: (O_l) for l < L - 1 (the last layer's BN only scales the RF).
Tensor blank_rf_centring_penalty(const std::vector<Tensor>& ws, const std::vector<Tensor>& slopes);

}  // namespace ml::models
