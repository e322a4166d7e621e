// experiments/analysis/unit_selectivity.h — face-selective and mirror-symmetric units and their
// shares per layer (Farzmahdi et al. 2024 Figs. 5—S2...S4, after Baek et al. 2021;
// ../shared/science/farzmahdi2024-more.md §5):
//   face unit: the largest mean response is to faces, and every face-vs-other-class rank-sum
//     test (two-sided, fdr.h) has p < alpha_face (0.001) with faces above (z > 0, our choice);
//   mirror unit: over one category's identities x 5 views, a one-way ANOVA across the views has
//     p < alpha_views (0.05), the view tuning curve (mean over identities) has >= 2 peaks (local
//     maxima, an end view counting when it exceeds its one neighbour: our choice) and its top
//     view is not the frontal one (+-45 or +-90 of the 5 views);
//   strict mirror unit (our choice; the paper's stricter criterion is not released): also the
//     top view's mirror view is a peak and the tuning curve correlates with its reversal at
//     r >= min_reflection_r (0.5).
// Shares: a trained net's with a binomial (normal-approximation, statsmodels'
// proportion_confint default) 95 % interval; untrained nets' mean over nets with a Student-t
// 95 % interval.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

// The regularised incomplete beta function I_x(a, b) (continued fraction, Numerical Recipes'
// betacf; accurate to ~1e-12 for the arguments used here).
double regularized_beta(double x, double a, double b);
// Upper tail of the F distribution with (d1, d2) degrees of freedom at f >= 0.
double f_survival(double f, double d1, double d2);
// The p quantile of Student's t with df degrees of freedom (0 < p < 1), by bisection.
double t_quantile(double p, double df);

// One-way ANOVA p-value over groups (each a vector of observations; >= 2 groups, each with
// >= 1 value, more values than groups). A zero within-group variance gives p = 0 when the
// group means differ and p = 1 when they do not.
double anova_p(const std::vector<std::vector<double>>& groups);

// acts (N, U); label[i] the class of image i; face the face class. Returns keep[u].
std::vector<bool> face_units(const Tensor& acts, const std::vector<int64_t>& label, int64_t face, double alpha = 0.001);

struct MirrorCriteria {
  double alpha_views = 0.05;
  double min_reflection_r = 0.5;
};
struct MirrorUnits {
  std::vector<bool> mirror, strict;
};
// acts (identities * views, U), row = identity * views + view, views ascending and symmetric
// about 0 with an odd count (the frontal one in the middle).
MirrorUnits mirror_units(const Tensor& acts, int64_t identities, int64_t views, const MirrorCriteria& c = {});

struct ShareCi {
  double share = 0, low = 0, high = 0;
};
// count of n units, the normal-approximation interval clipped to [0, 1].
ShareCi binomial_share(int64_t count, int64_t n);
// Mean of per-net shares with the Student-t 95 % interval (>= 2 nets). The released notebook
// (figureS14_16.ipynb: scipy's stats.t.interval) does not clip, so with few nets and a share near
// 0 the lower bound goes negative (its figure's y axis, starting at 0, hides that part); clip =
// true clips the bounds to [0, 1] (a share cannot leave it; our option, `--clip-intervals`).
ShareCi t_share(const std::vector<double>& shares, bool clip = false);

}  // namespace ml::analysis
