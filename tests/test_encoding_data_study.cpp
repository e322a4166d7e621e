// tests/test_encoding_data_study.cpp — the `encoding` study on measured data
// (experiments/analysis/encoding_data_study.h), end to end on files the test writes, with a known
// answer: voxels planted as sparse linear readouts of one layer's features are found significant,
// their best layer is the planted one, the hierarchy verdict holds for ROIs planted early -> late,
// and pure-noise voxels are not significant. One case per mode (images: NPY responses + manifest;
// movie: frames -> TR averages -> delayed copies -> one-run-out r -> block permutation).
#include <Eigen/Dense>
#include <matio.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/generator.h"
#include "engine/io/npy.h"
#include "experiments/analysis/encoding_data.h"
#include "experiments/analysis/encoding_data_study.h"
#include "experiments/analysis/encoding_features.h"
#include "experiments/analysis/encoding_timeseries.h"
#include "experiments/analysis/plot_script.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;
namespace fs = std::filesystem;

namespace {

NetSpec small_net() {
  NetSpec s;
  s.model = "vgg_small";
  s.untrained = true;
  s.seed = 1;
  s.in_channels = 1;
  s.image_size = 32;
  s.num_classes = 10;
  return s;
}

void save_matrix(const std::string& path, const Eigen::MatrixXf& m) {
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r = m;
  save_npy(path, Tensor::from_vector({m.rows(), m.cols()}, std::vector<float>(r.data(), r.data() + r.size())));
}

// A voxel that reads out a layer: a random mix of the top 10 principal directions of F's (centred)
// features, scaled to unit variance. (Sparse readouts of single features are too hard for 200
// training rows and 2,000 features to be a sharp test; real voxels pool over many units.)
Eigen::VectorXf readout(const Eigen::MatrixXf& F, Generator& gen) {
  const Eigen::MatrixXf Fc = F.rowwise() - F.colwise().mean();
  const Eigen::BDCSVD<Eigen::MatrixXf> svd(Fc, Eigen::ComputeThinU);
  Eigen::VectorXf y = Eigen::VectorXf::Zero(F.rows());
  for (int k = 0; k < 10; ++k) y += static_cast<float>(gen.next_uniform() * 2 - 1) * svd.matrixU().col(k);
  y.array() -= y.mean();
  return y / std::sqrt(y.squaredNorm() / static_cast<float>(y.size()) + 1e-12f);
}

// The same readout for training and validation rows: y = (F - mean) w with w mixing the top 10
// principal directions of the training features (as `readout`), scaled to unit variance on the
// training rows; returns {y_train, y_val}.
std::pair<Eigen::VectorXf, Eigen::VectorXf> readout_pair(const Eigen::MatrixXf& F, const Eigen::MatrixXf& Fv, Generator& gen) {
  const Eigen::RowVectorXf mu = F.colwise().mean();
  const Eigen::MatrixXf Fc = F.rowwise() - mu;
  const Eigen::BDCSVD<Eigen::MatrixXf> svd(Fc, Eigen::ComputeThinU | Eigen::ComputeThinV);
  Eigen::VectorXf w = Eigen::VectorXf::Zero(F.cols());
  for (int k = 0; k < 10; ++k)
    w += static_cast<float>(gen.next_uniform() * 2 - 1) * svd.matrixV().col(k) / svd.singularValues()[k];
  const Eigen::VectorXf y = Fc * w;
  const float sd = std::sqrt(y.squaredNorm() / static_cast<float>(y.size()) + 1e-12f);
  return {y / sd, (Fv.rowwise() - mu) * w / sd};
}

float gauss(Generator& g) {
  const double u1 = 1.0 - g.next_uniform(), u2 = g.next_uniform();
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

struct VoxelRow {
  std::string roi;
  int best_layer = -1, significant = 0;
  double max_score = 0;
};

std::vector<VoxelRow> read_voxels(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // voxel,source_index,roi,best_layer,trend,max_score,p,significant,...
  std::vector<VoxelRow> rows;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::vector<std::string> f;
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    rows.push_back({f[2], std::stoi(f[3]), std::stoi(f[7]), std::stod(f[5])});
  }
  return rows;
}

// A MATLAB v7.3 (HDF5) file of float32 matrices given column-major (as tests/test_encoding_data.cpp).
void write_mat73(const std::string& path, const std::vector<std::pair<std::string, Eigen::MatrixXf>>& vars) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT73);
  REQUIRE(mat != nullptr);
  for (const auto& nv : vars) {
    size_t dims[2] = {static_cast<size_t>(nv.second.rows()), static_cast<size_t>(nv.second.cols())};
    matvar_t* mv = Mat_VarCreate(nv.first.c_str(), MAT_C_SINGLE, MAT_T_SINGLE, 2, dims,
                                 const_cast<float*>(nv.second.data()), MAT_F_DONT_COPY_DATA);
    REQUIRE(mv != nullptr);
    REQUIRE(Mat_VarWrite(mat, mv, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(mv);
  }
  Mat_Close(mat);
}

}  // namespace

