// bench/ridge/bench_ridge.cpp — the paper-sized encoding layer (eickenberg2017-encoding.md §7):
// 1,750 images in 5 groups, 25,000 features, 10,000 voxels, 10 penalties, leave-one-group-out,
// penalty per voxel, bagged predictor; timed end to end on the threads given. --dump DIR writes
// the same problem as NPY (X.npy, Y.npy, groups.npy, alphas.npy) and our fold-mean R² at α*
// (r2.npy) and α* (best_alpha.npy) so bench/ridge/compare_peers.py runs himalaya and
// scikit-learn on it and compares results.
#include <CLI/CLI.hpp>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "engine/io/npy.h"
#include "experiments/analysis/ridge.h"

using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Time ridge_cv on the paper-sized encoding layer"};
  int64_t n = 1750, p = 25000, t = 10000, groups = 5, n_alphas = 10;
  int threads = 0;
  uint64_t seed = 0;
  std::string dump;
  app.add_option("--n", n, "images")->capture_default_str();
  app.add_option("--p", p, "features")->capture_default_str();
  app.add_option("--t", t, "voxels")->capture_default_str();
  app.add_option("--groups", groups, "sessions (folds)")->capture_default_str();
  app.add_option("--alphas", n_alphas, "penalties (log grid 1e-3..1e3 x λ_max... relative)")->capture_default_str();
  app.add_option("--threads", threads, "OpenMP threads (0: all)");
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("--dump", dump, "write the problem and our results as NPY to this folder");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) omp_set_num_threads(threads);
  // Features like a CNN layer after signed log1p: non-negative, sparse-ish, correlated.
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  Eigen::MatrixXf X(n, p);
  const int64_t rank = 64;
  Eigen::MatrixXf Zl(n, rank), L(rank, p);
  for (int64_t i = 0; i < Zl.size(); ++i) Zl.data()[i] = nd(rng);
  for (int64_t i = 0; i < L.size(); ++i) L.data()[i] = nd(rng) * 0.2f;
  X.noalias() = Zl * L;
  for (int64_t i = 0; i < X.size(); ++i) X.data()[i] = std::log1p(std::max(0.f, X.data()[i] + nd(rng)));
  // Voxels: a few features each (receptive-field-like), noise with SNR spread over 0.05..2.
  Eigen::MatrixXf Y(n, t);
  std::uniform_int_distribution<int64_t> pick(0, p - 1);
  std::uniform_real_distribution<float> u01(0.f, 1.f);
  for (int64_t v = 0; v < t; ++v) {
    Eigen::VectorXf s = Eigen::VectorXf::Zero(n);
    for (int k = 0; k < 8; ++k) s += nd(rng) * X.col(pick(rng));
    s.array() -= s.mean();
    s /= std::sqrt(s.squaredNorm() / n) + 1e-12f;
    const float snr = 0.05f * std::pow(40.f, u01(rng));
    for (int64_t i = 0; i < n; ++i) Y(i, v) = std::sqrt(snr) * s[i] + nd(rng);
  }
  std::vector<int64_t> g(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) g[static_cast<size_t>(i)] = i * groups / n;
  analysis::RidgeOptions o;
  o.alphas = analysis::log_grid(1e-4, 1e2, static_cast<int>(n_alphas));
  o.alpha_relative = true;
  o.verbose = true;
  o.who = "bench_ridge";
  const auto t0 = std::chrono::steady_clock::now();
  const analysis::RidgeFit fit = analysis::ridge_cv(X, Y, g, o);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("bench_ridge: n %lld (%lld groups), p %lld, t %lld, %lld penalties, %d threads, %s: %.2f s; "
              "median R² at α* %.4f\n", (long long)n, (long long)groups, (long long)p, (long long)t, (long long)n_alphas,
              omp_get_max_threads(), fit.dual ? "dual" : "primal", sec,
              [&] { std::vector<float> r(fit.r2.data(), fit.r2.data() + t); std::nth_element(r.begin(), r.begin() + t / 2, r.end()); return r[t / 2]; }());
  if (!dump.empty()) {
    std::filesystem::create_directories(dump);
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Xr = X, Yr = Y;
    save_npy(dump + "/X.npy", Tensor::from_vector({n, p}, std::vector<float>(Xr.data(), Xr.data() + Xr.size())));
    save_npy(dump + "/Y.npy", Tensor::from_vector({n, t}, std::vector<float>(Yr.data(), Yr.data() + Yr.size())));
    std::vector<float> gf(g.begin(), g.end()), af(fit.alphas.begin(), fit.alphas.end()), bf(fit.best_alpha.begin(), fit.best_alpha.end());
    save_npy(dump + "/groups.npy", Tensor::from_vector({n}, gf));
    save_npy(dump + "/alphas.npy", Tensor::from_vector({n_alphas}, af));
    save_npy(dump + "/best_alpha.npy", Tensor::from_vector({t}, bf));
    save_npy(dump + "/r2.npy", Tensor::from_vector({t}, std::vector<float>(fit.r2.data(), fit.r2.data() + t)));
    const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> cv = fit.cv_r2;  // (alphas, t)
    save_npy(dump + "/cv_r2.npy", Tensor::from_vector({n_alphas, t}, std::vector<float>(cv.data(), cv.data() + cv.size())));
    FILE* f = std::fopen((dump + "/engine_seconds.txt").c_str(), "w");
    if (f) { std::fprintf(f, "%.3f\n", sec); std::fclose(f); }
  }
  return 0;
}
