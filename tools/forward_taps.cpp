// tools/forward_taps.cpp — the engine's forward at every analysis tap of a model, for the
// comparison with torchvision (tests/python/compare_torchvision.py): reads an input array
// (N, 3, S, S) from an NPY file exactly as given (no normalisation: the comparison feeds both
// sides the same tensor), loads the weights, runs one forward in eval mode and writes each tap's
// module output unchanged (no analysis ReLU) to <out>/<tap>.npy, plus <out>/taps.json
// {tap: module path}.
//
//     forward_taps --model resnet50 --weights r.safetensors --input x.npy --out taps/
#include <CLI/CLI.hpp>
#include <omp.h>

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "models/model.h"

int main(int argc, char** argv) {
  CLI::App app{"the engine's forward at every analysis tap (raw module outputs) of an NPY input"};
  std::string model, weights, input, out;
  int threads = 0;
  app.add_option("--model", model, "a make_model name (resnet50, convnext_tiny, vit_b_16, ...)")->required();
  app.add_option("--weights", weights, "safetensors state dict (tools/export_torchvision_weights.py)")->required();
  app.add_option("--input", input, "float32 NPY (N, 3, S, S), fed as is")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--threads", threads, "OpenMP threads (0: all)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (threads > 0) omp_set_num_threads(threads);
    const ml::Tensor x = ml::load_npy(input);
    ML_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == x.size(3), "forward_taps: '", input,
             "' must be (N, 3, S, S), is ", x.str());
    ml::models::ModelOptions o;
    o.image_size = x.size(2);
    ml::models::Model m = ml::models::make_model(model, o);
    ml::models::load_weights(*m.net, weights);
    m.net->eval();
    std::vector<std::string> modules;
    nlohmann::json taps = nlohmann::json::object();
    for (const auto& l : m.layers) {
      modules.push_back(l.module);
      taps[l.name] = l.module;
    }
    std::filesystem::create_directories(out);
    ml::NoGradGuard ng;
    ml::nn::ActivationCapture cap(*m.net, modules);
    const ml::Tensor y = (*m.net)(x);
    for (const auto& l : m.layers) ml::save_npy((std::filesystem::path(out) / (l.name + ".npy")).string(), cap[l.module]);
    ml::save_npy((std::filesystem::path(out) / "output.npy").string(), y);
    ml::write_text_atomic((std::filesystem::path(out) / "taps.json").string(), taps.dump(1));
    std::printf("%s: %zu taps of %s written to %s\n", input.c_str(), m.layers.size(), model.c_str(), out.c_str());
  } catch (const ml::Error& e) {
    std::fprintf(stderr, "forward_taps: %s\n", e.what());
    return 1;
  }
  return 0;
}
