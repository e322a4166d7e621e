#include "experiments/analysis/fingerprint.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace ml::analysis {

Fingerprints fingerprints(const Eigen::MatrixXf& scores, const std::vector<bool>& significant) {
  const int64_t V = scores.rows(), L = scores.cols();
  ML_CHECK(L >= 1, "fingerprints: no layers");
  ML_CHECK(significant.empty() || static_cast<int64_t>(significant.size()) == V, "fingerprints: ",
           significant.size(), " significance flags for ", V, " voxels");
  Fingerprints f;
  const Eigen::MatrixXf clipped = scores.cwiseMax(0.f);
  f.normalized = clipped;
  f.best_layer.resize(static_cast<size_t>(V));
  f.trend = Eigen::VectorXf::Zero(V);
  Eigen::VectorXf lin(L);
  for (int64_t l = 0; l < L; ++l) lin[l] = L == 1 ? 0.f : -1.f + 2.f * static_cast<float>(l) / static_cast<float>(L - 1);
  for (int64_t v = 0; v < V; ++v) {
    const float s = clipped.row(v).sum();
    if (s > 0) f.normalized.row(v) /= s;
    Eigen::Index b;
    scores.row(v).maxCoeff(&b);
    f.best_layer[static_cast<size_t>(v)] = static_cast<int>(b);
    f.trend[v] = f.normalized.row(v).dot(lin.transpose());
  }
  // PCA of the significant normalised fingerprints (centred).
  std::vector<int64_t> rows;
  for (int64_t v = 0; v < V; ++v)
    if ((significant.empty() || significant[static_cast<size_t>(v)]) && clipped.row(v).sum() > 0) rows.push_back(v);
  f.pc1 = Eigen::VectorXf::Zero(L);
  if (rows.size() >= 2 && L >= 2) {
    Eigen::MatrixXd X = f.normalized(rows, Eigen::all).cast<double>();
    X.rowwise() -= X.colwise().mean();
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(X.transpose() * X);
    const Eigen::VectorXd ev = es.eigenvalues();  // ascending
    Eigen::VectorXd pc = es.eigenvectors().col(L - 1);
    if (pc.dot(lin.cast<double>()) < 0) pc = -pc;  // sign: rising with depth
    f.pc1 = pc.cast<float>();
    f.pc1_explained = ev.sum() > 0 ? ev[L - 1] / ev.sum() : 0;
    const Eigen::ArrayXd a = pc.array() - pc.mean(), b = lin.cast<double>().array() - lin.cast<double>().mean();
    f.pc1_trend_r = std::fabs((a * b).sum() / std::sqrt((a * a).sum() * (b * b).sum()));
  }
  return f;
}

Eigen::MatrixXf roi_profiles(const Eigen::MatrixXf& scores, const std::vector<int>& roi, int n_rois, double top_share) {
  const int64_t V = scores.rows(), L = scores.cols();
  ML_CHECK(static_cast<int64_t>(roi.size()) == V, "roi_profiles: ", roi.size(), " labels for ", V, " voxels");
  Eigen::MatrixXf out = Eigen::MatrixXf::Zero(n_rois, L);
  for (int r = 0; r < n_rois; ++r) {
    std::vector<int64_t> vox;
    for (int64_t v = 0; v < V; ++v)
      if (roi[static_cast<size_t>(v)] == r) vox.push_back(v);
    if (vox.empty()) continue;
    std::sort(vox.begin(), vox.end(), [&](int64_t a, int64_t b) { return scores.row(a).maxCoeff() > scores.row(b).maxCoeff(); });
    const size_t k = std::max<size_t>(1, static_cast<size_t>(std::ceil(top_share * static_cast<double>(vox.size()))));
    Eigen::RowVectorXf m = Eigen::RowVectorXf::Zero(L);
    for (size_t i = 0; i < k; ++i) m += scores.row(vox[i]).cwiseMax(0.f);
    m /= static_cast<float>(k);
    const float mx = m.maxCoeff();
    if (mx > 0) m /= mx;
    out.row(r) = m;
  }
  return out;
}

std::string roi_profiles_csv(const Eigen::MatrixXf& prof, const std::vector<std::string>& roi_names,
                             const std::vector<std::string>& layers) {
  ML_CHECK(prof.rows() == static_cast<Eigen::Index>(roi_names.size()) && prof.cols() == static_cast<Eigen::Index>(layers.size()),
           "roi_profiles_csv: profiles ", prof.rows(), "x", prof.cols(), " for ", roi_names.size(), " ROIs and ",
           layers.size(), " layers");
  std::ostringstream rc;
  rc << "roi";
  for (const auto& l : layers) rc << ',' << l;
  rc << '\n';
  for (Eigen::Index r = 0; r < prof.rows(); ++r) {
    rc << roi_names[static_cast<size_t>(r)];
    for (Eigen::Index l = 0; l < prof.cols(); ++l) rc << ',' << prof(r, l);
    rc << '\n';
  }
  return rc.str();
}

}  // namespace ml::analysis
