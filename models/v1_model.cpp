// models/v1_model.cpp — core, readout, loss and regularisers of the V1 model (see the header).
#include "models/v1_model.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace ml::models {

V1Core::V1Core(const V1CoreOptions& o, Generator& gen) : options(o) {
  const std::string who = "V1Core";
  ML_CHECK(o.kind == "equivariant" || o.kind == "cnn", who, ": kind '", o.kind, "' must be equivariant or cnn");
  ML_CHECK(!o.kernels.empty() && o.kernels.size() == o.features.size(), who, ": ", o.kernels.size(), " kernels and ",
           o.features.size(), " feature counts must be the same non-zero number of layers");
  const bool equi = o.kind == "equivariant";
  if (equi && o.require_exact_rotations) check_exact_rotations(o.rotations, who);
  bn_momentum_ = equi ? 0.1f : 0.02f;  // TF decay 0.9 (equivariant) / 0.98 (cnn)
  int64_t in = o.in_channels;
  const size_t L = o.kernels.size();
  for (size_t l = 0; l < L; ++l) {
    const std::string p = "layer" + std::to_string(l);
    int64_t out = 0, bn_channels = 0;
    if (equi) {
      RotEquiConvOptions ro;
      ro.in_channels = in;
      ro.features = o.features[l];
      ro.kernel = o.kernels[l];
      ro.rotations = o.rotations;
      ro.first_layer = l == 0;
      ro.require_exact = o.require_exact_rotations;
      equi_.push_back(register_module(p + ".conv", std::make_shared<RotEquiConv2d>(ro, gen)));
      out = o.rotations * o.features[l];
      bn_channels = o.bn_tied_rotations ? o.features[l] : out;
    } else {
      ML_CHECK(o.kernels[l] % 2 == 1, who, ": kernel ", o.kernels[l], " must be odd (SAME padding)");
      Tensor w = Tensor::zeros({o.features[l], in, o.kernels[l], o.kernels[l]});
      truncated_normal_(w, gen, 0.01f);
      conv_w_.push_back(register_parameter(p + ".conv.weight", w));
      out = o.features[l];
      bn_channels = out;
    }
    const bool last = l + 1 == L;
    // gamma on the equivariant core's layers except the last; the CNN control has none.
    bn_gamma_.push_back(equi && !last ? register_parameter(p + ".bn.weight", Tensor::ones({bn_channels})) : Tensor());
    bn_beta_.push_back(register_parameter(p + ".bn.bias", Tensor::zeros({bn_channels})));
    bn_mean_.push_back(register_buffer(p + ".bn.running_mean", Tensor::zeros({bn_channels})));
    bn_var_.push_back(register_buffer(p + ".bn.running_var", Tensor::ones({bn_channels})));
    in = out;
  }
}

std::vector<Tensor> V1Core::bn_squared_gains() const {
  std::vector<Tensor> g;
  for (size_t l = 0; l < bn_var_.size(); ++l) {
    Tensor v = div(Tensor::ones(bn_var_[l].shape()).to(bn_var_[l].device()), add(bn_var_[l], bn_eps_));
    if (bn_gamma_[l].defined()) v = mul(v, square(bn_gamma_[l]));
    // Tied BN holds one gain per feature; channel r*F + f uses feature f's.
    const int64_t C = options.kind == "equivariant" ? options.rotations * options.features[l] : options.features[l];
    if (v.size(0) != C) v = expand(v.reshape({1, v.size(0)}), {C / v.size(0), v.size(0)}).reshape({C});
    g.push_back(v);
  }
  return g;
}

