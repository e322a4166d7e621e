#include "experiments/analysis/equivariance_maps.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <omp.h>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "engine/nn/init.h"
#include "engine/ops.h"
#include "engine/optim.h"

namespace ml::analysis {

namespace {

// (N, D) fully connected features as (N, D, 1, 1) maps, so one code path serves both.
Tensor as_maps(const Tensor& t) { return t.dim() == 2 ? t.reshape({t.size(0), t.size(1), 1, 1}) : t; }

}  // namespace

Tensor neighbourhoods(const Tensor& phi_in, int64_t m) {
  const Tensor phi = as_maps(phi_in).to(Device::CPU);
  ML_CHECK(phi.dim() == 4, "neighbourhoods: features must be (N, C, H, W), got ", phi.str());
  ML_CHECK(m >= 1 && m % 2 == 1, "neighbourhoods: m must be odd and >= 1, got ", m);
  const int64_t N = phi.size(0), C = phi.size(1), H = phi.size(2), W = phi.size(3), r = m / 2, K = C * m * m;
  Tensor X = Tensor::zeros({N * H * W, K});
  const float* p = phi.data();
  float* x = X.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) {
        float* row = x + ((n * H + i) * W + j) * K;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t dy = 0; dy < m; ++dy)
            for (int64_t dx = 0; dx < m; ++dx) {
              const int64_t yy = i + dy - r, xx = j + dx - r;
              if (yy >= 0 && yy < H && xx >= 0 && xx < W) row[(c * m + dy) * m + dx] = p[((n * C + c) * H + yy) * W + xx];
            }
      }
  return X;
}

Tensor sites_as_rows(const Tensor& y_in) {
  const Tensor y = as_maps(y_in).to(Device::CPU);
  const int64_t N = y.size(0), C = y.size(1), HW = y.size(2) * y.size(3);
  Tensor out = Tensor::empty({N * HW, C});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < HW; ++s) out.data()[(n * HW + s) * C + c] = y.data()[(n * C + c) * HW + s];
  return out;
}

GramSystem::GramSystem(int64_t inputs, int64_t outputs)
    : inputs_(inputs), outputs_(outputs), G_(Eigen::MatrixXd::Zero(inputs + 1, inputs + 1)),
      B_(Eigen::MatrixXd::Zero(inputs + 1, outputs)) {}

void GramSystem::add(const Tensor& X, const Tensor& Y) {
  ML_CHECK(X.dim() == 2 && Y.dim() == 2 && X.size(0) == Y.size(0) && X.size(1) == inputs_ && Y.size(1) == outputs_,
           "GramSystem: design ", X.str(), " and targets ", Y.str(), " do not match (", inputs_, " inputs, ", outputs_,
           " outputs)");
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMat> x(X.data(), X.size(0), X.size(1)), y(Y.data(), Y.size(0), Y.size(1));
  // Rows in chunks, widened to double, with the column of ones appended: the products are
  // accumulated in float64 (a float32 Gram over 10^5 rows loses the small eigenvalues ridge needs).
  // The chunks are split over the threads, each accumulating its own G and B with a one-thread
  // Eigen product (inside a parallel region Eigen does not fork): Eigen's own parallel product
  // busy-waits between its blocks, which on a loaded machine cost 5x the CPU time of the
  // product itself (measured on vgg_small's conv1_1). The partial sums are added in thread
  // order, so the result is the same from run to run at a given thread count.
  const int64_t chunk = 2048, chunks = (X.size(0) + chunk - 1) / chunk;
  const int threads = std::max(1, std::min<int>(omp_get_max_threads(), static_cast<int>(chunks)));
  std::vector<Eigen::MatrixXd> Gs(static_cast<size_t>(threads)), Bs(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    Eigen::MatrixXd& G = Gs[static_cast<size_t>(t)];
    Eigen::MatrixXd& B = Bs[static_cast<size_t>(t)];
    G = Eigen::MatrixXd::Zero(inputs_ + 1, inputs_ + 1);
    B = Eigen::MatrixXd::Zero(inputs_ + 1, outputs_);
    Eigen::MatrixXd xd, yd;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t r0 = c * chunk, n = std::min(chunk, X.size(0) - r0);
      xd.resize(n, inputs_ + 1);
      xd.leftCols(inputs_) = x.middleRows(r0, n).cast<double>();
      xd.col(inputs_).setOnes();
      yd = y.middleRows(r0, n).cast<double>();
      G.selfadjointView<Eigen::Lower>().rankUpdate(xd.transpose());
      B.noalias() += xd.transpose() * yd;
    }
  }
  for (int t = 0; t < threads; ++t) {
    G_ += Gs[static_cast<size_t>(t)];
    B_ += Bs[static_cast<size_t>(t)];
  }
  rows_ += X.size(0);
}

