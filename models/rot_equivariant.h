// models/rot_equivariant.h — the rotation-equivariant convolution of Ecker et al. 2019
// (../shared/science/ecker2019-v1-model.md §2.1-2.2; released code aecker/cnn-sys-ident,
// utils/hermite.py and architectures/utils.py).
//
// A K x K kernel is a mix of the K(K+1)/2 steerable 2-D Hermite functions; rotating a kernel by
// alpha is an exact block-diagonal rotation of its coefficients (1 per mu = 0 function, a 2 x 2
// block per (real, imaginary) pair of angular frequency mu). A layer holds coefficients only;
// each forward it assembles the full weight tensor [R*F, C_in, K, K] from them with engine ops
// (matmul with a fixed rotated-basis matrix, reshape, narrow, cat), so autograd reaches the
// coefficients, and then runs one ordinary conv2d (SAME zero padding, stride 1, no bias).
//
// Channels are rotation-major: output channel = i*F + f for rotation i = 0..R-1 (alpha_i = 2 pi i / R)
// and feature f. Layer 1 ("lifting") rotates its base filters; a later layer, whose input is R
// orientation groups of F_in channels, rotates every kernel slice by alpha_i AND shifts the
// groups cyclically: the slice that block 0 applies to input group g, block i applies to group
// (g + i) mod R. A turn of the input by 360/R degrees then rotates every map and adds 1 (mod R)
// to the orientation index (exact for multiples of 90 degrees on square inputs).
//
// Sense (pinned by tests/test_rot_equivariant.cpp): a positive alpha turns a kernel
// counter-clockwise as displayed with row 0 at the top, i.e. alpha = 90 degrees equals
// rot90(kernel, 1) (torch.rot90 on the last two dimensions).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace ml::models {

// The sampled basis of one kernel size, in float64.
struct HermiteBasis {
  int64_t K = 0;                 // kernel side
  std::vector<int> mu, nu;       // angular frequency and radial order of each function
  std::vector<char> part;        // 'z' (mu = 0, real part / sqrt 2), 'r' (real), 'i' (imaginary)
  std::vector<double> fine;      // (Q, 2K, 2K): each function on the 2K grid, unit norm there
  std::vector<double> values;    // (Q, K, K): the 2 x 2 block sums of `fine` (what kernels mix)
  int64_t count() const { return static_cast<int64_t>(mu.size()); }
};

inline int64_t hermite_count(int64_t K) { return K * (K + 1) / 2; }

// Functions of rank 0..K-1, ordered by rank then mu; sampled on a 2K x 2K grid spanning
// +-2 sqrt(K) (1 - 1/(2K)) (phi = atan2(row, column), row increasing downward), scaled to unit
// norm on that grid, then summed over 2 x 2 blocks (hermite.py with upsampling 2).
HermiteBasis hermite_basis(int64_t K);

// (Q, Q) row-major rotation of coefficient vectors by `alpha` radians: c' = M c.
std::vector<double> hermite_rotation(const HermiteBasis& basis, double alpha);

// An orientation count whose rotations are all exact on the sampling grid (multiples of 90
// degrees): 1, 2 or 4. Throws an ml::Error naming `who` otherwise.
void check_exact_rotations(int64_t rotations, const std::string& who);

struct RotEquiConvOptions {
  int64_t in_channels = 1;   // layer 1: any C_in; later layers: rotations * F_in
  int64_t features = 4;      // F: base filters; the layer outputs rotations * F channels
  int64_t kernel = 9;        // K (odd, so SAME padding is symmetric and 90-degree turns exact)
  int64_t rotations = 8;     // R
  bool first_layer = true;   // lifting layer (no group shift) or a group layer
  bool require_exact = false;  // refuse R whose rotations are not exact on the grid
  float init_std = 0.1f;     // truncated normal (+-2 sd) for the coefficients
};

class RotEquiConv2d : public nn::Module {
 public:
  RotEquiConv2d(const RotEquiConvOptions& o, Generator& gen);
  // (N, C_in, H, W) -> (N, R*F, H, W)
  Tensor forward(const Tensor& x) override;
  // The assembled weights (R*F, C_in, K, K), differentiable in `coeffs`.
  Tensor weights() const;
  // Coefficients, our layout (F, C_in, Q): the transpose of the released [Q, C_in, F], chosen
  // so that assembly is a plain (F*C_in, Q) x (Q, K*K) matmul per rotation.
  Tensor coeffs;
  RotEquiConvOptions options;
  // Number of trainable conv parameters (F * C_in * Q).
  int64_t conv_parameter_count() const { return coeffs.numel(); }

 private:
  std::vector<Tensor> rotated_basis_;  // per rotation i: (Q, K*K) = M_i^T H, float32, no grad
};

// In place: normal(0, std), values beyond +-2 std redrawn (tf.truncated_normal).
void truncated_normal_(Tensor& t, Generator& gen, float std);

}  // namespace ml::models
