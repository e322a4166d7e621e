// equivariance — invariance and equivariance of a network's layers under h-flip, v-flip and
// rot90 (Farzmahdi et al. 2024, Figure 3; experiments/analysis/equivariance_study.h) on a
// stimulus set, any image folder, and seeded uniform-noise images. Writes equivariance.csv,
// equivariance.json and equivariance.png (tools/plot_equivariance.py). Example:
//   equivariance --weights out/train/sym/final.safetensors --stimuli stim/manifest.csv --noise 500 --out out/eq/sym
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/data/image_folder.h"
#include "engine/io/atomic_file.h"
#include "engine/ops.h"
#include "experiments/analysis/equivariance_study.h"
#include "experiments/analysis/plot_script.h"
#include "experiments/analysis/run_summary.h"
#include "experiments/analysis/stimulus_set.h"
#include "experiments/net_options.h"

namespace fs = std::filesystem;
using namespace ml;

namespace {

// The PNG/JPEG files of a folder, sorted by name (a reproducible order).
std::vector<std::string> folder_images(const std::string& dir) {
  ML_CHECK(fs::is_directory(dir), "--images: '", dir, "' is not a folder");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  ML_CHECK(files.size() >= 2, "--images: '", dir, "' holds ", files.size(), " PNG/JPEG files; at least 2 are needed");
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Invariance and equivariance of a network's layers under h-flip, v-flip and rot90 (Farzmahdi et al. 2024)"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  std::string stimuli, images_dir, out, label;
  int64_t noise = 0;
  std::vector<std::string> transforms{"hflip", "vflip", "rot90"};
  analysis::EquivarianceOptions eo;
  bool no_plot = false, quiet = false;
  app.add_option("--stimuli", stimuli, "stimulus manifest (image set 'stimuli')");
  app.add_option("--images", images_dir, "a folder of PNG/JPEG images (image set = the folder's name)");
  app.add_option("--noise", noise, "this many seeded uniform-noise images (image set 'noise')");
  app.add_option("--transforms", transforms, "hflip,vflip,rot90")->delimiter(',')->capture_default_str();
  app.add_flag("--rot90-legacy", eo.rot90_legacy,
               "the released code's rot90 equivariance: r(f(x), g f(g x)), a 180-degree comparison (SCIENCE.md)");
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--label", label, "the model column of the CSV (default: the model's name)");
  app.add_flag("--no-plot", no_plot, "write the numbers only");
  app.add_flag("--quiet", quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    experiments::apply_threads(net_o);
    ML_CHECK(!stimuli.empty() || !images_dir.empty() || noise > 0, "give at least one image set: --stimuli, --images or --noise N");
    eo.transforms.clear();
    for (const auto& t : transforms) {
      ML_CHECK(t == "hflip" || t == "vflip" || t == "rot90", "--transforms: unknown '", t, "' (hflip, vflip, rot90)");
      eo.transforms.push_back(t == "hflip" ? analysis::Transform::HFlip : t == "vflip" ? analysis::Transform::VFlip : analysis::Transform::Rot90);
    }
    if (net_o.batch > 0) eo.batch = net_o.batch;
    eo.progress = !quiet;
    analysis::AnalysisNet net = experiments::load_net(net_o);
    eo.map_transform = experiments::hog_map_transform(net_o.spec.model, net_o.fixed);
    const auto layers = analysis::resolve_layers(net.model, net_o.layers);
    if (label.empty()) label = net.model.name;
    const int64_t C = net.model.in_channels, S = net.model.image_size;
    std::string csv = analysis::kEquivarianceCsvHeader;
    nlohmann::json sets = nlohmann::json::array();
    auto run = [&](const std::string& name, int64_t n, const analysis::ImageFn& fn, const std::string& source) {
      std::fprintf(stderr, "equivariance: %s, image set '%s' (%lld images)\n", net.description.c_str(), name.c_str(),
                   static_cast<long long>(n));
      analysis::append_equivariance_csv(csv, analysis::run_equivariance(net, layers, fn, n, eo), label, name, eo.rot90_legacy);
      sets.push_back({{"name", name}, {"images", n}, {"source", source}});
    };
    if (!stimuli.empty()) {
      const analysis::StimulusSet set = analysis::read_stimulus_set(stimuli);
      run("stimuli", set.size(), [&](int64_t a, int64_t b) {
        std::vector<int64_t> rows;
        for (int64_t i = a; i < b; ++i) rows.push_back(i);
        return analysis::load_stimuli(set, rows, C, S);
      }, stimuli);
    }
    if (!images_dir.empty()) {
      const auto files = folder_images(images_dir);
      run(fs::path(images_dir).filename().string(), static_cast<int64_t>(files.size()), [&](int64_t a, int64_t b) {
        return load_images({files.begin() + a, files.begin() + b}, C, S, S);
      }, images_dir);
    }
    if (noise > 0) {
      // One generator per batch start, so an image's noise does not depend on the batch size.
      const uint64_t seed = net_o.spec.seed;
      run("noise", noise, [&, seed](int64_t a, int64_t b) {
        std::vector<Tensor> imgs;
        for (int64_t i = a; i < b; ++i) {
          Generator g(seed * 1000003ull + static_cast<uint64_t>(i) + 0x4E01);
          imgs.push_back(analysis::noise_images(1, C, S, g));
        }
        return cat(imgs, 0);
      }, "uniform [0, 1], seed " + std::to_string(seed));
    }
    fs::create_directories(out);
    write_text_atomic((fs::path(out) / "equivariance.csv").string(), csv);
    const nlohmann::json summary = {{"model", label},
                                    {"network", net.description},
                                    {"image_sets", sets},
                                    {"transforms", transforms},
                                    {"rot90_legacy", eo.rot90_legacy},
                                    {"layers", layers}};
    analysis::write_run_summary((fs::path(out) / "equivariance.json").string(), summary, t0);
    if (!no_plot) analysis::run_plot_script("plot_equivariance.py", "'" + out + "'");
    std::fprintf(stderr, "equivariance: wrote %s/equivariance.csv\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "equivariance: %s\n", e.what());
    return 1;
  }
  return 0;
}
