#include "experiments/analysis/encoding_data_study.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>

#include "engine/data/image_folder.h"
#include "engine/data/transforms.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "experiments/analysis/encoding_data.h"
#include "experiments/analysis/encoding_experiments.h"
#include "experiments/analysis/encoding_features.h"
#include "experiments/analysis/encoding_timeseries.h"
#include "experiments/analysis/fingerprint.h"
#include "experiments/analysis/plot_script.h"
#include "experiments/analysis/ridge.h"
#include "experiments/analysis/rsa.h"
#include "experiments/analysis/run_summary.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ml::analysis {

namespace {

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::string fmt(double v, int prec = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

// Stimuli as the net takes them: (N, C, H, W) or (N, H, W) float32 in [0, 1] -> (N, C_net, S, S)
// (gray <-> RGB, bilinear resize); errors name `what`.
Tensor prepare_stimuli(Tensor x, const AnalysisNet& net, const std::string& what) {
  ML_CHECK(x.dtype() == DType::F32 && (x.dim() == 3 || x.dim() == 4), what,
           " must be a float32 (N, C, H, W) or (N, H, W) array of images in [0, 1], got ", x.str());
  if (x.dim() == 3) x = x.reshape({x.size(0), 1, x.size(1), x.size(2)});
  ML_CHECK(x.size(1) == 1 || x.size(1) == 3, what, " has ", x.size(1), " channels (1 or 3 expected): ", x.str());
  const float* p = x.data();
  for (int64_t i = 0; i < x.numel(); ++i)
    ML_CHECK(std::isfinite(p[i]), what, " holds a non-finite value at flat index ", i);
  x = to_channels(x, net.model.in_channels);
  const int64_t S = net.model.image_size;
  if (x.size(2) != S || x.size(3) != S) x = resize_bilinear(x, S, S);
  return x;
}

Tensor load_stimulus_npy(const std::string& path, const std::string& option) {
  ML_CHECK(fs::is_regular_file(path), "encoding: ", option, " '", path, "' does not exist");
  return load_npy(path);
}

// Movie features from frames through the net, `chunk(i0, i1)` giving frames [i0, i1) as the net
// takes them: streamed a whole number of TRs at a time, so only TR averages are ever kept.
std::vector<Eigen::MatrixXf> movie_features(AnalysisNet& net, const std::vector<std::string>& layers, int64_t n_frames,
                                            int64_t fpt, int64_t batch, int64_t max_features,
                                            const std::function<Tensor(int64_t, int64_t)>& chunk) {
  const int64_t T = n_frames / fpt, per = fpt * std::max<int64_t>(1, batch / fpt);
  std::vector<Eigen::MatrixXf> out(layers.size());
  for (int64_t f0 = 0; f0 < n_frames; f0 += per) {
    const int64_t f1 = std::min(n_frames, f0 + per);
    const auto F = encoding_features(net, chunk(f0, f1), layers, batch, max_features);
    for (size_t l = 0; l < layers.size(); ++l) {
      if (f0 == 0) out[l].resize(T, F[l].cols());
      out[l].middleRows(f0 / fpt, (f1 - f0) / fpt) = tr_average(F[l], fpt);
    }
  }
  return out;
}

// extract_features' folder: features.json lists the layers and their files (F frames, kept).
std::vector<Eigen::MatrixXf> folder_features(const std::string& dir, int64_t n_frames, int64_t fpt,
                                             std::vector<std::string>& layers) {
  const std::string jpath = (fs::path(dir) / "features.json").string();
  ML_CHECK(fs::is_regular_file(jpath), "encoding: --frame-features '", dir, "' has no features.json (extract_features writes it)");
  json j;
  try {
    std::ifstream in(jpath);
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw Error(detail::cat("encoding: '", jpath, "' is not JSON: ", e.what()));
  }
  ML_CHECK(j.contains("layers") && j["layers"].is_array() && !j["layers"].empty(), "encoding: '", jpath,
           "' lists no \"layers\"");
  layers.clear();
  std::vector<Eigen::MatrixXf> out;
  for (const auto& l : j["layers"]) {
    ML_CHECK(l.contains("name") && l.contains("file") && l["name"].is_string() && l["file"].is_string(), "encoding: '",
             jpath, "' has a layer without \"name\" and \"file\"");
    const std::string f = (fs::path(dir) / l["file"].get<std::string>()).string();
    ML_CHECK(fs::is_regular_file(f), "encoding: --frame-features: missing '", f, "'");
    const Tensor t = load_npy(f);
    ML_CHECK(t.dim() == 2 && t.dtype() == DType::F32, "encoding: '", f, "' must be float32 (frames, features), got ", t.str());
    ML_CHECK(t.size(0) == n_frames, "encoding: '", f, "' has ", t.size(0), " frames; the responses' TRs x --frames-per-tr = ",
             n_frames);
    const Eigen::Map<const RowMatF> m(t.data(), t.size(0), t.size(1));
    ML_CHECK(m.allFinite(), "encoding: '", f, "' holds non-finite features");
    out.push_back(tr_average(m, fpt));
    layers.push_back(l["name"].get<std::string>());
  }
  return out;
}

}  // namespace

json run_encoding_data(AnalysisNet* net, const std::vector<std::string>& layers_in, const EncodingDataOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  auto log = [&](const std::string& s) {
    std::fprintf(stderr, "encoding [%6.1f s]: %s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), s.c_str());
  };
  // ---- options, checked before any work ----
  ML_CHECK(!o.out.empty(), "encoding: --out is required");
  ML_CHECK(o.mode == "images" || o.mode == "movie", "encoding: --data-mode must be images or movie, got '", o.mode, "'");
  const bool movie = o.mode == "movie";
  ML_CHECK(o.vim1.empty() != o.responses.empty(), "encoding: give exactly one of --vim1 and --responses");
  ML_CHECK(!(movie && !o.vim1.empty()), "encoding: vim-1 holds image responses, not time series (--data-mode images)");
  ML_CHECK(o.n_alphas >= 2, "encoding: --alphas must be >= 2, got ", o.n_alphas);
  ML_CHECK(o.n_perm >= 1 && o.perm_voxels >= 1, "encoding: --permutations and --perm-voxels must be >= 1");
  ML_CHECK(o.fdr_q > 0 && o.fdr_q < 1, "encoding: --fdr must be in (0, 1), got ", o.fdr_q);
  ML_CHECK(o.permutation == "auto" || o.permutation == "rows" || o.permutation == "blocks",
           "encoding: --permutation must be auto, rows or blocks, got '", o.permutation, "'");
  const bool blocks = o.permutation == "blocks" || (o.permutation == "auto" && movie);
  ML_CHECK(!(blocks && !movie), "encoding: block permutation needs time series (--data-mode movie)");
  if (movie) {
    ML_CHECK(o.frames_per_tr >= 1, "encoding: --frames-per-tr must be >= 1, got ", o.frames_per_tr);
    const int sources = !o.frames.empty() + !o.frame_files.empty() + !o.frame_features.empty();
    ML_CHECK(sources == 1, "encoding: movie mode needs exactly one of --frames (.npy or a manifest CSV) and --frame-features");
    ML_CHECK(o.contrast_dir.empty(), "encoding: --contrast-dir is for image responses (--data-mode images)");
  } else {
    const int sources = !o.images.empty() + !o.image_files.empty() + !o.vim1_stimuli.empty();
    ML_CHECK(sources == 1, "encoding: images mode needs exactly one of --images (.npy or a manifest CSV) and --vim1-stimuli");
  }
  ML_CHECK(o.vim1_stimuli.empty() || !o.vim1.empty(), "encoding: --vim1-stimuli goes with --vim1 (its responses)");
  const bool has_val_images = !o.vim1_stimuli.empty() || !o.val_images.empty() || !o.val_image_files.empty();
  ML_CHECK(!(movie && has_val_images), "encoding: a validation image set is for image responses (--data-mode images)");

  ML_CHECK(!(!o.vim1_stimuli.empty() && (!o.val_images.empty() || !o.val_image_files.empty())),
           "encoding: give the validation images once (--vim1-stimuli holds stimVal, or --val-images)");
  ML_CHECK(!o.score_validation || has_val_images, "encoding: --score-validation needs a validation set (--vim1 with --vim1-stimuli or --val-images)");
  const bool need_net = !movie || o.frame_features.empty();
  ML_CHECK(!need_net || net != nullptr, "encoding: no network to compute the features");

  // ---- responses ----
  Eigen::MatrixXf Y;
  std::vector<int64_t> groups, column;
  std::vector<std::string> roi;
  int64_t in_file = 0, dropped = 0;
  std::string source;
  std::vector<std::string> roi_order = o.roi_order;
  Eigen::MatrixXf Y_val;
  if (!o.vim1.empty()) {
    Vim1Data d = read_vim1(o.vim1, o.subject);
    Y = std::move(d.train);
    Y_val = std::move(d.val);
    // 5 scanning sessions of 350 training images each, in file order (science file §1).
    for (int64_t i = 0; i < Y.rows(); ++i) groups.push_back(i / 350);
    for (size_t v = 0; v < d.roi.size(); ++v) {
      roi.push_back(vim1_roi_names()[static_cast<size_t>(d.roi[v])]);
      column.push_back(d.voxel_index[v]);
    }
    in_file = d.voxels_in_file, dropped = d.dropped_nan;
    source = "vim-1 " + o.vim1 + " subject " + std::to_string(o.subject);
    if (roi_order.empty()) roi_order = {"V1", "V2", "V3", "V3A", "V3B", "V4", "LatOcc"};
  } else {
    NpyResponses d = read_npy_responses(o.responses);
    Y = std::move(d.responses);
    if (has_val_images) {
      ML_CHECK(d.val_repeats > 0, "encoding: --val-images needs validation responses: '", o.responses,
               "' has no \"val_responses\"");
      Y_val = std::move(d.val);
    }
    groups = std::move(d.groups);
    roi = std::move(d.roi);
    column = std::move(d.kept);
    in_file = d.voxels_in_file, dropped = d.dropped_nan;
    source = o.responses;
  }
  const int64_t n = Y.rows(), V = Y.cols();
  if (blocks) {  // every run must hold 2 blocks: checked here, before the features are computed
    ML_CHECK(o.block_trs >= 1, "encoding: --block-trs must be >= 1, got ", o.block_trs);
    for (size_t i = 0, j = 0; i < groups.size(); i = j) {
      while (j < groups.size() && groups[j] == groups[i]) ++j;
      ML_CHECK(static_cast<int64_t>(j - i) >= 2 * o.block_trs, "encoding: run ", groups[i], " of ", source, " has ", j - i,
               " TRs, fewer than 2 blocks of --block-trs ", o.block_trs, ": nothing to permute (use shorter blocks)");
    }
  }
  ML_CHECK(V >= 1, "encoding: no voxel of ", source, " has finite responses (", dropped, " dropped)");
  log(source + ": " + std::to_string(n) + (movie ? " TRs" : " images") + ", " + std::to_string(V) + " voxels (" +
      std::to_string(dropped) + " of " + std::to_string(in_file) + " dropped for non-finite responses)");

  // ---- features per layer ----
  std::vector<std::string> layers = layers_in;
  std::vector<Eigen::MatrixXf> F;
  std::vector<Eigen::MatrixXf> F_val;
  std::string val_source;
  if (!movie) {
    Vim1Stimuli vs;
    if (!o.vim1_stimuli.empty()) {
      vs = read_vim1_stimuli(o.vim1_stimuli);
      log("vim-1 stimuli " + o.vim1_stimuli + ": " + std::to_string(vs.train.size(0)) + " + " + std::to_string(vs.val.size(0)) +
          " images of " + std::to_string(vs.train.size(2)) + " px, values [" + fmt(vs.min, 4) + ", " + fmt(vs.max, 4) + "] -> " +
          vs.range_rule);
    }
    const int64_t C = net->model.in_channels, S = net->model.image_size;
    Tensor imgs = !o.vim1_stimuli.empty() ? vs.train
                  : !o.images.empty()     ? load_stimulus_npy(o.images, "--images")
                                          : load_images(o.image_files, C, S, S);
    const std::string what = !o.vim1_stimuli.empty() ? "encoding: --vim1-stimuli " + o.vim1_stimuli + " stimTrn"
                             : "encoding: --images " + (o.images.empty() ? std::string("(manifest files)") : o.images);
    if (has_val_images) {
      Tensor vimgs = !o.vim1_stimuli.empty() ? vs.val
                     : !o.val_images.empty() ? load_stimulus_npy(o.val_images, "--val-images")
                                             : load_images(o.val_image_files, C, S, S);
      val_source = !o.vim1_stimuli.empty() ? o.vim1_stimuli + " stimVal" : !o.val_images.empty() ? o.val_images : "--val-images files";
      ML_CHECK(vimgs.dim() >= 1 && vimgs.size(0) == Y_val.rows(), "encoding: ", val_source, " has ",
               vimgs.dim() ? vimgs.size(0) : 0, " images for the ", Y_val.rows(), " validation rows of ", source);
      F_val = encoding_features(*net, prepare_stimuli(vimgs, *net, "encoding: " + val_source), layers, o.batch, o.max_features);
    }
    ML_CHECK(imgs.dim() >= 1 && imgs.size(0) == n, what, " has ", imgs.dim() ? imgs.size(0) : 0,
             " images for the ", n, " response rows of ", source);
    F = encoding_features(*net, prepare_stimuli(imgs, *net, what), layers, o.batch, o.max_features);
  } else {
    const int64_t n_frames = n * o.frames_per_tr;
    if (!o.frame_features.empty()) {
      F = folder_features(o.frame_features, n_frames, o.frames_per_tr, layers);
    } else if (!o.frames.empty()) {
      const Tensor fr = prepare_stimuli(load_stimulus_npy(o.frames, "--frames"), *net, "encoding: --frames " + o.frames);
      ML_CHECK(fr.size(0) == n_frames, "encoding: --frames '", o.frames, "' has ", fr.size(0), " frames; the ", n,
               " TRs of ", source, " x --frames-per-tr ", o.frames_per_tr, " = ", n_frames);
      F = movie_features(*net, layers, n_frames, o.frames_per_tr, o.batch, o.max_features,
                         [&](int64_t a, int64_t b) { return fr.slice(a, b); });
    } else {
      ML_CHECK(static_cast<int64_t>(o.frame_files.size()) == n_frames, "encoding: --frames manifest lists ",
               o.frame_files.size(), " frames; the ", n, " TRs of ", source, " x --frames-per-tr ", o.frames_per_tr, " = ",
               n_frames);
      const int64_t C = net->model.in_channels, S = net->model.image_size;
      F = movie_features(*net, layers, n_frames, o.frames_per_tr, o.batch, o.max_features, [&](int64_t a, int64_t b) {
        return load_images(std::vector<std::string>(o.frame_files.begin() + a, o.frame_files.begin() + b), C, S, S);
      });
    }
    for (auto& f : F) f = delayed_copies(f, groups, o.delays);
  }
  const auto L = static_cast<int64_t>(layers.size());
  json layer_info = json::array();
  for (int64_t l = 0; l < L; ++l)
    layer_info.push_back({{"name", layers[static_cast<size_t>(l)]}, {"features", F[static_cast<size_t>(l)].cols()}});
  log("features of " + std::to_string(L) + " layers" + (movie ? " (TR averages, delays " + json(o.delays).dump() + ")" : ""));

  // ---- synthesised contrast stimuli (images mode) ----
  std::vector<Eigen::MatrixXf> F_con;
  CategoryImages cat;
  if (!o.contrast_dir.empty()) {
    ML_CHECK(o.categories.size() == 2, "encoding: --categories must name 2 folders (A, B), got ", o.categories.size());
    cat = read_category_folders(o.contrast_dir, o.categories);
    const int64_t C = net->model.in_channels, S = net->model.image_size;
    F_con = encoding_features(*net, load_images(cat.files, C, S, S), layers, o.batch, o.max_features);
  }

  // ---- ridge for every layer, the permutation null as extra columns ----
  std::vector<int64_t> perm_cols;
  const int64_t np = std::min(o.perm_voxels, V);
  for (int64_t k = 0; k < np; ++k) perm_cols.push_back(k * V / np);
  const Eigen::MatrixXf Yp = blocks ? block_permuted_targets(Y, perm_cols, groups, o.block_trs, o.n_perm, o.seed + 400)
                                    : permuted_targets(Y, perm_cols, o.n_perm, o.seed + 400);
  Eigen::MatrixXf Yall(n, V + Yp.cols());
  Yall << Y, Yp;
  RidgeOptions ro;
  ro.alphas = log_grid(1e-6, 1e2, static_cast<int>(o.n_alphas));
  ro.alpha_relative = true;
  ro.select = movie ? "r" : "r2";
  if (net != nullptr && net->device == Device::CUDA) ro.device = "cuda";  // --device cuda: the ridge GEMMs there too
  Eigen::MatrixXf scores(V, L), null_scores(Yp.cols(), L);
  Eigen::MatrixXf pred_con, val_scores;
  if (!F_val.empty()) val_scores.resize(V, L);
  json ridge_info = json::array();
  for (int64_t l = 0; l < L; ++l) {
    ro.who = "ridge " + layers[static_cast<size_t>(l)];
    RidgeFit fit = ridge_cv(F[static_cast<size_t>(l)], Yall, groups, ro);
    const Eigen::VectorXf& s = movie ? fit.r : fit.r2;
    scores.col(l) = s.head(V);
    null_scores.col(l) = s.tail(Yp.cols());
    if (!F_con.empty() || !F_val.empty()) {  // the bagged predictor of the real voxels only
      fit.coef.conservativeResize(Eigen::NoChange, V);
      fit.intercept.conservativeResize(V);
    }
    if (!F_val.empty()) {
      // R² on the validation images: 1 - ‖y - ŷ‖² / ‖y - ȳ‖² per voxel, ȳ the validation mean.
      const Eigen::MatrixXf pv = fit.predict(F_val[static_cast<size_t>(l)]);
      for (int64_t v = 0; v < V; ++v) {
        const double ss_tot = (Y_val.col(v).array() - Y_val.col(v).mean()).square().sum();
        const double ss_res = (Y_val.col(v) - pv.col(v)).squaredNorm();
        val_scores(v, l) = ss_tot > 0 ? static_cast<float>(1 - ss_res / ss_tot) : 0.f;
      }
    }
    if (!F_con.empty()) {
      const Eigen::MatrixXf p = fit.predict(F_con[static_cast<size_t>(l)]) / static_cast<float>(L);
      pred_con = l == 0 ? p : Eigen::MatrixXf(pred_con + p);
    }
    ridge_info.push_back({{"layer", layers[static_cast<size_t>(l)]}, {"solver", fit.dual ? "dual" : "primal"},
                          {"seconds", fit.seconds}, {"features", fit.n_features}});
    log(ro.who + ": " + (fit.dual ? "dual" : "primal") + ", " + fmt(fit.seconds, 2) + " s");
  }

  // ---- significance: max over layers against the pooled null, BH ----
  std::vector<double> obs(static_cast<size_t>(V)), null;
  for (int64_t v = 0; v < V; ++v) obs[static_cast<size_t>(v)] = scores.row(v).maxCoeff();
  for (int64_t k = 0; k < null_scores.rows(); ++k) null.push_back(null_scores.row(k).maxCoeff());
  const auto pval = permutation_pvalues(obs, null);
  const auto sig = benjamini_hochberg(pval, o.fdr_q).rejected;
  const int64_t n_sig = std::count(sig.begin(), sig.end(), true);
  // What the fingerprints read: the cross-validated scores, or the validation R² (--score-validation).
  const Eigen::MatrixXf& fp_scores = o.score_validation ? val_scores : scores;
  const Fingerprints fp = fingerprints(fp_scores, sig);

  // ---- ROIs: profiles and the hierarchy verdict ----
  std::vector<int> roi_idx(static_cast<size_t>(V), -1);
  for (int64_t v = 0; v < V; ++v) {
    const auto it = std::find(roi_order.begin(), roi_order.end(), roi[static_cast<size_t>(v)]);
    if (it != roi_order.end()) roi_idx[static_cast<size_t>(v)] = static_cast<int>(it - roi_order.begin());
  }
  const auto R = static_cast<int>(roi_order.size());
  const Eigen::MatrixXf prof = roi_profiles(fp_scores, roi_idx, R);
  json roi_json = json::array();
  std::vector<double> rank, summary_mean;
  for (int r = 0; r < R; ++r) {
    double s = 0, b = 0, k = 0, all = 0;
    for (int64_t v = 0; v < V; ++v) {
      if (roi_idx[static_cast<size_t>(v)] != r) continue;
      all += 1;
      if (!sig[static_cast<size_t>(v)]) continue;
      s += fp.trend[v], b += fp.best_layer[static_cast<size_t>(v)], k += 1;
    }
    roi_json.push_back({{"roi", roi_order[static_cast<size_t>(r)]}, {"voxels", all}, {"significant", k},
                        {"mean_summary", k > 0 ? json(s / k) : json(nullptr)}, {"mean_best_layer", k > 0 ? json(b / k) : json(nullptr)}});
    if (k > 0) rank.push_back(r), summary_mean.push_back(s / k);
  }
  json verdicts = json::array();
  {
    // The paper's Fig. 4 claim: the fingerprint summary is low in V1/V2 and rises to LatOcc. Holds
    // here when the Spearman correlation of ROI rank (early -> late) with the ROI's mean summary
    // over significant voxels is >= 0.7 (our threshold) over >= 3 ROIs with significant voxels.
    std::string sentence;
    bool pass = false;
    double rho = NAN;
    if (rank.size() >= 3) {
      rho = compare_vectors(rank, summary_mean, RdmComparison::Spearman);
      if (std::isnan(rho)) rho = 0.0;  // a constant side: no ordering to agree with
      pass = rho >= 0.7;
      sentence = "Across " + std::to_string(rank.size()) + " ROIs with significant voxels the fingerprint summary " +
                 (pass ? "rises" : "does not rise") + " from early to late areas (Spearman rho " + fmt(rho) +
                 ", holds at >= 0.7): early layers " + (pass ? "predict" : "do not clearly predict") +
                 " early visual areas best and later layers higher ones.";
    } else {
      sentence = "Not tested: fewer than 3 ROIs of --roi-order hold significant voxels (" + std::to_string(rank.size()) + ").";
    }
    verdicts.push_back({{"claim", "early layers map to early visual areas, later layers to higher ones (Fig. 4)"},
                        {"tested", rank.size() >= 3}, {"pass", pass}, {"spearman_roi_rank_summary", rho},
                        {"verdict", sentence}});
  }
  Eigen::VectorXf t_con;
  if (!F_con.empty()) {
    std::vector<int> is_a(cat.category.size());
    for (size_t i = 0; i < is_a.size(); ++i) is_a[i] = cat.category[i] == 0;
    t_con = two_sample_t(pred_con, is_a);
  }

  // ---- outputs ----
  fs::create_directories(o.out);
  {
    RowMatF s = scores;
    save_npy((fs::path(o.out) / "scores.npy").string(),
             Tensor::from_vector({V, L}, std::vector<float>(s.data(), s.data() + s.size())));
    std::ostringstream vc;
    const std::string sc = movie ? "r_" : "r2_";
    vc << "voxel,source_index,roi,best_layer,trend,max_score,p,significant";
    if (t_con.size()) vc << ",t_" << o.categories[0] << "_vs_" << o.categories[1];
    for (const auto& l : layers) vc << ',' << sc << l;
    if (val_scores.size())
      for (const auto& l : layers) vc << ",val_r2_" << l;
    vc << '\n';
    for (int64_t v = 0; v < V; ++v) {
      vc << v << ',' << column[static_cast<size_t>(v)] << ',' << roi[static_cast<size_t>(v)] << ','
         << fp.best_layer[static_cast<size_t>(v)] << ',' << fp.trend[v] << ',' << obs[static_cast<size_t>(v)] << ','
         << pval[static_cast<size_t>(v)] << ',' << sig[static_cast<size_t>(v)];
      if (t_con.size()) vc << ',' << t_con[v];
      for (int64_t l = 0; l < L; ++l) vc << ',' << scores(v, l);
      for (int64_t l = 0; l < val_scores.cols(); ++l) vc << ',' << val_scores(v, l);
      vc << '\n';
    }
    write_text_atomic((fs::path(o.out) / "voxels.csv").string(), vc.str());
    write_text_atomic((fs::path(o.out) / "roi_profiles.csv").string(),
                      roi_profiles_csv(prof, roi_order, layers));
  }
  json summary = {{"study", std::string("encoding models (Eickenberg et al. 2017) on measured ") + (movie ? "time series" : "image responses")},
                  {"mode", o.mode}, {"responses", source}, {"seed", o.seed},
                  {"network", net ? net->description : "features from " + o.frame_features}, {"layers", layer_info},
                  {"rows", n}, {"voxels", V}, {"voxels_in_file", in_file}, {"dropped_nonfinite", dropped},
                  {"folds", group_folds(groups, n, "encoding").labels.size()}, {"score", movie ? "pearson_r" : "r2"},
                  {"penalties_relative", ro.alphas},
                  {"permutation_null", {{"kind", blocks ? "blocks of TRs within runs" : "rows"}, {"block_trs", blocks ? o.block_trs : 0},
                                        {"voxels", np}, {"permutations", o.n_perm}}},
                  {"fdr_q", o.fdr_q}, {"significant", n_sig}, {"threads", omp_get_max_threads()},
                  {"ridge", ridge_info}, {"rois", roi_json}, {"verdicts", verdicts},
                  {"fingerprint_pc1", std::vector<float>(fp.pc1.data(), fp.pc1.data() + L)},
                  {"fingerprint_pc1_explained", fp.pc1_explained}};
  if (val_scores.size()) {
    const RowMatF vsr = val_scores;
    save_npy((fs::path(o.out) / "val_scores.npy").string(),
             Tensor::from_vector({V, L}, std::vector<float>(vsr.data(), vsr.data() + vsr.size())));
    std::vector<double> med;
    for (int64_t l = 0; l < L; ++l) {
      std::vector<float> c(val_scores.col(l).data(), val_scores.col(l).data() + V);
      std::nth_element(c.begin(), c.begin() + V / 2, c.end());
      med.push_back(c[static_cast<size_t>(V / 2)]);
    }
    summary["validation"] = {{"images", Y_val.rows()}, {"stimuli", val_source}, {"score", "r2"},
                             {"median_r2_by_layer", med}, {"fingerprints_from_validation", o.score_validation}};
  }
  if (movie) summary["time_series"] = {{"frames_per_tr", o.frames_per_tr}, {"delays_tr", o.delays}};
  std::ostringstream md;
  md << "# Encoding models on " << source << "\n\n"
     << "Network: " << summary["network"].get<std::string>() << "; " << L << " layers; " << n << (movie ? " TRs" : " images")
     << " in " << summary["folds"].get<size_t>() << " folds; score " << (movie ? "Pearson r" : "R²") << ".\n\n"
     << V << " voxels kept (" << dropped << " of " << in_file << " dropped for non-finite responses); " << n_sig
     << " significant at FDR " << o.fdr_q << " against a pooled null of " << null.size() << " permutations ("
     << (blocks ? "blocks of " + std::to_string(o.block_trs) + " TRs within runs" : std::string("rows")) << ").\n\n"
     << "First PC of significant fingerprints explains " << fmt(100 * fp.pc1_explained, 1) << " % of their variance.\n\n";
  if (!roi_json.empty()) {
    md << "| ROI | voxels | significant | mean summary | mean best layer |\n|---|---|---|---|---|\n";
    for (const auto& r : roi_json)
      md << "| " << r["roi"].get<std::string>() << " | " << r["voxels"].get<double>() << " | " << r["significant"].get<double>()
         << " | " << (r["mean_summary"].is_number() ? fmt(r["mean_summary"].get<double>()) : "-") << " | "
         << (r["mean_best_layer"].is_number() ? fmt(r["mean_best_layer"].get<double>(), 2) : "-") << " |\n";
    md << "\n";
  }
  if (summary.contains("validation")) {
    md << "Validation (" << Y_val.rows() << " images, " << val_source << "): median R² by layer";
    for (int64_t l = 0; l < L; ++l)
      md << (l ? ", " : " ") << layers[static_cast<size_t>(l)] << " " << fmt(summary["validation"]["median_r2_by_layer"][static_cast<size_t>(l)].get<double>());
    md << (o.score_validation ? "; fingerprints, best layers and ROI profiles use it.\n\n" : ".\n\n");
  }
  for (const auto& v : verdicts) md << "- " << v["verdict"].get<std::string>() << "\n";
  write_text_atomic((fs::path(o.out) / "report.md").string(), md.str());
  write_run_summary((fs::path(o.out) / "encoding.json").string(), summary, t0);
  log(std::to_string(n_sig) + " of " + std::to_string(V) + " voxels significant; report " + (fs::path(o.out) / "report.md").string());
  if (o.plot) run_plot_script("plot_encoding.py", o.out);
  return summary;
}

}  // namespace ml::analysis
