// bench/rise/bench_rise.cpp — our side of the RISE speed comparison (issue 18, "Speed";
// bench/pytorch/run_rise_compare.sh runs it beside bench/pytorch/rise.py in one run): one map
// of one unit of one layer (pre-ReLU, as the study explains it) for one seeded random image,
// through experiments/analysis/rise.h's rise_maps — masks drawn on the network's device by the
// engine op, masked batches through the network stopping at the layer, the weighted mask sum
// on the device — `--batch` masked images per forward (1 = the released code's one image at a
// time). Prints one JSON line: masks/s of the median of `--repeats` timed runs after one warm-up.
//
//   bench_rise --model vgg_small --untrained --in-channels 1 --image-size 28 --layer fc1 --masks 2000 --batch 250
//   bench_rise --model alexnet --untrained --layer fc6 --masks 250 --batch 50 --dump DIR
//
// --dump DIR writes what the PyTorch side needs to compute the very same map: image.npy
// (1, C, S, S), masks.npy (N, 1, S, S) (the same masks: the engine op's), the weights as
// DIR/weights/<name>.npy (the state dict), the normalisation (norm.json) and our map (map.npy).
#include <CLI/CLI.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/io/npy.h"
#include "experiments/analysis/rise.h"

using namespace ml;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"RISE masks/s through a network (issue 18 benchmark)"};
  analysis::NetSpec spec;
  std::string layer, dump;
  analysis::RiseOptions o;
  int64_t unit = 0;
  int repeats = 3, threads = 2;
  app.add_option("--model", spec.model, "vgg_small | alexnet | ...")->required();
  app.add_flag("--untrained", spec.untrained, "the study's untrained net (seeded)");
  app.add_option("--in-channels", spec.in_channels, "input channels");
  app.add_option("--image-size", spec.image_size, "input size");
  app.add_option("--device", spec.device, "cpu | cuda")->capture_default_str();
  app.add_option("--layer", layer, "explained layer (analysis name)")->required();
  app.add_option("--unit", unit, "explained unit")->capture_default_str();
  app.add_option("--masks", o.masks, "masks N")->capture_default_str();
  app.add_option("--batch", o.batch, "masked images per forward")->capture_default_str();
  app.add_option("--grid", o.grid, "grid s")->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs (median)")->capture_default_str();
  app.add_option("--threads", threads, "OpenMP threads")->capture_default_str();
  app.add_option("--dump", dump, "write image, masks, weights and our map here for the PyTorch side");
  CLI11_PARSE(app, argc, argv);
  try {
    omp_set_num_threads(threads);
    spec.untrained = true;
    spec.normalization = "none";
    analysis::AnalysisNet net = analysis::load_analysis_net(spec);
    analysis::RiseTarget target(net, layer, false);
    const int64_t C = net.model.in_channels, S = net.model.image_size;
    Generator gen(7);
    const Tensor image = Tensor::uniform({C, S, S}, 0.f, 1.f, gen);
    Tensor map = analysis::rise_maps(target, image, {unit}, o);  // warm-up
    std::vector<double> secs;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      map = analysis::rise_maps(target, image, {unit}, o);
      secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(secs.begin(), secs.end());
    const double med = secs[secs.size() / 2];
    if (!dump.empty()) {
      fs::create_directories(fs::path(dump) / "weights");
      save_npy((fs::path(dump) / "image.npy").string(), image.reshape({1, C, S, S}));
      save_npy((fs::path(dump) / "masks.npy").string(), analysis::rise_masks(o, S, S, 0, o.masks));
      save_npy((fs::path(dump) / "map.npy").string(), map);
      for (const auto& [name, t] : net.model.net->state_dict())
        save_npy((fs::path(dump) / "weights" / (name + ".npy")).string(), t.to(Device::CPU));
      std::ofstream((fs::path(dump) / "norm.json").string())
          << nlohmann::json{{"mean", net.norm.mean}, {"std", net.norm.std}, {"module", target.module()},
                            {"gray", o.gray}}.dump()
          << "\n";
    }
    std::printf("%s\n", nlohmann::json{{"side", "ours"}, {"model", spec.model}, {"layer", layer},
                                       {"module", target.module()}, {"masks", o.masks}, {"batch", o.batch},
                                       {"threads", threads}, {"median_s", med}, {"masks_per_s", o.masks / med},
                                       {"device", spec.device}}
                            .dump()
                            .c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_rise: %s\n", e.what());
    return 1;
  }
  return 0;
}
