// Leibo et al.'s PCA-template model (Fig. 2—S8; experiments/analysis/pca_templates.h): the
// templates against an independent SVD, the known answer (a reflection-closed training set
// makes every unit respond equally to a view and its mirror image, index 1), and circshift.
#include <cmath>
#include <vector>

#include <Eigen/Dense>

#include "engine/generator.h"
#include "experiments/analysis/msvt.h"
#include "experiments/analysis/pca_templates.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;
using namespace ml::testing;

namespace {

// The left-right mirror image of a side x side image stored as a row.
std::vector<float> mirrored(const std::vector<float>& img, int64_t side) {
  std::vector<float> m(img.size());
  for (int64_t y = 0; y < side; ++y)
    for (int64_t x = 0; x < side; ++x) m[static_cast<size_t>(y * side + x)] = img[static_cast<size_t>(y * side + side - 1 - x)];
  return m;
}

std::vector<float> random_image(int64_t F, Generator& g) {
  std::vector<float> v(static_cast<size_t>(F));
  for (auto& x : v) x = static_cast<float>(g.next_uniform());
  return v;
}

// One object of 9 views: 4 random views, a mirror-symmetric frontal one, and the 4 mirrored
// in reverse order, so view j and 8 - j are exact mirror images (the study's convention).
std::vector<std::vector<float>> mirror_closed_views(int64_t side, Generator& g) {
  std::vector<std::vector<float>> v;
  for (int k = 0; k < 4; ++k) v.push_back(random_image(side * side, g));
  std::vector<float> front = random_image(side * side, g);
  const auto fm = mirrored(front, side);
  for (size_t i = 0; i < front.size(); ++i) front[i] = 0.5f * (front[i] + fm[i]);
  v.push_back(front);
  for (int k = 3; k >= 0; --k) v.push_back(mirrored(v[static_cast<size_t>(k)], side));
  return v;
}

Tensor rows_tensor(const std::vector<std::vector<float>>& rows) {
  const auto F = static_cast<int64_t>(rows[0].size());
  Tensor t = Tensor::empty({static_cast<int64_t>(rows.size()), F});
  for (size_t i = 0; i < rows.size(); ++i) std::copy(rows[i].begin(), rows[i].end(), t.data() + static_cast<int64_t>(i) * F);
  return t;
}

}  // namespace

