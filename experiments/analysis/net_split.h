// experiments/analysis/net_split.h — a trained network ζ = ψ ∘ φ cut at a named tap (Lenc &
// Vedaldi §5.1.3, Eq. 6-7): φ runs the modules up to and including the tap, ψ the rest. The
// network's modules are run in order as leaves of nested Sequential containers, so a tap is
// any module name ("conv1_1", "pool2", "features.3", "classifier.1"). The weights stay frozen
// (no optimiser ever sees them), but ψ is differentiable so a map inserted between φ and ψ can
// be trained with the network's own task loss.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/generator.h"

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "experiments/analysis/activations.h"

namespace ml::analysis {

class NetSplit {
 public:
  NetSplit(AnalysisNet& net, const std::string& tap);
  // φ(x) for images (B, C, S, S) already normalised as the network expects (no graph kept).
  Tensor phi(const Tensor& x) const;
  // ψ(h): the rest of the network (graph kept, so gradients reach h).
  Tensor psi(const Tensor& h) const;
  const std::string& tap() const { return tap_; }

 private:
  std::vector<nn::Module*> leaves_;  // in execution order
  size_t cut_ = 0;                   // leaves_[0, cut_) form φ
  std::string tap_;
};

// Images in [0, 1] normalised with the network's per-channel statistics.
Tensor normalise(const AnalysisNet& net, const Tensor& images);

// Trains `params` (a map inserted into a frozen network: the transformation layer, a stitch)
// with SGD — momentum 0.9, weight decay 5e-4 inside the momentum, constant lr, as MatConvNet's
// defaults (Lenc & Vedaldi §5.1.3) — over shuffled batches of images (N, C, S, S) in [0, 1] and
// int32 labels. loss(xb, yb) returns one batch's scalar loss. A loss that is not finite throws,
// naming `what`, so a diverged run writes nothing that looks complete.
struct FrozenTrainOptions {
  double lr = 1e-2;
  int64_t epochs = 1, batch = 64;
  bool progress = false;
  std::string what;  // for the progress line and errors
};
void train_frozen(const std::vector<Tensor>& params, const Tensor& images, const Tensor& labels, Generator& gen,
                  const FrozenTrainOptions& o, const std::function<Tensor(const Tensor&, const Tensor&)>& loss);

// Top-k error of logits (N, classes) against labels (int32 N).
double topk_error(const Tensor& logits, const Tensor& labels, int64_t k);

}  // namespace ml::analysis