TEST_CASE("encoding images mode recovers voxels planted in known layers from NPY responses") {
  // 160 random images (4 groups of 40); voxels: 5 readouts each of layers 0, 3, 5 (ROIs early,
  // mid, late; noise sd 0.5 on unit signal: R² ceiling 0.8), 10 pure-noise voxels, one NaN voxel
  // (dropped and counted). A planted voxel must be significant (FDR 0.01 against 10 x 50
  // permutations) with its planted layer best; a noise voxel must not (BH at 0.01 over 25 voxels
  // keeps a false rejection unlikely: each noise p is ~U(0, 1), the smallest BH threshold 4e-4 is
  // below the null's 1/501 floor). The summary must rise early -> mid -> late (verdict holds).
  AnalysisNet net = load_analysis_net(small_net());
  const auto layers = resolve_layers(net.model, {});
  REQUIRE(layers.size() >= 6);
  const int64_t N = 240, Vp = 15, Vn = 10, V = Vp + Vn + 1;
  Generator gen(5);
  const Tensor imgs = Tensor::uniform({N, 1, 32, 32}, 0.f, 1.f, gen);
  const auto F = encoding_features(net, imgs, layers, 64, 2000);
  const int planted[3] = {0, 3, 5};
  const char* roi_names[3] = {"early", "mid", "late"};
  // Validation set in SimVox's layout: 40 images, 2 repeats stored repeat-major, each repeat with
  // noise sd 0.3 sqrt(2) so that their mean has the training rows' 0.3.
  const int64_t Nv = 40;
  const Tensor vimgs = Tensor::uniform({Nv, 1, 32, 32}, 0.f, 1.f, gen);
  const auto Fv = encoding_features(net, vimgs, layers, 64, 2000);
  Eigen::MatrixXf Y(N, V), Yv(2 * Nv, V);
  nlohmann::json roi = nlohmann::json::array();
  for (int64_t v = 0; v < V; ++v) {
    for (int64_t i = 0; i < N; ++i) Y(i, v) = 0.3f * gauss(gen);
    for (int64_t i = 0; i < 2 * Nv; ++i) Yv(i, v) = 0.3f * std::sqrt(2.f) * gauss(gen);
    if (v < Vp) {
      const auto y = readout_pair(F[static_cast<size_t>(planted[v / 5])], Fv[static_cast<size_t>(planted[v / 5])], gen);
      Y.col(v) += y.first;
      Yv.col(v).head(Nv) += y.second, Yv.col(v).tail(Nv) += y.second;
      roi.push_back(roi_names[v / 5]);
    } else {
      roi.push_back("none");
    }
  }
  Y(7, V - 1) = NAN;
  const fs::path dir = fs::temp_directory_path() / "ml_test_encoding_images";
  fs::remove_all(dir);
  fs::create_directories(dir);
  save_matrix((dir / "responses.npy").string(), Y);
  save_npy((dir / "images.npy").string(), imgs);
  save_matrix((dir / "val_responses.npy").string(), Yv);
  save_npy((dir / "val_images.npy").string(), vimgs);
  std::vector<int64_t> groups;
  for (int64_t i = 0; i < N; ++i) groups.push_back(i / 60);
  {
    std::ofstream m(dir / "manifest.json");
    m << nlohmann::json{{"responses", "responses.npy"}, {"groups", groups}, {"roi", roi},
                        {"val_responses", "val_responses.npy"}, {"val_repeats", 2}}.dump();
  }
  const NpyResponses nr = read_npy_responses((dir / "manifest.json").string());
  REQUIRE(nr.val.rows() == Nv);
  REQUIRE(nr.val.cols() == V - 1);
  CHECK(nr.val(3, 2) == doctest::Approx((Yv(3, 2) + Yv(Nv + 3, 2)) / 2));  // the mean of the 2 repeats
  EncodingDataOptions o;
  o.mode = "images";
  o.responses = (dir / "manifest.json").string();
  o.images = (dir / "images.npy").string();
  o.val_images = (dir / "val_images.npy").string();
  o.out = (dir / "out").string();
  o.plot = false;  // tools/plot_encoding.py is run (and asserted) explicitly where it is tested
  o.max_features = 2000;
  o.n_alphas = 10, o.n_perm = 50, o.perm_voxels = 10;
  o.roi_order = {"early", "mid", "late"};
  const nlohmann::json s = run_encoding_data(&net, layers, o);
  CHECK(s["dropped_nonfinite"] == 1);
  CHECK(s["voxels"] == V - 1);
  const auto rows = read_voxels(o.out + "/voxels.csv");
  REQUIRE(static_cast<int64_t>(rows.size()) == V - 1);
  int exact = 0;
  for (int64_t v = 0; v < Vp; ++v) {
    CHECK(rows[static_cast<size_t>(v)].significant == 1);
    CHECK(rows[static_cast<size_t>(v)].max_score > 0.3);
    exact += rows[static_cast<size_t>(v)].best_layer == planted[v / 5];
  }
  MESSAGE("planted voxels with the planted layer best: ", exact, " of ", Vp);
  CHECK(exact >= 13);
  for (int64_t v = Vp; v < V - 1; ++v) CHECK(rows[static_cast<size_t>(v)].significant == 0);
  CHECK(s["verdicts"][0]["tested"] == true);
  CHECK(s["verdicts"][0]["pass"] == true);
  CHECK(fs::is_regular_file(o.out + "/report.md"));
  {
    // Validation R²: planted voxels at their planted layer (mean over them > 0.3; their CV R² is
    // > 0.3 each), noise voxels nowhere above 0.2 (a model of noise predicts ~0 on new images).
    const Tensor vs = load_npy(o.out + "/val_scores.npy");
    REQUIRE(vs.shape() == Shape{V - 1, static_cast<int64_t>(layers.size())});
    const int64_t L = vs.size(1);
    double mean = 0;
    for (int64_t v = 0; v < Vp; ++v) mean += vs.data()[v * L + planted[v / 5]] / Vp;
    MESSAGE("planted voxels: mean validation R2 at the planted layer ", mean);
    CHECK(mean > 0.3);
    for (int64_t v = Vp; v < V - 1; ++v)
      for (int64_t l = 0; l < L; ++l) CHECK(vs.data()[v * L + l] < 0.2);
  }

  // Bad input: a stimulus count that differs from the response rows, named.
  save_npy((dir / "short.npy").string(), imgs.slice(0, N - 1));
  o.images = (dir / "short.npy").string();
  CHECK_THROWS_WITH_AS(run_encoding_data(&net, layers, o), doctest::Contains("239 images for the 240 response rows"), Error);
  o.images = (dir / "images.npy").string();
  o.permutation = "blocks";
  CHECK_THROWS_WITH_AS(run_encoding_data(&net, layers, o), doctest::Contains("needs time series"), Error);
  fs::remove_all(dir);
}

