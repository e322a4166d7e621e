// experiments/analysis/fdr.h — multiple-comparison control and the rank-sum test of the mirror
// study's trained-vs-untrained comparison (Fig. 2—S2B: per category x layer a Wilcoxon
// rank-sum test, Benjamini-Yekutieli FDR at q = 0.05; farzmahdi2024-more.md §5).
#pragma once
#include <cstdint>
#include <vector>

namespace ml::analysis {

struct FdrResult {
  std::vector<double> adjusted;  // per test, the adjusted p-value (q-value), capped at 1
  std::vector<bool> rejected;    // adjusted <= q
};

// Benjamini-Hochberg (1995): sort p ascending; reject the k smallest for the largest k with
// p_(k) <= k q / m. Adjusted p_(i) = min over j >= i of m p_(j) / j.
FdrResult benjamini_hochberg(const std::vector<double>& p, double q);
// Benjamini-Yekutieli (2001), valid under any dependence: BH with q / c(m), c(m) = sum 1/i.
FdrResult benjamini_yekutieli(const std::vector<double>& p, double q);

// Wilcoxon rank-sum (Mann-Whitney U) test, two-sided, normal approximation with the tie
// correction and a continuity correction of 0.5 (scipy.stats.mannwhitneyu, method
// "asymptotic", use_continuity=True). z > 0 when x tends to exceed y.
struct RankSum {
  double u = 0, z = 0, p = 1;
};
RankSum rank_sum_test(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace ml::analysis
