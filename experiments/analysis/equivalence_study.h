// experiments/analysis/equivalence_study.h — the equivariance and equivalence study (Lenc &
// Vedaldi; ../shared/science/lenc-vedaldi-equivariance.md §9 A-C) on small networks: for every
// network, tap and transformation g, the equivariance map M_g learned by ridge regression,
// forward selection and the task loss (Figs. 9-11 analogues), the invariant-channel count of
// the task-trained map (Tab. 3), and the stitching table between networks and layers (§6,
// Tabs. 5-6).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "experiments/analysis/activations.h"
#include "experiments/analysis/net_split.h"

namespace ml::analysis {

// A network of the study. Several networks of one variant (the same recipe, different training
// seeds: the demo's `--seeds N`) are replicates: replicate 0 is the variant's main network, the
// others take part in the seed → seed stitches (and in the maps only with replicate_maps).
struct EquivalenceNet {
  EquivalenceNet(std::string label_, AnalysisNet* net_, std::string variant_ = "", int64_t replicate_ = 0)
      : label(std::move(label_)), net(net_), variant(std::move(variant_)), replicate(replicate_) {}
  std::string label;    // unique: "sym", "asym", "none", "sym_seed1", "untrained0", ...
  AnalysisNet* net = nullptr;
  std::string variant;  // the recipe ("sym"); empty: the label
  int64_t replicate = 0;  // 0, 1, ... within the variant, in the order given
  const std::string& variant_name() const { return variant.empty() ? label : variant; }
};

struct EquivalenceOptions {
  std::vector<std::string> taps;        // module names; empty: every conv/pool/fc module of vgg_small
  std::vector<std::string> transforms{"hflip", "vflip", "rot90", "scale0.7071"};
  int64_t fit_images = 2000;            // images for the regression and the task-trained maps
  int64_t test_images = 2000;           // held-out images for every error
  int64_t m = 3;                        // neighbourhood (1 at FC layers)
  std::vector<double> lambdas{1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  std::vector<int64_t> fs_k{1, 3, 5, 10, 25};
  int64_t task_epochs = 2;              // transformation layer and stitch training
  int64_t batch = 64;
  double lr = 1e-2;                     // the Siamese maps' SGD learning rate
  // Optimiser and learning rate of the task-trained maps (method (c)) and the stitches
  // (train_frozen): SGD (momentum 0.9, weight decay 5e-4; the paper's) or Adam (as the demo's
  // nets were trained). map_lr 0: `lr` with SGD, 1e-3 with Adam.
  FrozenOptimizer map_optimizer = FrozenOptimizer::SGD;
  double map_lr = 0;
  double stitch_lr = 0;                 // the stitches' learning rate; 0: the maps' (map_learning_rate)
  bool task_maps = true;                // train the transformation layer (the slow part)
  bool siamese = true;                  // the Siamese ℓ2 maps, CONV L2 and RELU L2 (§5.1.3)
  int64_t siamese_epochs = 2;           // over precomputed feature pairs (cheap: no ψ)
  bool invariant = true;                // invariant channels of the task-trained map
  bool stitching = true;
  std::vector<std::string> stitch_taps; // taps of the stitching table (default: the conv/pool taps)
  int64_t stitch_seeds = 1;             // stitches seed, seed + 1, ... (§6.1: mean ± SD over 3)
  int64_t stitch_epochs = 0;            // epochs of each stitch; 0: task_epochs
  bool stitch_all_pairs = true;         // every layer pair within the first network (else the diagonal)
  bool replicate_maps = false;          // maps and invariant channels on every replicate, not only replicate 0
  // Early stopping of the task-trained maps and the stitches (net_split.h): > 0 holds out the
  // last fifth of the fitting images, stops after this many epochs without a better held-out
  // loss and keeps the best epoch; task_epochs/stitch_epochs are then caps. 0: fixed epochs.
  int64_t patience = 0;
  double map_init_scale = 1.0;          // Xavier multiplier of the task maps' start (TaskTrainOptions)
  // Rotation sweep (Fig. 11 analogue): extra transforms (e.g. rot15 … rot75) run on the first
  // network only, with the paper's Fig. 11 method (the task-trained map) beside the baselines
  // and ridge; no FS, Siamese maps or invariant channels (the sweep's cost is ~half a transform).
  std::vector<std::string> sweep;
  uint64_t seed = 0;
  bool progress = true;
};

// One row per (net, tap, transform, method): top-1 and top-2 error on the test images, the ℓ2
// ratio of the map (NaN for methods without one), the chosen penalty / k.
struct MapRow {
  std::string net, tap, transform, method;  // original, none, pg, ridge, fs_k<k>, conv_l2, relu_l2, task
  double top1 = 0, top2 = 0, l2 = 0, param = 0;
};
struct InvariantRow {
  std::string net, tap, transform;
  int64_t channels = 0, invariant = 0;
};
// pair: "within" (a network into itself, any two layers), "seed" (replicates of one variant:
// different training seeds, same layer), "variant" (the main networks of two variants, same layer).
struct StitchRow {
  std::string from_net, from_tap, to_net, to_tap, pair;
  uint64_t seed = 0;
  double top1 = 0, baseline_from = 0, baseline_to = 0;
  int64_t epochs_run = 0, best_epoch = 0;
};
struct EquivalenceResult {
  std::vector<MapRow> maps;
  std::vector<InvariantRow> invariant;
  std::vector<StitchRow> stitching;
  std::map<std::string, double> stage_cpu_seconds;  // process CPU seconds (all threads) per stage
};

// The learning rate the maps and stitches train with (map_lr, else the optimiser's default).
double map_learning_rate(const EquivalenceOptions& o);
// The learning rate the stitches train with (stitch_lr, else map_learning_rate).
double stitch_learning_rate(const EquivalenceOptions& o);

// images (N, C, S, S) in [0, 1] and labels int32 (N): the first fit_images train the maps, the
// next test_images measure them (both counts are clipped to what is there, in that order).
EquivalenceResult run_equivalence(const std::vector<EquivalenceNet>& nets, const Tensor& images, const Tensor& labels,
                                  const EquivalenceOptions& o);

// maps.csv, invariant_channels.csv, stitching.csv (atomic).
void write_equivalence(const EquivalenceResult& r, const std::string& dir);

}  // namespace ml::analysis
