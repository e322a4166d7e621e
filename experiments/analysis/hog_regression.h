// experiments/analysis/hog_regression.h — equivariance of HOG learned by regression (Lenc &
// Vedaldi §5.2, Fig. 6; ../shared/science/lenc-vedaldi-equivariance.md §4, §7, §9): HOG(gx)
// predicted from HOG(x) by the conv-shared map over m x m cells (after the cell grid is moved by
// P_g), solved by least squares (LS), ridge (RR, penalty chosen on held-out images) and forward
// selection with k non-zeros per output value (FS). Scored by the Hellinger distance
// √Σ(√a − √b)² per cell (predictions clamped at 0 first), averaged over the test cells.
// Where g maps the cell grid onto itself and n is even or orientations bilinear (rot180 on
// sizes that are multiples of the cell), the exact answer is a channel permutation (models/hog.h):
// FS with k = 1 finds it, LS and RR spread weight over the rest and do not.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "models/hog.h"

namespace ml::analysis {

struct HogRegressionOptions {
  models::HogOptions hog;
  std::vector<std::string> transforms{"rot180", "rot45", "scale0.7071"};
  std::vector<int64_t> m{1, 3};
  std::vector<double> lambdas{1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  std::vector<int64_t> fs_k{1, 3, 5, 10, 25};
  int64_t train_images = 1000;  // the rest (up to test_images) are the test set
  int64_t test_images = 1000;
};

struct HogRegressionRow {
  std::string transform, method;  // identity, ls, rr, fs_k<k>
  int64_t m = 0;
  double hellinger = 0, param = 0, seconds = 0;
};

// images (N, 1 or 3, S, S) in [0, 1].
std::vector<HogRegressionRow> run_hog_regression(const Tensor& images, const HogRegressionOptions& o);
// Mean Hellinger distance per cell between HOG maps a and b (B, D, R, C), a clamped at 0.
double mean_hellinger(const Tensor& predicted, const Tensor& target);
void write_hog_regression(const std::vector<HogRegressionRow>& rows, const std::string& path);

}  // namespace ml::analysis
