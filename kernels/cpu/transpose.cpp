// kernels/cpu/transpose.cpp — y (A, N, B, M, C) from x (A, M, B, N, C); see kernels/transpose.h.
#include <cstring>

#include "kernels/transpose.h"

namespace ml::kernels {

template <>
void transpose<Device::CPU>(float* y, const float* x, const TransposeParams& p, Stream) {
  const int64_t A = p.A, M = p.M, B = p.B, N = p.N, C = p.C;
  // Each output row of C contiguous floats is one input row of C contiguous floats.
#pragma omp parallel for collapse(2) schedule(static) if (A * M * B * N * C > (1 << 16))
  for (int64_t a = 0; a < A; ++a)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t m = 0; m < M; ++m) {
          float* yr = y + (((a * N + n) * B + b) * M + m) * C;
          const float* xr = x + (((a * M + m) * B + b) * N + n) * C;
          if (C == 1) *yr = *xr;
          else std::memcpy(yr, xr, static_cast<size_t>(C) * sizeof(float));
        }
}

}  // namespace ml::kernels
