// experiments/analysis/stitching.h — equivalence of two networks by stitching (Lenc & Vedaldi
// §6.1; ../shared/science/lenc-vedaldi-equivariance.md §6): network A up to layer i, a learned
// linear map E (a 1 x 1 convolution with biases; dense at fully connected layers), network B
// from layer j on — the "Franken-network" ψ_B(E φ_A(x)). Both networks stay frozen; E starts
// from Xavier noise (also when A = B and i = j) and is trained with B's task loss. Where the
// two layers' spatial sizes differ, φ_A is first resampled to B's size: nearest down-sampling
// or bilinear up-sampling (the paper's rule).
#pragma once
#include <cstdint>
#include <string>

#include "engine/tensor.h"
#include "experiments/analysis/net_split.h"

namespace ml::analysis {

struct StitchOptions {
  // train_frozen's optimiser: SGD (the paper's, pinned) or Adam (as the demo's nets were trained).
  FrozenOptimizer optimizer = FrozenOptimizer::SGD;
  double lr = 1e-2;  // 1e-3 with Adam (the study's default for it)
  int64_t epochs = 1, batch = 64;  // epochs: a cap when patience > 0
  uint64_t seed = 0;  // E's initialisation and the data order
  bool progress = false;
  // Early stopping (net_split.h): patience > 0 holds out the last `validation` share of the
  // training rows, stops after `patience` epochs without a better held-out loss and keeps the
  // best epoch's E; 0 trains all rows for exactly `epochs`.
  int64_t patience = 0;
  double validation = 0.2;
  // Train E between φ_A and φ_B standardised per channel, folded into E and its bias at the end
  // (the same affine map; better conditioned SGD, see stitching.cpp). false: E on raw features.
  bool standardise = true;
};

struct Stitch {
  Tensor weight, bias;  // (C_B, C_A, 1, 1), (C_B)
  int64_t out_h = 0, out_w = 0;  // B's spatial size (0 at fully connected layers)
  int64_t epochs_run = 0, best_epoch = 0;  // what training did (early stopping keeps best_epoch)
};

// φ_A resampled to (h, w): nearest when shrinking, bilinear (align-corners false) when growing.
Tensor resample_sites(const Tensor& phi, int64_t h, int64_t w);
// E φ_A(x) in B's layout.
Tensor apply_stitch(const Stitch& s, const Tensor& phi_a);

// Trains E on images (N, C, S, S) in [0, 1] with B's labels; A and B may be the same network.
// Throws, writing nothing, when the loss diverges.
Stitch train_stitch(AnalysisNet& a, const NetSplit& sa, AnalysisNet& b, const NetSplit& sb, const Tensor& images,
                    const Tensor& labels, const StitchOptions& o);
// Top-k error of the Franken-network on images/labels.
double stitch_error(AnalysisNet& a, const NetSplit& sa, const NetSplit& sb, const Stitch& s, const Tensor& images,
                    const Tensor& labels, int64_t k, int64_t batch = 256);

// φ_A of images (N, C, S, S) in [0, 1], on the CPU: computed once, it serves every seed of the
// stitch and every target layer (the study's stitches then run only E and ψ_B per step).
Tensor stitch_features(AnalysisNet& a, const NetSplit& sa, const Tensor& images, int64_t batch = 256);
// train_stitch from φ_A of the training images (phi_a (N, C, H, W) or (N, D), named a_tap in
// messages); probe: images (P, C, S, S) in [0, 1] whose φ_B gives B's layer shape and, with
// `standardise`, its per-channel mean and SD (a few hundred images suffice).
Stitch train_stitch_from_phi(const Tensor& phi_a, const std::string& a_tap, AnalysisNet& b, const NetSplit& sb,
                             const Tensor& probe, const Tensor& labels, const StitchOptions& o);
double stitch_error_from_phi(const Tensor& phi_a, const NetSplit& sb, const Stitch& s, const Tensor& labels, int64_t k,
                             int64_t batch = 256);

}  // namespace ml::analysis
