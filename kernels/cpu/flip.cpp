// kernels/cpu/flip.cpp — mirror and quarter-turn of (planes, H, W); index maps in kernels/flip.h.
#include "kernels/flip.h"

namespace ml::kernels {

template <>
void flip<Device::CPU>(float* y, const float* x, int64_t planes, int64_t H, int64_t W, bool horizontal, bool vertical,
                       Stream) {
#pragma omp parallel for schedule(static) if (planes * H * W > (1 << 16))
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * H * W;
    float* yp = y + pl * H * W;
    for (int64_t i = 0; i < H; ++i) {
      const float* xr = xp + (vertical ? H - 1 - i : i) * W;
      float* yr = yp + i * W;
      if (horizontal)
        for (int64_t j = 0; j < W; ++j) yr[j] = xr[W - 1 - j];
      else
        for (int64_t j = 0; j < W; ++j) yr[j] = xr[j];
    }
  }
}

template <>
void rot90<Device::CPU>(float* y, const float* x, int64_t planes, int64_t H, int64_t W, int k, Stream s) {
  k = ((k % 4) + 4) % 4;
  if (k == 0 || k == 2) {
    flip<Device::CPU>(y, x, planes, H, W, k == 2, k == 2, s);
    return;
  }
  // y is (W, H): k = 1: y[i, j] = x[j, W-1-i];  k = 3: y[i, j] = x[H-1-j, i].
#pragma omp parallel for schedule(static) if (planes * H * W > (1 << 16))
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * H * W;
    float* yp = y + pl * H * W;
    for (int64_t i = 0; i < W; ++i)
      for (int64_t j = 0; j < H; ++j) yp[i * H + j] = k == 1 ? xp[j * W + (W - 1 - i)] : xp[(H - 1 - j) * W + i];
  }
}

}  // namespace ml::kernels
