// experiments/analysis/alignment_study.h — a network's layers against face-patch populations
// (Farzmahdi et al. 2024, Fig. 6 and 2—S4; farzmahdi2024-more.md §4): per layer and area, the
// RDM correlation with its stimulus-bootstrap interval, the area's split-half noise ceiling,
// and the Shapley split of the correlation into reflection-invariant and -sensitive parts
// (shapley.h), every bootstrap sample shared by all layers, areas and coalitions (paired).
// Also each area's and layer's mirror-symmetry index over identities (2—S4: per identity the
// views' RDM, frontal column dropped, msvt.h's released definition), and, for simulated data
// (truth.json beside the arrays, simulate_population), verdicts on the known answer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/analysis/activations.h"
#include "experiments/analysis/neural_data.h"
#include "experiments/analysis/rsa.h"
#include "experiments/analysis/shapley.h"

namespace ml::analysis {

struct AlignmentOptions {
  int64_t bootstrap = 1000;  // samples (>= 1)
  int64_t splits = 100;      // noise-ceiling splits (>= 1)
  uint64_t seed = 0;
  RdmDistance distance = RdmDistance::Correlation;
  RdmComparison comparison = RdmComparison::Pearson;
  ShapleySum shapley = ShapleySum::Features;
  bool zscore_neural = false;  // z-score each neuron over the stimuli before its RDM (models always are)
  // false (pinned): units are z-scored once over all stimuli, so a bootstrap sample indexes the
  // full RDMs. true: inside every sample the units (and, with zscore_neural, the neurons) are
  // z-scored again over the drawn stimuli (draw counts as weights; units constant within the
  // sample dropped) and every RDM is rebuilt: 3 Gram matrices per layer and sample, so it costs
  // (samples x the layers' units x n^2) multiply-adds.
  bool rezscore_bootstrap = false;
};

// One layer's activations for the manifest's stimuli and for their horizontal flips: (n, U).
struct LayerActivations {
  std::string name;
  RowMatrixXf a, af;
};

struct AlignmentRow {
  std::string layer, area;
  int64_t units = 0;
  BootstrapSummary r, phi_i, phi_s;
  double v_i = 0, v_s = 0, v_is = 0;  // coalition values on the full stimulus set
};

struct AreaSummary {
  std::string name;
  int64_t neurons = 0, repeats = 1;
  NoiseCeiling ceiling;
  double mirror_index = 0;  // mean over identities (2—S4); NaN-free: see index_note
  std::string index_note;   // why no index was computed, if so
};

struct AlignmentResult {
  std::vector<AlignmentRow> rows;     // layer-major, then area
  std::vector<AreaSummary> areas;
  std::vector<double> layer_index;    // per layer, the same index on the model's RDM
  std::vector<std::string> layers;
  Eigen::MatrixXd neural_rdm_stack;   // (areas * n, n)
  int64_t samples = 0;
};

AlignmentResult run_alignment(const NeuralData& data, const std::vector<LayerActivations>& layers, const AlignmentOptions& o);

// The mirror-symmetry index of an (n, n) RDM over the stimuli, per identity (views ascending,
// odd count with 0 in the middle), averaged; returns false with a reason when the views do not
// allow it.
bool identity_mirror_index(const NeuralStimuli& s, const Eigen::MatrixXd& rdm, double& index, std::string& why);

// Verdicts for simulated data: truth = simulate_population's truth.json. Each verdict has a
// claim, the measured values, and "agrees" true/false.
nlohmann::json known_answer_verdicts(const AlignmentResult& r, const nlohmann::json& truth);

// alignment.csv, areas.csv, neural_rdms.npy (areas, n, n) into dir (atomically).
void write_alignment(const AlignmentResult& r, const NeuralData& data, const std::string& model, const std::string& dir);

// Every layer's activations for the images `files` and their horizontal flips (hflip of the
// loaded image), `batch` images per forward pass.
std::vector<LayerActivations> model_activations(AnalysisNet& net, const std::vector<std::string>& files,
                                                const std::vector<std::string>& layers, int64_t batch);

// The whole program (neural_alignment_main.cpp is its command line): reads the data, runs the
// net, writes alignment.csv, areas.csv, neural_rdms.npy, alignment.json (options, timings,
// verdicts when <neural>/truth.json exists) and, unless `plot` is false, the figure and
// report section (tools/plot_alignment.py).
struct AlignmentProgram {
  NetSpec net;
  std::vector<std::string> layers;  // empty: all of the model's
  std::string neural, out, label;
  std::vector<std::string> areas;
  std::string preset = "cpu";  // ci | cpu | full: bootstrap and split counts unless set explicitly
  int64_t batch = 32;
  AlignmentOptions options;
  bool bootstrap_set = false, splits_set = false;
  bool plot = true, progress = true;
};
// Applies the preset to o.options (bootstrap/splits unless *_set).
void apply_alignment_preset(AlignmentProgram& p);
nlohmann::json run_alignment_program(AlignmentProgram p);

}  // namespace ml::analysis
