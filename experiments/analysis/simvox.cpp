#include "experiments/analysis/simvox.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engine/data/composite.h"
#include "engine/error.h"
#include "engine/generator.h"

namespace ml::analysis {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

SimVoxPreset simvox_preset(const std::string& name) {
  SimVoxPreset p;
  p.name = name;
  if (name == "tiny") return p;  // the defaults: 400 + 60 x 4, 1,024 voxels, 8 x 4, 8 x 200
  if (name == "standard") {
    p.n_train = 1750, p.n_groups = 5, p.n_val = 120, p.val_repeats = 13;
    p.hemi_rows = 48, p.hemi_cols = 64;
    p.n_alphas = 10, p.perm_voxels = 14, p.n_perm = 1000;
    return p;
  }
  if (name == "gpu") {
    p.n_train = 1750, p.n_groups = 5, p.n_val = 120, p.val_repeats = 13;
    p.hemi_rows = 250, p.hemi_cols = 200;  // 100,000 voxels
    p.n_alphas = 20, p.perm_voxels = 14, p.n_perm = 100000;
    p.image_size = 224, p.model = "alexnet";
    return p;
  }
  ML_CHECK(false, "simvox: unknown preset '", name, "' (tiny | standard | gpu)");
  return p;
}

bool simvox_class_a(int l) { return l == 5 || l == 7 || l == 9; }
bool simvox_class_b(int l) { return l == 0 || l == 2 || l == 4 || l == 6; }

namespace {

Tensor compose_set(const std::vector<int64_t>& picks, const Dataset& items, int64_t S, int64_t channels,
                   uint64_t seed) {
  const int64_t N = static_cast<int64_t>(picks.size()), ih = items.height(), iw = items.width();
  Tensor out = Tensor::empty({N, channels, S, S});
  float* o = out.data();
  const uint8_t* px = items.pixels.data_u8();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    std::mt19937_64 rng(stream_seed(seed, static_cast<uint64_t>(i)));
    float* oi = o + i * channels * S * S;
    composite_item(oi, S, px + picks[static_cast<size_t>(i)] * ih * iw, ih, iw, rng);
    for (int64_t c = 1; c < channels; ++c) std::copy(oi, oi + S * S, oi + c * S * S);
  }
  return out;
}

}  // namespace

