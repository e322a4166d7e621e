// experiments/analysis/msvt_study.h — the mirror-symmetry analysis of one network over a
// stimulus set (SCIENCE.md, "Activations and RDMs" and "The index"):
//   1. every unit z-scored across all images of the set, constant units dropped;
//   2. per object, the n x n RDM of its views;
//   3. the index per object under both definitions (msvt.h), then per category and for the
//      mirror-symmetric families pooled: mean, SEM, n;
//   4. the null floor of each definition, per layer, so a reader can tell an effect from the
//      floor: `shuffled_views` (each object's views in a random order: the layer's own units
//      and statistics, no view structure) and `noise` (Gaussian representations, n views x
//      the layer's unit count, whose released-definition index is -1/8 analytically).
// Activations are streamed twice (statistics, then RDMs), so memory does not grow with the set.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "experiments/analysis/msvt.h"
#include "experiments/analysis/stimulus_set.h"

namespace ml::analysis {

// Activations of the images `rows` (manifest indices): one (B, U_l) or (B, C, H, W) tensor per
// layer, on the CPU.
using ActivationFn = std::function<std::vector<Tensor>(const std::vector<int64_t>& rows)>;

struct MsvtOptions {
  uint64_t seed = 0;              // the null draws
  int64_t shuffles_per_object = 4;
  int64_t noise_draws = 200;
  int64_t batch_objects = 16;     // objects per forward batch (x n views images)
  bool progress = true;
  // false: Fig. 2-S7 (released figureS17.m) -- the RDMs are built from the raw activations of
  // every unit, constant ones included, without step 1's z-scoring; the shuffled-view floor
  // shuffles the same raw rows. The noise floor is unchanged (it has no units to scale).
  bool zscore = true;
};

struct MsvtLayer {
  std::string name;
  int64_t units = 0, informative_units = 0;
  std::vector<Tensor> rdms;                     // per object (n, n), set.objects order
  std::vector<double> index[2];                 // [definition][object]
  std::vector<double> shuffled[2], noise[2];    // [definition][draw]
};

struct MsvtResult {
  std::vector<MsvtLayer> layers;
  bool zscored = true;  // MsvtOptions::zscore
};

const char* definition_name(MsvtDefinition d);  // "released", "no_diagonal"

MsvtResult run_msvt(const StimulusSet& set, const std::vector<std::string>& layers, const ActivationFn& activations,
                    const MsvtOptions& options);

// Writes msvt.csv, msvt_floor.csv, msvt_exemplars.csv, rdms.npy (L, objects, n, n) and
// rdms.json into `dir` (every file atomically). `model` labels the rows.
void write_msvt(const MsvtResult& r, const StimulusSet& set, const std::string& model, const std::string& dir);

}  // namespace ml::analysis
