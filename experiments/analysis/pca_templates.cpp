#include "experiments/analysis/pca_templates.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "engine/error.h"

namespace ml::analysis {

namespace {
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_features(const Tensor& x, const char* what) {
  ML_CHECK(x.dtype() == DType::F32 && x.dim() == 2, "pca_templates: ", what, " must be float32 (rows, features), got ", x.str());
  const float* p = x.data();
  for (int64_t i = 0; i < x.numel(); ++i)
    ML_CHECK(std::isfinite(p[i]), "pca_templates: ", what, " has a non-finite value at row ", i / x.size(1), ", feature ",
             i % x.size(1));
}
}  // namespace

PcaTemplates pca_templates(const Tensor& train, const std::vector<int64_t>& identity) {
  check_features(train, "the training features");
  const int64_t N = train.size(0), F = train.size(1);
  ML_CHECK(static_cast<int64_t>(identity.size()) == N, "pca_templates: ", identity.size(), " identity labels for ", N,
           " training rows");
  const Eigen::Map<const RowMatrixXf> X(train.data(), N, F);
  const Eigen::RowVectorXd mean_face = X.cast<double>().colwise().mean();
  std::vector<int64_t> ids;
  for (int64_t id : identity)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);

  PcaTemplates out;
  std::vector<Eigen::RowVectorXd> rows;
  for (int64_t id : ids) {
    std::vector<int64_t> members;
    for (int64_t i = 0; i < N; ++i)
      if (identity[static_cast<size_t>(i)] == id) members.push_back(i);
    const auto m = static_cast<int64_t>(members.size());
    ML_CHECK(m >= 2, "pca_templates: identity ", id, " has ", m, " training image; PCA needs at least 2");
    // (m, F): mean face removed, then each image's own mean (pca() centres its variables).
    RowMatrixXd Xi(m, F);
    for (int64_t k = 0; k < m; ++k) Xi.row(k) = X.row(members[static_cast<size_t>(k)]).cast<double>() - mean_face;
    Xi.colwise() -= Xi.rowwise().mean();
    // The thin SVD through the m x m Gram matrix: Xi Xi^T = V S^2 V^T, and the scores
    // (eigenimage x singular value) are Xi^T v_k (F-vectors of norm s_k). Sign is irrelevant:
    // responses are squared.
    const Eigen::MatrixXd G = Xi * Xi.transpose();
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(G);
    ML_CHECK(es.info() == Eigen::Success, "pca_templates: the eigensolver failed for identity ", id);
    for (int64_t k = m - 1; k >= 0; --k) {  // descending eigenvalue
      rows.push_back(es.eigenvectors().col(k).transpose() * Xi);
      out.identity.push_back(id);
      out.singular.push_back(std::sqrt(std::max(0.0, es.eigenvalues()(k))));
    }
  }
  const auto T = static_cast<int64_t>(rows.size());
  out.templates = Tensor::empty({T, F});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t f = 0; f < F; ++f) out.templates.data()[t * F + f] = static_cast<float>(rows[static_cast<size_t>(t)](f));
  return out;
}

Tensor pca_template_responses(const PcaTemplates& t, const Tensor& test) {
  check_features(test, "the test features");
  const int64_t T = t.templates.size(0), F = t.templates.size(1), B = test.size(0);
  ML_CHECK(test.size(1) == F, "pca_template_responses: test rows have ", test.size(1), " features, the templates ", F);
  const Eigen::Map<const RowMatrixXf> W(t.templates.data(), T, F), Xt(test.data(), B, F);
  const RowMatrixXd dots = Xt.cast<double>() * W.cast<double>().transpose();  // (B, T)
  Tensor y = Tensor::empty({B, T});
  for (int64_t i = 0; i < B * T; ++i) y.data()[i] = static_cast<float>(dots.data()[i] * dots.data()[i]);
  return y;
}

Tensor circshift(const Tensor& images, int64_t dy, int64_t dx) {
  ML_CHECK(images.dtype() == DType::F32 && images.dim() == 4, "circshift: images must be float32 (B, C, H, W), got ", images.str());
  const int64_t P = images.size(0) * images.size(1), H = images.size(2), W = images.size(3);
  Tensor out = Tensor::empty(images.shape());
  const auto wrap = [](int64_t a, int64_t n) { return ((a % n) + n) % n; };
  for (int64_t p = 0; p < P; ++p)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        out.data()[(p * H + wrap(y + dy, H)) * W + wrap(x + dx, W)] = images.data()[(p * H + y) * W + x];
  return out;
}

}  // namespace ml::analysis