std::vector<Tensor> V1Core::blank_image_slopes() const {
  const auto ws = layer_weights();
  std::vector<Tensor> a;
  Tensor h;  // constant activation of each input channel (undefined: the blank image, 0)
  for (size_t l = 0; l < ws.size(); ++l) {
    const int64_t O = ws[l].size(0), I = ws[l].size(1), K = ws[l].size(2);
    const int64_t C = options.kind == "equivariant" ? options.rotations * options.features[l] : options.features[l];
    auto per_channel = [&](const Tensor& v) {  // tied BN: one value per feature, channel r*F + f
      return v.size(0) == C ? v : expand(v.reshape({1, v.size(0)}), {C / v.size(0), v.size(0)}).reshape({C});
    };
    // The conv of a constant map is the constant times each kernel's sum.
    Tensor pre = h.defined() ? matmul(sum(ws[l].reshape({O, I, K * K}), {2}), h.reshape({I, 1})).reshape({O})
                             : Tensor::zeros({O}).to(ws[l].device());
    Tensor scale = div(Tensor::ones({C}).to(ws[l].device()), sqrt(add(per_channel(bn_var_[l]), bn_eps_)));
    if (bn_gamma_[l].defined()) scale = mul(scale, per_channel(bn_gamma_[l]));
    Tensor bn = add(mul(sub(pre, per_channel(bn_mean_[l])), scale), per_channel(bn_beta_[l]));
    const bool last = l + 1 == ws.size();
    a.push_back(last ? scale : mul(scale, sigmoid(bn)));  // softplus' = sigmoid
    h = last ? bn : softplus(bn);
  }
  return a;
}

int64_t V1Core::out_channels() const {
  const int64_t f = options.features.back();
  return options.kind == "equivariant" ? options.rotations * f : f;
}

std::vector<Tensor> V1Core::layer_weights() const {
  std::vector<Tensor> ws;
  if (options.kind == "equivariant")
    for (const auto& m : equi_) ws.push_back(m->weights());
  else
    ws = conv_w_;
  return ws;
}

int64_t V1Core::conv_parameter_count() const {
  int64_t n = 0;
  if (options.kind == "equivariant")
    for (const auto& m : equi_) n += m->conv_parameter_count();
  else
    for (const auto& w : conv_w_) n += w.numel();
  return n;
}

Tensor V1Core::forward(const Tensor& x) {
  ML_CHECK(x.defined() && x.dim() == 4 && x.size(1) == options.in_channels, "V1Core: input ",
           x.defined() ? x.str() : std::string("undefined"), " must be (N, ", options.in_channels, ", H, W)");
  const bool equi = options.kind == "equivariant";
  const auto ws = layer_weights();
  Tensor h = x;
  for (size_t l = 0; l < ws.size(); ++l) {
    const int64_t K = ws[l].size(2);
    h = conv2d(h, ws[l], Tensor(), 1, K / 2);
    if (equi && options.bn_tied_rotations) {
      // (N, R*F, H, W) viewed as (N*R, F, H, W): each feature's statistics pool its R copies.
      const Shape s = h.shape();
      h = batch_norm(h.reshape({s[0] * options.rotations, s[1] / options.rotations, s[2], s[3]}), bn_mean_[l],
                     bn_var_[l], bn_gamma_[l], bn_beta_[l], is_training(), bn_momentum_, bn_eps_)
              .reshape(s);
    } else {
      h = batch_norm(h, bn_mean_[l], bn_var_[l], bn_gamma_[l], bn_beta_[l], is_training(), bn_momentum_, bn_eps_);
    }
    if (l + 1 < ws.size()) h = softplus(h);
  }
  return h;
}

FactorisedReadout::FactorisedReadout(int64_t channels, int64_t height, int64_t width,
                                     const std::vector<float>& mean_response, Generator& gen)
    : channels(channels), height(height), width(width), neurons(static_cast<int64_t>(mean_response.size())) {
  ML_CHECK(channels >= 1 && height >= 1 && width >= 1 && neurons >= 1, "FactorisedReadout: channels ", channels,
           ", map ", height, "x", width, " and ", neurons, " neurons must all be positive");
  Tensor m = Tensor::zeros({height * width, neurons}), w = Tensor::zeros({channels, neurons});
  truncated_normal_(m, gen, 0.01f);
  truncated_normal_(w, gen, 0.01f);
  std::vector<float> b(static_cast<size_t>(neurons));
  for (size_t n = 0; n < b.size(); ++n) {
    // 0.5 softplus^-1(mean): log(exp(m) - 1), kept finite for a silent neuron.
    const double mr = std::max(1e-3, static_cast<double>(mean_response[n]));
    b[n] = static_cast<float>(0.5 * (mr > 20 ? mr : std::log(std::expm1(mr))));
  }
  mask = register_parameter("mask", m);
  weight = register_parameter("feature_weight", w);
  bias = register_parameter("bias", Tensor::from_vector({neurons}, b));
}

