// rsa_compare — the RSA core (experiments/analysis/rsa.h) on arrays from files, for the
// comparison with rsatoolbox (tools/compare_rsatoolbox.py) and for timing: RDMs of each model
// layer and of the neural array, their comparisons, and the stimulus bootstrap over given (or
// drawn) samples. Writes <out>/rdms.npy (L + 1, n, n; the neural RDM last), <out>/boot.npy
// (S, L) and <out>/rsa_compare.json (comparisons, bootstrap summaries, seconds).
//   rsa_compare --layers l1.npy,l2.npy --neural area.npy [--samples idx.npy] --out DIR
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "experiments/analysis/rsa.h"

namespace fs = std::filesystem;
using namespace ml;
using namespace ml::analysis;

namespace {
RowMatrixXd read_matrix(const std::string& path) {
  const Tensor t = load_npy(path);
  ML_CHECK(t.dim() == 2 && t.dtype() == DType::F32, "rsa_compare: '", path, "' must be a float32 (stimuli, units) array, got ", t.str());
  RowMatrixXd m(t.size(0), t.size(1));
  for (int64_t i = 0; i < t.numel(); ++i) m.data()[i] = t.data()[i];
  return m;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RSA core on arrays from files (comparison with rsatoolbox, timing)"};
  std::vector<std::string> layer_files;
  std::string neural_file, samples_file, out, distance = "correlation", comparison = "pearson";
  int64_t bootstrap = 1000, repeat = 1;
  uint64_t seed = 0;
  bool zscore = false;
  app.add_option("--layers", layer_files, "(stimuli, units) float32 NPYs, one per layer")->delimiter(',')->required();
  app.add_option("--neural", neural_file, "(stimuli, neurons) float32 NPY")->required();
  app.add_option("--samples", samples_file, "(samples, stimuli) int32 NPY of bootstrap indices (default: drawn)");
  app.add_option("--bootstrap", bootstrap, "samples to draw when --samples is not given")->capture_default_str();
  app.add_option("--seed", seed, "seed of the drawn samples")->capture_default_str();
  app.add_option("--distance", distance, "correlation | euclidean | sq_euclidean_per_unit")->capture_default_str();
  app.add_option("--comparison", comparison, "pearson | spearman | kendall_tau_a")->capture_default_str();
  app.add_option("--repeat", repeat, "time the whole computation this many times (best is reported)")->capture_default_str();
  app.add_flag("--zscore", zscore, "z-score the layers' units first");
  app.add_option("--out", out, "output folder")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const RdmDistance d = parse_rdm_distance(distance);
    const RdmComparison c = parse_rdm_comparison(comparison);
    std::vector<RowMatrixXd> layers;
    for (const auto& f : layer_files) layers.push_back(read_matrix(f));
    const RowMatrixXd neural_x = read_matrix(neural_file);
    const int64_t n = neural_x.rows();
    for (size_t l = 0; l < layers.size(); ++l)
      ML_CHECK(layers[l].rows() == n, "rsa_compare: '", layer_files[l], "' has ", layers[l].rows(), " stimuli, the neural array ", n);
    std::vector<std::vector<int32_t>> samples;
    if (!samples_file.empty()) {
      const Tensor s = load_npy(samples_file);
      ML_CHECK(s.dim() == 2 && s.dtype() == DType::I32 && s.size(1) == n, "rsa_compare: '", samples_file, "' must be int32 (samples, ", n,
               "), got ", s.str());
      for (int64_t i = 0; i < s.size(0); ++i) samples.emplace_back(s.data_i32() + i * n, s.data_i32() + (i + 1) * n);
    } else {
      samples = bootstrap_samples(n, bootstrap, seed);
    }
    ML_CHECK(!samples.empty(), "rsa_compare: the bootstrap count must be >= 1");
    double best = 1e300;
    std::vector<Eigen::MatrixXd> model;
    Eigen::MatrixXd neural;
    std::vector<std::vector<std::vector<double>>> boot;
    for (int64_t rep = 0; rep < std::max<int64_t>(1, repeat); ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      model.clear();
      for (const auto& x : layers) model.push_back(compute_rdm(zscore ? zscore_columns(x, "layer") : x, d));
      neural = compute_rdm(neural_x, d);
      boot = bootstrap_comparisons(model, {neural}, samples, c);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    fs::create_directories(out);
    Tensor rdms = Tensor::empty({static_cast<int64_t>(model.size()) + 1, n, n});
    for (size_t l = 0; l <= model.size(); ++l) {
      const Eigen::MatrixXd& m = l < model.size() ? model[l] : neural;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) rdms.data()[(static_cast<int64_t>(l) * n + i) * n + j] = static_cast<float>(m(i, j));
    }
    save_npy((fs::path(out) / "rdms.npy").string(), rdms);
    Tensor b = Tensor::empty({static_cast<int64_t>(samples.size()), static_cast<int64_t>(model.size())});
    nlohmann::json layers_j = nlohmann::json::array();
    for (size_t l = 0; l < model.size(); ++l) {
      std::vector<double> v;
      for (size_t s = 0; s < samples.size(); ++s) {
        v.push_back(boot[s][l][0]);
        b.data()[static_cast<int64_t>(s * model.size() + l)] = static_cast<float>(boot[s][l][0]);
      }
      const BootstrapSummary sum = summarize_bootstrap(compare_rdms(model[l], neural, c), v);
      layers_j.push_back({{"file", layer_files[l]}, {"r", sum.estimate}, {"boot_mean", sum.mean}, {"boot_sd", sum.sd}, {"lo", sum.lo},
                          {"hi", sum.hi}, {"unusable", sum.unusable}});
    }
    save_npy((fs::path(out) / "boot.npy").string(), b);
    const nlohmann::json j = {{"distance", distance}, {"comparison", comparison}, {"samples", samples.size()}, {"stimuli", n},
                              {"seconds", best}, {"layers", layers_j}};
    write_text_atomic((fs::path(out) / "rsa_compare.json").string(), j.dump(1));
    std::printf("%s\n", j.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rsa_compare: %s\n", e.what());
    return 1;
  }
  return 0;
}
