// pca_templates — Fig. 2—S8: the mirror-symmetric viewpoint tuning of Leibo et al. (2017)'s
// PCA-template model (experiments/analysis/pca_templates.h), for centred test faces and faces
// shifted by (dy, dx) with wrap-around, on pixels and on HMAX C1 (all bands, flattened).
// Training: --train, a manifest of identities (its objects) x views, e.g. 40 rendered faces at
// Leibo's 39 yaws; test: --stimuli, the study's set (objects x 9 views). Responses are not
// z-scored (the released figureS6.m). Writes <out>/centred/ and <out>/shifted/ (mirror_symmetry's
// files, layers pca_pixel and pca_c1) and <out>/pca_templates.json with the medians and verdicts.
//   render_stimuli --out train --size 64 --families face --exemplars 40 --views -95,-90,...,95
//   render_stimuli --out test --size 64 --families face --seed 1
//   pca_templates --train train/manifest.csv --stimuli test/manifest.csv --image-size 64 --shift 4,4 --out out/pca
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "experiments/analysis/msvt_study.h"
#include "experiments/analysis/pca_templates.h"
#include "experiments/analysis/plot_script.h"
#include "experiments/analysis/run_summary.h"
#include "experiments/analysis/stimulus_set.h"
#include "models/hmax.h"

namespace fs = std::filesystem;
using namespace ml;