SimVoxStimuli make_simvox_stimuli(const SimVoxPreset& p, const Dataset& items, int64_t channels, uint64_t seed) {
  ML_CHECK(items.size() > 0 && items.channels() == 1, "simvox: items must be one-channel images (Fashion-MNIST), got ",
           items.name);
  const int32_t* lab = items.labels.data_i32();
  std::vector<int64_t> other, a, b;
  for (int64_t i = 0; i < items.size(); ++i) {
    const int l = lab[i];
    (simvox_class_a(l) ? a : simvox_class_b(l) ? b : other).push_back(i);
  }
  // Every random stream of a SimVox data set is keyed by stream_seed(seed, tag) (engine/generator.h), so
  // no stream of one data seed is another seed's (seed + 1 and seed + 2 would make seed 1's training
  // images seed 0's validation images).
  std::mt19937_64 rng(stream_seed(seed, 0));
  std::shuffle(other.begin(), other.end(), rng);
  std::shuffle(a.begin(), a.end(), rng);
  std::shuffle(b.begin(), b.end(), rng);
  ML_CHECK(static_cast<int64_t>(other.size()) >= p.n_train + p.n_val && static_cast<int64_t>(a.size()) >= p.n_cat_a &&
               static_cast<int64_t>(b.size()) >= p.n_cat_b,
           "simvox: ", items.name, " has too few items for preset ", p.name);
  SimVoxStimuli st;
  const int64_t S = p.image_size;
  st.train = compose_set({other.begin(), other.begin() + p.n_train}, items, S, channels, stream_seed(seed, 1));
  st.val = compose_set({other.begin() + p.n_train, other.begin() + p.n_train + p.n_val}, items, S, channels, stream_seed(seed, 2));
  std::vector<int64_t> cat(a.begin(), a.begin() + p.n_cat_a);
  cat.insert(cat.end(), b.begin(), b.begin() + p.n_cat_b);
  st.cat = compose_set(cat, items, S, channels, stream_seed(seed, 3));
  st.cat_is_a.assign(static_cast<size_t>(p.n_cat_a), 1);
  st.cat_is_a.resize(static_cast<size_t>(p.n_cat_a + p.n_cat_b), 0);
  // Wedges: 30° wide, centred every 360/n_wedges degrees, edges blurred with σ = 2 % of the width,
  // on the first wedge_images validation images; outside the wedge: background gray.
  const int64_t nw = p.n_wedges, ni = std::min(p.wedge_images, p.n_val);
  st.wedge = Tensor::empty({nw * ni, channels, S, S});
  const double sig = 0.02 * S, R = S / 2.0;
  const float* v = st.val.data();
  float* w = st.wedge.data();
  for (int64_t k = 0; k < nw; ++k) {
    const double phi = 360.0 * k / nw;
    for (int64_t i = 0; i < ni; ++i) {
      st.wedge_angle.push_back(phi);
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t y = 0; y < S; ++y)
          for (int64_t x = 0; x < S; ++x) {
            const double dx = x + 0.5 - R, dy = R - (y + 0.5);  // y up
            const double r = std::hypot(dx, dy);
            double d = std::atan2(dy, dx) * 180 / kPi - phi;
            d = std::remainder(d, 360.0);
            // Signed distance (pixels) inside the wedge's edge, blurred edge = Gaussian CDF.
            const double dist = r * std::sin(std::min(90.0, 15.0 - std::fabs(d)) * kPi / 180);
            const double m = 0.5 * (1 + std::erf(dist / (sig * std::sqrt(2.0))));
            const size_t at = static_cast<size_t>(((i * channels + c) * S + y) * S + x);
            w[static_cast<size_t>((k * ni) * channels * S * S) + at] = static_cast<float>(0.5 + m * (v[at] - 0.5));
          }
    }
  }
  st.groups.resize(static_cast<size_t>(p.n_train));
  for (int64_t i = 0; i < p.n_train; ++i) st.groups[static_cast<size_t>(i)] = i * p.n_groups / p.n_train;
  return st;
}

std::vector<VoxelTruth> simvox_layout(const SimVoxPreset& p, const std::vector<bool>& conv, uint64_t seed) {
  const int L = static_cast<int>(conv.size());
  ML_CHECK(L >= 1 && p.hemi_cols >= L, "simvox: ", p.hemi_cols, " columns cannot hold ", L, " areas");
  std::mt19937_64 rng(stream_seed(seed, 17));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int64_t rows = p.hemi_rows, cols = p.hemi_cols;
  std::vector<VoxelTruth> t(static_cast<size_t>(2 * rows * cols));
  for (int h = 0; h < 2; ++h)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        VoxelTruth& v = t[static_cast<size_t>((h * rows + r) * cols + c)];
        v.hemi = h, v.row = static_cast<int>(r), v.col = static_cast<int>(c);
        v.area = static_cast<int>(c * L / cols);
        const int64_t c0 = (v.area * cols + L - 1) / L, c1 = ((v.area + 1) * cols + L - 1) / L;
        const double uu = (c - c0 + 0.5) / static_cast<double>(c1 - c0);
        if (conv[static_cast<size_t>(v.area)]) {
          const double a = v.area % 2 == 0 ? -90 + 180 * uu : 90 - 180 * uu;  // reverses at each border
          v.angle = h == 0 ? a : std::remainder(180 - a, 360.0);              // crossed hemifields
          v.ecc = std::exp(std::log(0.1) + (std::log(0.9) - std::log(0.1)) * (r + 0.5) / rows);
        } else if (v.area == L - 1) {
          // Category patches on the logit area: discs of radius rows/6 (at most the stripe's half width).
          const double rad = std::min(rows / 6.0, (c1 - c0) / 2.0), cc = (c0 + c1 - 1) / 2.0;
          if (std::hypot(r - rows / 3.0, c - cc) <= rad) v.category = 1;
          if (std::hypot(r - 2 * rows / 3.0, c - cc) <= rad) v.category = 2;
        }
        v.snr = p.snr_lo * std::pow(p.snr_hi / p.snr_lo, u(rng));
        v.null = v.category == 0 && u(rng) < p.null_share;
        const double R = static_cast<double>(p.train_repeats);
        v.ceiling = v.null ? 0.0 : v.snr * R / (1 + v.snr * R);
      }
  return t;
}

