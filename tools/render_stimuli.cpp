// render_stimuli — renders the mirror-symmetry study's 3D-object stimulus set (Farzmahdi et
// al. 2024; SCIENCE.md "Stimulus set"): categories x exemplars x 9 yaws, gray objects on a
// 128 background, foreground mean and contrast equalised across the set, 8-bit PNGs with a
// manifest.csv that engine/data/image_folder.h reads. See tools/render/*.h for the renderer,
// the view convention, the families and the equalisation.
//
//   render_stimuli --out stim28 --size 28                    # 9 families x 25 exemplars x 9 views
//   render_stimuli --out asym --size 32 --asymmetry 0.3      # the same objects, +x side deformed
//   render_stimuli --out mine --obj a.obj b.obj --obj-category mug
//   render_stimuli --out stim224 --size 224 --from-manifest stim227/manifest.csv
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "engine/error.h"
#include "tools/render/families.h"
#include "tools/render/image_set.h"
#include "tools/render/mesh_set.h"
#include "tools/render/stimulus_set.h"

int main(int argc, char** argv) {
  using namespace ml::render;
  CLI::App app{"Render the mirror-symmetry study's stimulus set: PNGs, stimuli.json and (last) manifest.csv"};
  std::string out, from_manifest, obj_category;
  int size = 227, exemplars = 25, supersample = 4;
  uint64_t seed = 0;
  double asymmetry = 0.0;
  std::vector<std::string> family_names, obj_files;
  bool quiet = false;
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--size", size, "image size in pixels (>= 8; the study uses 227, 224, 32, 28)")->capture_default_str();
  app.add_option("--seed", seed, "seed of the procedural exemplars")->capture_default_str();
  auto* fam_opt = app.add_option("--families", family_names, "comma-separated families (default: all nine)")
                      ->delimiter(',');
  app.add_option("--exemplars", exemplars, "exemplars per family")->capture_default_str();
  auto* asym_opt = app.add_option("--asymmetry", asymmetry,
                                  "A >= 0: stretch the objects' +x side by (1 + A) and shear it up by 0.5 A x")
                       ->capture_default_str();
  app.add_option("--supersample", supersample, "S: S x S samples per pixel (anti-aliasing)")->capture_default_str();
  auto* obj_opt = app.add_option("--obj", obj_files, "OBJ files, each one exemplar");
  app.add_option("--obj-category", obj_category, "category of the OBJ files (default: each file's stem)");
  auto* manifest_opt = app.add_option("--from-manifest", from_manifest,
                                      "re-equalise an existing set (manifest columns file, category, exemplar, "
                                      "view_deg) at --size instead of rendering");
  manifest_opt->excludes(fam_opt)->excludes(obj_opt)->excludes(asym_opt);
  std::vector<double> views = study_views();
  auto* views_opt = app.add_option("--views", views, "comma-separated yaws in degrees (default: the study's 9; "
                                                     "-95 to 95 by 5 for Fig. 2-S8's training faces)")
                        ->delimiter(',');
  views_opt->excludes(manifest_opt);
  app.add_flag("--quiet", quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);

  std::FILE* log = quiet ? nullptr : stdout;
  const auto start = std::chrono::steady_clock::now();
  try {
    ML_CHECK(size >= 8, "--size must be >= 8, got ", size);
    nlohmann::json meta = {{"generator", "render_stimuli"},
                           {"revision", MIRRORLAB_REVISION},
                           {"size", size},
                           {"views_deg", views},
                           {"view_convention",
                            "yaw about the vertical axis; 0 = front faces the camera; -90 = left profile "
                            "(front points to the image's left); view j and 8-j mirror each other for an "
                            "object symmetric about its x = 0 plane"}};
    if (!from_manifest.empty()) {
      const ImageSet set = read_image_set(from_manifest);
      meta["source"] = {{"kind", "manifest"}, {"manifest", from_manifest}};
      if (log) std::fprintf(log, "re-equalising %zu images from %s at %d px\n", set.items.size(), from_manifest.c_str(), size);
      write_stimulus_set(set.categories, set.items, image_source(set, size), out, meta, log);
    } else {
      RenderOptions ro;
      ro.size = size;
      ro.supersample = supersample;
      validate(ro);
      MeshSet set;
      ML_CHECK(!views.empty(), "--views: no yaw given");
      for (size_t i = 0; i < views.size(); ++i) {
        ML_CHECK(std::isfinite(views[i]) && std::fabs(views[i]) <= 180.0, "--views: yaw ", views[i], " is not in [-180, 180]");
        ML_CHECK(i == 0 || views[i] > views[i - 1], "--views: the yaws must be strictly increasing (", views[i - 1], " then ", views[i], ")");
      }
      set.views = views;
      if (family_names.empty() && obj_files.empty())
        for (const auto& f : families()) family_names.push_back(f.name);
      // Check the arguments before the (long) work starts.
      for (const auto& f : family_names) {
        try {
          family(f);
        } catch (const ml::Error& e) {
          throw ml::Error(std::string("--families: ") + e.what());
        }
      }
      ML_CHECK(std::isfinite(asymmetry) && asymmetry >= 0.0, "--asymmetry must be a number >= 0, got ", asymmetry);
      ML_CHECK(exemplars >= 1, "--exemplars must be >= 1, got ", exemplars);
      for (const auto& path : obj_files)
        ML_CHECK(std::filesystem::is_regular_file(path), "--obj: cannot read '", path, "' (no such file)");
      for (const auto& f : family_names) {
        add_family(set, f, exemplars, seed, asymmetry, ro.camera);
        if (log) std::fprintf(log, "built %d exemplars of %s\n", exemplars, f.c_str());
      }
      for (const auto& path : obj_files)
        add_obj(set, path, obj_category.empty() ? std::filesystem::path(path).stem().string() : obj_category,
                asymmetry, ro.camera);
      meta["source"] = {{"kind", obj_files.empty() ? "procedural" : "procedural+obj"}, {"obj_files", obj_files}};
      meta["seed"] = seed;
      meta["asymmetry"] = {{"A", asymmetry},
                           {"definition", "for x > 0 (object coordinates, normalised): x' = (1 + A) x, "
                                          "y' = y + 0.5 A x; then normalised again"}};
      meta["render"] = {{"supersample", supersample},
                        {"camera_distance", ro.camera.distance},
                        {"camera_elevation_deg", ro.camera.elevation_deg},
                        {"camera_fill", ro.camera.fill},
                        {"framing", "per exemplar: its largest projection over all yaws fills camera_fill of the half-frame"},
                        {"light_to", {ro.light.to_light.x(), ro.light.to_light.y(), ro.light.to_light.z()}},
                        {"ambient", ro.light.ambient},
                        {"diffuse", ro.light.diffuse}};
      if (log) std::fprintf(log, "rendering %zu images at %d px\n", set.items.size(), size);
      write_stimulus_set(set.categories, set.items, render_source(set, ro), out, meta, log);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "render_stimuli: %s\n", e.what());
    return 1;
  }
  if (log)
    std::fprintf(log, "done in %.1f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
