// experiments/analysis/rise_study.h — Figure 5 of the mirror study over a rendered stimulus set
// (../shared/science/farzmahdi2024-more.md §3): for each chosen object, the units of one layer
// are read out on its 9 views, the 5C unit (V-shaped view curve best matched by its reversal)
// and the 5D units (positive V correlation, reflection correlation above the 95th percentile)
// are selected, RISE maps are made for the 5C unit and for the 5D units' summed score, and the
// controls are run on them: deletion/insertion at 25 %, the patch shuffle, the blank image,
// the insertion/deletion level sweep of 5C, and the mirror-symmetry index of the 5D units on
// the original, inserted and shuffled images.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/analysis/activations.h"
#include "experiments/analysis/rise.h"
#include "experiments/analysis/rise_controls.h"
#include "experiments/analysis/stimulus_set.h"

namespace ml::analysis {

struct RiseStudyOptions {
  RiseOptions rise;
  std::string layer;                    // the explained layer (an analysis layer name)
  int64_t unit = -1;                    // >= 0: explain this unit for every object instead of 5C's
  std::vector<int64_t> objects;         // indices into set.objects; empty = one per category
  std::vector<int> levels{10, 20, 30, 40, 50, 60, 70, 80, 90};  // 5C sweep
  int control_level = 25;               // the "25 %" of 5A/5B/5D
  int64_t shuffles = 1000;              // patch shuffles per view
  double percentile_5d = 95.0;
  LevelMapping mapping = LevelMapping::Released;
  bool shuffle_legacy_offset = false;
  bool progress = true;
};

// Per object and view: the 5C unit's curves and the 5D units' index.
struct RiseObjectResult {
  int64_t object = 0;                    // index into set.objects
  int64_t unit_5c = -1;                  // -1: no unit with a positive V correlation
  std::vector<int64_t> units_5d;
  // Per view (9): the 5C unit's responses.
  std::vector<double> original, deletion, insertion, shuffle_mean, shuffle_sd, blank;
  // Per level of the sweep: r(insertion at p, original), r(deletion at 100 - p, original).
  std::vector<double> r_insertion, r_deletion;
  // 5D: the mirror-symmetry index of the 5D units' 9x9 RDM (units z-scored over views).
  double index_original = NAN, index_insertion = NAN, index_shuffle = NAN;
  Tensor maps_5c, maps_5d;               // (views, H, W) post-processed maps
  Tensor images;                         // (views, C, H, W) the object's views
};

struct RiseStudyResult {
  std::vector<RiseObjectResult> objects;
  std::string module;                    // the explained module (pre-ReLU by default)
  int64_t units = 0;                     // units in the explained layer
};

// Default objects: the first exemplar of every category.
std::vector<int64_t> first_object_per_category(const StimulusSet& set);

RiseStudyResult run_rise_study(AnalysisNet& net, const StimulusSet& set, const RiseStudyOptions& o);

// Writes curves.csv, levels.csv, summary_5c.csv, index_5d.csv, maps_5c.npy, maps_5d.npy
// (objects, views, H, W) and one overlay PNG per view of every object (overlays/), atomically.
void write_rise_study(const RiseStudyResult& r, const StimulusSet& set, const RiseStudyOptions& o,
                      const std::string& dir);

}  // namespace ml::analysis
