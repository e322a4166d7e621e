// engine/optim.h — optimizers over a list of parameters (PyTorch's update rules, in
// kernels/optim.h) and a step learning-rate schedule.
#pragma once
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace ml::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, float lr);
  virtual ~Optimizer() = default;
  // Updates every parameter that has a gradient (under no-grad).
  virtual void step() = 0;
  void zero_grad();
  float lr;
  const std::vector<Tensor>& params() const { return params_; }
  // Per-parameter state ("momentum_buffer.3", "exp_avg.3", "step") for checkpoints.
  virtual nn::NamedTensors state() const = 0;
  virtual void load_state(const nn::NamedTensors& state) = 0;

 protected:
  std::vector<Tensor> params_;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, float lr, float momentum = 0.f, float weight_decay = 0.f, bool nesterov = false,
      float dampening = 0.f);
  void step() override;
  nn::NamedTensors state() const override;
  void load_state(const nn::NamedTensors& state) override;
  float momentum, weight_decay, dampening;
  bool nesterov;

 private:
  std::vector<Tensor> buf_;  // momentum buffers; undefined until a parameter's first step
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
       float weight_decay = 0.f);
  void step() override;
  nn::NamedTensors state() const override;
  void load_state(const nn::NamedTensors& state) override;
  float beta1, beta2, eps, weight_decay;

 private:
  std::vector<Tensor> m_, v_;
  std::vector<int64_t> steps_;
};

// Multiplies the learning rate by gamma every step_size epochs (torch.optim.lr_scheduler.StepLR):
// lr(epoch) = base_lr * gamma^floor(epoch / step_size). Call step() once per finished epoch.
class StepLR {
 public:
  StepLR(Optimizer& opt, int64_t step_size, float gamma);
  void step();
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t epoch);  // for resuming

 private:
  Optimizer& opt_;
  int64_t step_size_;
  float gamma_, base_lr_;
  int64_t epoch_ = 0;
};

}  // namespace ml::optim
