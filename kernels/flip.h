// kernels/flip.h — the mirror-symmetry study's image transformations on (N, C, H, W),
// applied per plane (n, c). Pure data movement: CPU and CUDA agree bit for bit.
//   hflip: y[.., i, j] = x[.., i, W-1-j]       (left-right mirror)
//   vflip: y[.., i, j] = x[.., H-1-i, j]       (up-down mirror)
//   rot90 by k quarter turns counter-clockwise, as torch.rot90(x, k, dims=(2, 3)) and
//   np.rot90 on the last two axes: for k = 1, y (N, C, W, H) has y[.., i, j] = x[.., j, W-1-i].
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace ml::kernels {

// planes = N*C. Both flags may be set (then y is x turned by 180 degrees).
template <Device D>
void flip(float* y, const float* x, int64_t planes, int64_t H, int64_t W, bool horizontal, bool vertical, Stream s);
// k in {0, 1, 2, 3}; x is (planes, H, W); y is (planes, W, H) for odd k, else (planes, H, W).
template <Device D>
void rot90(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int k, Stream s);

}  // namespace ml::kernels