SimVoxModels simvox_models(const std::vector<VoxelTruth>& truth, const std::vector<Shape>& shapes,
                           const std::vector<Eigen::MatrixXf>& train_features, int64_t S,
                           const std::vector<int>& logit_a, const std::vector<int>& logit_b, uint64_t seed,
                           const std::vector<Eigen::MatrixXf>* blank_features) {
  const int64_t V = static_cast<int64_t>(truth.size()), L = static_cast<int64_t>(shapes.size());
  ML_CHECK(static_cast<int64_t>(train_features.size()) == L, "simvox: features for ", train_features.size(),
           " layers, shapes for ", L);
  // Per conv layer with a blank: mean training features minus the blank's, (features).
  std::vector<Eigen::VectorXf> lift(static_cast<size_t>(L));
  if (blank_features) {
    ML_CHECK(static_cast<int64_t>(blank_features->size()) == L, "simvox: blank features for ", blank_features->size(),
             " layers, shapes for ", L);
    for (int64_t l = 0; l < L; ++l) {
      const Eigen::MatrixXf& b = (*blank_features)[static_cast<size_t>(l)];
      const Eigen::MatrixXf& f = train_features[static_cast<size_t>(l)];
      ML_CHECK(b.rows() == 1 && b.cols() == f.cols(), "simvox: blank features of layer ", l, " must be 1 x ", f.cols(),
               ", got ", b.rows(), " x ", b.cols());
      if (shapes[static_cast<size_t>(l)].size() == 3) lift[static_cast<size_t>(l)] = (f.colwise().mean() - b.row(0)).transpose();
    }
  }
  SimVoxModels m;
  std::vector<std::vector<Eigen::Triplet<float>>> trip(static_cast<size_t>(L));
  std::mt19937_64 rng(stream_seed(seed, 29));
  std::normal_distribution<double> nd(0.0, 1.0);
  for (int64_t v = 0; v < V; ++v) {
    const VoxelTruth& t = truth[static_cast<size_t>(v)];
    if (t.null) continue;
    const Shape& sh = shapes[static_cast<size_t>(t.area)];
    auto& tr = trip[static_cast<size_t>(t.area)];
    if (sh.size() == 3) {
      const int64_t C = sh[0], Ho = sh[1], Wo = sh[2];
      const double R = S / 2.0, th = t.angle * kPi / 180;
      const double x = R + t.ecc * 0.9 * R * std::cos(th), y = R - t.ecc * 0.9 * R * std::sin(th);
      const double gx = x / S * Wo - 0.5, gy = y / S * Ho - 0.5;
      const double sg = std::max(0.5, (0.05 + 0.15 * t.ecc) * Wo);
      std::vector<double> g(static_cast<size_t>(Ho * Wo));
      double gs = 0;
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j)
          gs += g[static_cast<size_t>(i * Wo + j)] = std::exp(-((j - gx) * (j - gx) + (i - gy) * (i - gy)) / (2 * sg * sg));
      std::vector<int64_t> ch(static_cast<size_t>(C));
      std::iota(ch.begin(), ch.end(), 0);
      std::shuffle(ch.begin(), ch.end(), rng);
      for (int64_t k = 0; k < std::min<int64_t>(8, C); ++k) {
        // Channel weights whose sign makes the response grow with stimulation in the receptive
        // field (our choice), as BOLD does, so a wedge over the field raises it (§4 retinotopy):
        // against the blank when given, otherwise simply non-negative.
        double beta = std::fabs(nd(rng));
        const Eigen::VectorXf& up = lift[static_cast<size_t>(t.area)];
        if (up.size() > 0) {
          const int64_t c0 = ch[static_cast<size_t>(k)] * Ho * Wo;
          double rise = 0;
          for (int64_t i = 0; i < Ho * Wo; ++i) rise += g[static_cast<size_t>(i)] * up[c0 + i];
          if (rise < 0) beta = -beta;
        }
        for (int64_t i = 0; i < Ho * Wo; ++i)
          if (g[static_cast<size_t>(i)] > 1e-3 * gs / (Ho * Wo))
            tr.emplace_back(static_cast<int>(ch[static_cast<size_t>(k)] * Ho * Wo + i), static_cast<int>(v),
                            static_cast<float>(beta * g[static_cast<size_t>(i)] / gs));
      }
    } else {
      const int64_t U = sh[0];
      for (int64_t j = 0; j < U; ++j) {
        double beta = nd(rng) / std::sqrt(static_cast<double>(U));
        if (t.category != 0) {
          const auto& cls = t.category == 1 ? logit_a : logit_b;
          beta = 0.1 * beta + (std::find(cls.begin(), cls.end(), static_cast<int>(j)) != cls.end() ? 1.0 : 0.0);
        }
        tr.emplace_back(static_cast<int>(j), static_cast<int>(v), static_cast<float>(beta));
      }
    }
  }
  for (int64_t l = 0; l < L; ++l) {
    Eigen::SparseMatrix<float> W(train_features[static_cast<size_t>(l)].cols(), V);
    W.setFromTriplets(trip[static_cast<size_t>(l)].begin(), trip[static_cast<size_t>(l)].end());
    m.W.push_back(std::move(W));
  }
  m.mean = Eigen::RowVectorXf::Zero(V);
  m.sd = Eigen::RowVectorXf::Ones(V);
  const Eigen::MatrixXf s = simvox_signal(m, train_features);
  m.mean = s.colwise().mean();
  for (int64_t v = 0; v < V; ++v) {
    const double sd = std::sqrt((s.col(v).array() - m.mean[v]).square().mean());
    m.sd[v] = sd > 0 ? static_cast<float>(sd) : 1.f;
  }
  return m;
}

