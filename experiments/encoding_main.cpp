// encoding — the encoding-model study (Eickenberg et al. 2017) on SimVox voxels whose answer is
// known: features -> ridge for every layer -> fingerprints -> synthesised retinotopy and category
// contrasts -> the eight pass checks of eickenberg2017-encoding.md §6 (checks.json, report.md).
// Example:
//   encoding --preset standard --out out/encoding
#include <CLI/CLI.hpp>

#include <cstdio>

#include "experiments/analysis/encoding_study.h"
#include "experiments/net_options.h"

using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Encoding models of simulated fMRI voxels (SimVox): per-layer ridge, fingerprints, synthesised experiments"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  analysis::EncodingStudyOptions o;
  app.add_option("--preset", o.preset, "tiny (CI) | standard (2-core CPU) | gpu")->capture_default_str();
  app.add_option("--out", o.out, "output folder")->required();
  app.add_option("--items-dir", o.items_dir, "Fashion-MNIST folder (default Debian's)");
  app.add_option("--max-features", o.max_features, "features kept per layer at most")->capture_default_str();
  bool no_plot = false, no_parity = false;
  app.add_flag("--no-plot", no_plot, "skip tools/plot_encoding.py");
  app.add_flag("--no-parity", no_parity, "skip pass check 7's reruns");
  CLI11_PARSE(app, argc, argv);
  try {
    experiments::apply_threads(net_o);
    o.net = net_o.spec;
    o.seed = net_o.spec.seed;
    if (net_o.batch > 0) o.batch = net_o.batch;
    o.plot = !no_plot;
    o.parity = !no_parity;
    analysis::run_encoding_study(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "encoding: %s\n", e.what());
    return 1;
  }
  return 0;
}