Tensor FactorisedReadout::forward(const Tensor& features) {
  ML_CHECK(features.defined() && features.dim() == 4 && features.size(1) == channels &&
               features.size(2) == height && features.size(3) == width,
           "FactorisedReadout: features ", features.defined() ? features.str() : std::string("undefined"),
           " must be (B, ", channels, ", ", height, ", ", width, ")");
  const int64_t B = features.size(0);
  Tensor pooled = matmul(features.reshape({B * channels, height * width}), abs(mask));  // (B*C, N)
  Tensor drive = sum(mul(pooled.reshape({B, channels, neurons}), weight), {1});      // (B, N)
  return softplus(add(drive, bias));
}

Tensor FactorisedReadout::l1_penalty() const {
  return sum(mul(sum(abs(mask), {0}), sum(abs(weight), {0})));
}

V1Model::V1Model(const V1ModelOptions& o, const std::vector<float>& mean_response, Generator& gen) : options(o) {
  ML_CHECK(static_cast<int64_t>(mean_response.size()) == o.neurons, "V1Model: ", mean_response.size(),
           " mean responses for ", o.neurons, " neurons");
  core = register_module("core", std::make_shared<V1Core>(o.core, gen));
  readout = register_module("readout",
                            std::make_shared<FactorisedReadout>(core->out_channels(), o.height, o.width, mean_response, gen));
}

Tensor V1Model::forward(const Tensor& images) { return (*readout)((*core)(images)); }

Tensor V1Model::regularizer() const {
  const auto ws = core->layer_weights();
  Tensor r = mul(readout->l1_penalty(), options.readout);
  for (size_t l = 0; l < ws.size(); ++l) {
    const float rel = l < options.smooth_layer_weights.size() ? options.smooth_layer_weights[l]
                                                              : options.smooth_layer_weights.back();
    if (options.smooth != 0.f) r = add(r, mul(smoothness_penalty(ws[l]), options.smooth * rel));
    if (l > 0 && options.sparse != 0.f) r = add(r, mul(group_sparsity_penalty(ws[l]), options.sparse));
    if (options.centring != 0.f) r = add(r, mul(centring_penalty(ws[l]), options.centring));
  }
  if (options.blank_rf_centring != 0.f)
    r = add(r, mul(blank_rf_centring_penalty(ws, core->blank_image_slopes()), options.blank_rf_centring));
  if (options.composite_centring != 0.f)
    r = add(r, mul(composite_centring_penalty(ws, core->bn_squared_gains()), options.composite_centring));
  return r;
}

Tensor v1_poisson_loss(const Tensor& rate, const Tensor& y) {
  ML_CHECK(rate.dim() == 2, "v1_poisson_loss: rate ", rate.str(), " must be (B, N)");
  // poisson_nll_loss is the mean over all B*N elements; the paper sums over neurons.
  return mul(poisson_nll_loss(rate, y, false, 1e-5f), static_cast<float>(rate.size(1)));
}

Tensor smoothness_penalty(const Tensor& w) {
  ML_CHECK(w.dim() == 4, "smoothness_penalty: weights ", w.str(), " must be (O, I, K, K)");
  const int64_t O = w.size(0), I = w.size(1), K = w.size(2);
  // Lap * kernel (SAME, zero padding) is linear in the kernel: one (K*K, K*K) matrix applied to
  // every kernel, so all O*I kernels take one matmul (a conv2d over O*I single-channel K x K
  // "images" ran one tiny im2col GEMM per kernel: 1,024 of them for a 32 -> 32 layer).
  static const float lap[3][3] = {{0.25f, 0.5f, 0.25f}, {0.5f, -3.f, 0.5f}, {0.25f, 0.5f, 0.25f}};
  std::vector<float> A(static_cast<size_t>(K * K * K * K), 0.f);  // A[in pixel, out pixel]
  for (int64_t y = 0; y < K; ++y)
    for (int64_t x = 0; x < K; ++x)
      for (int64_t dy = -1; dy <= 1; ++dy)
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t sy = y + dy, sx = x + dx;
          if (sy >= 0 && sy < K && sx >= 0 && sx < K)
            A[static_cast<size_t>((sy * K + sx) * K * K + y * K + x)] = lap[dy + 1][dx + 1];
        }
  const Tensor LA = Tensor::from_vector({K * K, K * K}, A).to(w.device());
  Tensor lw = matmul(w.reshape({O * I, K * K}), LA);  // (O*I, K*K): Lap * each kernel
  Tensor num = sum(square(lw).reshape({O, I * K * K}), {1});
  Tensor den = sum(square(w).reshape({O, I * K * K}), {1});
  return sum(div(num, add(den, 1e-12f)));
}

