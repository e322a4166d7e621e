#include "experiments/analysis/hog_regression.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "experiments/analysis/equivariance_maps.h"
#include "experiments/analysis/spatial_transform.h"

namespace ml::analysis {

double mean_hellinger(const Tensor& predicted, const Tensor& target) {
  ML_CHECK(predicted.shape() == target.shape() && predicted.dim() == 4, "mean_hellinger: ", predicted.str(), " vs ",
           target.str());
  const int64_t B = target.size(0), D = target.size(1), HW = target.size(2) * target.size(3);
  const float* p = predicted.data();
  const float* t = target.data();
  double sum = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < HW; ++s) {
      double d2 = 0;
      for (int64_t c = 0; c < D; ++c) {
        const int64_t i = (b * D + c) * HW + s;
        const double diff = std::sqrt(std::max(0.f, p[i])) - std::sqrt(std::max(0.f, t[i]));
        d2 += diff * diff;
      }
      sum += std::sqrt(d2);
    }
  return sum / static_cast<double>(B * HW);
}

std::vector<HogRegressionRow> run_hog_regression(const Tensor& images, const HogRegressionOptions& o) {
  ML_CHECK(images.dim() == 4 && images.size(2) == images.size(3), "hog regression: images must be square (N, C, S, S), got ",
           images.str());
  const int64_t N = images.size(0), S = images.size(2);
  const int64_t n_train = std::min(o.train_images, N), n_test = std::min(o.test_images, N - n_train);
  ML_CHECK(n_train >= 10 && n_test >= 1, "hog regression: need >= 10 training and >= 1 test images, have ", N);
  const int64_t n_fit = n_train - n_train / 5;  // the last fifth choose the ridge penalty
  // Cell geometry: cell j is centred at (j + 0.5)·c − 0.5 (VLFeat), floor((S + c/2)/c) cells.
  const auto grid = models::hog_grid(S, S, o.hog);
  ML_CHECK(grid.first * o.hog.cell_size == S, "hog regression: the image side ", S, " must be a multiple of the cell (",
           o.hog.cell_size, ") so the cell grid is symmetric about the image centre");
  const SiteGeometry geo{(static_cast<double>(o.hog.cell_size) - 1) / 2.0, static_cast<double>(o.hog.cell_size),
                         grid.first, grid.second};
  const Tensor hx = models::hog(images, o.hog);
  std::vector<HogRegressionRow> rows;
  for (const auto& gname : o.transforms) {
    const Transform g = parse_transform(gname);
    const Tensor hgx = models::hog(transform_images(images, g), o.hog);
    const Tensor pg = pg_matrix(geo, g, S, false, "hog");
    const Tensor test_x = hx.slice(n_train, n_train + n_test), test_gx = hgx.slice(n_train, n_train + n_test);
    rows.push_back({gname, "identity", 0, mean_hellinger(test_x, test_gx), NAN, 0});
    for (int64_t m : o.m) {
      const auto t0 = std::chrono::steady_clock::now();
      GramSystem fit = map_gram(hx.slice(0, n_fit), hgx.slice(0, n_fit), pg, m);
      map_gram(hx.slice(n_fit, n_train), hgx.slice(n_fit, n_train), pg, m, &fit);  // + the validation rows
      const double gram_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const int64_t D = hx.size(1);
      auto score = [&](const Eigen::MatrixXd& w) {
        NoGradGuard ng;
        return mean_hellinger(apply_map(conv_map_from_solution(w, D, m, pg), test_x), test_gx);
      };
      auto timed = [&](auto&& solve) {
        const auto t1 = std::chrono::steady_clock::now();
        Eigen::MatrixXd w = solve();
        return std::make_pair(w, gram_s + std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
      };
      // The Gram above holds training and validation rows; the penalty is chosen on a Gram of
      // the first 4/5 alone, then refit on all.
      GramSystem part = map_gram(hx.slice(0, n_fit), hgx.slice(0, n_fit), pg, m);
      const Tensor val_x = hx.slice(n_fit, n_train), val_gx = hgx.slice(n_fit, n_train);
      try {
        const auto [w, s] = timed([&] { return ridge_solve(fit, 0.0); });
        rows.push_back({gname, "ls", m, score(w), 0.0, s});
      } catch (const Error&) {
        rows.push_back({gname, "ls", m, NAN, 0.0, NAN});  // singular: least squares has no unique answer
      }
      double best = std::numeric_limits<double>::infinity(), best_lambda = o.lambdas.front();
      for (double lambda : o.lambdas) {
        try {
          NoGradGuard ng;
          const double h = mean_hellinger(apply_map(conv_map_from_solution(ridge_solve(part, lambda), D, m, pg), val_x), val_gx);
          if (h < best) best = h, best_lambda = lambda;
        } catch (const Error&) {
        }
      }
      const auto [wr, sr] = timed([&] { return ridge_solve(fit, best_lambda); });
      rows.push_back({gname, "rr", m, score(wr), best_lambda, sr});
      for (int64_t k : o.fs_k) {
        if (k > D * m * m) continue;
        const auto [wf, sf] = timed([&] { return forward_selection(fit, k); });
        rows.push_back({gname, "fs_k" + std::to_string(k), m, score(wf), static_cast<double>(k), sf});
      }
    }
  }
  return rows;
}

void write_hog_regression(const std::vector<HogRegressionRow>& rows, const std::string& path) {
  std::ostringstream s;
  s << "transform,method,m,hellinger,param,seconds\n";
  for (const auto& r : rows) {
    char b[256];
    std::snprintf(b, sizeof b, "%s,%s,%lld,%.6g,%.6g,%.6g\n", r.transform.c_str(), r.method.c_str(),
                  static_cast<long long>(r.m), r.hellinger, r.param, r.seconds);
    s << b;
  }
  write_text_atomic(path, s.str());
}

}  // namespace ml::analysis
