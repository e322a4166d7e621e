// experiments/analysis/equivariance_maps.h — the equivariance map M_g of a representation φ
// (Lenc & Vedaldi Eq. 1-7; ../shared/science/lenc-vedaldi-equivariance.md §4-§5):
// φ(gx) ≈ M_g φ(x), learned three ways.
//
// The conv-shared form (Eq. 7, §5.1.4): M_g φ = F ∗ P_g φ + b, F = C filters of m x m x C, the
// same map at every site. Its design matrix has one row per (image, site), the m x m x C
// neighbourhood of P_g φ(x) around the site (zero padding m/2) plus a 1 for the bias; the
// targets are φ(gx) at the site. A fully connected layer is the case H = W = m = 1 (a dense
// map). Both offline solvers work from the Gram matrix XᵀX and the cross-covariance XᵀY,
// accumulated in float64 over image batches, so the rows are never held:
//   ridge  (G + λ·mean(diag G_c)·I) w = XᵀY by Cholesky, the bias unpenalised (λ = 0: least
//          squares, which refuses a singular Gram by name);
//   FS     forward selection (SpaSM's forwardselection): inputs scaled to zero mean and unit
//          length, targets centred; per output channel, k times: add the input most
//          correlated with the residual, refit least squares on the active set (all from the
//          centred, scaled Gram).
// The third way, training F with the network's task loss through the frozen rest of the
// network, is train_transformation_layer.
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "experiments/analysis/net_split.h"
#include "experiments/analysis/spatial_transform.h"

namespace ml::analysis {

// m x m neighbourhoods of every site: phi (N, C, H, W) -> (N·H·W, C·m·m), rows ordered
// (n, i, j), columns (c, dy, dx) as a conv weight (K, C, m, m) is laid out; zero padding.
Tensor neighbourhoods(const Tensor& phi, int64_t m);
// Sites as rows: y (N, C, H, W) -> (N·H·W, C).
Tensor sites_as_rows(const Tensor& y);

// XᵀX and XᵀY of a design with an appended column of ones, in float64.
class GramSystem {
 public:
  GramSystem(int64_t inputs, int64_t outputs);
  void add(const Tensor& X, const Tensor& Y);  // X (rows, inputs), Y (rows, outputs), float32
  int64_t inputs() const { return inputs_; }
  int64_t outputs() const { return outputs_; }
  int64_t rows() const { return rows_; }
  // The last row/column of G and B belong to the bias (the column of ones).
  const Eigen::MatrixXd& G() const { return G_; }
  const Eigen::MatrixXd& B() const { return B_; }

