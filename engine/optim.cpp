#include "engine/optim.h"

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/optim.h"

namespace ml::optim {

Optimizer::Optimizer(std::vector<Tensor> params, float lr_) : lr(lr_), params_(std::move(params)) {
  ML_CHECK(lr_ >= 0.f, "optimizer: learning rate must be >= 0, got ", lr_);
  for (size_t i = 0; i < params_.size(); ++i)
    ML_CHECK(params_[i].defined() && params_[i].dtype() == DType::F32 && params_[i].requires_grad(),
             "optimizer: parameter ", i, " (", params_[i].str(), ") is not a float32 tensor that requires grad");
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

namespace {
const Tensor* find(const nn::NamedTensors& s, const std::string& name) {
  for (const auto& [n, t] : s)
    if (n == name) return &t;
  return nullptr;
}
Tensor zeros_like(const Tensor& p) { return Tensor::zeros(p.shape(), DType::F32, p.device()); }
}  // namespace

SGD::SGD(std::vector<Tensor> params, float lr_, float momentum_, float weight_decay_, bool nesterov_, float dampening_)
    : Optimizer(std::move(params), lr_),
      momentum(momentum_),
      weight_decay(weight_decay_),
      dampening(dampening_),
      nesterov(nesterov_),
      buf_(params_.size()) {
  ML_CHECK(!nesterov || (momentum > 0.f && dampening == 0.f), "SGD: Nesterov momentum needs momentum > 0 and no dampening");
}

void SGD::step() {
  NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& w = params_[i];
    const Tensor g = w.grad();
    if (!g.defined()) continue;
    kernels::SgdParams p{lr, momentum, dampening, weight_decay, nesterov, false};
    if (momentum != 0.f && !buf_[i].defined()) {
      buf_[i] = zeros_like(w);
      p.first_step = true;
    }
    float* buf = momentum != 0.f ? buf_[i].data() : nullptr;
    dispatch(w.device(), [&](auto D) {
      kernels::sgd_step<D>(w.data(), buf, g.data(), w.numel(), p, device_stream(D));
    });
  }
}

nn::NamedTensors SGD::state() const {
  nn::NamedTensors s;
  for (size_t i = 0; i < buf_.size(); ++i)
    if (buf_[i].defined()) s.emplace_back("momentum_buffer." + std::to_string(i), buf_[i]);
  return s;
}

void SGD::load_state(const nn::NamedTensors& s) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor* b = find(s, "momentum_buffer." + std::to_string(i));
    if (!b) {
      buf_[i] = Tensor();
      continue;
    }
    ML_CHECK(b->shape() == params_[i].shape(), "SGD::load_state: momentum_buffer.", i, " ", shape_str(b->shape()),
             " does not match parameter ", shape_str(params_[i].shape()));
    buf_[i] = b->to(params_[i].device()).detach().clone();
  }
}

Adam::Adam(std::vector<Tensor> params, float lr_, float beta1_, float beta2_, float eps_, float weight_decay_)
    : Optimizer(std::move(params), lr_),
      beta1(beta1_),
      beta2(beta2_),
      eps(eps_),
      weight_decay(weight_decay_),
      m_(params_.size()),
      v_(params_.size()),
      steps_(params_.size(), 0) {
  ML_CHECK(beta1 >= 0.f && beta1 < 1.f && beta2 >= 0.f && beta2 < 1.f, "Adam: betas must lie in [0, 1), got ", beta1,
           ", ", beta2);
}

void Adam::step() {
  NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& w = params_[i];
    const Tensor g = w.grad();
    if (!g.defined()) continue;
    if (!m_[i].defined()) {
      m_[i] = zeros_like(w);
      v_[i] = zeros_like(w);
    }
    kernels::AdamParams p{lr, beta1, beta2, eps, weight_decay, ++steps_[i]};
    dispatch(w.device(), [&](auto D) {
      kernels::adam_step<D>(w.data(), m_[i].data(), v_[i].data(), g.data(), w.numel(), p, device_stream(D));
    });
  }
}

nn::NamedTensors Adam::state() const {
  nn::NamedTensors s;
  for (size_t i = 0; i < m_.size(); ++i) {
    if (!m_[i].defined()) continue;
    s.emplace_back("exp_avg." + std::to_string(i), m_[i]);
    s.emplace_back("exp_avg_sq." + std::to_string(i), v_[i]);
    s.emplace_back("step." + std::to_string(i),
                   Tensor::from_vector_i32({}, {static_cast<int32_t>(steps_[i])}));
  }
  return s;
}

void Adam::load_state(const nn::NamedTensors& s) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string k = std::to_string(i);
    const Tensor *m = find(s, "exp_avg." + k), *v = find(s, "exp_avg_sq." + k), *st = find(s, "step." + k);
    if (!m) {
      m_[i] = v_[i] = Tensor();
      steps_[i] = 0;
      continue;
    }
    ML_CHECK(v && st, "Adam::load_state: parameter ", i, " has exp_avg but not exp_avg_sq and step");
    ML_CHECK(m->shape() == params_[i].shape() && v->shape() == params_[i].shape(), "Adam::load_state: state ", i,
             " ", shape_str(m->shape()), " does not match parameter ", shape_str(params_[i].shape()));
    m_[i] = m->to(params_[i].device()).detach().clone();
    v_[i] = v->to(params_[i].device()).detach().clone();
    steps_[i] = st->to_vector_i32().at(0);
  }
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, float gamma)
    : opt_(opt), step_size_(step_size), gamma_(gamma), base_lr_(opt.lr) {
  ML_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
}

void StepLR::step() { set_epoch(epoch_ + 1); }

void StepLR::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  opt_.lr = base_lr_ * std::pow(gamma_, static_cast<float>(epoch_ / step_size_));
}

}  // namespace ml::optim
