#include "experiments/analysis/ridge.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>

#include "engine/device.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace ml::analysis {

using MatD = Eigen::MatrixXd;
using MatF = Eigen::MatrixXf;
using RowMatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

// One fold's shared reduction: G_c = Q T Qᵀ (T tridiagonal: diag, sub), with W = Rᵀ Y_c the
// projected targets, B S the held-out predictions and Q S the fold's coefficients for S = (T+αI)⁻¹ W.
struct FoldBasis {
  Eigen::VectorXd diag, sub;
  MatF Q;  // dual: (n_tr, n_tr) = R as well; primal: (p, p)
  MatF R;  // primal only: (n_tr, p) = X_c Q
  MatF B;  // (n_te, r): dual K_c[te, tr] Q; primal X_c[te] Q
  // Intercept term: b_k = ȳ_k − shift · coef_k. Dual: shift = mean over training rows of the
  // global-centred kernel rows (n_tr); primal: μ_k − m (p).
  Eigen::RowVectorXf shift;
};

// (T + αI) S = W for a block of columns, W and S row-major (r, w) so that each step of the
// recursion is a contiguous row operation over the columns (vectorised). T + αI is symmetric
// positive definite for α > 0 (T is similar to a Gram matrix), so elimination without pivoting is
// stable. alpha_col: one α per column; the LU factors then differ per column.
void tridiag_solve(RowMatD& S, const Eigen::VectorXd& d, const Eigen::VectorXd& e, const double* alpha_col,
                   RowMatD& inv_u) {
  const int64_t r = S.rows(), w = S.cols();
  inv_u.resize(r, w);
  double* u0 = inv_u.row(0).data();
  double* s0 = S.row(0).data();
  for (int64_t j = 0; j < w; ++j) u0[j] = 1.0 / (d[0] + alpha_col[j]);
  (void)s0;
  for (int64_t i = 1; i < r; ++i) {
    const double ei = e[i - 1], di = d[i];
    const double* up = inv_u.row(i - 1).data();
    double* ui = inv_u.row(i).data();
    const double* sp = S.row(i - 1).data();
    double* si = S.row(i).data();
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) {
      const double l = ei * up[j];
      ui[j] = 1.0 / (di + alpha_col[j] - l * ei);
      si[j] -= l * sp[j];
    }
  }
  {
    double* sl = S.row(r - 1).data();
    const double* ul = inv_u.row(r - 1).data();
    for (int64_t j = 0; j < w; ++j) sl[j] *= ul[j];
  }
  for (int64_t i = r - 2; i >= 0; --i) {
    const double ei = e[i];
    const double* sn = S.row(i + 1).data();
    const double* ui = inv_u.row(i).data();
    double* si = S.row(i).data();
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) si[j] = (si[j] - ei * sn[j]) * ui[j];
  }
}

// The same with one α for every column: the factors are scalars, computed once.
void tridiag_solve_shared(RowMatD& S, const Eigen::VectorXd& d, const Eigen::VectorXd& e, double alpha,
                          std::vector<double>& l, std::vector<double>& inv_u) {
  const int64_t r = S.rows(), w = S.cols();
  l.assign(static_cast<size_t>(r), 0.0);
  inv_u.assign(static_cast<size_t>(r), 0.0);
  inv_u[0] = 1.0 / (d[0] + alpha);
  for (int64_t i = 1; i < r; ++i) {
    l[static_cast<size_t>(i)] = e[i - 1] * inv_u[static_cast<size_t>(i - 1)];
    inv_u[static_cast<size_t>(i)] = 1.0 / (d[i] + alpha - l[static_cast<size_t>(i)] * e[i - 1]);
  }
  for (int64_t i = 1; i < r; ++i) {
    const double li = l[static_cast<size_t>(i)];
    const double* sp = S.row(i - 1).data();
    double* si = S.row(i).data();
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) si[j] -= li * sp[j];
  }
  {
    double* sl = S.row(r - 1).data();
    const double ul = inv_u[static_cast<size_t>(r - 1)];
    for (int64_t j = 0; j < w; ++j) sl[j] *= ul;
  }
  for (int64_t i = r - 2; i >= 0; --i) {
    const double ei = e[i], ui = inv_u[static_cast<size_t>(i)];
    const double* sn = S.row(i + 1).data();
    double* si = S.row(i).data();
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) si[j] = (si[j] - ei * sn[j]) * ui;
  }
}

