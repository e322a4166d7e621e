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
// over shuffled batches of images (N, C, S, S) in [0, 1] and int32 labels, with
//   sgd   momentum 0.9, weight decay 5e-4 inside the momentum, constant lr: MatConvNet's
//         defaults (Lenc & Vedaldi §5.1.3, the science file's pinned optimiser);
//   adam  β = (0.9, 0.999), ε 1e-8, no weight decay, constant lr: how the demo's nets were
//         trained (train --optimizer adam), the other reading of the paper's "SGD as used to
//         train the nets". From the pinned full Xavier start of a map into a sharp ψ, SGD at lr
//         1e-2 can close every ReLU path of ψ in one step (gradient exactly 0 from then on; a
//         vgg_small conv2_1 rot90 task map, bench/RESULTS.md sessions 5 and 6). Adam's first
//         steps move every coordinate by about lr whatever the gradient's size: at 1e-3 that
//         map trains (0.213), at 3e-3 it dies too (0.903) — the step size is what matters.
// loss(xb, yb) returns one batch's scalar loss. A loss that is not finite throws, naming
// `what`, so a diverged run writes nothing that looks complete.
//
// Early stopping (our choice; the paper trains a fixed 5 or 7 epochs of 2·10⁵ samples): with
// `validate` set, after every epoch validate() returns the loss on held-out data; training stops
// once `patience` epochs in a row have not improved on the best, and the parameters of the best
// epoch are restored. `epochs` is then a cap, not a guess at what is enough.
// The optimiser of train_frozen: "sgd" or "adam" (anything else: a named error).
enum class FrozenOptimizer { SGD, Adam };
FrozenOptimizer parse_frozen_optimizer(const std::string& name, const std::string& what = "map optimizer");
const char* frozen_optimizer_name(FrozenOptimizer o);

struct FrozenTrainOptions {
  FrozenOptimizer optimizer = FrozenOptimizer::SGD;
  double lr = 1e-2;
  int64_t epochs = 1, batch = 64;
  bool progress = false;
  std::string what;  // for the progress line and errors
  int64_t patience = 2;
  std::function<double()> validate;  // held-out loss of the current parameters; unset: fixed epochs
};
struct FrozenTrainResult {
  int64_t epochs_run = 0, best_epoch = 0;  // 1-based; best_epoch = epochs_run without validation
  double best_validation = 0;              // NaN without validation
};
FrozenTrainResult train_frozen(const std::vector<Tensor>& params, const Tensor& images, const Tensor& labels,
                               Generator& gen, const FrozenTrainOptions& o,
                               const std::function<Tensor(const Tensor&, const Tensor&)>& loss);

// The early-stop rule on its own (tested on scripted loss sequences). An epoch improves when its
// validation loss is below the best so far by more than min_delta·|best| (relative, so the rule
// does not depend on the loss's scale); stop() is true once `patience` epochs in a row have not.
class EarlyStop {
 public:
  explicit EarlyStop(int64_t patience, double min_delta = 1e-4);
  // Records the next epoch's validation loss; returns true when it is the new best (snapshot now).
  bool update(double validation_loss);
  bool stop() const { return since_best_ >= patience_; }
  int64_t best_epoch() const { return best_epoch_; }  // 1-based; 0 before any update
  int64_t epochs() const { return epochs_; }
  double best() const { return best_; }

 private:
  int64_t patience_, epochs_ = 0, best_epoch_ = 0, since_best_ = 0;
  double min_delta_, best_;
};

// The last `fraction` of rows (N, ...) held out for validation (at least one row each side when
// fraction > 0; all rows train when it is 0). `what` names the caller in errors.
struct HeldOut {
  Tensor train_x, train_y, val_x, val_y;
};
HeldOut hold_out(const Tensor& x, const Tensor& y, double fraction, const std::string& what);
// Mean of loss(xb, yb) over x in batches, weighted by batch size (no graph kept).
double mean_loss(const Tensor& x, const Tensor& y, int64_t batch,
                 const std::function<Tensor(const Tensor&, const Tensor&)>& loss);

// Per-channel mean and SD (float64) of x (N, C, H, W) over images and sites: the standardised
// coordinates of the stitches and task maps. A constant channel (a dead ReLU) gets SD 1.
void channel_stats(const Tensor& x, std::vector<double>& mu, std::vector<double>& sd);

// Top-k error of logits (N, classes) against labels (int32 N).
double topk_error(const Tensor& logits, const Tensor& labels, int64_t k);

}  // namespace ml::analysis
