#include "tools/render/image_set.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/data/image_folder.h"
#include "engine/error.h"
#include "tools/render/families.h"
#include "tools/render/manifest.h"

namespace ml::render {

ImageSet read_image_set(const std::string& manifest) {
  ImageSet set;
  set.manifest = manifest;
  const auto folder = std::filesystem::path(manifest).parent_path();
  for (const ManifestRow& row : read_manifest(manifest)) {
    int64_t c = -1;
    for (size_t k = 0; k < set.categories.size(); ++k)
      if (set.categories[k].name == row.category) c = static_cast<int64_t>(k);
    if (c < 0) {
      // A family's name keeps its symmetry class, so the analyses can still pool by it.
      std::string symmetry = "unknown";
      for (const auto& f : families())
        if (f.name == row.category) symmetry = f.symmetry;
      set.categories.push_back({row.category, symmetry, "manifest"});
      c = static_cast<int64_t>(set.categories.size() - 1);
    }
    set.items.push_back({c, row.exemplar, row.view_deg});
    const std::filesystem::path p(row.file);
    set.paths.push_back((p.is_absolute() ? p : folder / p).string());
  }
  return set;
}

ImageSource image_source(const ImageSet& set, int size) {
  ML_CHECK(size >= 8, "image_source: size must be >= 8, got ", size);
  return [&set, size](size_t i) {
    Tensor img;
    try {
      img = load_image(set.paths[i], 1, size, size);  // (1, 1, size, size) in [0, 1]
    } catch (const Error& e) {
      throw Error("--from-manifest '" + set.manifest + "': " + e.what());
    }
    Rendering r;
    r.size = size;
    r.shade.assign(img.data(), img.data() + img.numel());
    r.coverage.resize(r.shade.size());
    for (size_t k = 0; k < r.shade.size(); ++k) {
      const bool foreground = std::lround(std::clamp(r.shade[k], 0.f, 1.f) * 255.f) != 128;
      r.coverage[k] = foreground ? 1.f : 0.f;
      if (!foreground) r.shade[k] = 0.f;
    }
    return r;
  };
}

}  // namespace ml::render