// A float32 column-major matrix M (rows, cols) held on a device for the engine's GEMM. Its
// column-major buffer read row-major is Mᵀ, so no element moves on the way: t = Mᵀ (cols, rows)
// row-major, and M N = (Nᵀ Mᵀ)ᵀ is matmul(N.t, M.t), whose (N.cols, M.rows) row-major result is
// M N column-major (device_product).
struct DeviceMatrix {
  Tensor t;
  int64_t rows = 0, cols = 0;
  DeviceMatrix() = default;
  DeviceMatrix(const MatF& m, Device d)
      : t(Tensor::empty({m.cols(), m.rows()}, DType::F32, d)), rows(m.rows()), cols(m.cols()) {
    device_copy(t.raw(), d, m.data(), Device::CPU, t.nbytes());
  }
  DeviceMatrix transposed() const {  // Mᵀ: one transpose kernel on the device
    DeviceMatrix r;
    r.t = transpose(t, 0, 1);
    r.rows = cols;
    r.cols = rows;
    return r;
  }
};

// M N (M.rows, N.cols) through the engine's GEMM on their device (cuBLAS on CUDA), back on the host.
MatF device_product(const DeviceMatrix& m, const DeviceMatrix& n) {
  const Tensor c = matmul(n.t, m.t);
  MatF out(m.rows, n.cols);
  device_copy(out.data(), Device::CPU, c.raw(), c.device(), c.nbytes());
  return out;
}

// Largest eigenvalue of a symmetric PSD matrix by power iteration (the scale of a relative grid
// only needs a few digits).
double lambda_max(const MatD& G) {
  Eigen::VectorXd v = Eigen::VectorXd::Ones(G.rows()).normalized();
  double lam = 0;
  for (int it = 0; it < 300; ++it) {
    Eigen::VectorXd w = G * v;
    const double nl = w.norm();
    if (nl == 0) return 0;
    v = w / nl;
    if (std::fabs(nl - lam) <= 1e-9 * nl) return nl;
    lam = nl;
  }
  return lam;
}

double physical_memory_bytes() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

}  // namespace

Folds group_folds(const std::vector<int64_t>& groups, int64_t n, const std::string& who) {
  ML_CHECK(static_cast<int64_t>(groups.size()) == n, who, ": ", groups.size(), " group labels for ", n, " rows");
  std::map<int64_t, std::vector<int64_t>> by;
  for (int64_t i = 0; i < n; ++i) by[groups[static_cast<size_t>(i)]].push_back(i);
  Folds f;
  for (const auto& [label, rows] : by) {
    std::vector<int64_t> tr;
    tr.reserve(static_cast<size_t>(n) - rows.size());
    for (int64_t i = 0; i < n; ++i)
      if (groups[static_cast<size_t>(i)] != label) tr.push_back(i);
    ML_CHECK(tr.size() >= 2, who, ": the fold that holds out group ", label, " has ", tr.size(),
             " training rows (leave-one-group-out needs at least 2 groups with 2 rows outside each)");
    f.labels.push_back(label);
    f.test.push_back(rows);
    f.train.push_back(std::move(tr));
  }
  return f;
}

std::vector<double> log_grid(double lo, double hi, int count) {
  ML_CHECK(lo > 0 && hi >= lo && count >= 1, "log_grid: need 0 < lo <= hi and count >= 1, got ", lo, ", ", hi, ", ",
           count);
  std::vector<double> g(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i)
    g[static_cast<size_t>(i)] = count == 1 ? lo : lo * std::pow(hi / lo, static_cast<double>(i) / (count - 1));
  return g;
}