namespace {

Eigen::MatrixXd full_gram(const GramSystem& s) {
  Eigen::MatrixXd G = s.G().selfadjointView<Eigen::Lower>();
  return G;
}

}  // namespace

Eigen::MatrixXd ridge_solve(const GramSystem& s, double lambda) {
  ML_CHECK(s.rows() > 0, "ridge_solve: no rows accumulated");
  ML_CHECK(lambda >= 0 && std::isfinite(lambda), "ridge_solve: the penalty must be >= 0, got ", lambda);
  Eigen::MatrixXd G = full_gram(s);
  const int64_t D = s.inputs();
  // The penalty is relative to the inputs' mean centred variance times the row count, so one
  // grid serves every layer whatever its scale.
  const double n = G(D, D);
  double scale = 0;
  for (int64_t j = 0; j < D; ++j) scale += G(j, j) - G(j, D) * G(j, D) / n;
  scale = D ? scale / static_cast<double>(D) : 0.0;
  for (int64_t j = 0; j < D; ++j) G(j, j) += lambda * std::max(scale, 1e-300);
  Eigen::LLT<Eigen::MatrixXd> llt(G);
  ML_CHECK(llt.info() == Eigen::Success, "ridge_solve: the Gram matrix (", D + 1, " x ", D + 1,
           ") is singular", lambda == 0 ? "; least squares needs a penalty here (use ridge with lambda > 0)" : "");
  Eigen::MatrixXd w = llt.solve(s.B());
  ML_CHECK(w.allFinite(), "ridge_solve: the solution is not finite (an ill-conditioned Gram; raise the penalty)");
  return w;
}

Eigen::MatrixXd forward_selection(const GramSystem& s, int64_t k) {
  ML_CHECK(s.rows() > 0, "forward_selection: no rows accumulated");
  const int64_t D = s.inputs(), T = s.outputs();
  ML_CHECK(k >= 1 && k <= D, "forward_selection: k = ", k, " must be in 1..", D, " (the neighbourhood's inputs)");
  const Eigen::MatrixXd G = full_gram(s);
  const double n = G(D, D);
  const Eigen::VectorXd mean_x = G.col(D).head(D) / n;
  const Eigen::RowVectorXd mean_y = s.B().row(D) / n;
  // Centred Gram and cross-covariance, then inputs scaled to unit length (SpaSM).
  Eigen::MatrixXd Gc = G.topLeftCorner(D, D) - n * mean_x * mean_x.transpose();
  Eigen::MatrixXd Bc = s.B().topRows(D) - n * mean_x * mean_y;
  Eigen::VectorXd len(D);
  for (int64_t j = 0; j < D; ++j) len(j) = std::sqrt(std::max(Gc(j, j), 0.0));
  const double tiny = 1e-12 * std::max(1.0, len.maxCoeff());
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(D + 1, T);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int64_t> active;
    Eigen::VectorXd beta;  // coefficients on the scaled inputs of the active set
    for (int64_t step = 0; step < k; ++step) {
      // Correlations of every scaled input with the residual: (Bc_j − Gc_jA β_A) / len_j.
      int64_t best = -1;
      double best_c = -1;
      for (int64_t j = 0; j < D; ++j) {
        if (len(j) <= tiny || std::find(active.begin(), active.end(), j) != active.end()) continue;
        double c = Bc(j, t);
        for (size_t a = 0; a < active.size(); ++a) c -= Gc(j, active[a]) * beta(static_cast<Eigen::Index>(a)) / len(active[a]);
        c = std::fabs(c / len(j));
        if (c > best_c) best_c = c, best = j;
      }
      if (best < 0) break;  // every remaining input is constant
      active.push_back(best);
      const auto A = static_cast<Eigen::Index>(active.size());
      Eigen::MatrixXd GA(A, A);
      Eigen::VectorXd bA(A);
      for (Eigen::Index a = 0; a < A; ++a) {
        bA(a) = Bc(active[static_cast<size_t>(a)], t) / len(active[static_cast<size_t>(a)]);
        for (Eigen::Index b = 0; b < A; ++b)
          GA(a, b) = Gc(active[static_cast<size_t>(a)], active[static_cast<size_t>(b)]) /
                     (len(active[static_cast<size_t>(a)]) * len(active[static_cast<size_t>(b)]));
      }
      beta = GA.ldlt().solve(bA);
    }
    // Back to the raw inputs: w_j = β_j / len_j, bias = ȳ − Σ w_j x̄_j.
    double bias = mean_y(t);
    for (size_t a = 0; a < active.size(); ++a) {
      const double wj = beta(static_cast<Eigen::Index>(a)) / len(active[a]);
      w(active[a], t) = wj;
      bias -= wj * mean_x(active[a]);
    }
    w(D, t) = bias;
  }
  return w;
}