TEST_CASE("encoding movie mode recovers HRF-convolved voxels from frames and from frame features") {
  // 4 runs x 50 TRs, 2 frames per TR (400 random frames). Voxels: 4 readouts of layer 1 and 4 of
  // layer 4 (TR-averaged features), convolved with the HRF plus AR(1) noise (phi 0.5, SNR 2:
  // held-out r ~ sqrt(2/3) ~ 0.8 at best); 8 AR(1) pure-noise voxels. Delays 2, 3, 4 TRs,
  // one-run-out Pearson r, block permutation (blocks of 10 TRs) 10 voxels x 50. A planted voxel
  // must reach r > 0.4 and be significant; noise voxels not. The frame-features route
  // (extract_features' folder layout) must give the same scores as the frames through the net.
  AnalysisNet net = load_analysis_net(small_net());
  const auto layers = resolve_layers(net.model, {});
  const int64_t runs_n = 4, per = 75, T = runs_n * per, fpt = 2, Vp = 8, Vn = 8, V = Vp + Vn;
  Generator gen(9);
  const Tensor frames = Tensor::uniform({T * fpt, 1, 32, 32}, 0.f, 1.f, gen);
  const auto Ff = encoding_features(net, frames, layers, 64, 2000);
  std::vector<int64_t> runs;
  for (int64_t t = 0; t < T; ++t) runs.push_back(t / per);
  const int planted[2] = {1, 4};
  Eigen::MatrixXf neural = Eigen::MatrixXf::Zero(T, V);
  std::vector<double> snr(static_cast<size_t>(V), 0.0);
  for (int64_t v = 0; v < Vp; ++v) {
    neural.col(v) = readout(tr_average(Ff[static_cast<size_t>(planted[v / 4])], fpt), gen);
    snr[static_cast<size_t>(v)] = 4.0;
  }
  const Eigen::MatrixXf Y = simulate_bold(neural, runs, 2.0, 0.5, snr, gen);
  const fs::path dir = fs::temp_directory_path() / "ml_test_encoding_movie";
  fs::remove_all(dir);
  fs::create_directories(dir / "feat");
  save_matrix((dir / "bold.npy").string(), Y);
  save_npy((dir / "frames.npy").string(), frames);
  {
    std::ofstream m(dir / "manifest.json");
    m << nlohmann::json{{"responses", "bold.npy"}, {"groups", runs}}.dump();
  }
  nlohmann::json fj;
  for (size_t l = 0; l < layers.size(); ++l) {
    save_matrix((dir / "feat" / (layers[l] + ".npy")).string(), Ff[l]);
    fj["layers"].push_back({{"name", layers[l]}, {"file", layers[l] + ".npy"}});
  }
  std::ofstream(dir / "feat" / "features.json") << fj.dump();
  EncodingDataOptions o;
  o.mode = "movie";
  o.responses = (dir / "manifest.json").string();
  o.frames = (dir / "frames.npy").string();
  o.frames_per_tr = fpt;
  o.block_trs = 10;
  o.out = (dir / "out").string();
  o.plot = false;  // tools/plot_encoding.py is run (and asserted) explicitly where it is tested
  o.max_features = 2000;
  o.n_alphas = 10, o.n_perm = 50, o.perm_voxels = 10;
  const nlohmann::json s = run_encoding_data(&net, layers, o);
  CHECK(s["permutation_null"]["kind"] == "blocks of TRs within runs");
  // The figures script on this movie-mode output (Pearson r scores, no ROI order).
  CHECK(run_plot_script("plot_encoding.py", o.out));
  for (const char* f : {"fingerprints.png", "maps.png"}) CHECK_MESSAGE(fs::file_size(fs::path(o.out) / f) > 1000, f);
  const auto rows = read_voxels(o.out + "/voxels.csv");
  REQUIRE(static_cast<int64_t>(rows.size()) == V);
  double rp = 0;
  int exact = 0;
  for (int64_t v = 0; v < Vp; ++v) {
    CHECK(rows[static_cast<size_t>(v)].significant == 1);
    CHECK(rows[static_cast<size_t>(v)].max_score > 0.4);
    rp += rows[static_cast<size_t>(v)].max_score / Vp;
    exact += rows[static_cast<size_t>(v)].best_layer == planted[v / 4];
  }
  MESSAGE("planted voxels: mean r ", rp, ", planted layer best for ", exact, " of ", Vp);
  CHECK(exact >= 6);
  for (int64_t v = Vp; v < V; ++v) CHECK(rows[static_cast<size_t>(v)].significant == 0);

  EncodingDataOptions of = o;
  of.frames.clear();
  of.frame_features = (dir / "feat").string();
  of.out = (dir / "out2").string();
  run_encoding_data(nullptr, {}, of);
  const Tensor a = load_npy(o.out + "/scores.npy"), b = load_npy(of.out + "/scores.npy");
  REQUIRE(a.shape() == b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == doctest::Approx(b.data()[i]).epsilon(1e-4));

  // Bad input, named: frames that are not TRs x frames per TR; a run too short for 2 blocks.
  o.frames_per_tr = 3;
  CHECK_THROWS_WITH_AS(run_encoding_data(&net, layers, o), doctest::Contains("x --frames-per-tr 3 = 900"), Error);
  o.frames_per_tr = fpt;
  o.block_trs = 40;
  CHECK_THROWS_WITH_AS(run_encoding_data(&net, layers, o), doctest::Contains("fewer than 2 blocks"), Error);
  fs::remove_all(dir);
}

