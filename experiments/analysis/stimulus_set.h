// experiments/analysis/stimulus_set.h — a set of objects, each photographed (rendered) from
// the same n yaw angles, as the mirror-symmetry study uses them (SCIENCE.md, "Stimulus set").
//
// The set is described by a manifest CSV with the columns file, category, exemplar, view_deg
// (tools/render_stimuli writes one; the study's released images can be described the same
// way). Rows may come in any order: objects are grouped by (category, exemplar) and each
// object's views are sorted by angle, so view j and view n-1-j (0-based) are mirror images
// when the angles are symmetric about 0, which is checked.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

struct StimulusObject {
  std::string category;
  int64_t exemplar = 0;
  std::vector<int64_t> views;  // image indices (manifest rows), ordered by view angle
};

struct CategoryInfo {
  std::string name;
  // "one_plane", "two_planes", "none" (tools/render_stimuli's families; stimuli.json beside
  // the manifest), or "unknown" for a user's category the set does not describe.
  std::string symmetry = "unknown";
  bool mirror_symmetric() const { return symmetry == "one_plane" || symmetry == "two_planes"; }
};

struct StimulusSet {
  std::string manifest;                // the CSV it was read from
  std::vector<std::string> files;      // per image, absolute or relative to the current folder
  std::vector<std::string> category;   // per image
  std::vector<int64_t> exemplar;       // per image
  std::vector<double> view_deg;        // per image
  std::vector<double> views_deg;       // the n angles every object is seen from, ascending
  std::vector<CategoryInfo> categories;  // in order of first appearance
  std::vector<StimulusObject> objects;   // category order, then exemplar
  int64_t size() const { return static_cast<int64_t>(files.size()); }
};

// Reads and checks a manifest: every object has the same odd number of views, the same
// angles, symmetric about 0 (the middle one frontal). Errors name the manifest and row.
// Category symmetry classes come from stimuli.json in the manifest's folder when present.
StimulusSet read_stimulus_set(const std::string& manifest);

// Images `rows` of the set as float32 (B, channels, size, size) in [0, 1] (gray replicated
// when channels = 3; bilinear resize when the files have another size).
Tensor load_stimuli(const StimulusSet& set, const std::vector<int64_t>& rows, int64_t channels, int64_t size);

}  // namespace ml::analysis
