// experiments/analysis/encoding_study.h — the encoding study on SimVox (eickenberg2017-encoding.md
// §3–§6): stimuli -> per-layer features -> simulated voxels (files in the real-data layout, truth
// beside) -> ridge for every layer (penalty per voxel, bagged predictor, permutation null, BH FDR)
// -> fingerprints -> retinotopy and category contrasts synthesised through the fitted models ->
// the eight pass checks of §6, each with its measured value (checks.json, report by
// tools/plot_encoding.py).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "experiments/analysis/activations.h"

namespace ml::analysis {

struct EncodingStudyOptions {
  std::string preset = "tiny";    // tiny | standard | gpu (simvox.h)
  NetSpec net;                    // empty weights and not untrained: the preset's untrained net
  std::string out;
  std::string items_dir;          // Fashion-MNIST folder ("" = Debian's)
  uint64_t seed = 0;
  int64_t batch = 64, max_features = 25000;
  std::string rf_sign = "blank";  // conv voxels' channel-weight signs: blank (stimulation of the field
                                  // raises the response, simvox.h; the default since session 8, with the
                                  // composite-trained net) | positive (all >= 0, sessions 3-7)
  bool data_only = false;         // simulate_fmri: write the SimVox files and stop
  bool parity = true;             // pass check 7's float32/float64 and primal/dual reruns
  bool plot = true;
};

// Runs the study and returns the summary written to <out>/encoding.json.
nlohmann::json run_encoding_study(const EncodingStudyOptions& o);

}  // namespace ml::analysis
