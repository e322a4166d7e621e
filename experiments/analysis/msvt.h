// experiments/analysis/msvt.h — mirror-symmetric viewpoint tuning (Farzmahdi et al. 2024,
// eq. 1; released code `msvt_index`), exactly as SCIENCE.md pins it down.
//
// For one exemplar seen from n = 9 yaw angles (-90 ... +90 deg, so view j and view n-1-j,
// 0-based, are mirror images) a layer gives a 9x9 RDM D (1 - Pearson r between the
// z-scored activation vectors of two views). D^H reverses D's columns: D^H[j,k] = D[j, n-1-k].
// Both lose their central column (the frontal view, k = 4). The index is the Pearson
// correlation of the two remaining 9x8 matrices, flattened.
//   released definition (default): all 72 entries, diagonal included. Its noise floor is
//     -1/8, not 0: D keeps 8 zeros on its diagonal and D^H 8 zeros on the anti-diagonal,
//     never at the same places, and among 72 entries near 1 those zeros dominate.
//   no_diagonal: leaves out every entry that is diagonal in D or in D^H (56 remain); its
//     noise floor is close to 0.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

enum class MsvtDefinition { Released, NoDiagonal };

// D: (n, n) float32 RDM with n odd (9 in the study).
double msvt_index(const Tensor& D, MsvtDefinition def = MsvtDefinition::Released);

// The views' RDM of one exemplar: acts (n_views, units), already z-scored per unit across the
// whole image set (SCIENCE.md, "Activations and RDMs" step 2). Returns (n_views, n_views).
Tensor exemplar_rdm(const Tensor& acts);

// Units with nonzero variance across all images: acts (images, units) -> keep[u].
// The released code drops the NaN columns that z-scoring a constant unit produces.
std::vector<bool> informative_units(const Tensor& acts);
// acts restricted to the columns where keep[u] is true.
Tensor select_units(const Tensor& acts, const std::vector<bool>& keep);

struct MeanSem {
  double mean = NAN, sd = NAN, sem = 0;
  int64_t n = 0;
};
// Mean, sample standard deviation (n-1) and standard error of the mean (sd over sqrt(n)).
// With no values the mean is NaN; with fewer than two the sd is NaN and the sem 0.
MeanSem mean_sem(const std::vector<double>& values);

}  // namespace ml::analysis
