// encoding — the encoding-model study (Eickenberg et al. 2017). Default: on SimVox voxels whose
// answer is known: features -> ridge for every layer -> fingerprints -> synthesised retinotopy and
// category contrasts -> the eight pass checks of eickenberg2017-encoding.md §6 (checks.json,
// report.md). With --data-mode images|movie: on measured responses (vim-1 or NPY + manifest;
// experiments/analysis/encoding_data_study.h). Examples:
//   encoding --preset standard --out out/encoding
//   encoding --data-mode images --vim1 EstimatedResponses.mat --images stimTrn.npy --weights alexnet.safetensors --out out/vim1
//   encoding --data-mode images --vim1 EstimatedResponses.mat --vim1-stimuli Stimuli.mat --weights ... --out out/vim1
//   encoding --data-mode movie --responses bold/manifest.json --frames frames.csv --frames-per-tr 30 --weights ... --out out/movie
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "experiments/analysis/encoding_data_study.h"
#include "experiments/analysis/encoding_study.h"
#include "experiments/net_options.h"

using namespace ml;

namespace {
// A stimulus option: an .npy array is passed on as a path, a manifest CSV as its files.
void stimulus_option(const std::string& value, std::string& npy, std::vector<std::string>& files, const char* option) {
  if (value.empty()) return;
  if (std::filesystem::path(value).extension() == ".npy")
    npy = value;
  else
    files = experiments::manifest_files(value, (std::string("encoding ") + option).c_str());
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Encoding models of fMRI voxels (SimVox, vim-1, NPY responses, movie time series): per-layer ridge, fingerprints, synthesised experiments"};
  experiments::NetOptions net_o;
  experiments::add_net_options(app, net_o);
  analysis::EncodingStudyOptions o;
  analysis::EncodingDataOptions d;
  std::string data_mode = "simvox", images, frames;
  app.add_option("--data-mode", data_mode, "simvox (known answer) | images (vim-1 / NPY responses to images) | movie (time series)")
      ->capture_default_str();
  app.add_option("--preset", o.preset, "simvox: tiny (CI) | standard (2-core CPU) | gpu")->capture_default_str();
  app.add_option("--out", o.out, "output folder")->required();
  app.add_option("--items-dir", o.items_dir, "simvox: Fashion-MNIST folder (default Debian's)");
  app.add_option("--rf-sign", o.rf_sign,
                 "simvox: signs of conv voxels' channel weights: blank (stimulation of the field raises the response) | positive (all >= 0)")
      ->capture_default_str();
  app.add_option("--max-features", o.max_features, "features kept per layer at most")->capture_default_str();
  app.add_option("--vim1", d.vim1, "images: vim-1 EstimatedResponses.mat");
  app.add_option("--subject", d.subject, "images: vim-1 subject 1 or 2")->capture_default_str();
  app.add_option("--responses", d.responses, "images/movie: NPY responses manifest (JSON; groups = sessions or runs)");
  app.add_option("--images", images, "images: stimuli, .npy (N, C, H, W) in [0, 1] or a manifest CSV with a 'file' column");
  app.add_option("--vim1-stimuli", d.vim1_stimuli,
                 "images: vim-1 Stimuli.mat (stimTrn for the training rows, stimVal for the 120 validation rows) instead of --images");
  std::string val_images;
  app.add_option("--val-images", val_images, "images: the validation stimuli (vim-1's 120, or the rows of the manifest's val_responses), .npy or a manifest CSV");
  app.add_flag("--score-validation", d.score_validation,
               "images: fingerprints, best layers and ROI profiles from the validation R2 (significance stays cross-validated)");
  app.add_option("--frames", frames, "movie: frames, .npy (F, C, H, W) or a manifest CSV");
  app.add_option("--frame-features", d.frame_features, "movie: extract_features folder of the frames instead");
  app.add_option("--frames-per-tr", d.frames_per_tr, "movie: frames averaged per TR")->capture_default_str();
  app.add_option("--delays", d.delays, "movie: delays in TRs")->delimiter(',')->capture_default_str();
  app.add_option("--block-trs", d.block_trs, "movie: TRs per block of the block permutation")->capture_default_str();
  app.add_option("--permutation", d.permutation, "auto (images: rows, movie: blocks) | rows | blocks")->capture_default_str();
  app.add_option("--permutations", d.n_perm, "images/movie: permutations of the null")->capture_default_str();
  app.add_option("--perm-voxels", d.perm_voxels, "images/movie: voxels permuted for the pooled null")->capture_default_str();
  app.add_option("--alphas", d.n_alphas, "images/movie: penalties (log grid, lambda_max 1e-6 .. 1e2)")->capture_default_str();
  app.add_option("--fdr", d.fdr_q, "images/movie: Benjamini-Hochberg q")->capture_default_str();
  app.add_option("--contrast-dir", d.contrast_dir, "images: Haxby-style folder of category sub-folders to synthesise a contrast");
  app.add_option("--categories", d.categories, "images: the two sub-folders A,B of --contrast-dir")->delimiter(',');
  app.add_option("--roi-order", d.roi_order, "images/movie: ROI names early to late (default for vim-1: V1..LatOcc)")->delimiter(',');
  bool no_plot = false, no_parity = false;
  app.add_flag("--no-plot", no_plot, "skip tools/plot_encoding.py");
  app.add_flag("--no-parity", no_parity, "skip pass check 7's reruns");
  CLI11_PARSE(app, argc, argv);
  try {
    experiments::apply_threads(net_o);
    if (data_mode == "simvox") {
      o.net = net_o.spec;
      o.seed = net_o.spec.seed;
      if (net_o.batch > 0) o.batch = net_o.batch;
      o.plot = !no_plot;
      o.parity = !no_parity;
      analysis::run_encoding_study(o);
      return 0;
    }
    ML_CHECK(data_mode == "images" || data_mode == "movie", "--data-mode must be simvox, images or movie, got '", data_mode, "'");
    d.mode = data_mode;
    d.out = o.out;
    d.seed = net_o.spec.seed;
    d.max_features = o.max_features;
    d.plot = !no_plot;
    if (net_o.batch > 0) d.batch = net_o.batch;
    stimulus_option(images, d.images, d.image_files, "--images");
    stimulus_option(val_images, d.val_images, d.val_image_files, "--val-images");
    stimulus_option(frames, d.frames, d.frame_files, "--frames");
    if (data_mode == "movie" && !d.frame_features.empty()) {
      analysis::run_encoding_data(nullptr, {}, d);
    } else {
      ML_CHECK(!net_o.spec.weights.empty() || net_o.spec.untrained || experiments::is_fixed_model(net_o.spec.model),
               "--data-mode ", data_mode, " needs a network: --weights, --untrained --model, or a fixed model");
      analysis::AnalysisNet net = experiments::load_net(net_o);
      analysis::run_encoding_data(&net, analysis::resolve_layers(net.model, net_o.layers), d);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "encoding: %s\n", e.what());
    return 1;
  }
  return 0;
}
