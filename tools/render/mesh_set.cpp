#include "tools/render/mesh_set.h"

#include "engine/error.h"
#include "tools/render/asymmetry.h"
#include "tools/render/families.h"
#include "tools/render/manifest.h"
#include "tools/render/obj.h"

namespace ml::render {

namespace {

void add_exemplar(MeshSet& set, Mesh mesh, const Camera& camera, int64_t category, int64_t exemplar) {
  set.extents.push_back(frame_extent(mesh, camera));
  set.meshes.push_back(std::move(mesh));
  for (double v : set.views) {
    set.items.push_back({category, exemplar, v});
    set.mesh_of_item.push_back(set.meshes.size() - 1);
  }
}

}  // namespace

Mesh prepare_mesh(const Mesh& raw, double asymmetry, const std::string& what) {
  return normalized(with_asymmetry(normalized(raw, what), asymmetry), what);
}

void add_family(MeshSet& set, const std::string& family_name, int exemplars, uint64_t seed, double asymmetry,
                const Camera& camera) {
  const FamilyInfo& info = family(family_name);  // throws for an unknown name
  ML_CHECK(exemplars >= 1, "add_family: --exemplars must be >= 1, got ", exemplars);
  for (const auto& c : set.categories)
    ML_CHECK(c.name != info.name, "add_family: family '", info.name, "' is listed twice");
  set.categories.push_back({info.name, info.symmetry, "procedural"});
  const auto category = static_cast<int64_t>(set.categories.size() - 1);
  for (int e = 0; e < exemplars; ++e) {
    const std::string what = "family '" + info.name + "' exemplar " + std::to_string(e);
    add_exemplar(set, prepare_mesh(make_exemplar(info.name, seed, e), asymmetry, what), camera, category, e);
  }
}

void add_obj(MeshSet& set, const std::string& path, const std::string& category, double asymmetry,
             const Camera& camera) {
  check_category_name(category, "OBJ file '" + path + "'");
  int64_t c = -1;
  for (size_t k = 0; k < set.categories.size(); ++k)
    if (set.categories[k].name == category) c = static_cast<int64_t>(k);
  if (c < 0) {
    set.categories.push_back({category, "unknown", "obj"});
    c = static_cast<int64_t>(set.categories.size() - 1);
  }
  ML_CHECK(set.categories[c].source == "obj", "OBJ file '", path, "': category '", category,
           "' is a procedural family; give the OBJ files another --obj-category");
  int64_t exemplar = 0;
  for (const auto& it : set.items) exemplar += it.category == c && it.view_deg == set.views[0];
  add_exemplar(set, prepare_mesh(load_obj(path), asymmetry, "OBJ file '" + path + "'"), camera, c, exemplar);
}

ImageSource render_source(const MeshSet& set, const RenderOptions& options) {
  validate(options);
  return [&set, options](size_t i) {
    RenderOptions o = options;
    o.camera.extent = set.extents[set.mesh_of_item[i]];
    return render(set.meshes[set.mesh_of_item[i]], set.items[i].view_deg, o);
  };
}

}  // namespace ml::render