double ridge_memory_bytes(int64_t n, int64_t p, int64_t t, int64_t n_alphas, int64_t n_folds, bool dual,
                          int64_t tile, int threads) {
  const double N = static_cast<double>(n), P = static_cast<double>(p), T = static_cast<double>(t);
  const double K = static_cast<double>(n_folds), A = static_cast<double>(n_alphas);
  const double n_tr = N * (K - 1) / K, n_te = N / K, r = dual ? n_tr : P, w = static_cast<double>(tile);
  double b = 4 * N * P;                                    // the centred features (kept by a dual model)
  b += dual ? 12 * N * N : 8 * P * P;                      // the Gram (float64, plus float32 while built)
  b += K * (4 * (dual ? n_tr : P) * r + 4 * n_te * r + (dual ? 0 : 4 * n_tr * r));  // Q, B, R per fold
  b += static_cast<double>(std::min<int64_t>(threads, n_folds)) * 16 * r * r;  // float64 reductions in flight
  b += 4 * (dual ? N : P) * T + 4 * N * T + 8 * A * T;     // coefficients, held-out predictions, CV scores
  b += threads * (4 * K * r * w + 12 * r * w + 8 * r * w + 8 * N * w);  // per-thread tile buffers
  return b;
}

int64_t drop_nonfinite_columns(Eigen::MatrixXf& Y, std::vector<int64_t>& kept) {
  kept.clear();
  for (int64_t j = 0; j < Y.cols(); ++j)
    if (Y.col(j).allFinite()) kept.push_back(j);
  const int64_t dropped = Y.cols() - static_cast<int64_t>(kept.size());
  if (dropped > 0) {
    MatF Z(Y.rows(), static_cast<int64_t>(kept.size()));
    for (size_t j = 0; j < kept.size(); ++j) Z.col(static_cast<int64_t>(j)) = Y.col(kept[j]);
    Y.swap(Z);
  }
  return dropped;
}

MatF permuted_targets(const MatF& Y, const std::vector<int64_t>& cols, int64_t n_perm, uint64_t seed) {
  const int64_t n = Y.rows(), c = static_cast<int64_t>(cols.size());
  for (int64_t j : cols) ML_CHECK(j >= 0 && j < Y.cols(), "permuted_targets: column ", j, " of ", Y.cols());
  MatF out(n, n_perm * c);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t k = 0; k < n_perm; ++k) {
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(k));
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int64_t j = 0; j < c; ++j)
      for (int64_t i = 0; i < n; ++i) out(i, k * c + j) = Y(perm[static_cast<size_t>(i)], cols[static_cast<size_t>(j)]);
  }
  return out;
}

std::vector<double> permutation_pvalues(const std::vector<double>& observed, std::vector<double> null) {
  std::sort(null.begin(), null.end());
  const double N = static_cast<double>(null.size());
  std::vector<double> p(observed.size());
  for (size_t i = 0; i < observed.size(); ++i) {
    const auto at = std::lower_bound(null.begin(), null.end(), observed[i]);  // first null >= observed
    p[i] = (1.0 + static_cast<double>(null.end() - at)) / (1.0 + N);
  }
  return p;
}

MatF RidgeFit::predict(const MatF& X) const {
  ML_CHECK(X.cols() == feature_mean.size(), "ridge predict: ", X.cols(), " features, the model was fitted on ",
           feature_mean.size());
  const MatF Xc = X.rowwise() - feature_mean;
  MatF out;
  if (dual) {
    const MatF Kn = Xc * train_features.transpose();  // (m, n): one kernel block
    out.noalias() = Kn * coef;
  } else {
    out.noalias() = Xc * coef;
  }
  out.rowwise() += intercept;
  return out;
}

