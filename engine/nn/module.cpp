#include "engine/nn/module.h"

#include <map>
#include <sstream>

#include "engine/autograd.h"
#include "engine/device.h"

namespace ml::nn {

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (hook_) hook_(y);
  return y;
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  ML_CHECK(t.defined(), "register_parameter: '", name, "' is undefined");
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  ML_CHECK(t.defined(), "register_buffer: '", name, "' is undefined");
  buffers_.emplace_back(name, t);
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  ML_CHECK(m != nullptr, "register_module: '", name, "' is null");
  for (const auto& [n, c] : children_) ML_CHECK(n != name, "register_module: '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

NamedTensors Module::named_parameters(const std::string& prefix) const {
  NamedTensors out;
  for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) {
    auto sub = c->named_parameters(prefix + n + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

NamedTensors Module::named_buffers(const std::string& prefix) const {
  NamedTensors out;
  for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) {
    auto sub = c->named_buffers(prefix + n + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> out;
  for (auto& [n, c] : children_) {
    const std::string full = prefix + n;
    out.emplace_back(full, c.get());
    auto sub = c->named_modules(full + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

Module* Module::find_module(const std::string& dotted_name) {
  for (auto& [n, m] : named_modules())
    if (n == dotted_name) return m;
  return nullptr;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

NamedTensors Module::state_dict() const {
  NamedTensors out = named_parameters();
  NamedTensors b = named_buffers();
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict) {
  const NamedTensors mine = state_dict();
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : state) given[n] = &t;
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& [n, t] : mine) {
    auto it = given.find(n);
    if (it == given.end()) {
      missing.push_back(n);
    } else if (it->second->shape() != t.shape()) {
      misshaped.push_back(n + " (model " + shape_str(t.shape()) + ", file " + shape_str(it->second->shape()) + ")");
    } else if (it->second->dtype() != t.dtype()) {
      misshaped.push_back(n + " (model " + dtype_name(t.dtype()) + ", file " + dtype_name(it->second->dtype()) + ")");
    }
  }
  std::map<std::string, bool> known;
  for (const auto& [n, t] : mine) known[n] = true;
  for (const auto& [n, t] : state)
    if (!known.count(n)) unexpected.push_back(n);
  if (!misshaped.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    std::ostringstream os;
    os << "load_state_dict: the state does not fit the model.";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      os << "\n  " << what << " (" << v.size() << "):";
      for (const auto& s : v) os << " " << s << ";";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("mis-shaped", misshaped);
    throw Error(os.str());
  }
  NoGradGuard no_grad;
  for (auto [n, t] : mine) {
    auto it = given.find(n);
    if (it != given.end()) t.copy_(*it->second);
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device d) {
  // Replace the storage inside each TensorImpl, so every handle (the layer's member, the
  // optimizer's list) sees the moved tensor.
  for (auto& [n, t] : state_dict()) {
    if (t.device() == d) continue;
    auto fresh = std::make_shared<Storage>(t.nbytes(), d);
    device_copy(fresh->data, d, t.raw(), t.device(), t.nbytes());
    t.impl()->storage = fresh;
    t.impl()->offset = 0;
    t.zero_grad();
  }
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.zero_grad();
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : layers_) h = (*m)(h);
  return h;
}

ActivationCapture::ActivationCapture(Module& model, const std::vector<std::string>& names, bool keep_graph)
    : names_(names), outputs_(names.size()) {
  for (size_t i = 0; i < names.size(); ++i) {
    Module* m = model.find_module(names[i]);
    if (!m) {
      std::ostringstream os;
      os << "ActivationCapture: no submodule named '" << names[i] << "'; the model has:";
      for (auto& [n, mm] : model.named_modules()) os << " " << n;
      for (Module* done : modules_) done->clear_forward_hook();
      throw Error(os.str());
    }
    modules_.push_back(m);
    m->set_forward_hook([this, i, keep_graph](const Tensor& y) { outputs_[i] = keep_graph ? y : y.detach(); });
  }
}

ActivationCapture::~ActivationCapture() {
  for (Module* m : modules_) m->clear_forward_hook();
}

const Tensor& ActivationCapture::operator[](const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) {
      ML_CHECK(outputs_[i].defined(), "ActivationCapture: '", name, "' was not reached by the last forward pass");
      return outputs_[i];
    }
  throw Error(detail::cat("ActivationCapture: '", name, "' was not asked for"));
}

void ActivationCapture::clear() {
  for (auto& t : outputs_) t = Tensor();
}

}  // namespace ml::nn
