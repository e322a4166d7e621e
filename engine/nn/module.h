// engine/nn/module.h — the Module tree: named parameters and buffers with PyTorch's names
// ("features.0.weight", "bn.running_mean"), train/eval modes, state dicts, device moves, and
// forward hooks for capturing activations.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ml::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  // (N, ...) -> (N, ...); what the module computes.
  virtual Tensor forward(const Tensor& x) = 0;
  // forward() followed by this module's hook, if any (used for activation capture).
  Tensor operator()(const Tensor& x);

  // ---- the tree ----
  // Parameters require grad; buffers (running statistics) do not.
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  NamedTensors named_parameters(const std::string& prefix = "") const;
  NamedTensors named_buffers(const std::string& prefix = "") const;
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  std::vector<Tensor> parameters() const;
  Module* find_module(const std::string& dotted_name);  // null if absent
  int64_t parameter_count() const;

  // ---- state ----
  NamedTensors state_dict() const;  // parameters then buffers, in registration order
  // Copies values into the existing tensors (so optimizers keep their references). Strict:
  // one error lists every missing, unexpected and mis-shaped name.
  void load_state_dict(const NamedTensors& state, bool strict = true);

  // ---- modes and devices ----
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void to(Device d);  // moves every parameter and buffer in place
  void zero_grad();

  // ---- hooks ----
  using Hook = std::function<void(const Tensor& output)>;
  void set_forward_hook(Hook h) { hook_ = std::move(h); }
  void clear_forward_hook() { hook_ = nullptr; }
  // Whether a hook is set (a model may skip materialising an output nobody captures).
  bool has_forward_hook() const { return static_cast<bool>(hook_); }

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  bool training_ = true;

 private:
  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  Hook hook_;
};

// Children called in order; named "0", "1", ... unless given names.
class Sequential : public Module {
 public:
  Sequential() = default;
  template <class M>
  Sequential& add(std::shared_ptr<M> m) {
    add_child(std::to_string(layers_.size()), m);
    layers_.push_back(m);
    return *this;
  }
  template <class M>
  Sequential& add(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    layers_.push_back(m);
    return *this;
  }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  Module& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

// Activation capture (DESIGN.md): while alive, records the outputs of the named submodules.
// The outputs are the tensors the model computed (no copies); with keep_graph = false they are
// detached so holding them does not keep the autograd graph alive.
class ActivationCapture {
 public:
  ActivationCapture(Module& model, const std::vector<std::string>& names, bool keep_graph = false);
  ~ActivationCapture();
  ActivationCapture(const ActivationCapture&) = delete;
  ActivationCapture& operator=(const ActivationCapture&) = delete;
  const Tensor& operator[](const std::string& name) const;
  const std::vector<std::string>& names() const { return names_; }
  void clear();

 private:
  std::vector<std::string> names_;
  std::vector<Module*> modules_;
  std::vector<Tensor> outputs_;
};

}  // namespace ml::nn
