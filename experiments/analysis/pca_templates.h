// experiments/analysis/pca_templates.h — Leibo et al. (2017)'s PCA-template model of face-patch
// AL, as Farzmahdi et al. 2024 Fig. 2—S8 uses it (../shared/science/farzmahdi2024-more.md §5;
// released figureS6.m):
//   1. training set: identities x views (40 x 39 yaws, -95 ... 95 by 5), one feature vector per
//      image (pixels, or HMAX C1 of all bands flattened);
//   2. the mean face (mean over every training image) is subtracted from each;
//   3. per identity, PCA of its views: the released `pca(X)` takes the images as variables, so
//      each image's own mean feature value is removed first; the templates are the principal
//      component scores in feature space, eigenimage x singular value (one per view);
//   4. a unit per template, response (template . x)^2, test images not mean-subtracted;
//   5. no z-scoring: the RDMs are built from these responses directly (MsvtOptions::zscore).
// Why it is mirror-symmetric (Leibo et al.): when an identity's views are closed under
// reflection, its covariance commutes with the flip, so each template is even or odd under it
// and (w . Fx)^2 = (w . x)^2 exactly.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

struct PcaTemplates {
  Tensor templates;                 // (T, F): per identity (in first-appearance order), its templates
  std::vector<int64_t> identity;    // T: the identity label of each template
  std::vector<double> singular;     // T: the singular value of each template (its norm)
};

// train: (N, F) float32 features; identity[i]: the identity of row i (any labels, each with at
// least 2 rows). Returns, per identity with m rows, m templates in descending singular value.
PcaTemplates pca_templates(const Tensor& train, const std::vector<int64_t>& identity);

// (template . x)^2 for every test row: test (B, F) -> (B, T), computed in double, stored float32.
Tensor pca_template_responses(const PcaTemplates& t, const Tensor& test);

// Every image of images (B, C, H, W) shifted by (dy, dx) pixels with wrap-around (MATLAB's
// circshift): out[.., (y + dy) mod H, (x + dx) mod W] = in[.., y, x].
Tensor circshift(const Tensor& images, int64_t dy, int64_t dx);

}  // namespace ml::analysis
