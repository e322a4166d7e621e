// engine/autograd.h — define-by-run reverse-mode differentiation.
//
// Every differentiable op that sees an input requiring grad (while grad mode is on)
// attaches a Node to its output: the op's name, its inputs (the graph's edges) and a
// closure that maps the output's gradient to one gradient per input. The closure holds
// what the op saved (inputs, outputs as detached views, masks). backward() orders the
// nodes reachable from the root topologically, runs the closures once each in reverse
// order, sums gradients where paths meet, accumulates into the leaves' .grad, and then
// frees every node it ran (saved tensors included): a second backward through the same
// graph is an error, as in PyTorch without retain_graph.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ml {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;
  std::vector<Tensor> inputs;
  BackwardFn backward;
  bool released = false;
  // Iterative teardown: a long chain of nodes freed without a backward would otherwise
  // recurse once per node in the destructors and overflow the stack.
  ~Node();
};

// Grad mode is per thread; inference and optimizer updates turn it off.
struct GradMode {
  static bool enabled();
  static void set_enabled(bool on);
};

class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True if grad mode is on and any input requires grad: the op must record a Node.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a Node to `out` when any_requires_grad(inputs); returns `out`. The closure
// must not capture `out` itself (that would be a cycle): capture out.detach().
Tensor record(Tensor out, const char* name, std::vector<Tensor> inputs, BackwardFn backward);

void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace ml