ConvMap conv_map_from_solution(const Eigen::MatrixXd& w, int64_t channels, int64_t m, const Tensor& pg) {
  const int64_t K = channels * m * m;
  ML_CHECK(w.rows() == K + 1 && w.cols() == channels, "conv_map_from_solution: solution ", w.rows(), " x ", w.cols(),
           " for ", channels, " channels and m = ", m);
  ConvMap map;
  map.m = m;
  map.pg = pg;
  std::vector<float> wt(static_cast<size_t>(channels * K)), b(static_cast<size_t>(channels));
  for (int64_t t = 0; t < channels; ++t) {
    for (int64_t j = 0; j < K; ++j) wt[static_cast<size_t>(t * K + j)] = static_cast<float>(w(j, t));
    b[static_cast<size_t>(t)] = static_cast<float>(w(K, t));
  }
  map.weight = Tensor::from_vector({channels, channels, m, m}, wt);
  map.bias = Tensor::from_vector({channels}, b);
  return map;
}

Tensor apply_map(const ConvMap& map, const Tensor& phi) {
  const bool fc = phi.dim() == 2;
  Tensor h = as_maps(phi);
  if (map.pg.defined()) h = apply_pg(h, map.pg);
  Tensor y = conv2d(h, map.weight.to(h.device()), map.bias.to(h.device()), 1, map.m / 2);
  return fc ? y.reshape({phi.size(0), phi.size(1)}) : y;
}

GramSystem map_gram(const Tensor& phi_x, const Tensor& phi_gx, const Tensor& pg, int64_t m, GramSystem* into) {
  ML_CHECK(phi_x.shape() == phi_gx.shape(), "map_gram: φ(x) ", phi_x.str(), " and φ(gx) ", phi_gx.str(), " differ");
  Tensor h = as_maps(phi_x);
  if (pg.defined()) h = apply_pg(h, pg);
  const Tensor X = neighbourhoods(h, m), Y = sites_as_rows(phi_gx);
  if (into != nullptr) {
    into->add(X, Y);
    return *into;
  }
  GramSystem s(X.size(1), Y.size(1));
  s.add(X, Y);
  return s;
}

