// experiments/analysis/encoding_data_study.h — the encoding study on users' fMRI data
// (eickenberg2017-encoding.md §1–§3): measured responses instead of SimVox voxels, so no pass
// checks against a truth; the report states the paper's hierarchy claim (early layers predict
// early visual areas, later layers higher ones) as a computed verdict when ROIs are given.
//
// Two modes:
//   images  responses to still images, one row per image: vim-1's EstimatedResponses.mat
//           (read_vim1; folds = its 5 scanning sessions of 350 images) or NPY + manifest
//           (read_npy_responses; folds = the manifest's groups); the stimuli (an NPY (N, C, H, W)
//           or (N, H, W) in [0, 1], or image files) run through the net, rows in the same order.
//           Optional: Haxby-style category folders (read_category_folders) predicted through the
//           fitted models, a synthesised two-sample t per voxel (§4 faces vs places).
//   movie   responses as time series (T TRs, one run label per TR in the manifest's "groups"):
//           the frames (F = T · frames_per_tr) through the net, or extract_features' per-layer
//           frame features; averaged per TR, copies delayed by 2, 3, 4 TRs within each run
//           (encoding_timeseries.h), folds = one run out, Pearson r as the score (§2, §3, Fig. 4
//           right), block permutation for the null.
// Significance as in the SimVox study: statistic = max over layers, a pooled permutation null
// from `perm_voxels` voxels x `n_perm` permutations run as extra target columns through the same
// CV for every layer, Benjamini–Hochberg at `fdr_q`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/analysis/activations.h"

namespace ml::analysis {

struct EncodingDataOptions {
  std::string mode = "images";            // images | movie
  // Responses: exactly one of the two.
  std::string vim1;                       // EstimatedResponses.mat (images mode)
  int subject = 1;
  std::string responses;                  // NPY responses manifest (JSON, encoding_data.h)
  // Stimuli.
  std::string images;                     // images mode: .npy stimuli
  std::vector<std::string> image_files;   // images mode: or image files (the driver reads a manifest CSV)
  std::string vim1_stimuli;               // images mode with --vim1: its Stimuli.mat (stimTrn, stimVal) instead of --images
  // Validation set (§3 option score_validation): vim-1's 120 dataVal images, shown through
  // Stimuli.mat's stimVal or these images (.npy or manifest files); or an NPY manifest's
  // "val_responses" (averaged over "val_repeats") with these images. Each layer's bagged predictor
  // is scored on it (R², val_scores.npy, val_r2_<layer> columns); with score_validation the
  // fingerprints, best layers and ROI profiles use the validation R² (significance stays on the
  // cross-validated scores and their permutation null).
  std::string val_images;
  std::vector<std::string> val_image_files;
  bool score_validation = false;
  std::string frames;                     // movie: .npy frames (F, C, H, W) / (F, H, W)
  std::vector<std::string> frame_files;   // movie: or frame image files, streamed
  std::string frame_features;             // movie: or an extract_features folder (features.json + <layer>.npy)
  int64_t frames_per_tr = 30;             // 15 Hz frames, 2-s TRs
  std::vector<int64_t> delays{2, 3, 4};   // TRs
  int64_t block_trs = 20;                 // block length of the time-series permutation
  // Synthesised contrast (images mode).
  std::string contrast_dir;
  std::vector<std::string> categories{"face", "house"};
  std::vector<std::string> roi_order;     // ROI names from early to late ("" = vim-1's V1 ... LatOcc)
  std::string out;
  uint64_t seed = 0;
  int64_t batch = 64, max_features = 25000;
  int64_t n_alphas = 20, n_perm = 100, perm_voxels = 14;
  double fdr_q = 0.01;
  bool plot = true;                       // tools/plot_encoding.py: fingerprints.png, maps.png
  std::string permutation = "auto";       // auto (images: rows, movie: blocks) | rows | blocks
};

// Runs the study with `net` (its layers `layers`; in movie mode with frame_features the layers
// are the folder's) and returns the summary written to <out>/encoding.json. Errors name the
// file/option and what is wrong before the ridge work starts.
nlohmann::json run_encoding_data(AnalysisNet* net, const std::vector<std::string>& layers,
                                 const EncodingDataOptions& o);

}  // namespace ml::analysis
