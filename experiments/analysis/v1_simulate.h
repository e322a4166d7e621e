// experiments/analysis/v1_simulate.h — a simulated V1 population whose answer is known
// (science file §6): dead-leaves + 1/f images, five cell types with known orientation, position
// and gain, Poisson spike counts with repeats for the test images.
//
// Cells: type T1 even simple (even Gabor . image), T2 odd simple (odd Gabor), T3 complex
// (even^2 + odd^2), T4 centre-surround (DoG, sd 1.2 / 3 px, surround weight 0.8), T5 end-stopped
// (centre energy - 0.7 x the MEAN of the energies 1.5 wavelengths either way along the bar: with
// the sum, a full-field grating at theta would drive it to -0.4 x its centre energy and its grating
// preference would be the orthogonal orientation; with the mean it keeps 0.3 x). Gabors:
// wavelength 6 px, envelope sd 1.8 px; every filter 9 x 9, zero-mean and unit-norm, centred on
// the pixel nearest the cell's centre and evaluated at the exact (sub-pixel) offsets. Orientation
// theta: the carrier runs along (cos theta, sin theta) in (column, row) coordinates, i.e.
// clockwise from the +column axis as displayed row 0 on top. Centre uniform in the central half
// of the image, theta ~ U[0, 2 pi), gain A log-uniform on [0.1, 4].
// Rates: z = drive standardised over 10,000 reference images; lambda = A softplus(1.5 z - 1);
// counts ~ Poisson(lambda): one trial per training/validation image, `repeats` per test image.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ml::analysis {

struct V1SimPreset {
  std::string name;
  int64_t height = 20, width = 20, neurons = 128;
  std::vector<int> types{1, 2, 3, 4};  // cycled over the neurons
  int64_t train = 1500, val = 200, test = 100, repeats = 10;
  int64_t reference_images = 10000;
  double noise_fraction = 0.25;  // share of images that are 1/f noise instead of dead leaves
};
// "ci", "small", "paper" (science file §6 table).
V1SimPreset v1_sim_preset(const std::string& name);

// Images (n, H, W) in [0, 1]-ish grey levels: dead leaves (opaque discs, radius density ∝ r^-3
// on [0.5, side/2] px, uniform greys, drawn at 2x until every pixel is covered, averaged 2 x 2,
// plus Gaussian noise sd 0.02), a `noise_fraction` of them 1/f noise of the same mean and SD.
Tensor render_v1_images(int64_t n, int64_t height, int64_t width, double noise_fraction, uint64_t seed);

struct V1Truth {
  std::vector<int32_t> type;             // 1..5
  std::vector<float> theta, cx, cy, gain;  // radians; column, row (pixels); A
};

struct V1Simulation {
  V1SimPreset preset;
  uint64_t seed = 0;
  V1Truth truth;
  Tensor images_train, images_val, images_test;           // (n, H, W)
  Tensor responses_train, responses_val, responses_test;  // (n, N), (n, N), (repeats, t, N)
  Tensor rates_train, rates_val, rates_test;              // lambda, (n, N)
};

// Builds the cells (their filters as 9x9 windows) from the truth and evaluates their drives.
class V1CellBank {
 public:
  V1CellBank(const V1Truth& truth, int64_t height, int64_t width);
  // Raw drives (n, N) of images (n, H, W).
  std::vector<double> drives(const Tensor& images) const;
  int64_t neurons() const { return static_cast<int64_t>(truth_.type.size()); }

 private:
  struct Window {
    int64_t r0, c0;              // top-left pixel of the 9x9 window (may lie partly outside)
    std::vector<double> w;       // 81 values
  };
  double apply(const Window& w, const float* img) const;
  V1Truth truth_;
  int64_t H_, W_;
  std::vector<std::vector<Window>> filters_;  // per neuron: T1 {even}, T2 {odd}, T3 {even, odd}, T4 {dog},
                                              // T5 {even, odd, even+, odd+, even-, odd-}
};

V1Truth draw_v1_cells(const V1SimPreset& p, uint64_t seed);
V1Simulation simulate_v1(const V1SimPreset& p, uint64_t seed, bool progress = false);
// Writes the dataset files (v1_data.h) plus truth_type.npy (int32), truth_theta/cx/cy/gain.npy,
// rates_{train,val,test}.npy and manifest.json (atomically, file by file; manifest last).
void write_v1_simulation(const V1Simulation& s, const std::string& dir);

// Per neuron, the Pearson correlation over `images` (n, H, W) of its drive with the drive of a cell
// of type `other` at the same centre and orientation: how much of a type's drive another type
// shares (e.g. T1's even Gabor and T4's DoG). A diagnosis of what the cell types leave separable.
std::vector<double> drive_correlation_with_type(const V1Truth& truth, const Tensor& images, int other);

// Analytic oracle (§6): FEV_r = Var(lambda) / (Var(lambda) + mean(lambda) / r) per neuron, over
// the test images' rates (t, N).
std::vector<double> analytic_fev(const Tensor& rates_test, int64_t repeats);

}  // namespace ml::analysis