double l2_ratio(const ConvMap& map, const Tensor& phi_x, const Tensor& phi_gx) {
  NoGradGuard ng;
  const auto pred = apply_map(map, phi_x).to(Device::CPU).to_vector();
  const auto want = phi_gx.to(Device::CPU).to_vector();
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (want[i] - pred[i]) * static_cast<double>(want[i] - pred[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  return den > 0 ? num / den : NAN;
}

double task_error(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                  const Tensor& labels, const ConvMap* map, bool pg_only, int64_t k, int64_t batch) {
  return task_errors(net, split, g, images, labels, map, pg_only, {k}, batch)[0];
}

std::vector<double> task_errors(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                                const Tensor& labels, const ConvMap* map, bool pg_only, const std::vector<int64_t>& ks,
                                int64_t batch) {
  NoGradGuard ng;
  const Transform ginv = g.inverse_transform();
  std::vector<Tensor> phi;
  for (int64_t i0 = 0; i0 < images.size(0); i0 += batch) {
    const int64_t i1 = std::min(images.size(0), i0 + batch);
    phi.push_back(split.phi(transform_images(normalise(net, images.slice(i0, i1)), ginv)));
  }
  return task_errors_from_phi(split, cat(phi, 0), labels, map, pg_only, ks, batch);
}

std::vector<double> task_errors_from_phi(const NetSplit& split, const Tensor& phi_ginv, const Tensor& labels,
                                         const ConvMap* map, bool pg_only, const std::vector<int64_t>& ks,
                                         int64_t batch) {
  ML_CHECK(phi_ginv.size(0) == labels.size(0), "task_errors: features ", phi_ginv.str(), " for labels ", labels.str());
  NoGradGuard ng;
  std::vector<Tensor> logits;
  for (int64_t i0 = 0; i0 < phi_ginv.size(0); i0 += batch) {
    const int64_t i1 = std::min(phi_ginv.size(0), i0 + batch);
    Tensor h = phi_ginv.slice(i0, i1);
    if (map != nullptr && map->weight.defined()) {
      h = apply_map(*map, h);
    } else if (pg_only && map != nullptr && map->pg.defined()) {
      h = apply_pg(h, map->pg);
    }
    logits.push_back(split.psi(h).to(Device::CPU));
  }
  const Tensor all = cat(logits, 0);
  std::vector<double> out;
  for (int64_t k : ks) out.push_back(topk_error(all, labels, k));
  return out;
}

ConvMap train_transformation_layer(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                                   const Tensor& labels, ConvMap init, const TaskTrainOptions& o) {
  ML_CHECK(images.size(0) == labels.size(0) && images.size(0) > 0, "train_transformation_layer: ", images.str(),
           " images for ", labels.str(), " labels");
  const Transform ginv = g.inverse_transform();
  std::vector<Tensor> phi;
  for (int64_t i0 = 0; i0 < images.size(0); i0 += 256) {
    const int64_t i1 = std::min(images.size(0), i0 + 256);
    phi.push_back(split.phi(transform_images(normalise(net, images.slice(i0, i1)), ginv)).to(Device::CPU));
  }
  return train_transformation_layer_from_phi(net, split, cat(phi, 0), labels, std::move(init), o);
}

ConvMap train_transformation_layer_from_phi(AnalysisNet& net, const NetSplit& split, const Tensor& phi_ginv,
                                            const Tensor& labels, ConvMap init, const TaskTrainOptions& o) {
  ML_CHECK(phi_ginv.dim() >= 2 && phi_ginv.size(0) == labels.size(0) && labels.size(0) > 0,
           "train_transformation_layer: features ", phi_ginv.str(), " for labels ", labels.str());
  Generator gen(o.seed);
  ConvMap map = std::move(init);
  const int64_t C = phi_ginv.size(1);
  const bool given = map.weight.defined();
  if (!given) {
    // Xavier (Glorot) uniform over fan_in = fan_out = C·m².
    const double bound = o.init_scale * std::sqrt(6.0 / (2.0 * static_cast<double>(C * map.m * map.m)));
    map.weight = Tensor::uniform({C, C, map.m, map.m}, static_cast<float>(-bound), static_cast<float>(bound), gen);
    map.bias = Tensor::zeros({C});
  }
  // train_frozen batches (N, C, H, W) "images": FC features travel as (N, D, 1, 1).
  const bool fc = phi_ginv.dim() == 2;
  Tensor rows = as_maps(phi_ginv).to(Device::CPU);
  // Standardised coordinates (our choice; the same map family, folded back exactly at the end):
  // F'' and b'' act on φ/σ and produce (M φ − μ)/σ, with μ, σ the layer's per-channel mean and
  // SD (float64, over the training rows and sites): M φ = σ ⊙ (F'' ∗ P_g(φ/σ) + b'') + μ. The
  // Xavier start then sits at the layer's own mean and scale. On raw features a post-ReLU tap
  // with a large mean and a sharp ψ (vgg_small pool1: ψ starts conv2_1, ReLU, BN) started far
  // off, and SGD stalled at chance (validation loss ln 10, ℓ2 ratio 4·10⁴). Only the scale is
  // taken off the input, not the mean: P_g fills with zeros, and a zero of φ/σ is a zero of φ,
  // so the fold is exact for bilinear P_g too.
  std::vector<double> mu(static_cast<size_t>(C), 0.0), sd(static_cast<size_t>(C), 1.0);
  if (o.standardise) {
    channel_stats(rows, mu, sd);
    rows = rows.clone();
    const int64_t N = rows.size(0), sites = rows.size(2) * rows.size(3);
    float* d = rows.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < sites; ++i) d[(n * C + c) * sites + i] /= static_cast<float>(sd[static_cast<size_t>(c)]);
  }
  // F[j, c] = σ_j F''[j, c] / σ_c and b = σ_j b'' + μ_j; `forward` = true maps F'' to F.
  auto fold = [&](ConvMap& mp, bool forward) {
    Tensor w = mp.weight.detach().to(Device::CPU).clone(), b = mp.bias.detach().to(Device::CPU).clone();
    const int64_t mm = w.numel() / (C * C);
    for (int64_t j = 0; j < C; ++j) {
      const double sj = sd[static_cast<size_t>(j)], mj = mu[static_cast<size_t>(j)];
      for (int64_t c = 0; c < C; ++c) {
        const double f = forward ? sj / sd[static_cast<size_t>(c)] : sd[static_cast<size_t>(c)] / sj;
        for (int64_t k = 0; k < mm; ++k) w.data()[(j * C + c) * mm + k] = static_cast<float>(w.data()[(j * C + c) * mm + k] * f);
      }
      b.data()[j] = static_cast<float>(forward ? sj * b.data()[j] + mj : (b.data()[j] - mj) / sj);
    }
    mp.weight = w, mp.bias = b;
  };
  if (o.standardise && given) fold(map, false);  // a given start, into the standardised coordinates
  if (o.standardise && !given) {
    // Centre the Xavier start: b''_j = −Σ_c (Σ_k F''[j, c, k]) μ_c/σ_c, so that at interior sites
    // the start's output mean is the layer's μ_j. Without it the input's mean μ/σ (only the scale
    // is taken off) gave each output channel a random offset of several σ: at a pre-ReLU tap
    // (vgg_small conv2_1) the following ReLU then cut whole channels and the map stayed at chance
    // (validation loss ln 10). An initialisation only: the map family and the fold are unchanged.
    const int64_t mm = map.weight.numel() / (C * C);
    for (int64_t j = 0; j < C; ++j) {
      double b = 0;
      for (int64_t c = 0; c < C; ++c) {
        double f = 0;
        for (int64_t k = 0; k < mm; ++k) f += map.weight.data()[(j * C + c) * mm + k];
        b -= f * mu[static_cast<size_t>(c)] / sd[static_cast<size_t>(c)];
      }
      map.bias.data()[j] = static_cast<float>(b);
    }
  }
  map.weight = map.weight.to(net.device).detach().clone();
  map.bias = map.bias.to(net.device).detach().clone();
  map.weight.requires_grad_(true);
  map.bias.requires_grad_(true);
  Tensor scale, shift;  // (1, C, 1, 1) or (1, D)
  if (o.standardise) {
    const Shape bs = fc ? Shape{1, C} : Shape{1, C, 1, 1};
    scale = Tensor::from_vector(bs, std::vector<float>(sd.begin(), sd.end()), net.device);
    shift = Tensor::from_vector(bs, std::vector<float>(mu.begin(), mu.end()), net.device);
  }
  auto batch_loss = [&](const Tensor& hb, const Tensor& yb) {
    Tensor h = hb.to(net.device);
    if (fc) h = h.reshape({h.size(0), h.size(1)});
    Tensor z = apply_map(map, h);
    if (o.standardise) z = add(mul(z, scale), shift);
    return cross_entropy(split.psi(z), yb.to(net.device));
  };
  FrozenTrainOptions fo;
  fo.optimizer = o.optimizer;
  fo.lr = o.lr, fo.epochs = o.epochs, fo.batch = o.batch, fo.progress = o.progress, fo.what = "transformation layer";
  const HeldOut held = hold_out(rows, labels, o.patience > 0 ? o.validation : 0.0, "transformation layer");
  if (o.patience > 0) {
    fo.patience = o.patience;
    fo.validate = [&] { return mean_loss(held.val_x, held.val_y, o.batch, batch_loss); };
  }
  train_frozen({map.weight, map.bias}, held.train_x, held.train_y, gen, fo, batch_loss);
  map.weight = map.weight.detach().to(Device::CPU);
  map.bias = map.bias.detach().to(Device::CPU);
  if (o.standardise) fold(map, true);
  return map;
}

Tensor siamese_loss(const Tensor& pred, const Tensor& target, bool relu) {
  ML_CHECK(pred.shape() == target.shape(), "siamese_loss: prediction ", pred.str(), " and target ", target.str(),
           " differ");
  const Tensor t = relu ? ml::relu(target.detach()) : target.detach();
  double energy = 0;
  {
    NoGradGuard ng;
    energy = sum(square(t)).item();
  }
  // An all-zero target batch (a dead ReLU layer) has no scale of its own: fall back to 1.
  const float denom = energy > 0 ? static_cast<float>(energy) : 1.f;
  const Tensor p = relu ? ml::relu(pred) : pred;
  return sum(square(p - t)) / denom;
}

ConvMap train_siamese_map(const Tensor& phi_ginv_x, const Tensor& phi_x, ConvMap init, const SiameseOptions& o) {
  const std::string what = o.relu ? "Siamese map (RELU L2)" : "Siamese map (CONV L2)";
  ML_CHECK(phi_ginv_x.shape() == phi_x.shape() && phi_x.dim() >= 2 && phi_x.size(0) > 0, what, ": input φ(g⁻¹x) ",
           phi_ginv_x.str(), " and target φ(x) ", phi_x.str(), " differ");
  Generator gen(o.seed);
  ConvMap map = std::move(init);
  const int64_t C = phi_x.size(1), N = phi_x.size(0);
  ML_CHECK(map.m >= 1 && map.m % 2 == 1, what, ": m must be odd and >= 1, got ", map.m);
  if (!map.weight.defined()) {
    const double bound = std::sqrt(6.0 / (2.0 * static_cast<double>(C * map.m * map.m)));  // Xavier uniform
    map.weight = Tensor::uniform({C, C, map.m, map.m}, static_cast<float>(-bound), static_cast<float>(bound), gen);
    map.bias = Tensor::zeros({C});
  }
  // P_g is fixed: apply it once to every input, then train only F and b (same map, far less work).
  const Tensor pg = map.pg;
  Tensor in = as_maps(phi_ginv_x).to(Device::CPU);
  if (pg.defined()) {
    NoGradGuard ng;
    in = apply_pg(in, pg);
  }
  const Tensor target = as_maps(phi_x).to(Device::CPU);
  map.pg = Tensor();
  map.weight = map.weight.to(Device::CPU).detach().clone().requires_grad_(true);
  map.bias = map.bias.to(Device::CPU).detach().clone().requires_grad_(true);
  // train_frozen shuffles "images" with labels: hand it the row indices and gather the pairs here.
  Tensor index = Tensor::empty({N, 1, 1, 1});
  for (int64_t i = 0; i < N; ++i) index.data()[i] = static_cast<float>(i);  // exact below 2^24
  const int64_t per = in.numel() / N;
  const Shape row_shape{in.size(1), in.size(2), in.size(3)};
  FrozenTrainOptions fo;
  fo.lr = o.lr, fo.epochs = o.epochs, fo.batch = o.batch, fo.progress = o.progress, fo.what = what;
  train_frozen({map.weight, map.bias}, index, Tensor::zeros({N}, DType::I32), gen, fo, [&](const Tensor& ib, const Tensor&) {
                 const int64_t B = ib.size(0);
                 Tensor xb = Tensor::empty({B, row_shape[0], row_shape[1], row_shape[2]});
                 Tensor yb = Tensor::empty({B, row_shape[0], row_shape[1], row_shape[2]});
                 for (int64_t r = 0; r < B; ++r) {
                   const auto k = static_cast<int64_t>(ib.data()[r]);
                   std::copy_n(in.data() + k * per, per, xb.data() + r * per);
                   std::copy_n(target.data() + k * per, per, yb.data() + r * per);
                 }
                 return siamese_loss(apply_map(map, xb), yb, o.relu);
               });
  map.weight = map.weight.detach();
  map.bias = map.bias.detach();
  map.pg = pg;
  return map;
}

ConvMap with_identity_rows(const ConvMap& map, int64_t p) {
  const Tensor w = map.weight.to(Device::CPU);
  const int64_t C = w.size(0), m = map.m, mm = m * m;
  ML_CHECK(p >= 0 && p <= C, "with_identity_rows: p = ", p, " outside 0..", C);
  // Score: ‖row t‖ / ‖row t without its self-slice‖ (infinite for a pure self-row).
  std::vector<std::pair<double, int64_t>> score;
  for (int64_t t = 0; t < C; ++t) {
    double all = 0, self = 0;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 0; k < mm; ++k) {
        const double v = w.data()[(t * C + c) * mm + k];
        all += v * v;
        if (c == t) self += v * v;
      }
    const double other = all - self;
    score.emplace_back(other > 0 ? std::sqrt(all / other) : INFINITY, t);
  }
  std::stable_sort(score.begin(), score.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  ConvMap out = map;
  out.weight = w.clone();
  float* o = out.weight.data();
  for (int64_t r = 0; r < p; ++r) {
    const int64_t t = score[static_cast<size_t>(r)].second;
    double self_sum = 0;
    for (int64_t k = 0; k < mm; ++k) self_sum += w.data()[(t * C + t) * mm + k];
    std::fill(o + t * C * mm, o + (t + 1) * C * mm, 0.f);
    o[(t * C + t) * mm + mm / 2] = static_cast<float>(self_sum);  // the centre tap
  }
  return out;
}

int64_t invariant_channels(AnalysisNet& net, const NetSplit& split, const Transform& g, const Tensor& images,
                           const Tensor& labels, const ConvMap& map, double tolerance) {
  NoGradGuard ng;
  const Transform ginv = g.inverse_transform();
  std::vector<Tensor> phi;
  for (int64_t i0 = 0; i0 < images.size(0); i0 += 256) {
    const int64_t i1 = std::min(images.size(0), i0 + 256);
    phi.push_back(split.phi(transform_images(normalise(net, images.slice(i0, i1)), ginv)));
  }
  return invariant_channels_from_phi(split, cat(phi, 0), labels, map, tolerance);
}

int64_t invariant_channels_from_phi(const NetSplit& split, const Tensor& phi_ginv, const Tensor& labels,
                                    const ConvMap& map, double tolerance) {
  auto task_error = [&](const ConvMap* m) { return task_errors_from_phi(split, phi_ginv, labels, m, false, {1})[0]; };
  const double base = task_error(&map);
  const double limit = base * (1.0 + tolerance) + 1e-12;
  const int64_t C = map.weight.size(0);
  // Bisection for the largest accepted p, assuming acceptance falls monotonically with p.
  int64_t lo = 0, hi = C;  // lo accepted (p = 0 is the learned map itself)
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    const ConvMap trial = with_identity_rows(map, mid);
    if (task_error(&trial) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

}  // namespace ml::analysis