RidgeFit ridge_cv(const MatF& X, const MatF& Y, const std::vector<int64_t>& groups, const RidgeOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  // Process CPU time per stage too: on a shared machine the wall time says little, the CPU
  // seconds (all threads) say what the work costs.
  const std::clock_t c_start = std::clock();
  const std::string& who = o.who;
  const int64_t n = X.rows(), p = X.cols(), t = Y.cols();
  // ---- every check before any work ----
  ML_CHECK(Y.rows() == n, who, ": features have ", n, " rows but responses have ", Y.rows());
  ML_CHECK(p > 0 && t > 0, who, ": empty features (", p, ") or responses (", t, ")");
  ML_CHECK(X.allFinite(), who, ": features contain NaN or inf");
  ML_CHECK(Y.allFinite(), who, ": responses contain NaN or inf (drop those voxels first: drop_nonfinite_columns)");
  ML_CHECK(!o.alphas.empty(), who, ": empty penalty grid");
  for (double a : o.alphas) ML_CHECK(a > 0 && std::isfinite(a), who, ": penalty ", a, " is not > 0");
  ML_CHECK(o.select == "r2" || o.select == "r", who, ": select must be r2 or r, got '", o.select, "'");
  ML_CHECK(o.solver == "auto" || o.solver == "primal" || o.solver == "dual", who, ": solver must be auto, primal or dual");
  ML_CHECK(o.gram == "auto" || o.gram == "float32" || o.gram == "float64", who, ": gram must be auto, float32 or float64");
  ML_CHECK(o.tile >= 1, who, ": tile must be >= 1");
  ML_CHECK(o.device == "cpu" || o.device == "cuda", who, ": device must be cpu or cuda, got '", o.device, "'");
  const bool on_device = o.device == "cuda";
  if (on_device) ML_CHECK(cuda_available(), who, ": device cuda: ", cuda_unavailable_reason());
  const Folds folds = group_folds(groups, n, who);
  const int64_t K = static_cast<int64_t>(folds.train.size());
  int64_t min_tr = n;
  for (const auto& tr : folds.train) min_tr = std::min<int64_t>(min_tr, static_cast<int64_t>(tr.size()));
  const bool dual = o.solver == "dual" || (o.solver == "auto" && p >= min_tr);
  const int threads = omp_get_max_threads();
  const int64_t A = static_cast<int64_t>(o.alphas.size());
  const double mem = ridge_memory_bytes(n, p, t, A, K, dual, o.tile, threads);
  const double limit = o.memory_limit_bytes > 0 ? o.memory_limit_bytes : physical_memory_bytes();
  const double GiB = 1024.0 * 1024.0 * 1024.0;
  if (o.verbose || mem > GiB)
    std::fprintf(stderr, "%s: %s (features %lld %s training rows %lld), n %lld, targets %lld, %lld penalties x %lld folds, "
                 "GEMMs on %s; memory estimate %.2f GiB\n", who.c_str(), dual ? "dual" : "primal", static_cast<long long>(p),
                 dual ? ">=" : "<", static_cast<long long>(min_tr), static_cast<long long>(n),
                 static_cast<long long>(t), static_cast<long long>(A), static_cast<long long>(K), o.device.c_str(), mem / GiB);
  ML_CHECK(mem <= limit, who, ": memory estimate ", mem / GiB, " GiB exceeds the limit of ", limit / GiB,
           " GiB (n ", n, ", p ", p, ", targets ", t, "); fit the targets in batches");

  RidgeFit fit;
  fit.dual = dual;
  fit.n_folds = K;
  fit.n_features = p;
  // ---- centre features on all rows (fold centring then only removes a small residual mean,
  // which keeps the float32 Gram accurate), build the Gram ----
  Eigen::RowVectorXd m = X.cast<double>().colwise().mean();
  fit.feature_mean = m.cast<float>();
  MatF Xg = X.rowwise() - fit.feature_mean;
  const double gram_flops = dual ? 2.0 * n * n * p : 2.0 * n * p * p;
  const bool g64 = o.gram == "float64" || (o.gram == "auto" && gram_flops <= 2e9);
  MatD G;  // dual: K_g = Xg Xgᵀ (n, n); primal: Xgᵀ Xg (p, p)
  if (!g64 && on_device) {
    // The float32 Gram through the device GEMM: dual Xg Xgᵀ, primal Xgᵀ Xg.
    const DeviceMatrix Xd(Xg, Device::CUDA), Xt = Xd.transposed();
    G = (dual ? device_product(Xd, Xt) : device_product(Xt, Xd)).cast<double>();
  } else if (dual) {
    if (g64) {
      const MatD Xd = Xg.cast<double>();
      G.noalias() = Xd * Xd.transpose();
    } else {
      MatF Gf;
      Gf.noalias() = Xg * Xg.transpose();
      G = Gf.cast<double>();
    }
  } else {
    if (g64) {
      const MatD Xd = Xg.cast<double>();
      G.noalias() = Xd.transpose() * Xd;
    } else {
      MatF Gf;
      Gf.noalias() = Xg.transpose() * Xg;
      G = Gf.cast<double>();
    }
  }
  fit.alphas = o.alphas;
  std::sort(fit.alphas.begin(), fit.alphas.end());
  if (o.alpha_relative) {
    const double lm = lambda_max(G);
    ML_CHECK(lm > 0, who, ": the features are constant (λ_max of the centred Gram is 0)");
    for (double& a : fit.alphas) a *= lm;
  }
  const auto t_gram = std::chrono::steady_clock::now();
  const std::clock_t c_gram = std::clock();
  // ---- per fold: one tridiagonal reduction shared by all targets and penalties ----
  std::vector<FoldBasis> basis(static_cast<size_t>(K));
  {
    // Eigen's reduction is single-threaded: the folds run side by side.
    std::vector<std::string> errors(static_cast<size_t>(K));
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < K; ++k) {
      const auto& tr = folds.train[static_cast<size_t>(k)];
      const auto& te = folds.test[static_cast<size_t>(k)];
      FoldBasis& fb = basis[static_cast<size_t>(k)];
      const double ntr = static_cast<double>(tr.size());
      MatD Gc;
      MatD Bd;
      if (dual) {
        // K_c = H K_g[tr,tr] H; K_c[te,tr] = K_g[te,tr] − 1uᵀ − v1ᵀ + s (centred on the training rows).
        MatD Ktr = G(tr, tr);
        const Eigen::RowVectorXd u = Ktr.colwise().mean();
        const double s = u.mean();
        Ktr.rowwise() -= u;
        Ktr.colwise() -= u.transpose();
        Ktr.array() += s;
        MatD Kte = G(te, tr);
        const Eigen::VectorXd v = Kte.rowwise().mean();
        Kte.rowwise() -= u;
        Kte.colwise() -= v;
        Kte.array() += s;
        Gc = std::move(Ktr);
        Bd = std::move(Kte);
        fb.shift = u.cast<float>();
      } else {
        // X_cᵀX_c = Xgᵀ Xg − Xg[te]ᵀ Xg[te] − n_tr μ'ᵀμ' with μ' the training mean of Xg.
        const MatD Xte = Xg(te, Eigen::all).cast<double>();
        const Eigen::RowVectorXd mu = Xg(tr, Eigen::all).cast<double>().colwise().mean();
        Gc = G;
        Gc.noalias() -= Xte.transpose() * Xte;
        Gc.noalias() -= ntr * (mu.transpose() * mu);
        Bd = Xte.rowwise() - mu;
        fb.shift = mu.cast<float>();
      }
      Eigen::Tridiagonalization<MatD> tri(Gc);
      const MatD Qd = tri.matrixQ();
      fb.diag = tri.diagonal();
      fb.sub = tri.subDiagonal();
      fb.Q = Qd.cast<float>();
      fb.B = (Bd * Qd).cast<float>();
      if (!dual) {
        const MatD Xtr = Xg(tr, Eigen::all).cast<double>().rowwise() - fb.shift.cast<double>();
        fb.R = (Xtr * Qd).cast<float>();
      }
      (void)errors;
    }
  }
  // On a device: each fold's projection (Qᵀ, or Rᵀ primal), held-out block B and Q, uploaded once.
  std::vector<DeviceMatrix> dev_proj, dev_B, dev_Q;
  if (on_device)
    for (const FoldBasis& fb : basis) {
      dev_proj.emplace_back(MatF((dual ? fb.Q : fb.R).transpose()), Device::CUDA);
      dev_B.emplace_back(fb.B, Device::CUDA);
      dev_Q.emplace_back(fb.Q, Device::CUDA);
    }
  // Target-dependent products: Eigen on the host, or the engine's GEMM on the device (fold k's
  // matrix already there, the tile's operand uploaded and the product brought back).
  auto product = [&](const std::vector<DeviceMatrix>& on_dev, const MatF& host, int64_t k, const MatF& rhs, MatF& out) {
    if (on_device)
      out = device_product(on_dev[static_cast<size_t>(k)], DeviceMatrix(rhs, Device::CUDA));
    else
      out.noalias() = host * rhs;
  };
  if (dual) fit.train_features = std::move(Xg);
  const auto t_reduced = std::chrono::steady_clock::now();
  const std::clock_t c_reduced = std::clock();

  // ---- targets, tile by tile: projections, every penalty scored as it leaves the GEMM ----
  fit.cv_r2 = MatF::Zero(A, t);
  fit.cv_r = MatF::Zero(A, t);
  fit.best_alpha.assign(static_cast<size_t>(t), 0);
  fit.r2 = Eigen::VectorXf::Zero(t);
  fit.r = Eigen::VectorXf::Zero(t);
  fit.coef = MatF::Zero(dual ? n : p, t);
  fit.intercept = Eigen::RowVectorXf::Zero(t);
  if (o.keep_oof) fit.oof = MatF::Zero(n, t);
  const int64_t n_tiles = (t + o.tile - 1) / o.tile;
  const double invK = 1.0 / static_cast<double>(K);
  // The engine's device calls are not made from several threads: on a device the tiles run in turn.
