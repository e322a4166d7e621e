// experiments/analysis/rsa.h — representational similarity analysis for the mirror study's
// alignment with face-patch recordings (../shared/science/farzmahdi2024-more.md §4):
//   - RDMs of a (stimuli, units) pattern matrix: 1 - Pearson r between stimulus patterns
//     (default), Euclidean, or rsatoolbox's "euclidean" (mean squared difference per unit);
//     built from one Gram matrix (an Eigen GEMM), streamed over blocks of units;
//   - RDM comparison over the upper triangle: Pearson r (default), Spearman, Kendall's tau_A;
//   - bootstrap over stimuli: resample the stimuli with replacement, rebuild both RDMs, drop the
//     cells that pair an image with its own copy, compare; SD and 95 % percentile interval;
//   - split-half noise ceiling over neurons with the Spearman-Brown correction 2r / (1 + r).
//
// Bootstrap and "rebuild": with the units' z-scoring fixed over the whole stimulus set (the
// pinned choice), the dissimilarity of two stimuli does not depend on which other stimuli are
// in the sample, so the RDM rebuilt from the resampled patterns is exactly the full RDM
// indexed by the sample, D*[a, b] = D[s_a, s_b]. Each RDM is therefore computed once and every
// sample indexes it. For Pearson the sample's correlation needs only weighted sums over the
// full RDM with pair weights c_i c_j (c = how often each stimulus was drawn): those sums over
// all samples at once are GEMMs (C D) with C the (samples, stimuli) count matrix. Spearman and
// tau_A rank each sample's cells explicitly (tau_A by Knight's O(n log n) merge count).
#pragma once
#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace ml::analysis {

using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class RdmDistance { Correlation, Euclidean, SqEuclideanPerUnit };
enum class RdmComparison { Pearson, Spearman, KendallTauA };

RdmDistance parse_rdm_distance(const std::string& s);      // "correlation" | "euclidean" | "sq_euclidean_per_unit"
RdmComparison parse_rdm_comparison(const std::string& s);  // "pearson" | "spearman" | "kendall_tau_a"
const char* name_of(RdmDistance d);
const char* name_of(RdmComparison c);

// Sums X X^T and the row sums of a (n, U) pattern matrix fed in blocks of units, so a layer
// with 10^5 units never needs a double copy of itself.
class GramAccumulator {
 public:
  explicit GramAccumulator(int64_t n);
  void add(const Eigen::Ref<const RowMatrixXd>& block);  // (n, k): k more units
  int64_t units() const { return units_; }
  // The (n, n) RDM. Correlation distance of a pattern that is constant over the units (no
  // variance, e.g. S(x) = 0 for an exactly symmetric image) is 1 from every other pattern
  // (r := 0, our choice: Pearson r is undefined there) and 0 from itself.
  Eigen::MatrixXd rdm(RdmDistance d) const;

 private:
  Eigen::MatrixXd gram_;
  Eigen::VectorXd sum_;
  int64_t units_ = 0;
};

// The RDM of patterns (n, U) as they are (no z-scoring).
Eigen::MatrixXd compute_rdm(const Eigen::Ref<const RowMatrixXd>& patterns, RdmDistance d);

// Every unit (column) z-scored over the stimuli (rows), population std. A constant unit is an
// error naming `what` and the unit (the callers drop them first, or the data are invalid).
RowMatrixXd zscore_columns(const Eigen::Ref<const RowMatrixXd>& x, const std::string& what);

// Comparison of two equally long vectors; NaN when either is constant (a value callers must
// handle: the Shapley split maps it to v = 0, the bootstrap counts and drops it).
double compare_vectors(const std::vector<double>& x, const std::vector<double>& y, RdmComparison c);
// Over the upper triangle (i < j) of two (n, n) RDMs.
double compare_rdms(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, RdmComparison c);
std::vector<double> upper_triangle(const Eigen::MatrixXd& m);

// Ranks 1..n, ties get their average rank (scipy.stats.rankdata "average").
std::vector<double> average_ranks(const std::vector<double>& x);
// Kendall's tau_A = (concordant - discordant) / (n (n - 1) / 2), ties counting as neither.
double kendall_tau_a(const std::vector<double>& x, const std::vector<double>& y);

// The stimuli of each bootstrap sample: samples x n indices drawn with replacement, seeded
// (the engine's Philox Generator; sample s uses the stream position s * n, so a sample is
// the same whatever the thread count).
std::vector<std::vector<int32_t>> bootstrap_samples(int64_t n, int64_t samples, uint64_t seed);

// comparisons[s][m][k] = compare(model[m], neural[k]) over the cells (a < b, s_a != s_b) of
// sample s; NaN where a side is constant within the sample. OpenMP over samples.
std::vector<std::vector<std::vector<double>>> bootstrap_comparisons(const std::vector<Eigen::MatrixXd>& model,
                                                                    const std::vector<Eigen::MatrixXd>& neural,
                                                                    const std::vector<std::vector<int32_t>>& samples,
                                                                    RdmComparison c);

struct BootstrapSummary {
  double estimate = 0;  // on the full stimulus set
  double mean = 0, sd = 0, lo = 0, hi = 0;  // over the usable samples; sd with n - 1; 2.5 / 97.5 % percentiles
  int64_t samples = 0, unusable = 0;        // unusable: NaN samples (a constant side), left out
};
// Percentiles interpolate linearly between order statistics (numpy's default).
BootstrapSummary summarize_bootstrap(double estimate, const std::vector<double>& samples, double level = 0.95);
double percentile(std::vector<double> v, double q);  // q in [0, 100]

// Split-half noise ceiling over neurons (lower bound): per split, the neurons in random halves
// (floor(N/2) and the rest), the RDM of each, their comparison r, Spearman-Brown 2r / (1 + r).
struct NoiseCeiling {
  double lower = 0, sd = 0;  // mean and SD (n - 1) of the corrected values over the splits
  double raw_r = 0;          // mean uncorrected split-half r
  double upper = 1;          // drawn at 1 (§4)
  int64_t splits = 0;
};
// responses: (stimuli, neurons), already averaged over repeats; zscore: z-score neurons first.
NoiseCeiling split_half_ceiling(const Eigen::Ref<const RowMatrixXd>& responses, RdmDistance d, RdmComparison c,
                                int64_t splits, uint64_t seed, bool zscore);

}  // namespace ml::analysis
