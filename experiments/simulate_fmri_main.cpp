// simulate_fmri — SimVox (eickenberg2017-encoding.md §6): simulated fMRI responses of voxels with
// known layer, receptive field and category patches, written in the real-data layout
// (<out>/data: responses.npy, val_responses.npy, cat_responses.npy, images, manifest.json) with
// the truth beside (truth.csv). Example:
//   simulate_fmri --preset standard --out out/simvox
#include <CLI/CLI.hpp>

#include <cstdio>

#include "experiments/analysis/encoding_study.h"
#include "experiments/net_options.h"

using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Simulated fMRI voxels (SimVox) in the real-data file layout, truth beside"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  analysis::EncodingStudyOptions o;
  app.add_option("--preset", o.preset, "tiny | standard | gpu")->capture_default_str();
  app.add_option("--out", o.out, "output folder")->required();
  app.add_option("--items-dir", o.items_dir, "Fashion-MNIST folder (default Debian's)");
  app.add_option("--rf-sign", o.rf_sign, "signs of conv voxels' channel weights: blank (stimulation of the field raises the response) | positive (all >= 0)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    experiments::apply_threads(net_o);
    o.net = net_o.spec;
    o.seed = net_o.spec.seed;
    o.data_only = true;
    o.plot = false;
    analysis::run_encoding_study(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simulate_fmri: %s\n", e.what());
    return 1;
  }
  return 0;
}
