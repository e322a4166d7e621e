// experiments/analysis/v1_data.h — the V1 study's dataset on disk and in memory.
//
// On disk: one folder with manifest.json and NPY arrays (what simulate_v1 writes and what a user
// converts real data to):
//   images_train.npy (n, H, W) float32      responses_train.npy (n, N) float32
//   images_val.npy   (m, H, W)              responses_val.npy   (m, N)
//   images_test.npy  (t, H, W)              responses_test.npy  (repeats, t, N)
// manifest.json: {"format": "mirrorlab-v1/1", "files": {"images_train": "images_train.npy", ...},
// plus free-form fields (preset, seed, ...)}. A simulated set adds truth_*.npy (see
// experiments/analysis/v1_simulate.h). The released ICLR 2019 pickle (images [n, 36, 64, 1],
// responses [n, 6005], test [repeats, n, 6005], already normalised) converts by dropping the
// last image axis and numpy.save'ing each array under these names (README, "V1 study").
//
// In memory (science file §1): images z-scored with ONE scalar mean and SD of all training
// pixels (reused for validation and test); responses divided per neuron by the training SD
// (unless it is below 1 % of the mean SD). Responses must be finite and non-negative.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "experiments/analysis/v1_metrics.h"

namespace ml::analysis {

struct V1Dataset {
  int64_t height = 0, width = 0, neurons = 0;
  Tensor train_images, val_images, test_images;  // (n, 1, H, W), z-scored
  Tensor train_responses, val_responses;         // (n, N), scaled
  RepeatedResponses test;                        // (repeats, t, N), scaled
  std::vector<float> response_scale;             // per neuron: the divisor applied
  double pixel_mean = 0, pixel_sd = 1;
  std::string dir;
};

// Checks one response array: finite and >= 0 everywhere; the message names `file` and the
// first bad element.
void validate_responses(const Tensor& r, const std::string& file);

// Reads, validates (shapes, counts, values) and normalises; every problem is an ml::Error that
// names the file. With normalise = false the arrays are used as stored.
V1Dataset load_v1_dataset(const std::string& dir, bool normalise = true);

// Same checks and normalisation on arrays already in memory (images (n, H, W)).
V1Dataset make_v1_dataset(const Tensor& train_images, const Tensor& train_responses, const Tensor& val_images,
                          const Tensor& val_responses, const Tensor& test_images, const Tensor& test_responses,
                          bool normalise, const std::string& where);

}  // namespace ml::analysis
