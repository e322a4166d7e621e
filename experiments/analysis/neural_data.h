// experiments/analysis/neural_data.h — a user's recordings (or simulate_population's) in a
// plain format, for the alignment with face-patch populations (farzmahdi2024-more.md §4):
//
//   DIR/manifest.csv   one row per stimulus, columns file, identity, view_deg ("view" also
//                      accepted); file is the image the model sees (relative to DIR or
//                      absolute); row i is stimulus i of every array.
//   DIR/<area>.npy     one array per area (ML_MF.npy, AL.npy, AM.npy, ...): float32, int32 or
//                      uint8, (stimuli, neurons) or (stimuli, neurons, repeats); repeats are
//                      averaged. The area's name is the file's stem.
//
// Everything is checked before any analysis runs, and each error names the file and what is
// wrong: a manifest row without an image (empty name or missing file), an array whose first
// dimension is not the manifest's stimulus count (so areas with different counts are refused),
// a NaN or infinite response, a neuron whose mean response is the same for every stimulus
// (its RDM contribution would be undefined once z-scored), and views that do not pair with
// mirror partners (every identity seen at view v must also be seen at -v, once).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/analysis/rsa.h"

namespace ml::analysis {

struct NeuralArea {
  std::string name, path;
  RowMatrixXd responses;  // (stimuli, neurons), averaged over repeats
  int64_t repeats = 1;
};

struct NeuralStimuli {
  std::string manifest;
  std::vector<std::string> files;     // resolved paths
  std::vector<std::string> identity;  // per stimulus
  std::vector<double> view_deg;       // per stimulus
  std::vector<int64_t> mirror;        // per stimulus: the row with the same identity at -view
  std::vector<std::string> identities;  // in order of first appearance
  std::vector<double> views;            // the distinct views, ascending
  int64_t size() const { return static_cast<int64_t>(files.size()); }
};

struct NeuralData {
  NeuralStimuli stimuli;
  std::vector<NeuralArea> areas;
};

// check_images: refuse a row whose image file does not exist (off when only the arrays are used).
NeuralStimuli read_neural_manifest(const std::string& path, bool check_images = true);

// One (stimuli, neurons[, repeats]) array, validated against n stimuli.
NeuralArea read_neural_area(const std::string& npy_path, const std::string& name, int64_t n);

// DIR/manifest.csv and the areas `areas` (empty: every DIR/*.npy, by name).
NeuralData read_neural_data(const std::string& dir, const std::vector<std::string>& areas, bool check_images = true);

// The responses of one area checked as read_neural_area checks a file (used on simulated arrays
// too): NaN/infinite values and constant neurons are errors naming `what`.
void validate_responses(const RowMatrixXd& r, const std::string& what);

}  // namespace ml::analysis