TEST_CASE("pca_templates: responses equal those of an independent SVD of each identity's centred views") {
  Generator g(21);
  const int64_t ids = 3, views = 5, F = 40;
  Tensor train = Tensor::normal({ids * views, F}, 2.f, 1.f, g);  // nonzero mean: the mean face matters
  std::vector<int64_t> identity;
  for (int64_t i = 0; i < ids * views; ++i) identity.push_back(10 + (i % ids));  // interleaved labels
  const PcaTemplates t = pca_templates(train, identity);
  REQUIRE(t.templates.shape() == Shape{ids * views, F});
  const Tensor test = Tensor::normal({4, F}, 1.f, 1.f, g);
  const Tensor y = pca_template_responses(t, test);
  REQUIRE(y.shape() == Shape{4, ids * views});

  // Reference: mean face by a loop, each identity's rows minus it, then minus their own mean,
  // Eigen's JacobiSVD of that (views, F) matrix; score k = s_k v_k; response (score . x)^2.
  std::vector<double> mean(static_cast<size_t>(F), 0.0);
  for (int64_t i = 0; i < ids * views; ++i)
    for (int64_t f = 0; f < F; ++f) mean[static_cast<size_t>(f)] += train.data()[i * F + f] / static_cast<double>(ids * views);
  for (int64_t id = 0; id < ids; ++id) {
    Eigen::MatrixXd X(views, F);
    int64_t k = 0;
    for (int64_t i = 0; i < ids * views; ++i)
      if (identity[static_cast<size_t>(i)] == 10 + id) {
        for (int64_t f = 0; f < F; ++f) X(k, f) = train.data()[i * F + f] - mean[static_cast<size_t>(f)];
        ++k;
      }
    for (int64_t r = 0; r < views; ++r) X.row(r).array() -= X.row(r).mean();
    const Eigen::JacobiSVD<Eigen::MatrixXd> svd(X, Eigen::ComputeThinV);
    for (int64_t c = 0; c < views; ++c) {
      const int64_t tpl = id * views + c;  // identities in first-appearance order, descending s
      CHECK(t.identity[static_cast<size_t>(tpl)] == 10 + id);
      // The smallest component of a per-image-centred set has s ~ 0 (5 centred views of 40
      // features keep rank 5 here, so s > 0); double throughout, float32 storage: singular
      // values agree to ~1e-6 relative, bound 1e-4.
      CHECK(t.singular[static_cast<size_t>(tpl)] == doctest::Approx(svd.singularValues()(c)).epsilon(1e-4));
      for (int64_t b = 0; b < 4; ++b) {
        double dot = 0;
        for (int64_t f = 0; f < F; ++f) dot += svd.singularValues()(c) * svd.matrixV()(f, c) * test.data()[b * F + f];
        // float32 templates and responses: relative error ~1e-6; bound 1e-4 relative plus 1e-4
        // absolute (responses are O(1..100)).
        CHECK(y.data()[b * ids * views + tpl] == doctest::Approx(dot * dot).epsilon(1e-4).scale(1.0));
      }
    }
  }
  CHECK(contains(error_of([&] { pca_templates(train, std::vector<int64_t>(3, 0)); }), "identity labels"));
  CHECK(contains(error_of([&] { pca_templates(train.slice(0, 4), {0, 0, 0, 1}); }), "at least 2"));
  CHECK(contains(error_of([&] { pca_template_responses(t, Tensor::zeros({2, F + 1})); }), "features"));
}

TEST_CASE("pca_templates known answer: reflection-closed identities give index 1, unclosed ones do not") {
  Generator g(22);
  const int64_t side = 8, F = side * side, ids = 6;
  std::vector<std::vector<float>> closed, open;
  std::vector<int64_t> identity;
  for (int64_t id = 0; id < ids; ++id)
    for (const auto& v : mirror_closed_views(side, g)) closed.push_back(v), open.push_back(random_image(F, g)), identity.push_back(id);
  const PcaTemplates tc = pca_templates(rows_tensor(closed), identity);
  const PcaTemplates to = pca_templates(rows_tensor(open), identity);
  double worst_open = -2;
  for (int obj = 0; obj < 5; ++obj) {
    const Tensor test = rows_tensor(mirror_closed_views(side, g));  // (9, 64), view j mirrors 8 - j
    const Tensor yc = pca_template_responses(tc, test), yo = pca_template_responses(to, test);
    const int64_t T = yc.size(1);
    // Each template is even or odd under the flip, so (w . Fx)^2 = (w . x)^2: float32 dot
    // products of 64 terms ~O(10) agree to ~1e-5 relative; bound 1e-3 relative + 1e-3.
    double worst = 0;
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t u = 0; u < T; ++u) {
        const double a = yc.data()[j * T + u], b = yc.data()[(8 - j) * T + u];
        worst = std::max(worst, std::fabs(a - b) / (1e-3 + 1e-3 * std::fabs(a)));
      }
    CHECK(worst < 1.0);
    CHECK(msvt_index(exemplar_rdm(yc)) > 0.999);
    worst_open = std::max(worst_open, msvt_index(exemplar_rdm(yo)));
  }
  // Templates of random (unclosed) views: a view and its mirror get different responses, so the
  // index stays well below 1 (measured below 0.7 for these draws).
  CHECK(worst_open < 0.9);
}

TEST_CASE("circshift: wrap-around shift as MATLAB's circshift") {
  Tensor x = Tensor::empty({1, 2, 3, 4});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<float>(i);
  const Tensor y = circshift(x, 1, -1);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t q = 0; q < 4; ++q) CHECK(y.data()[(c * 3 + (r + 1) % 3) * 4 + (q + 3) % 4] == x.data()[(c * 3 + r) * 4 + q]);
}
