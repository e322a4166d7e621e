// experiments/analysis/v1_metrics.h — the V1 study's scores (science file §3, §6):
// per-neuron test correlation on repeat means, the ICLR code's oracle FEV, neuralpredictors'
// FEVE and jackknife oracle, and the cell-type clustering measures (k-means, adjusted Rand index).
//
// Layouts (row-major): predictions (images, neurons); repeated test responses
// (repeats, images, neurons), as the released dataset's `test` array.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ml::analysis {

struct RepeatedResponses {
  int64_t repeats = 0, images = 0, neurons = 0;
  std::vector<float> values;  // (repeats, images, neurons)
  float at(int64_t r, int64_t i, int64_t n) const { return values[static_cast<size_t>((r * images + i) * neurons + n)]; }
  std::vector<float> repeat_mean() const;  // (images, neurons)
};

// Pearson r per neuron between a (images, neurons) and b (images, neurons). Degenerate-variance
// rule: a neuron whose (population) SD on either side is below min_sd scores 0; the default 1e-5
// is the paper's score (architectures/training.py); min_sd = 0 zeroes only an exactly constant
// side (a plain correlation, e.g. of the simulation's drives).
std::vector<double> per_neuron_correlation(const std::vector<float>& a, const std::vector<float>& b, int64_t images,
                                           int64_t neurons, double min_sd = 1e-5);
std::vector<double> per_neuron_correlation(const std::vector<double>& a, const std::vector<double>& b, int64_t images,
                                           int64_t neurons, double min_sd = 1e-5);

// ICLR oracle: noise = mean over images of the unbiased across-repeat variance / repeats;
// total = unbiased variance of the repeat means; FEV = max(0, 1 - noise/total).
std::vector<double> oracle_fev(const RepeatedResponses& t);

// neuralpredictors np_functions.fev: V = unbiased variance of all single trials, N = mean over
// images of the unbiased across-repeat variance, MSE over single trials;
// FEVE = 1 - (MSE - N) / (V - N + 1e-9). `explainable` receives (V - N) / V when not null.
std::vector<double> feve(const RepeatedResponses& t, const std::vector<float>& prediction,
                         std::vector<double>* explainable = nullptr);

// neuralpredictors oracle_corr_jackknife: r of each single trial with the mean of the other
// repeats of its image, over all trials.
std::vector<double> jackknife_oracle(const RepeatedResponses& t);

// Lloyd's k-means with k-means++ seeding, best of `restarts` by inertia. x: (points, dims).
std::vector<int> kmeans(const std::vector<double>& x, int64_t points, int64_t dims, int k, int restarts,
                        uint64_t seed);

// Hubert & Arabie's adjusted Rand index of two labelings (as sklearn.metrics.adjusted_rand_score).
double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b);

double median(std::vector<double> v);
double mean_of(const std::vector<double>& v);

}  // namespace ml::analysis
