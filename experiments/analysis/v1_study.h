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
};

nlohmann::json run_v1_study(const V1StudyConfig& c);

// Orientation (radians, in [0, pi)) preferred by each neuron of a fitted model, from its
// responses to full-field gratings (36 orientations x 8 phases, wavelength 6 px); the grating
// at theta varies along (cos theta, sin theta) in (column, row) pixels as the simulation's cells.
std::vector<double> grating_orientation(models::V1Model& model, int64_t height, int64_t width, double pixel_mean,
                                        double pixel_sd);
// The same measurement on the simulation's true cells (phase-averaged |drive| for the linear
// types, the energy for T3/T5): their preference differs from theta by a few degrees (the 9x9
// zero-mean windows and the 5-degree grid), so model errors are also measured against it.
std::vector<double> cell_grating_orientation(const V1Truth& truth, int64_t height, int64_t width);

}  // namespace ml::analysis
