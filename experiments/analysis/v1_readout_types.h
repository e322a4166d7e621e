// experiments/analysis/v1_readout_types.h — cell types from the readouts of an equivariant V1
// model (science file §6, pass checks 3 and 4) and why they can be hard to read off.
//
// The pinned descriptor (check 3): a neuron's feature weights w_n as [R rotations x F features]
// (channel = r*F + f), rolled along the rotations so that the rotation with the largest energy
// sum_f w_{r,f}^2 comes first, then scaled to unit L2 norm; k-means (true K, 50 restarts) on these.
//
// A readout is not identifiable from the data wherever the core's channels are linearly
// dependent: if the R copies of a feature give the same map (a rotation-invariant feature, e.g. a
// centre-surround one), any split of weight among them predicts the same, and the L1 readout
// penalty ||m||_1 ||w||_1 then favours a single copy (a peaked readout for a cell that is flat in
// truth); if copy r + R/2 of a feature is minus copy r (an odd, 360-degree feature), +w on copy r
// and -w on copy r + R/2 are the same cell, and which of the two the roll puts first flips the
// sign of the whole descriptor. Two diagnostics remove these freedoms (not pinned; reported beside
// the pinned values):
//   - drive space: v_n = G^{1/2} w_n, G the channels' covariance at one map position over images
//     and positions, so |v_n - v_m| is the RMS difference of the two readouts' linear drives and
//     equivalent readouts coincide; rolled and normalised as above.
//   - sign alignment: the rolled descriptor times the sign of its largest-magnitude weight at the
//     first (peak) rotation.
// And an upper bound from the truth: readouts fitted by least squares on the simulation's own
// filters (even, odd, energy, DoG at R orientations), i.e. what a perfect core allows.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "experiments/analysis/v1_simulate.h"

namespace ml::analysis {

struct RolledReadouts {
  std::vector<double> rolled;  // (N, R*F): rolled to the peak-energy rotation, unit norm
  std::vector<double> plain;   // (N, R*F): unrolled, unit norm
  std::vector<int> peak;       // per neuron: the rotation moved to the front
  std::vector<double> energy;  // (N, R): sum_f w_{r,f}^2 before normalisation
};

// w: (R*F, N) as FactorisedReadout stores its feature weights (channel-major). With align_sign,
// each rolled descriptor is multiplied by the sign of its largest-|.| entry at rotation 0.
RolledReadouts roll_readouts(const std::vector<double>& w, int64_t N, int64_t R, int64_t F, bool align_sign);

// v = G^{1/2} w for every neuron; G (C, C) symmetric positive semi-definite (negative eigenvalues
// from rounding are clamped to 0), w (C, N). Returns (C, N).
std::vector<double> drive_space_readouts(const std::vector<double>& w, int64_t C, int64_t N, const std::vector<double>& G);

// From a channel covariance G (R*F, R*F), per feature f and rotation shift s = 0..R-1, the mean
// over r of corr(channel (r, f), channel ((r + s) mod R, f)): ~1 at every s for a
// rotation-invariant feature, -1 at s = R/2 for an odd one. Returns (F, R).
std::vector<double> rotation_copy_correlation(const std::vector<double>& G, int64_t R, int64_t F);

// Upper bound on what the readouts can show: per neuron, the min-norm least-squares weights of its
// true pre-nonlinearity 1.5 z - 1 (z: its drive standardised over `images`) on the drives of the
// simulation's four filters (F = 4: even Gabor, odd Gabor, their energy, the DoG) at its own
// centre, at R orientations theta_r = -2 pi r / R (the model's alpha_r turns counter-clockwise,
// the simulation's theta clockwise). images (n, H, W). Returns (4R, N); `covariance` (4R, 4R)
// averaged over the neurons' banks when not null (for drive_space_readouts).
//
// rectified = false: a linear core (the features are the filters' drives). Its copies are exactly
// collinear (the odd Gabor at r + R/2 is minus the one at r), so min-norm splits an odd cell's
// weight as +w/2, -w/2 and check 3's roll picks either sign.
// rectified = true: the features are the cells' own rectification of each standardised channel
// drive, softplus(1.5 z_c - 1) (a core whose channels are unit-gain simulated cells, like the
// model's softplus core), and the target the neuron's rate / gain, softplus(1.5 z - 1). An odd
// channel's rectified copies at r and r + R/2 are then different features, as in the model.
std::vector<double> ideal_core_readouts(const V1Truth& truth, const Tensor& images, int64_t R,
                                        std::vector<double>* covariance = nullptr, bool rectified = false);

}  // namespace ml::analysis