TEST_CASE("encoding images mode on a vim-1 file: sessions as folds, ROI codes, the hierarchy verdict") {
  // The published layout (voxels x 1750 / 120, roi and voxIdx vectors) at 32 px, 200 features a layer: 3 voxels each
  // planted in layers 0, 2, 3, 5 with ROI codes V1, V2, V4, LatOcc (noise sd 0.3), 4 noise voxels
  // coded 'other', one NaN voxel. Folds are vim-1's 5 sessions of 350 images. Planted voxels must
  // be significant with the planted layer best; noise voxels not; the summary must rise along
  // V1 -> LatOcc (verdict holds, 4 ROIs with significant voxels).
  // The stimuli come from a Stimuli.mat (stimTrn 1750 x 32 x 32, stimVal 120 x 32 x 32, stored in
  // [-0.5, 0.5]); the planted voxels' validation responses are the same readouts of the validation
  // images' features plus noise, so their validation R² at the planted layer is high (>= 0.5; the
  // ceiling is 1 / (1 + 0.3²) = 0.92) and noise voxels' is not (< 0.1).
  AnalysisNet net = load_analysis_net(small_net());
  const auto layers = resolve_layers(net.model, {});
  const int64_t N = 1750, Vp = 12, Vn = 4, V = Vp + Vn + 1;
  Generator gen(21);
  const Tensor imgs = Tensor::uniform({N, 1, 32, 32}, 0.f, 1.f, gen), vimgs = Tensor::uniform({120, 1, 32, 32}, 0.f, 1.f, gen);
  const auto F = encoding_features(net, imgs, layers, 128, 200), Fv = encoding_features(net, vimgs, layers, 128, 200);
  const int planted[4] = {0, 2, 3, 5}, code[4] = {1, 2, 6, 7};
  Eigen::MatrixXf trn(V, N), val(V, 120), roi(V, 1), idx(V, 1);
  for (int64_t v = 0; v < V; ++v) {
    for (int64_t i = 0; i < N; ++i) trn(v, i) = 0.3f * gauss(gen);
    for (int64_t i = 0; i < 120; ++i) val(v, i) = 0.3f * gauss(gen);
    roi(v, 0) = v < Vp ? static_cast<float>(code[v / 3]) : 0.f;
    idx(v, 0) = static_cast<float>(1000 + v);
    if (v < Vp) {
      const auto y = readout_pair(F[static_cast<size_t>(planted[v / 3])], Fv[static_cast<size_t>(planted[v / 3])], gen);
      trn.row(v) += y.first.transpose();
      val.row(v) += y.second.transpose();
    }
  }
  trn(V - 1, 3) = NAN;
  const fs::path dir = fs::temp_directory_path() / "ml_test_encoding_vim1";
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_mat73((dir / "EstimatedResponses.mat").string(),
              {{"dataTrnS1", trn}, {"dataValS1", val}, {"roiS1", roi}, {"voxIdxS1", idx}});
  {
    // Stimuli.mat, MATLAB v5 as CRCNS ships it: images x rows x columns, column-major.
    mat_t* mat = Mat_CreateVer((dir / "Stimuli.mat").string().c_str(), nullptr, MAT_FT_MAT5);
    REQUIRE(mat != nullptr);
    for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"stimTrn", &imgs}, {"stimVal", &vimgs}}) {
      const size_t n = static_cast<size_t>(t->size(0));
      std::vector<float> m(n * 32 * 32);
      for (size_t i = 0; i < n; ++i)
        for (size_t r = 0; r < 32; ++r)
          for (size_t c = 0; c < 32; ++c) m[i + n * (r + 32 * c)] = t->data()[(i * 32 + r) * 32 + c] - 0.5f;
      size_t dims[3] = {n, 32, 32};
      matvar_t* mv = Mat_VarCreate(name, MAT_C_SINGLE, MAT_T_SINGLE, 3, dims, m.data(), 0);  // copies m
      REQUIRE(mv != nullptr);
      REQUIRE(Mat_VarWrite(mat, mv, MAT_COMPRESSION_NONE) == 0);
      Mat_VarFree(mv);
    }
    Mat_Close(mat);
  }
  EncodingDataOptions o;
  o.vim1 = (dir / "EstimatedResponses.mat").string();
  o.vim1_stimuli = (dir / "Stimuli.mat").string();
  o.out = (dir / "out").string();
  o.plot = false;  // tools/plot_encoding.py is run (and asserted) explicitly where it is tested
  o.max_features = 200;
  o.n_alphas = 10, o.n_perm = 50, o.perm_voxels = 10;
  const nlohmann::json s = run_encoding_data(&net, layers, o);
  CHECK(s["folds"] == 5);
  CHECK(s["dropped_nonfinite"] == 1);
  REQUIRE(s.contains("validation"));
  // The figures script on this vim-1 output: ROI profiles, best layer per ROI, the voxIdx slices.
  CHECK(run_plot_script("plot_encoding.py", o.out));
  for (const char* f : {"fingerprints.png", "maps.png"}) CHECK_MESSAGE(fs::file_size(fs::path(o.out) / f) > 1000, f);
  {
    std::ifstream md(o.out + "/report.md");
    const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
    CHECK(text.find("![maps](maps.png)") != std::string::npos);
    CHECK(text.find("Validation (120 images") != std::string::npos);
  }
  CHECK(s["validation"]["images"] == 120);
  {
    // Validation R² columns: each planted voxel at its planted layer, noise voxels at their best.
    std::ifstream in(o.out + "/voxels.csv");
    std::string line, x;
    std::getline(in, line);
    std::vector<std::string> head;
    for (std::stringstream ss(line); std::getline(ss, x, ',');) head.push_back(x);
    const auto c0 = std::find(head.begin(), head.end(), "val_r2_" + layers[0]) - head.begin();
    REQUIRE(c0 + static_cast<int64_t>(layers.size()) == static_cast<int64_t>(head.size()));
    for (int64_t v = 0; std::getline(in, line); ++v) {
      std::vector<double> f;
      for (std::stringstream ss(line); std::getline(ss, x, ',');) f.push_back(std::atof(x.c_str()));
      if (v < Vp) {
        CHECK(f[static_cast<size_t>(c0 + planted[v / 3])] >= 0.5);
      } else {
        CHECK(*std::max_element(f.begin() + c0, f.end()) < 0.1);
      }
    }
  }
  const auto rows = read_voxels(o.out + "/voxels.csv");
  REQUIRE(static_cast<int64_t>(rows.size()) == V - 1);
  int exact = 0;
  for (int64_t v = 0; v < Vp; ++v) {
    CHECK(rows[static_cast<size_t>(v)].roi == vim1_roi_names()[static_cast<size_t>(code[v / 3])]);
    CHECK(rows[static_cast<size_t>(v)].significant == 1);
    exact += rows[static_cast<size_t>(v)].best_layer == planted[v / 3];
  }
  MESSAGE("vim-1 planted voxels with the planted layer best: ", exact, " of ", Vp);
  CHECK(exact >= 11);
  for (int64_t v = Vp; v < V - 1; ++v) CHECK(rows[static_cast<size_t>(v)].significant == 0);
  CHECK(s["verdicts"][0]["tested"] == true);
  CHECK(s["verdicts"][0]["pass"] == true);
  o.images = o.vim1_stimuli;
  CHECK_THROWS_WITH_AS(run_encoding_data(&net, layers, o), doctest::Contains("exactly one of --images"), Error);
  o.images.clear(), o.vim1_stimuli.clear();
  save_npy((dir / "stimTrn.npy").string(), imgs.reshape({N, 32, 32}));  // (N, H, W) gray
  o.images = (dir / "stimTrn.npy").string();
  o.score_validation = true;
  CHECK_THROWS_WITH_AS(run_encoding_data(&net, layers, o), doctest::Contains("--score-validation needs a validation set"), Error);
  o.score_validation = false;
  o.responses = o.vim1;
  CHECK_THROWS_WITH_AS(run_encoding_data(&net, layers, o), doctest::Contains("exactly one of --vim1 and --responses"), Error);
  fs::remove_all(dir);
}
