// experiments/analysis/v1_study.h — the fit_v1 study (issue 21): fits the rotation-equivariant
// model, the CNN controls, the true-rate model and the shuffled-response control to a V1 dataset
// (simulated or converted), scores them (science file §3) and, where the dataset carries the
// simulation's truth, measures how well the cells' types, orientations and positions are
// recovered and evaluates §6's seven pass checks.
//
// Outputs in `out`: results.json (every figure and each pass check with its measured value and
// verdict), neurons.csv (per neuron: truth, scores, recovered orientation, position, cluster),
// log_<model>.csv (the training schedule's validation log), <model>.safetensors (fitted weights),
// predictions_<model>.npy (test predictions, scaled responses' units). Resume: a model whose
// weights and log are already in `out` is loaded instead of refitted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/analysis/v1_simulate.h"
#include "experiments/analysis/v1_training.h"
#include "models/v1_model.h"

namespace ml::analysis {

struct V1FitPreset {
  std::string name;
  models::V1CoreOptions equivariant;             // the equivariant core
  std::vector<std::pair<std::string, models::V1CoreOptions>> cnns;  // named CNN controls
  std::string equal_channel_cnn;                 // which CNN has the equivariant core's channel count
  V1FitOptions fit;
  float smooth = 0.f, sparse = 0.f, readout = 0.f;
  // Sweeps (run_v1_sweep): last-layer feature counts of the equivariant core (Fig. 2) and
  // training-data fractions (§6 check 6, "the gap grows at 12.5-50 % data").
  std::vector<int64_t> sweep_features;
  std::vector<double> sweep_fractions{0.125, 0.25, 0.5, 1.0};
};
// "ci", "small", "paper" (science file §2 and §6).
V1FitPreset v1_fit_preset(const std::string& name);

struct V1StudyConfig {
  std::string data_dir, out, preset = "ci";
  uint64_t seed = 0;
  int threads = 0;
  int64_t max_steps = 0;        // 0: the preset's
  double time_limit_s = 0;      // per model; 0: none
  bool progress = true;
  bool resume = false;
  bool skip_cnns = false;       // fit only the equivariant model and the controls without a core search
  bool bn_tied_rotations = false;
  std::string device = "cpu";   // cpu | cuda: where the models are fitted
  int64_t last_features = 0;    // the equivariant core's last-layer F (0: the preset's)
  double train_fraction = 1.0;  // fit on the first fraction of the training images (0, 1]
  bool equal_channel_cnn_only = false;  // of the CNN controls, fit only the equal-channel one
  bool skip_shuffled = false;   // no shuffled-response control (its check is then absent)
  // fit_v1 --centre-features W: weight of models::centring_penalty on every core layer (not in the
  // paper; 0 = the paper's model). Applies to every fitted model, controls included.
  float centring = 0.f;
  // fit_v1 --centre-composite W: weight of models::composite_centring_penalty (the composed
  // receptive field's energy centroid of every last-layer channel; not in the paper; 0 = off).
  float composite_centring = 0.f;
  // fit_v1 --centre-blank-rf W: weight of models::blank_rf_centring_penalty (the centroid of every
  // last-layer channel's gradient receptive field at a blank image; not in the paper; 0 = off).
  float blank_rf_centring = 0.f;
  // fit_v1 --grating-centre-window: side (odd, px) of the square around the peak of each model
  // neuron's gradient-RF energy over which its centre is taken for the in-silico grating types
  // (peak_window_centroid); 9 = the simulated cells' extent. The 5 x 5 result is reported beside.
  int64_t grating_centre_window = 9;
  std::vector<double> sweep_values;  // run_v1_sweep: these feature counts / fractions instead of the preset's
};

nlohmann::json run_v1_study(const V1StudyConfig& c);

// A sweep of run_v1_study, one sub-folder of c.out per point, collected in c.out/sweep_<kind>.json:
//   "features": the equivariant model (no CNNs, no shuffled control) for each of the preset's
//               sweep_features last-layer counts (Fig. 2: performance vs number of features);
//   "data":     the equivariant model and the equal-channel CNN for each sweep_fractions entry.
// Per point: test r, FEVE, median r(prediction, true rate), conv parameters, ARI where measured.
nlohmann::json run_v1_sweep(const V1StudyConfig& c, const std::string& kind);

// Orientation (radians, in [0, pi)) preferred by each neuron of a fitted model, from its
// responses to full-field gratings (36 orientations x 8 phases, wavelength 6 px); the grating
// at theta varies along (cos theta, sin theta) in (column, row) pixels as the simulation's cells.
std::vector<double> grating_orientation(models::V1Model& model, int64_t height, int64_t width, double pixel_mean,
                                        double pixel_sd);
// Where each core output channel looks relative to its own map position: the centroid, minus the
// map centre, of the squared gradient of the channel's unit at the map centre with respect to the
// image, summed over the first `k` of `images` (n, 1, H, W); BN in inference mode. (drow, dcol)
// per channel. The core and the readout masks share a translation freedom, so argmax |m_n| marks a
// cell's centre only where this offset is ~0.
// With `energy`, also each channel's total squared gradient (the weight of its offset when the
// offsets of several channels are combined for one neuron).
std::vector<std::pair<double, double>> channel_rf_offset(models::V1Model& model, const Tensor& images, int64_t k,
                                                         std::vector<double>* energy = nullptr);
// The receptive-field centre of each neuron from its readout (our position measure; the pinned
// one is argmax |m_n| alone): the mask's peak (row, col) plus the offsets of the channels it reads,
// weighted by w_nc^2 S_c, where S_c is channel c's gradient energy: the centroid of the neuron's
// linearised RF energy sum_c w_nc^2 |grad Phi_c|^2 when the mask is its peak. weight (C, N) and
// mask (HW, N) as stored by FactorisedReadout.
std::vector<std::pair<double, double>> readout_rf_centre(const std::vector<float>& weight, const std::vector<float>& mask,
                                                         int64_t C, int64_t N, int64_t width,
                                                         const std::vector<std::pair<double, double>>& offset,
                                                         const std::vector<double>& energy);

// The same measurement on the simulation's true cells (phase-averaged |drive| for the linear
// types, the energy for T3/T5): their preference differs from theta by a few degrees (the 9x9
// zero-mean windows and the 5-degree grid), so model errors are also measured against it.
std::vector<double> cell_grating_orientation(const V1Truth& truth, int64_t height, int64_t width);

}  // namespace ml::analysis