#pragma omp parallel if (!on_device)
  {
    std::vector<MatF> W(static_cast<size_t>(K));
    std::vector<Eigen::RowVectorXf> ybar(static_cast<size_t>(K));
    RowMatD S, inv_u;
    MatF Sf, P, Ytr, Yte, C;
    std::vector<double> l_buf, u_buf, alpha_col;
    Eigen::MatrixXd acc_r2, acc_r;
#pragma omp for schedule(dynamic, 1)
    for (int64_t ti = 0; ti < n_tiles; ++ti) {
      const int64_t c0 = ti * o.tile, w = std::min(o.tile, t - c0);
      const auto cols = Eigen::seqN(c0, w);
      acc_r2 = Eigen::MatrixXd::Zero(A, w);
      acc_r = Eigen::MatrixXd::Zero(A, w);
      for (int64_t k = 0; k < K; ++k) {
        const auto& tr = folds.train[static_cast<size_t>(k)];
        const auto& te = folds.test[static_cast<size_t>(k)];
        const FoldBasis& fb = basis[static_cast<size_t>(k)];
        const int64_t nte = static_cast<int64_t>(te.size());
        Ytr = Y(tr, cols);
        ybar[static_cast<size_t>(k)] = Ytr.colwise().mean();
        Ytr.rowwise() -= ybar[static_cast<size_t>(k)];
        if (on_device)
          W[static_cast<size_t>(k)] = device_product(dev_proj[static_cast<size_t>(k)], DeviceMatrix(Ytr, Device::CUDA));
        else
          W[static_cast<size_t>(k)].noalias() = (dual ? fb.Q : fb.R).transpose() * Ytr;  // (r, w)
        Yte = Y(te, cols);
        const Eigen::RowVectorXf yte_mean = Yte.colwise().mean();
        Eigen::RowVectorXd stot(w);
        for (int64_t j = 0; j < w; ++j) {
          double s = 0;
          for (int64_t i = 0; i < nte; ++i) {
            const double d = static_cast<double>(Yte(i, j)) - yte_mean[j];
            s += d * d;
          }
          stot[j] = s;
        }
        for (int64_t a = 0; a < A; ++a) {
          S = W[static_cast<size_t>(k)].cast<double>();
          tridiag_solve_shared(S, fb.diag, fb.sub, fit.alphas[static_cast<size_t>(a)], l_buf, u_buf);
          Sf = S.cast<float>();
          product(dev_B, fb.B, k, Sf, P);  // (n_te, w) held-out predictions, scored now and dropped
          for (int64_t j = 0; j < w; ++j) {
            const float* pj = P.col(j).data();
            const float* yj = Yte.col(j).data();
            const double b = ybar[static_cast<size_t>(k)][j], ym = yte_mean[j];
            double sres = 0, sp = 0, spp = 0, syp = 0;
            for (int64_t i = 0; i < nte; ++i) {
              const double pc = pj[i], d = yj[i] - (pc + b);
              sres += d * d;
              sp += pc;
              spp += pc * pc;
              syp += (yj[i] - ym) * pc;
            }
            const double varp = spp - sp * sp / static_cast<double>(nte);
            acc_r2(a, j) += stot[j] > 0 ? 1.0 - sres / stot[j] : 0.0;
            acc_r(a, j) += stot[j] > 0 && varp > 0 ? syp / std::sqrt(stot[j] * varp) : 0.0;
          }
        }
      }
      // α* per target on the fold-averaged score; ties go to the larger penalty.
      alpha_col.assign(static_cast<size_t>(w), 0.0);
      for (int64_t j = 0; j < w; ++j) {
        int best = 0;
        const Eigen::MatrixXd& sel = o.select == "r2" ? acc_r2 : acc_r;
        for (int64_t a = 0; a < A; ++a) {
          fit.cv_r2(a, c0 + j) = static_cast<float>(acc_r2(a, j) * invK);
          fit.cv_r(a, c0 + j) = static_cast<float>(acc_r(a, j) * invK);
          if (sel(a, j) >= sel(best, j)) best = static_cast<int>(a);
        }
        fit.best_alpha[static_cast<size_t>(c0 + j)] = best;
        fit.r2[c0 + j] = fit.cv_r2(best, c0 + j);
        fit.r[c0 + j] = fit.cv_r(best, c0 + j);
        alpha_col[static_cast<size_t>(j)] = fit.alphas[static_cast<size_t>(best)];
      }
      // Bagged coefficients at α*: per column its own α, one GEMM per fold, averaged.
      for (int64_t k = 0; k < K; ++k) {
        const auto& tr = folds.train[static_cast<size_t>(k)];
        const FoldBasis& fb = basis[static_cast<size_t>(k)];
        S = W[static_cast<size_t>(k)].cast<double>();
        tridiag_solve(S, fb.diag, fb.sub, alpha_col.data(), inv_u);
        Sf = S.cast<float>();
        product(dev_Q, fb.Q, k, Sf, C);  // dual (n_tr, w) dual coefficients; primal (p, w) weights
        if (dual) {
          // c lies in the sum-zero subspace in exact arithmetic (H c = c); project off rounding.
          C.rowwise() -= C.colwise().mean();
        }
        const Eigen::RowVectorXf b = ybar[static_cast<size_t>(k)] - fb.shift * C;
        fit.intercept(cols) += (b.cast<double>() * invK).cast<float>();
        if (dual) {
          for (size_t i = 0; i < tr.size(); ++i)
            fit.coef(tr[i], cols) += (C.row(static_cast<int64_t>(i)).cast<double>() * invK).cast<float>();
        } else {
          fit.coef(Eigen::all, cols) += (C.cast<double>() * invK).cast<float>();
        }
        if (o.keep_oof) {
          product(dev_B, fb.B, k, Sf, P);
          P.rowwise() += ybar[static_cast<size_t>(k)];
          fit.oof(folds.test[static_cast<size_t>(k)], cols) = P;
        }
      }
    }
  }
  const auto t_end = std::chrono::steady_clock::now();
  fit.seconds = std::chrono::duration<double>(t_end - t_start).count();
  if (o.verbose || mem > GiB) {
    const auto sec = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    const auto cpu = [](std::clock_t a, std::clock_t b) { return static_cast<double>(b - a) / CLOCKS_PER_SEC; };
    const std::clock_t c_end = std::clock();
    std::fprintf(stderr, "%s: %.2f s wall (Gram %.2f, fold reductions %.2f, targets %.2f); CPU %.2f s (%.2f, %.2f, %.2f)\n",
                 who.c_str(), fit.seconds, sec(t_start, t_gram), sec(t_gram, t_reduced), sec(t_reduced, t_end),
                 cpu(c_start, c_end), cpu(c_start, c_gram), cpu(c_gram, c_reduced), cpu(c_reduced, c_end));
  }
  return fit;
}

}  // namespace ml::analysis
