// tools/render/mesh_set.h — the objects of a rendered stimulus set: procedural family
// exemplars and user OBJ meshes, each prepared once (normalised, deformed by the asymmetry
// option, normalised again) and rendered at the study's 9 views.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tools/render/mesh.h"
#include "tools/render/rasterizer.h"
#include "tools/render/stimulus_set.h"

namespace ml::render {

struct MeshSet {
  std::vector<CategorySpec> categories;
  std::vector<Mesh> meshes;              // one per exemplar, ready to render
  std::vector<double> extents;           // frame_extent of each mesh (rasterizer.h)
  std::vector<StimulusItem> items;       // one per image
  std::vector<size_t> mesh_of_item;      // items[i] shows meshes[mesh_of_item[i]]
  // The yaws every exemplar is rendered at (set before adding exemplars); render_stimuli
  // --views changes them, e.g. Leibo et al.'s 39 training yaws -95 ... 95 (Fig. 2-S8).
  std::vector<double> views = study_views();
};

// normalized -> with_asymmetry(A) -> normalized (asymmetry.h); errors name `what`.
Mesh prepare_mesh(const Mesh& raw, double asymmetry, const std::string& what);

// Adds `exemplars` exemplars of the procedural family `family` (families.h) as a new category.
// `camera` (its distance and elevation) is used to fit each exemplar into the frame.
void add_family(MeshSet& set, const std::string& family, int exemplars, uint64_t seed, double asymmetry,
                const Camera& camera);

// Adds the OBJ file as the next exemplar of `category` (a new category "unknown"-symmetric
// if it is not there yet; an existing procedural category of that name is an error).
void add_obj(MeshSet& set, const std::string& path, const std::string& category, double asymmetry,
             const Camera& camera);

// Renders item i of the set with the given options (camera.extent is each mesh's own).
ImageSource render_source(const MeshSet& set, const RenderOptions& options);

}  // namespace ml::render