Tensor group_sparsity_penalty(const Tensor& w) {
  ML_CHECK(w.dim() == 4, "group_sparsity_penalty: weights ", w.str(), " must be (O, I, K, K)");
  const int64_t O = w.size(0), I = w.size(1), K = w.size(2);
  // The 1e-12 keeps sqrt differentiable at a zero kernel.
  Tensor per_kernel = sqrt(add(sum(square(w).reshape({O, I, K * K}), {2}), 1e-12f));  // (O, I)
  Tensor per_filter = sqrt(add(sum(square(w).reshape({O, I * K * K}), {1}), 1e-12f));  // (O)
  return sum(div(sum(per_kernel, {1}), per_filter));
}

Tensor centring_penalty(const Tensor& w) {
  ML_CHECK(w.dim() == 4 && w.size(2) == w.size(3), "centring_penalty: weights ", w.str(), " must be (O, I, K, K)");
  const int64_t O = w.size(0), I = w.size(1), K = w.size(2);
  // Row and column offsets from the centre, (K*K, 1) each, so the moments are one matmul.
  std::vector<float> dy(static_cast<size_t>(K * K)), dx(dy.size());
  for (int64_t y = 0; y < K; ++y)
    for (int64_t x = 0; x < K; ++x)
      dy[static_cast<size_t>(y * K + x)] = static_cast<float>(y - K / 2), dx[static_cast<size_t>(y * K + x)] = static_cast<float>(x - K / 2);
  const Tensor DY = Tensor::from_vector({K * K, 1}, dy).to(w.device()), DX = Tensor::from_vector({K * K, 1}, dx).to(w.device());
  Tensor e = sum(square(w).reshape({O, I, K * K}), {1});  // (O, K*K) energy per position
  Tensor tot = add(sum(e, {1}), 1e-12f);                  // (O); the 1e-12 keeps a zero filter finite
  Tensor cy = div(matmul(e, DY).reshape({O}), tot), cx = div(matmul(e, DX).reshape({O}), tot);
  return sum(add(square(cy), square(cx)));
}

Tensor composite_centring_penalty(const std::vector<Tensor>& ws, const std::vector<Tensor>& gains) {
  ML_CHECK(!ws.empty(), "composite_centring_penalty: no layers");
  Tensor T, cy, cx;  // per input channel of the current layer: composed energy and centroid
  for (size_t l = 0; l < ws.size(); ++l) {
    const Tensor& w = ws[l];
    ML_CHECK(w.dim() == 4 && w.size(2) == w.size(3), "composite_centring_penalty: layer ", l, " weights ", w.str(),
             " must be (O, I, K, K)");
    const int64_t O = w.size(0), I = w.size(1), K = w.size(2);
    if (l > 0)
      ML_CHECK(I == ws[l - 1].size(0), "composite_centring_penalty: layer ", l, " reads ", I, " channels, layer ",
               l - 1, " makes ", ws[l - 1].size(0));
    std::vector<float> dy(static_cast<size_t>(K * K)), dx(dy.size());
    for (int64_t y = 0; y < K; ++y)
      for (int64_t x = 0; x < K; ++x)
        dy[static_cast<size_t>(y * K + x)] = static_cast<float>(y - K / 2), dx[static_cast<size_t>(y * K + x)] = static_cast<float>(x - K / 2);
    const Tensor DY = Tensor::from_vector({K * K, 1}, dy).to(w.device()), DX = Tensor::from_vector({K * K, 1}, dx).to(w.device());
    const Tensor e = square(w).reshape({O * I, K * K});
    const Tensor S = sum(e, {1}).reshape({O, I});  // energy of kernel (o, i)
    const Tensor my = matmul(e, DY).reshape({O, I}), mx = matmul(e, DX).reshape({O, I});  // S x its tap centroid
    Tensor a = S, ay = my, ax = mx;  // weights a_oi and a_oi x (tap centroid + input centroid)
    if (l > 0) {
      Tensor gi = T;  // (I): composed energy of each input times its gain
      if (l - 1 < gains.size() && gains[l - 1].defined()) {
        ML_CHECK(gains[l - 1].numel() == I, "composite_centring_penalty: gains[", l - 1, "] has ", gains[l - 1].numel(),
                 " values for ", I, " channels");
        gi = mul(gi, gains[l - 1].reshape({I}));
      }
      const Tensor g2 = gi.reshape({1, I});
      a = mul(S, g2);
      ay = mul(add(my, mul(S, cy.reshape({1, I}))), g2);
      ax = mul(add(mx, mul(S, cx.reshape({1, I}))), g2);
    }
    T = add(sum(a, {1}), 1e-12f);  // (O); the 1e-12 keeps a zero filter finite
    cy = div(sum(ay, {1}), T), cx = div(sum(ax, {1}), T);
  }
  return sum(add(square(cy), square(cx)));
}

