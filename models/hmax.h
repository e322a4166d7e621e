// models/hmax.h — the HMAX "standard model" (Serre et al. 2007, CBCL code) as a fixed engine
// model with named layers image, s1, c1, s2, c2, so the analysis programs read it out as they
// read a CNN (../shared/science/farzmahdi2024-more.md §2 pins every parameter):
//   S1  64 Gabor filters, 4 orientations (90, -45, 0, 45 deg) x 16 sizes 7, 9, ..., 37;
//       |image * kernel| / sqrt(sum of squared pixels under the kernel), a half-kernel border 0.
//   C1  8 bands (sizes 2b-1, 2b); max over the band's two sizes, then over m x m windows
//       (m = 8, 10, ..., 22) at step ceil(m/2), anchored top-left (CBCL) or centred.
//   S2  prototypes (K_n, 4, n, n), n in {4, 8, 12, 16}, against every band's C1 map:
//       d^2 = ||x||^2 - 2 x.p + ||p||^2 (a convolution = GEMM per band), response exp(-d^2/(2 sigma^2)).
//   C2  per prototype, the max response over positions and bands.
// Everything is engine ops (conv2d, max_pool2d, cat), so it runs on the CPU and on CUDA; on the
// CPU, host kernels do S1/C1 (models/hmax_s1_cpu.h) and, when s1 or s2 is not captured, skip
// storing it (C1 straight from the image, C2 from C1: models/hmax_c2_cpu.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "models/model.h"

namespace ml::models {

constexpr int64_t kHmaxOrientations = 4;
constexpr int64_t kHmaxSizes = 16;  // filter sizes 7, 9, ..., 37
constexpr int64_t kHmaxBands = 8;
constexpr int64_t kHmaxLargestFilter = 37;

struct HmaxOptions {
  int64_t image_size = 227;  // square gray input (B, 1, S, S) in [0, 1]
  bool centred_c1 = false;   // van Vliet's port: C1 windows centred on their sample points
  // S2 response exp(-d^2 / (2 sigma^2)) (1 at distance 0, as the PyTorch port with sigma 1);
  // sigma 0: the negated squared distance -d^2 itself (CBCL's C2 is min d^2, here its negative).
  float s2_sigma = 1.f;
  // S1 and C1 from engine ops (conv2d, max_pool2d) on the CPU too; by default the CPU uses the
  // host kernels of models/hmax_s1_cpu.h and CUDA the engine ops. The tests run both.
  bool engine_ops = false;
};

// The Gabor filter of size index j (size 7 + 2j) and orientation index o, (size, size),
// as CBCL's init_gabor: zero outside the inscribed disc, then the mean of the whole square
// subtracted and the square scaled to unit norm.
Tensor hmax_gabor(int64_t size_index, int64_t orientation);
// All of one size: (4, 1, size, size), orientations 90, -45, 0, 45 deg in that order.
Tensor hmax_gabor_bank(int64_t size_index);
// The orientation of channel o in degrees (90, -45, 0, 45).
double hmax_orientation_deg(int64_t o);

// C1 pooling of band b (0-based): window m and step.
int64_t hmax_c1_window(int64_t band);
int64_t hmax_c1_step(int64_t band);

// Prototypes: sizes[i] x (K_i, 4, n_i, n_i).
struct HmaxPrototypes {
  std::vector<int64_t> sizes;
  std::vector<Tensor> patches;
  int64_t count() const;
};

// Saved as "prototypes.<n>" (K, 4, n, n) tensors plus metadata {"model": "hmax"}; atomic.
void save_hmax_prototypes(const std::string& path, const HmaxPrototypes& p);
// Every tensor must be named prototypes.<n> and be (K, 4, n, n) with n <= the largest C1
// band map of `image_size` (else it could match nowhere); errors name the file and tensor.
HmaxPrototypes load_hmax_prototypes(const std::string& path, int64_t image_size);

class Hmax;

// The model: net is an Hmax module; layers image, s1, c1 and, with prototypes, s2, c2.
// image: (B, 1, S, S); s1: (B, 64, S, S), channel = size_index * 4 + orientation; c1, s2:
// (B, U) with every band's maps flattened in band order (band sizes differ); c2: (B, K).
Model hmax_model(const HmaxOptions& o, const HmaxPrototypes& prototypes = {});

// The C1 maps of images (B, 1, S, S): one (B, 4, L_b, L_b) tensor per band.
std::vector<Tensor> hmax_c1_bands(const Tensor& images, const HmaxOptions& o);

// The C1 maps of one band (0-based) only: (B, 4, L, L); computes just that band's two S1 sizes.
Tensor hmax_c1_band(const Tensor& images, const HmaxOptions& o, int64_t band);

// CBCL's extractRandC1Patches: `per_size` patches of each size in `sizes` cut from band 2 (index
// 1) C1 maps of `images` (N, 1, S, S); patch i of a size comes from image floor(i N / per_size)
// at a position drawn uniformly from a Generator seeded with `seed`.
HmaxPrototypes sample_hmax_prototypes(const Tensor& images, const HmaxOptions& o, int64_t per_size, uint64_t seed,
                                      const std::vector<int64_t>& sizes = {4, 8, 12, 16});
// The same from band-2 C1 maps (N, 4, L, L) computed beforehand (hmax_c1_band(images, o, 1),
// e.g. in chunks of a large image set).
HmaxPrototypes sample_hmax_prototypes_from_c1(const Tensor& band2, int64_t per_size, uint64_t seed,
                                              const std::vector<int64_t>& sizes = {4, 8, 12, 16});

// Elementwise maximum of same-shape tensors from engine ops only (a max-pool over a tile of
// copies), so it is exact and runs on every device.
Tensor elementwise_max(const std::vector<Tensor>& xs);

}  // namespace ml::models