namespace {

// (B, F) features of images (B, 1, S, S): the pixels, or every C1 band flattened in band order.
Tensor features(const Tensor& images, const std::string& kind, const models::HmaxOptions& ho) {
  if (kind == "pixel") return images.reshape({images.size(0), -1}).clone();
  std::vector<Tensor> bands;
  for (const Tensor& b : models::hmax_c1_bands(images, ho)) bands.push_back(b.reshape({b.size(0), -1}));
  return cat(bands, 1);
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Leibo et al.'s PCA-template model: mirror-symmetric viewpoint tuning of centred and shifted faces (Fig. 2-S8)"};
  std::string train_manifest, stimuli, out;
  int64_t size = 227, batch = 32;
  std::vector<int64_t> shift = {15, 15};
  std::vector<std::string> kinds = {"pixel", "c1"};
  bool no_plot = false, quiet = false;
  app.add_option("--train", train_manifest, "training manifest: identities (objects) x views")->required();
  app.add_option("--stimuli", stimuli, "test manifest (objects x an odd number of mirror-paired views)")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--image-size", size, "images are read at this size (gray, [0, 1])")->capture_default_str();
  app.add_option("--shift", shift, "dy,dx of the shifted condition (pixels, wrap-around)")->delimiter(',')->expected(2)->capture_default_str();
  app.add_option("--features", kinds, "pixel and/or c1")->delimiter(',')->capture_default_str();
  app.add_option("--batch", batch, "images per feature batch")->capture_default_str();
  app.add_flag("--no-plot", no_plot, "write the numbers only");
  app.add_flag("--quiet", quiet, "no progress lines");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    NoGradGuard ng;
    ML_CHECK(size >= 8, "--image-size must be >= 8, got ", size);
    ML_CHECK(batch >= 1, "--batch must be >= 1, got ", batch);
    ML_CHECK(!kinds.empty(), "--features: none given");
    for (const auto& k : kinds) ML_CHECK(k == "pixel" || k == "c1", "--features: '", k, "' is neither pixel nor c1");
    models::HmaxOptions ho;
    ho.image_size = size;
    const analysis::StimulusSet train = analysis::read_stimulus_set(train_manifest);
    const analysis::StimulusSet test = analysis::read_stimulus_set(stimuli);
    // Training identities: the training set's objects, in order.
    std::vector<int64_t> rows, identity;
    for (size_t o = 0; o < train.objects.size(); ++o)
      for (int64_t r : train.objects[o].views) rows.push_back(r), identity.push_back(static_cast<int64_t>(o));
    auto feature_rows = [&](const analysis::StimulusSet& set, const std::vector<int64_t>& rs, const std::string& kind,
                            int64_t dy, int64_t dx) {
      std::vector<Tensor> parts;
      for (size_t a = 0; a < rs.size(); a += static_cast<size_t>(batch)) {
        const std::vector<int64_t> chunk(rs.begin() + static_cast<std::ptrdiff_t>(a),
                                         rs.begin() + static_cast<std::ptrdiff_t>(std::min(rs.size(), a + static_cast<size_t>(batch))));
        Tensor img = analysis::load_stimuli(set, chunk, 1, size);
        if (dy != 0 || dx != 0) img = analysis::circshift(img, dy, dx);
        parts.push_back(features(img, kind, ho));
      }
      return cat(parts, 0);
    };
    const char* conditions[2] = {"centred", "shifted"};
    nlohmann::json summary = {{"train", train_manifest},
                              {"stimuli", stimuli},
                              {"image_size", size},
                              {"shift", shift},
                              {"identities", train.objects.size()},
                              {"training_views_deg", train.views_deg},
                              {"test_objects", test.objects.size()},
                              {"model", "Leibo et al. 2017: per identity, PCA of its mean-face-subtracted views; unit = "
                                        "(template . x)^2; not z-scored (farzmahdi2024-more.md section 5)"}};
    std::vector<analysis::PcaTemplates> templates;
    for (const auto& kind : kinds) {
      if (!quiet) std::fprintf(stderr, "pca_templates: %s features of %zu training images\n", kind.c_str(), rows.size());
      templates.push_back(analysis::pca_templates(feature_rows(train, rows, kind, 0, 0), identity));
      summary["templates"][kind] = templates.back().templates.size(0);
    }
    std::vector<std::string> layers;
    for (const auto& k : kinds) layers.push_back("pca_" + k);
    for (int c = 0; c < 2; ++c) {
      const int64_t dy = c ? shift[0] : 0, dx = c ? shift[1] : 0;
      const analysis::ActivationFn acts = [&](const std::vector<int64_t>& rs) {
        std::vector<Tensor> outs;
        for (size_t k = 0; k < kinds.size(); ++k)
          outs.push_back(analysis::pca_template_responses(templates[k], feature_rows(test, rs, kinds[k], dy, dx)));
        return outs;
      };
      analysis::MsvtOptions mo;
      mo.zscore = false;
      mo.progress = !quiet;
      mo.batch_objects = std::max<int64_t>(1, batch / static_cast<int64_t>(test.views_deg.size()));
      const analysis::MsvtResult r = analysis::run_msvt(test, layers, acts, mo);
      const std::string dir = (fs::path(out) / conditions[c]).string();
      analysis::write_msvt(r, test, std::string("pca_templates_") + conditions[c], dir);
      for (size_t k = 0; k < kinds.size(); ++k)
        summary["median_index"][conditions[c]][kinds[k]] = median(r.layers[k].index[0]);
    }
    // Fig. 2-S8's reading (Leibo et al.): the templates give mirror-symmetric tuning to centred
    // faces, and lose it when the faces are shifted (the templates are not shift-invariant).
    for (const auto& k : kinds) {
      const double cm = summary["median_index"]["centred"][k], sm = summary["median_index"]["shifted"][k];
      summary["verdicts"].push_back(
          {{"features", k},
           {"claim", "centred faces are mirror-symmetrically tuned (median index > 0.5) and shifting them lowers it"},
           {"centred_median", cm},
           {"shifted_median", sm},
           {"agrees", cm > 0.5 && sm < cm}});
    }
    analysis::write_run_summary((fs::path(out) / "pca_templates.json").string(), summary, t0);
    if (!no_plot) {
      analysis::run_plot_script("plot_msvt.py", "'" + (fs::path(out) / "centred").string() + "'");
      analysis::run_plot_script("plot_msvt.py", "'" + (fs::path(out) / "shifted").string() + "'");
    }
    std::fprintf(stderr, "pca_templates: wrote %s/pca_templates.json\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pca_templates: %s\n", e.what());
    return 1;
  }
  return 0;
}