Eigen::MatrixXf simvox_signal(const SimVoxModels& m, const std::vector<Eigen::MatrixXf>& f) {
  ML_CHECK(f.size() == m.W.size(), "simvox: features for ", f.size(), " layers, models for ", m.W.size());
  const int64_t n = f[0].rows(), V = m.mean.size();
  Eigen::MatrixXf s = Eigen::MatrixXf::Zero(n, V);
  for (size_t l = 0; l < f.size(); ++l) s += f[l] * m.W[l];
  for (int64_t v = 0; v < V; ++v) {
    if (m.W.empty()) break;
    s.col(v) = (s.col(v).array() - m.mean[v]) / m.sd[v];
  }
  // Null voxels (all-zero weights) stay exactly 0.
  return s;
}

Eigen::MatrixXf simvox_responses(const Eigen::MatrixXf& s, const std::vector<VoxelTruth>& truth, int64_t repeats,
                                 uint64_t seed) {
  const int64_t n = s.rows(), V = s.cols();
  Eigen::MatrixXf y(n, V);
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < V; ++v) {
    std::mt19937_64 rng(stream_seed(seed, static_cast<uint64_t>(v)));
    std::normal_distribution<double> nd(0.0, 1.0);
    const double sd = std::sqrt(1.0 / truth[static_cast<size_t>(v)].snr / static_cast<double>(repeats));
    for (int64_t i = 0; i < n; ++i) y(i, v) = static_cast<float>((truth[static_cast<size_t>(v)].null ? 0.0 : s(i, v)) + sd * nd(rng));
  }
  return y;
}

Eigen::VectorXf explainable_variance(const std::vector<Eigen::MatrixXf>& reps) {
  ML_CHECK(reps.size() >= 2, "explainable_variance: needs at least 2 repeats");
  const int64_t R = static_cast<int64_t>(reps.size()), n = reps[0].rows(), V = reps[0].cols();
  Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(n, V);
  for (const auto& r : reps) mean += r.cast<double>();
  mean /= static_cast<double>(R);
  auto var = [](const Eigen::MatrixXd& a) {
    return ((a.rowwise() - a.colwise().mean()).array().square().colwise().sum() / static_cast<double>(a.rows())).eval();
  };
  Eigen::ArrayXXd mean_var = Eigen::ArrayXXd::Zero(1, V);
  for (const auto& r : reps) mean_var += var(r.cast<double>());
  mean_var /= static_cast<double>(R);
  const Eigen::ArrayXXd ev = var(mean) / mean_var;
  const Eigen::ArrayXXd evc = ev - (1 - ev) / static_cast<double>(R - 1);
  return evc.row(0).transpose().cast<float>();
}

}  // namespace ml::analysis