Tensor blank_rf_centring_penalty(const std::vector<Tensor>& ws, const std::vector<Tensor>& slopes) {
  ML_CHECK(!ws.empty() && ws[0].dim() == 4 && ws[0].size(1) == 1 && ws[0].size(2) == ws[0].size(3),
           "blank_rf_centring_penalty: layer 0 weights must be (O, 1, K, K) (one image channel)");
  // X: the composed kernels of the current layer's outputs, flipped, as one image (1, O, S, S).
  // conv2d is a cross-correlation, so a full-padded conv2d of the flipped composed kernels with the
  // next layer's weights gives the flipped composition; a flip only negates the centroid.
  const int64_t O0 = ws[0].size(0), K0 = ws[0].size(2);
  std::vector<float> perm(static_cast<size_t>(K0 * K0 * K0 * K0), 0.f);
  for (int64_t q = 0; q < K0 * K0; ++q) perm[static_cast<size_t>(q * K0 * K0 + (K0 * K0 - 1 - q))] = 1.f;
  Tensor X = matmul(ws[0].reshape({O0, K0 * K0}), Tensor::from_vector({K0 * K0, K0 * K0}, perm).to(ws[0].device()))
                 .reshape({1, O0, K0, K0});
  for (size_t l = 1; l < ws.size(); ++l) {
    const int64_t I = ws[l].size(1), K = ws[l].size(2);
    ML_CHECK(ws[l].dim() == 4 && I == X.size(1) && K == ws[l].size(3), "blank_rf_centring_penalty: layer ", l,
             " weights ", ws[l].str(), " do not read the ", X.size(1), " channels below");
    ML_CHECK(l - 1 < slopes.size() && slopes[l - 1].numel() == I, "blank_rf_centring_penalty: need ", I,
             " slopes for layer ", l - 1);
    X = conv2d(mul(X, slopes[l - 1].reshape({1, I, 1, 1})), ws[l], Tensor(), 1, K - 1);
  }
  const int64_t O = X.size(1), S = X.size(2);
  std::vector<float> dy(static_cast<size_t>(S * S)), dx(dy.size());
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x)
      dy[static_cast<size_t>(y * S + x)] = static_cast<float>(y) - 0.5f * static_cast<float>(S - 1),
      dx[static_cast<size_t>(y * S + x)] = static_cast<float>(x) - 0.5f * static_cast<float>(S - 1);
  const Tensor e = square(X).reshape({O, S * S});
  const Tensor tot = add(sum(e, {1}), 1e-12f);
  const Tensor cy = div(matmul(e, Tensor::from_vector({S * S, 1}, dy).to(X.device())).reshape({O}), tot),
               cx = div(matmul(e, Tensor::from_vector({S * S, 1}, dx).to(X.device())).reshape({O}), tot);
  return sum(add(square(cy), square(cx)));
}

}  // namespace ml::models
