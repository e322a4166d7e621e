#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/ops.h"

namespace ml {

namespace {
thread_local bool g_grad_enabled = true;
}

Node::~Node() {
  std::vector<Tensor> pending = std::move(inputs);
  while (!pending.empty()) {
    Tensor t = std::move(pending.back());
    pending.pop_back();
    TensorImpl* impl = t.impl();
    // Only when this handle is the last owner of the tensor and of its node would the node
    // die here: take its inputs over instead, so it dies with an empty input list.
    if (impl && t.impl_ptr().use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1) {
      for (auto& in : impl->grad_fn->inputs) pending.push_back(std::move(in));
      impl->grad_fn->inputs.clear();
      impl->grad_fn->backward = nullptr;
    }
  }
}

bool GradMode::enabled() { return g_grad_enabled; }
void GradMode::set_enabled(bool on) { g_grad_enabled = on; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!any_requires_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  ML_CHECK(root.requires_grad(), "backward: the tensor ", root.str(),
           " does not require grad (no input of the ops that made it requires grad)");
  ML_CHECK(grad_output.shape() == root.shape(), "backward: grad_output ", shape_str(grad_output.shape()),
           " does not match the tensor's shape ", shape_str(root.shape()));
  ML_CHECK(grad_output.device() == root.device(), "backward: grad_output is on ", device_name(grad_output.device()),
           ", the tensor on ", device_name(root.device()));

  // Topological order by iterative depth-first search (graphs can be deep).
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<TensorImpl*, size_t>> stack{{root.impl(), 0}};
  seen.insert(root.impl());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    Node* node = t->grad_fn.get();
    if (node && node->released)
      throw Error(detail::cat("backward: the graph through '", node->name,
                              "' was already freed by an earlier backward()"));
    if (node && next < node->inputs.size()) {
      TensorImpl* in = node->inputs[next++].impl();
      if (in && in->requires_grad && seen.insert(in).second) stack.push_back({in, 0});
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }

  NoGradGuard no_grad;  // gradients are plain values: no double backward
  std::unordered_map<TensorImpl*, Tensor> grads;
  grads[root.impl()] = grad_output;
  // Owned: releasing one node's inputs can drop the last other reference to an upstream node.
  std::vector<std::shared_ptr<Node>> ran;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    auto g_it = grads.find(t);
    if (g_it == grads.end()) continue;
    Tensor g = std::move(g_it->second);
    grads.erase(g_it);
    Node* node = t->grad_fn.get();
    if (!node) {  // a leaf: accumulate into .grad
      if (!t->grad) {
        t->grad = g.clone().impl_ptr();  // own storage: g may be shared with another leaf
      } else {
        Tensor acc(t->grad);
        acc.copy_(add(acc, g));
      }
      continue;
    }
    std::vector<Tensor> gin = node->backward(g);
    ML_CHECK(gin.size() == node->inputs.size(), "backward of '", node->name, "' returned ", gin.size(),
             " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < gin.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined() || !in.requires_grad() || !gin[i].defined()) continue;
      ML_CHECK(gin[i].shape() == in.shape(), "backward of '", node->name, "': gradient ", shape_str(gin[i].shape()),
               " for input ", i, " of shape ", shape_str(in.shape()));
      auto [slot, inserted] = grads.try_emplace(in.impl(), gin[i]);
      if (!inserted) slot->second = add(slot->second, gin[i]);
    }
    ran.push_back(t->grad_fn);
  }
  // Free the graph: saved tensors and edges go; the nodes remain as markers.
  for (auto& node : ran) {
    node->released = true;
    node->inputs.clear();
    node->backward = nullptr;
  }
}

}  // namespace ml