 private:
  int64_t inputs_, outputs_, rows_ = 0;
  Eigen::MatrixXd G_, B_;
};

// Solutions are (inputs + 1, outputs): column t maps the inputs (and, last row, the bias) to
// output t.
Eigen::MatrixXd ridge_solve(const GramSystem& s, double lambda);
Eigen::MatrixXd forward_selection(const GramSystem& s, int64_t k);

// A conv-shared map as engine tensors.
struct ConvMap {
  Tensor weight;  // (C, C, m, m)
  Tensor bias;    // (C)
  Tensor pg;      // the layer's P_g sampling matrix (sites, sites); undefined for FC layers
  int64_t m = 1;
};
ConvMap conv_map_from_solution(const Eigen::MatrixXd& w, int64_t channels, int64_t m, const Tensor& pg);
// M_g φ = F ∗ P_g φ + b, differentiable in F and b; φ (N, C, H, W) or (N, D) for FC.
Tensor apply_map(const ConvMap& map, const Tensor& phi);

// Training data for one layer and transformation: φ(x) and φ(gx) of images x (normalised).
struct MapFitOptions {
  int64_t m = 3;               // neighbourhood (1 at FC layers)
  std::vector<double> lambdas{0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};  // ridge grid, relative
  std::vector<int64_t> fs_k{1, 3, 5, 10, 25};
  int64_t batch = 128;
};

// Accumulates the Gram system of the layer's conv-shared map from φ(x) and φ(gx).
GramSystem map_gram(const Tensor& phi_x, const Tensor& phi_gx, const Tensor& pg, int64_t m, GramSystem* into = nullptr);

// ℓ2 reconstruction error of a map on held-out pairs: Σ‖φ(gx) − M φ(x)‖² / Σ‖φ(gx)‖².
double l2_ratio(const ConvMap& map, const Tensor& phi_x, const Tensor& phi_gx);

// The transformation layer (Eq. 7) trained with the task loss: ψ(F ∗ P_g φ(g⁻¹x) + b) against
// the labels, the network frozen; train_frozen's SGD (momentum 0.9, weight decay 5e-4, constant
// lr, the pinned choice) or Adam (constant lr, as the demo's nets were trained).
struct TaskTrainOptions {
  FrozenOptimizer optimizer = FrozenOptimizer::SGD;
  double lr = 1e-2;  // 1e-3 with Adam (the study's default for it)
  int64_t epochs = 1, batch = 64;  // epochs: a cap when patience > 0
  uint64_t seed = 0;
  bool progress = false;
  // Early stopping (net_split.h), as StitchOptions: patience > 0 holds out the last
  // `validation` share of the rows and keeps the best epoch's map.
  int64_t patience = 0;
  double validation = 0.2;
  // Train in the layer's per-channel standardised coordinates and fold back (the same map; see
  // equivariance_maps.cpp). false: F and b on raw features.
  bool standardise = true;
  // Xavier bound multiplier of the start (1: Xavier, the science file's choice). At 0.1 (the cpu
  // preset's labelled deviation) a vgg_small conv2_1 rot90 map trains (0.241) where the full
  // Xavier start dies in its first SGD step (0.903, chance). Measured cause (demo sym net, batch
  // 16, bench/RESULTS.md session 5): the Xavier start is not off scale (its output has the
  // layer's per-channel SD to 1 %, mean within 0.15 σ, relu2_1's positive share 0.351 against
  // 0.349, no dead channel), but it sits where ψ is sharp: the first gradient is 10x |F|
  // (|∇F| 81, |F| 8.0), so one step at lr 1e-2 — even without momentum — moves the output
  // channels' means by 1.3 σ and every path through ψ's later ReLUs closes: from step 2 the
  // gradient is exactly 0 and the logits are a constant (loss ln 10). Not exploding activations,
  // not the fold: centring the inputs (reparametrising b'' = c − F''·μ/σ, the same map family)
  // halves the first gradient (81 → 46) but the loss then explodes (538 at step 3). What trains
  // from the full Xavier start is a smaller step: SGD at lr 1e-3 (fitting-set error 0.238 after
  // 3 epochs) or Adam at 1e-3 — the optimiser the demo's nets were trained with, which the
  // science file's "SGD as used to train the nets" would read as (0.170 after 2 epochs). That
  // is the `optimizer` option. Session 6 (this session's demo sym net, rot90): Adam 1e-3 from full
  // Xavier 0.213 / 0.152 / 0.197 at conv2_1 / pool1 / pool2, against SGD 1e-2 from 0.1 x Xavier
  // 0.233 / 0.193 / 0.202 and SGD from full Xavier 0.279 / 0.288 / 0.210 (ℓ2 ratios 7506 and
  // 218: far off); Adam at 3e-3 kills the conv2_1 map (0.903). The cpu preset uses Adam 1e-3.
  double init_scale = 1.0;
};
// images (N, C, S, S) in [0, 1], labels int32 (N). `init` is the starting map (Xavier when its
// weight is undefined). Throws, writing nothing, when the loss diverges.
ConvMap train_transformation_layer(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                                   const Tensor& labels, ConvMap init, const TaskTrainOptions& o);
// The same from φ(g⁻¹x) of the training images computed once (phi_ginv (N, C, H, W) or (N, D),
// image i labelled labels[i]): the frozen φ does not rerun every step, only the map and ψ
// (the study computes φ(g⁻¹x) anyway for the other maps).
ConvMap train_transformation_layer_from_phi(AnalysisNet& net, const NetSplit& split, const Tensor& phi_ginv,
                                            const Tensor& labels, ConvMap init, const TaskTrainOptions& o);

// The Siamese ℓ2 maps (§5.1.3, Fig. 4; science file §4 "Learned CNN maps"): M trained with
// SGD (train_frozen's: momentum 0.9, weight decay 5e-4, constant lr) to bring M φ(g⁻¹x) onto
// φ(x), the network not involved beyond φ (the pairs are precomputed):
//   CONV L2  ρ = identity: the tap's own output (pre-ReLU at conv taps);
//   RELU L2  ρ = ReLU on both sides ("ReLU-OPT"): only what the next layer sees counts.
// Loss per batch: Σ‖ρ(φ(x)) − ρ(M φ(g⁻¹x))‖² / Σ‖ρ(φ(x))‖² — relative (our choice), so one
// learning rate serves every layer whatever its scale; its curvature is at most ≈ 2m² (the
// inputs' energy over the targets'), well inside SGD's stable range at lr 1e-2.
struct SiameseOptions {
  bool relu = false;  // RELU L2 instead of CONV L2
  double lr = 1e-2;
  int64_t epochs = 1, batch = 64;
  uint64_t seed = 0;  // Xavier initialisation and data order
  bool progress = false;
};
// The relative Siamese loss of predictions and targets of the same shape (differentiable in pred).
Tensor siamese_loss(const Tensor& pred, const Tensor& target, bool relu);
// phi_ginv_x = φ(g⁻¹x) (the map's input), phi_x = φ(x) (its target), same shape (N, C, H, W) or
// (N, D). `init` gives m and P_g (Xavier when its weight is undefined). Throws, naming the
// variant, when the loss diverges.
ConvMap train_siamese_map(const Tensor& phi_ginv_x, const Tensor& phi_x, ConvMap init, const SiameseOptions& o);

// Top-k error of ψ(M φ(g⁻¹x)) (map defined) or ψ(φ(g⁻¹x)) (map undefined: "uncompensated"),
// and with only P_g: ψ(P_g φ(g⁻¹x)) when pg_only.
double task_error(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                  const Tensor& labels, const ConvMap* map, bool pg_only, int64_t k, int64_t batch = 256);
// The same for several k from one set of forwards (top-1 and top-2 in the study).
std::vector<double> task_errors(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                                const Tensor& labels, const ConvMap* map, bool pg_only, const std::vector<int64_t>& ks,
                                int64_t batch = 256);

// The same from φ(g⁻¹x) already computed (phi_ginv (N, C, H, W) or (N, D), on any device): the
// study evaluates a dozen maps on one tap and transform, and φ is the same for all of them.
std::vector<double> task_errors_from_phi(const NetSplit& split, const Tensor& phi_ginv, const Tensor& labels,
                                         const ConvMap* map, bool pg_only, const std::vector<int64_t>& ks,
                                         int64_t batch = 256);

// Invariant channels (§5.3.4, Tab. 3): the largest p such that replacing the p channels whose
// row is most dominated by its self-component (score ‖F[t]‖ / ‖F[t] without F[t,t]‖) by an
// identity row (a centre tap equal to the sum of F[t,t]) keeps top-1 error within 5 %
// (relative) of the learned map's; found by bisection. Returns p.
int64_t invariant_channels(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                           const Tensor& labels, const ConvMap& map, double tolerance = 0.05);
// The same from φ(g⁻¹x) already computed.
int64_t invariant_channels_from_phi(const NetSplit& split, const Tensor& phi_ginv, const Tensor& labels,
                                    const ConvMap& map, double tolerance = 0.05);
// The map with the `p` best-scoring rows replaced by identity rows.
ConvMap with_identity_rows(const ConvMap& map, int64_t p);

}  // namespace ml::analysis
