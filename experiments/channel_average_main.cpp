// channel_average — Fig. 2—S6's pool5 channel-averaged representation from extract_activations'
// output (experiments/analysis/channel_average.h): reads <in>/layers.json and <in>/<layer>.npy,
// writes <out>/<layer>_chavg.npy (images, C) and <out>/layers.json, which mirror_symmetry
// --activations <out> reads like any other layer (it z-scores the C channel values again, its
// step 2, before the RDMs).
//   extract_activations --weights W --manifest stim/manifest.csv --layers pool5 --out acts
//   channel_average --activations acts --layer pool5 --out acts_chavg
//   mirror_symmetry --activations acts_chavg --stimuli stim/manifest.csv --out out/pool5_chavg
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "experiments/analysis/channel_average.h"

namespace fs = std::filesystem;
using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Channel-averaged z-scored units of a convolutional layer (Fig. 2-S6)"};
  std::string in, layer, out;
  app.add_option("--activations", in, "extract_activations output folder")->required();
  app.add_option("--layer", layer, "a convolutional layer in it (e.g. pool5)")->required();
  app.add_option("--out", out, "output folder")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const auto bytes = read_file((fs::path(in) / "layers.json").string());
    const auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    ML_CHECK(!j.is_discarded() && j.contains("layers"), "channel_average: '", in, "/layers.json' is not extract_activations' output");
    nlohmann::json entry;
    for (const auto& l : j["layers"])
      if (l["name"] == layer) entry = l;
    ML_CHECK(!entry.is_null(), "channel_average: --layer '", layer, "' is not in '", in, "/layers.json'");
    const auto shape = entry["shape"].get<std::vector<int64_t>>();
    ML_CHECK(shape.size() == 3, "channel_average: layer '", layer, "' has shape of ", shape.size(), " dimensions; needs (C, H, W)");
    const Tensor acts = load_npy((fs::path(in) / entry["file"].get<std::string>()).string());
    std::vector<int64_t> kept;
    const Tensor avg = analysis::channel_average_zscored(acts, shape[0], shape[1] * shape[2], &kept);
    fs::create_directories(out);
    const std::string name = layer + "_chavg";
    save_npy((fs::path(out) / (name + ".npy")).string(), avg);
    nlohmann::json lj = {{"network", j.value("network", "")},
                         {"images", avg.size(0)},
                         {"source", in + "/" + layer + " (units z-scored over the images, averaged per channel)"},
                         {"layers", {{{"name", name}, {"file", name + ".npy"}, {"shape", {avg.size(1)}}, {"units", avg.size(1)}}}},
                         {"channels", shape[0]},
                         {"kept_channels", kept}};
    write_text_atomic((fs::path(out) / "layers.json").string(), lj.dump(1) + "\n");
    std::fprintf(stderr, "channel_average: %s (%lld images x %lld of %lld channels; the others have only constant units) -> %s/%s.npy\n",
                 layer.c_str(), static_cast<long long>(avg.size(0)), static_cast<long long>(avg.size(1)), static_cast<long long>(shape[0]),
                 out.c_str(), name.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "channel_average: %s\n", e.what());
    return 1;
  }
  return 0;
}
