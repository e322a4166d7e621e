// experiments/analysis/v1_grating_tuning.h — cell types from in-silico grating experiments: each
// neuron's responses to full-field gratings (orientation x spatial phase), as a physiologist
// would record them, aligned by the rotation that brings the neuron's preferred grating to a
// canonical pose. A descriptor of what a neuron (or a fitted model neuron) responds to, not of
// how its readout is parameterised; not pinned by science file §6 (check 3 pins the rolled
// readout weights); fit_v1 reports it beside the pinned value.
//
// Why: the readout weights of a fitted equivariant model need not show a cell's type. A core
// feature whose receptive field sits off its map position is read through a mask moved by that
// offset, and as the offset turns with the feature's rotated copies, the neuron's peak rotation
// then encodes where its mask sits rather than an orientation (see v1_readout_types.h). The
// model's responses to stimuli do not depend on that parameterisation.
//
// Conventions. Grating (o, p): 0.5 + 0.35 cos(k (x cos theta_o + y sin theta_o) + phi_p),
// k = 2 pi / wavelength, theta_o = pi o / O (so orientation is mod 180 degrees and the direction
// of the phase gradient is absorbed into the phase), phi_p = 2 pi p / P, x the column and y the
// row. Phases are re-referenced to a neuron's centre c = (row, col): the grating's phase there is
// psi = phi_p + k (c_col cos theta_o + c_row sin theta_o); responses at psi_q = 2 pi q / P are
// read from the P samples by trigonometric interpolation (exact for responses band-limited to
// harmonics < P/2 of the phase). A turn of the image by 180 degrees about c maps the grating
// (theta, psi) to (theta, -psi), so a neuron's pose is fixed by (a) rolling the orientation axis so
// that the phase-averaged tuning peaks at o = 0 and (b) reflecting psi -> -psi when the first
// phase harmonic at that orientation points into (pi, 2 pi), i.e. the canonical preferred phase
// lies in [0, pi]: an even cell prefers psi ~ 0, an odd one pi / 2, whichever of its two
// equivalent descriptions (theta, +psi) or (theta + pi, -psi) one starts from. The aligned
// responses are centred (mean over all gratings removed) and scaled to unit L2 norm, so gain and
// baseline drop out.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "experiments/analysis/v1_simulate.h"

namespace ml::analysis {

// (O*P, H, W) gratings as above (mean 0.5, amplitude 0.35: SD ~0.25, as the training images).
std::vector<float> v1_gratings(int64_t O, int64_t P, int64_t H, int64_t W, double wavelength);

// The centre c of each neuron's receptive field from an energy map (N, H, W), >= 0 (fit_v1: the
// squared gradient of the predicted rate with respect to the image, summed over test images): the
// centroid of the map over the window x window square around its largest value, clipped at the
// image edges; (row, col) per neuron; the peak pixel itself where the window holds no energy.
// window odd, >= 1. The window must span the whole RF: an odd cell's map has two lobes lambda / 2
// apart (3 px at the 6-px wavelength) and its peak is one of them, so a window narrower than the
// cell (5 x 5 for the 9 x 9 cells) leaves most of the other lobe out and puts c ~1 px towards the
// peak lobe: 60 degrees of grating phase per px, enough to move odd cells' re-referenced
// responses towards an even cell's (tests/test_v1_grating_tuning.cpp measures both windows).
std::vector<std::pair<double, double>> peak_window_centroid(const std::vector<double>& energy, int64_t N, int64_t H,
                                                            int64_t W, int64_t window);

// resp (O*P, N) to v1_gratings(O, P, ...); centre (row, col) per neuron. Returns (N, O, P): the
// responses at phase psi_q = 2 pi q / P measured at the neuron's centre. P even, >= 4.
std::vector<double> grating_phases_at_centre(const std::vector<double>& resp, int64_t N, int64_t O, int64_t P,
                                             const std::vector<std::pair<double, double>>& centre, double wavelength);

struct AlignedTuning {
  std::vector<double> descriptor;    // (N, O*P): aligned, centred, unit norm
  std::vector<int> peak;             // orientation index rolled to the front
  std::vector<int> reflected;        // 1 where psi -> -psi was applied
  std::vector<double> preferred_phase;  // canonical preferred phase in [0, pi] (radians), first harmonic
  std::vector<double> max_over_min;  // max / min over orientations of the phase-averaged tuning
};

// rel (N, O, P) from grating_phases_at_centre. With reflect = false step (b) is skipped (a
// diagnostic: odd cells then split by which of their two descriptions they were measured in).
AlignedTuning align_grating_tuning(const std::vector<double>& rel, int64_t N, int64_t O, int64_t P, bool reflect = true);

// The simulated cells' own rates on gratings: lambda = A softplus(1.5 z - 1), z the drive
// standardised over `reference` images (n, H, W) (the simulation uses 10,000 images of its own;
// any large sample of the training distribution gives the same z to within sampling error).
// Returns (O*P, N) for v1_gratings(O, P, H, W, 6).
std::vector<double> cell_grating_rates(const V1Truth& truth, int64_t H, int64_t W, const Tensor& reference, int64_t O,
                                       int64_t P);

}  // namespace ml::analysis
