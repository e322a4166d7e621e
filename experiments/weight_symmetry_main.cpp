// weight_symmetry — left-right and top-bottom symmetry of every filter per layer (Farzmahdi et
// al. 2024, Fig. 5—S1; experiments/analysis/weight_symmetry.h) of a trained or untrained net.
// Writes weight_symmetry.csv (parameter, kind, filters, C, kh, kw, mean, sd, n).
//   weight_symmetry --weights alexnet.safetensors --out out/weights_trained
//   weight_symmetry --model alexnet --untrained --seed 0 --out out/weights_untrained
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "engine/io/atomic_file.h"
#include "experiments/analysis/weight_symmetry.h"
#include "experiments/net_options.h"

namespace fs = std::filesystem;
using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Mirror symmetry of learned filters per layer (Fig. 5-S1)"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  std::string out;
  app.add_option("--out", out, "output folder")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const analysis::AnalysisNet net = analysis::load_analysis_net(net_o.spec);
    const auto layers = analysis::weight_symmetry(net.model.net->named_parameters());
    ML_CHECK(!layers.empty(), "weight_symmetry: ", net.description, " has no convolution filters");
    std::ostringstream csv;
    csv << "model,parameter,kind,filters,C,kh,kw,mean,sd,n\n";
    for (const auto& l : layers)
      for (const auto& [kind, v] : {std::pair{"columns", &l.columns}, std::pair{"rows", &l.rows}}) {
        double m = 0, ss = 0;
        for (double x : *v) m += x;
        m /= std::max<size_t>(1, v->size());
        for (double x : *v) ss += (x - m) * (x - m);
        csv << net.model.name << "," << l.parameter << "," << kind << "," << l.filters << "," << l.C << "," << l.kh << "," << l.kw << "," << m
            << "," << (v->size() > 1 ? std::sqrt(ss / static_cast<double>(v->size() - 1)) : 0.0) << "," << v->size() << "\n";
      }
    fs::create_directories(out);
    write_text_atomic((fs::path(out) / "weight_symmetry.csv").string(), csv.str());
    std::fprintf(stderr, "weight_symmetry: %s, %zu layers; wrote %s/weight_symmetry.csv\n", net.description.c_str(), layers.size(), out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weight_symmetry: %s\n", e.what());
    return 1;
  }
  return 0;
}
