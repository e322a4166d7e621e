// kernels/cpu/softmax.cpp — softmax / log-softmax over the middle axis of (outer, dim, inner),
// and the negative log-likelihood of integer labels.
#include "kernels/softmax.h"

#include "kernels/cpu/fast_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ml::kernels {

namespace {

using fast_math::exp_nonpositive;  // vectorisable e^x (kernels/cpu/fast_math.h)

// Softmax of one contiguous row (inner = 1, attention's rows of L scores): the exponentials
// vectorised in float, their sum in double. In place (y == x) is allowed: x[d] is read before
// y[d] is written and not read again.
void softmax_row(float* y, const float* x, int64_t dim) {
  // The max as a vector reduction (a NaN in the row makes every output NaN through z either way).
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t d = 0; d < dim; ++d) m = x[d] > m ? x[d] : m;
  double z = 0.0;
#pragma omp simd reduction(+ : z)
  for (int64_t d = 0; d < dim; ++d) {
    const float e = exp_nonpositive(x[d] - m);
    y[d] = e;
    z += e;
  }
  const float inv = static_cast<float>(1.0 / z);
#pragma omp simd
  for (int64_t d = 0; d < dim; ++d) y[d] *= inv;
}

}  // namespace

template <>
void softmax_forward<Device::CPU>(float* y, const float* x, const SoftmaxParams& p, Stream) {
  if (p.inner == 1 && !p.log) {
#pragma omp parallel for schedule(static) if (p.outer * p.dim > (1 << 15))
    for (int64_t o = 0; o < p.outer; ++o) softmax_row(y + o * p.dim, x + o * p.dim, p.dim);
    return;
  }
#pragma omp parallel for collapse(2) schedule(static) if (p.outer * p.inner * p.dim > (1 << 15))
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < p.inner; ++i) {
      const float* xs = x + o * p.dim * p.inner + i;
      float* ys = y + o * p.dim * p.inner + i;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t d = 0; d < p.dim; ++d) m = std::max(m, xs[d * p.inner]);
      double z = 0.0;
      for (int64_t d = 0; d < p.dim; ++d) z += std::exp(static_cast<double>(xs[d * p.inner] - m));
      if (p.log) {
        const float lz = static_cast<float>(std::log(z));
        for (int64_t d = 0; d < p.dim; ++d) ys[d * p.inner] = xs[d * p.inner] - m - lz;
      } else {
        const double inv = 1.0 / z;
        for (int64_t d = 0; d < p.dim; ++d)
          ys[d * p.inner] = static_cast<float>(std::exp(static_cast<double>(xs[d * p.inner] - m)) * inv);
      }
    }
  }
}

template <>
void softmax_backward<Device::CPU>(float* gx, const float* gy, const float* y, const SoftmaxParams& p, Stream) {
#pragma omp parallel for collapse(2) schedule(static) if (p.outer * p.inner * p.dim > (1 << 15))
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < p.inner; ++i) {
      const int64_t base = o * p.dim * p.inner + i;
      double acc = 0.0;
      if (p.log) {
        for (int64_t d = 0; d < p.dim; ++d) acc += gy[base + d * p.inner];
        for (int64_t d = 0; d < p.dim; ++d) {
          const int64_t k = base + d * p.inner;
          gx[k] = gy[k] - std::exp(y[k]) * static_cast<float>(acc);
        }
      } else {
        for (int64_t d = 0; d < p.dim; ++d) acc += static_cast<double>(gy[base + d * p.inner]) * y[base + d * p.inner];
        for (int64_t d = 0; d < p.dim; ++d) {
          const int64_t k = base + d * p.inner;
          gx[k] = y[k] * (gy[k] - static_cast<float>(acc));
        }
      }
    }
  }
}

template <>
void nll_loss_forward<Device::CPU>(float* loss, const float* logp, const int32_t* labels, int64_t N, int64_t C,
                                   Stream) {
  double acc = 0.0;
  for (int64_t n = 0; n < N; ++n) acc -= logp[n * C + labels[n]];
  loss[0] = static_cast<float>(acc / static_cast<double>(N));
}

template <>
void nll_loss_backward<Device::CPU>(float* glogp, const float* gloss, const int32_t* labels, int64_t N, int64_t C,
                                    Stream) {
  const float g = -gloss[0] / static_cast<float>(N);
  for (int64_t i = 0; i < N * C; ++i) glogp[i] = 0.f;
  for (int64_t n = 0; n < N; ++n) glogp[n * C + labels[n]] = g;
}

}  // namespace ml::kernels
