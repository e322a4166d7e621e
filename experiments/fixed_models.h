// experiments/fixed_models.h — HMAX and HOG for the analysis programs (--model hmax | hog):
// their options, and an AnalysisNet built without weights (models/hmax.h, models/hog.h), so
// extract_activations, mirror_symmetry and equivariance read them out as they read a CNN.
// HMAX's S2/C2 need prototypes: a safetensors file (--hmax-prototypes) or a seeded draw from
// the images of a manifest (--hmax-sample, CBCL's way; --hmax-save-prototypes keeps the draw).
#pragma once
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "engine/data/image_folder.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/io/csv.h"
#include "engine/ops.h"
#include "experiments/analysis/activations.h"
#include "experiments/analysis/equivariance.h"
#include "models/hmax.h"
#include "models/hog.h"

namespace ml::experiments {

struct FixedModelOptions {
  models::HmaxOptions hmax;
  std::string hmax_prototypes, hmax_sample, hmax_save;
  int64_t hmax_per_size = 250;
  models::HogOptions hog;
  std::string hog_variant = "uoctti";
};

inline bool is_fixed_model(const std::string& name) { return name == "hmax" || name == "hog"; }

inline void add_fixed_model_options(CLI::App& app, FixedModelOptions& o) {
  const std::string g = "HMAX and HOG (--model hmax | hog; no weights)";
  app.add_option("--hmax-prototypes", o.hmax_prototypes, "HMAX: S2 prototypes (safetensors, prototypes.<n> (K, 4, n, n))")->group(g);
  app.add_option("--hmax-sample", o.hmax_sample,
                 "HMAX: draw prototypes (seed --seed) from band-2 C1 of this manifest's images (CSV with a 'file' column)")
      ->group(g);
  app.add_option("--hmax-per-size", o.hmax_per_size, "HMAX: prototypes drawn per size 4, 8, 12, 16")->capture_default_str()->group(g);
  app.add_option("--hmax-save-prototypes", o.hmax_save, "HMAX: write the drawn prototypes here (safetensors)")->group(g);
  app.add_flag("--hmax-centred", o.hmax.centred_c1, "HMAX: C1 windows centred (PyTorch port) instead of CBCL's top-left")->group(g);
  app.add_option("--hmax-sigma", o.hmax.s2_sigma, "HMAX: S2 response exp(-d^2/(2 sigma^2)); 0: -d^2")->capture_default_str()->group(g);
  app.add_option("--hog-variant", o.hog_variant, "HOG: uoctti | dalal_triggs")->capture_default_str()->group(g);
  app.add_option("--hog-cell", o.hog.cell_size, "HOG: cell size in px")->capture_default_str()->group(g);
  app.add_option("--hog-orientations", o.hog.orientations, "HOG: orientation count n")->capture_default_str()->group(g);
  app.add_flag("--hog-bilinear", o.hog.bilinear_orientations, "HOG (UoCTTI): bilinear orientation assignment")->group(g);
  app.add_option("--hog-block", o.hog.block_size, "HOG (Dalal-Triggs): cells per block side")->capture_default_str()->group(g);
}

// The image paths of a manifest (a 'file' column, relative to the manifest's folder).
inline std::vector<std::string> manifest_files(const std::string& manifest, const std::string& who) {
  const CsvTable t = read_csv(manifest, who);
  const int64_t c_file = t.column("file", who);
  const std::filesystem::path folder = std::filesystem::path(manifest).parent_path();
  std::vector<std::string> files;
  for (const CsvRow& r : t.rows) {
    ML_CHECK(static_cast<int64_t>(r.fields.size()) > c_file, who, ": '", manifest, "' line ", r.line, " has no 'file' field");
    const std::filesystem::path f = trim(r.fields[static_cast<size_t>(c_file)]);
    files.push_back((f.is_absolute() ? f : folder / f).string());
  }
  ML_CHECK(!files.empty(), who, ": '", manifest, "' lists no images");
  return files;
}

// HMAX or HOG as an AnalysisNet: images in [0, 1] unnormalised, gray unless --in-channels 3
// (HOG only); HMAX 227 px, HOG 224 px (a multiple of the 8-px cell, so flips and rot90 map
// cells onto cells) unless --image-size.
inline analysis::AnalysisNet load_fixed_model(const analysis::NetSpec& spec, const FixedModelOptions& f) {
  ML_CHECK(spec.weights.empty() && !spec.untrained, "--model ", spec.model, " is a fixed model: it takes no --weights or --untrained");
  ML_CHECK(spec.device == "cpu" || spec.device == "cuda", "--device: '", spec.device, "' is neither cpu nor cuda");
  analysis::AnalysisNet net;
  net.device = spec.device == "cuda" ? Device::CUDA : Device::CPU;
  if (net.device == Device::CUDA) ML_CHECK(cuda_available(), "--device cuda: ", cuda_unavailable_reason());
  if (spec.model == "hmax") {
    ML_CHECK(spec.in_channels == 0 || spec.in_channels == 1, "--model hmax takes gray images (--in-channels 1), not ", spec.in_channels);
    ML_CHECK(f.hmax_prototypes.empty() || f.hmax_sample.empty(), "give --hmax-prototypes or --hmax-sample, not both");
    models::HmaxOptions o = f.hmax;
    o.image_size = spec.image_size ? spec.image_size : 227;
    models::HmaxPrototypes protos;
    std::string source = "no prototypes (layers image, s1, c1)";
    if (!f.hmax_prototypes.empty()) {
      protos = models::load_hmax_prototypes(f.hmax_prototypes, o.image_size);
      source = std::to_string(protos.count()) + " prototypes from " + f.hmax_prototypes;
    } else if (!f.hmax_sample.empty()) {
      const auto files = manifest_files(f.hmax_sample, "--hmax-sample");
      models::HmaxOptions oc = o;
      std::vector<Tensor> band2;
      for (size_t i0 = 0; i0 < files.size(); i0 += 16) {
        const std::vector<std::string> chunk(files.begin() + static_cast<std::ptrdiff_t>(i0),
                                             files.begin() + static_cast<std::ptrdiff_t>(std::min(files.size(), i0 + 16)));
        band2.push_back(models::hmax_c1_band(load_images(chunk, 1, o.image_size, o.image_size).to(net.device), oc, 1).to(Device::CPU));
      }
      // Sizes 4, 8, 12, 16 that fit the band-2 map (all from 80 px up; a smaller image keeps fewer).
      const Tensor c1 = cat(band2, 0);
      std::vector<int64_t> sizes;
      for (int64_t n : {4, 8, 12, 16})
        if (n <= c1.size(2)) sizes.push_back(n);
      protos = models::sample_hmax_prototypes_from_c1(c1, f.hmax_per_size, spec.seed, sizes);
      source = std::to_string(protos.count()) + " prototypes drawn from " + f.hmax_sample + " (seed " + std::to_string(spec.seed) + ")";
      if (!f.hmax_save.empty()) models::save_hmax_prototypes(f.hmax_save, protos);
    }
    net.model = models::hmax_model(o, protos);
    net.description = "hmax (CBCL standard model, " + std::to_string(o.image_size) + " px, C1 " +
                      (o.centred_c1 ? "centred" : "top-left") + ", " + source + ")";
  } else {
    models::HogOptions o = f.hog;
    o.variant = models::parse_hog_variant(f.hog_variant);
    const int64_t C = spec.in_channels ? spec.in_channels : 1, S = spec.image_size ? spec.image_size : 224;
    net.model = models::hog_model(o, C, S);
    net.description = std::string("hog (") + models::hog_variant_name(o.variant) + ", " + std::to_string(o.orientations) +
                      " orientations" + (o.bilinear_orientations ? " bilinear" : "") + ", cell " +
                      std::to_string(o.cell_size) + ", " + std::to_string(S) + " px, " + (C == 1 ? "gray" : "colour") + ")";
  }
  net.model.net->eval();
  const int64_t C = net.model.in_channels;
  net.norm = {std::vector<float>(static_cast<size_t>(C), 0.f), std::vector<float>(static_cast<size_t>(C), 1.f), "none"};
  return net;
}

// How g acts on HOG's maps for the equivariance study: HOG(g x) is HOG(x) with the cell grid
// moved as g moves pixels AND its channels permuted (models::hog_apply_transform): UoCTTI exactly
// for image sides that are multiples of the cell and an even n or bilinear orientations;
// Dalal-Triggs exactly for rot90 (even n) and, for the flips, when no gradient lies on a bin
// edge (images with a constant frame; see models/hog.h). Empty (the plain grid move) for other
// models; for rot90 with an odd n (no exact permutation) the grid move only, said on stderr.
inline std::function<Tensor(analysis::Transform, const std::string&, const Tensor&)> hog_map_transform(
    const std::string& model, const FixedModelOptions& f) {
  if (model != "hog") return {};
  models::HogOptions o = f.hog;
  o.variant = models::parse_hog_variant(f.hog_variant);
  const int64_t n = o.orientations;
  if (n % 2 != 0)
    std::fprintf(stderr, "equivariance: HOG with %lld orientations has no rot90 channel permutation; rot90 moves the grid only\n",
                 static_cast<long long>(n));
  return [o, n](analysis::Transform g, const std::string& layer, const Tensor& maps) {
    if (layer != "hog" || (g == analysis::Transform::Rot90 && n % 2 != 0)) return analysis::apply_transform(g, maps);
    const models::HogTransform h = g == analysis::Transform::HFlip   ? models::HogTransform::HFlip
                                   : g == analysis::Transform::VFlip ? models::HogTransform::VFlip
                                                                     : models::HogTransform::Rot90;
    return models::hog_apply_transform(maps, h, o);
  };
}

}  // namespace ml::experiments
