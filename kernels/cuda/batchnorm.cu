// kernels/cuda/batchnorm.cu — batch normalisation over (N, C, L), statistics per channel over
// N and L (kernels/batchnorm.h; formulas and the backward's derivation in
// kernels/cpu/batchnorm.cpp). Element (n, c, l) is x[(n*C + c)*L + l].
//
// One block of 512 threads per channel. The block walks its channel's M = N*L values as a flat
// index m -> (n = m / L, l = m % L), so every thread has work even for small maps (L = 7*7),
// and a warp reads runs of contiguous floats. The training forward is one kernel: sum (mean),
// sum of squared deviations (variance, two passes as the CPU, so a large mean does not eat the
// variance), then y; a channel is at most a few MB, so the second and third reads come from
// L2. The backward likewise: the two sums, then gx.
//
// Accuracy and determinism. Sums in double (as the CPU), each thread over a fixed stripe, then
// a fixed-order block reduction: no atomics, reruns are bit-identical, and the statistics
// agree with the CPU's to double precision before their single rounding to float. The
// per-element formulas are the CPU's, with its fused multiply-adds (GCC fuses y = a*x + b and
// b = beta - a*mean; written here as fma so the two compilers cannot differ).
//
// Parallelism is C blocks: ample for the conv layers of the models here (C >= 32). A layer
// with a handful of channels over a huge batch would leave SMs idle; a split of M into chunks
// with a second pass (as sum_reduce does) is the remedy if a benchmark ever shows it.
#include <cmath>

#include "kernels/batchnorm.h"
#include "kernels/cuda/common.cuh"

namespace ml::kernels {

namespace {

using cuda::stream_of;

constexpr int kBnThreads = 512;

// Offset of the channel's m-th value.
__device__ __forceinline__ int64_t at(int64_t m, int64_t c, const BatchNormParams& p) {
  const int64_t n = m / p.L, l = m - n * p.L;
  return (n * p.C + c) * p.L + l;
}

__global__ void __launch_bounds__(kBnThreads) bn_forward_train_kernel(float* y, float* save_mean, float* save_invstd,
                                                                      float* running_mean, float* running_var,
                                                                      const float* x, const float* gamma,
                                                                      const float* beta, BatchNormParams p) {
  __shared__ double smem[kBnThreads / 32];
  const int64_t c = blockIdx.x, M = p.N * p.L;
  double acc = 0.0;
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) acc += x[at(m, c, p)];
  const double mean = cuda::block_sum<kBnThreads>(acc, smem) / static_cast<double>(M);
  acc = 0.0;
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const double d = x[at(m, c, p)] - mean;
    acc += d * d;
  }
  const double var = cuda::block_sum<kBnThreads>(acc, smem) / static_cast<double>(M);  // biased
  const double invstd = 1.0 / sqrt(var + static_cast<double>(p.eps));
  if (threadIdx.x == 0) {
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    if (running_mean && running_var) {
      // Unbiased running variance (PyTorch); M == 1 keeps the biased value (the op refuses it).
      const double unbiased = M > 1 ? var * static_cast<double>(M) / static_cast<double>(M - 1) : var;
      const double mom = p.momentum;
      running_mean[c] = static_cast<float>((1.0 - mom) * running_mean[c] + mom * mean);
      running_var[c] = static_cast<float>((1.0 - mom) * running_var[c] + mom * unbiased);
    }
  }
  // y = a*x + b with a = gamma*invstd, b = beta - a*mean.
  const double a = (gamma ? gamma[c] : 1.0) * invstd;
  const double b = fma(-a, mean, beta ? static_cast<double>(beta[c]) : 0.0);
  const float af = static_cast<float>(a), bf = static_cast<float>(b);
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    y[i] = __fmaf_rn(af, x[i], bf);
  }
}

__global__ void __launch_bounds__(kBnThreads) bn_forward_eval_kernel(float* y, const float* x, const float* gamma,
                                                                     const float* beta, const float* running_mean,
                                                                     const float* running_var, BatchNormParams p) {
  const int64_t c = blockIdx.x, M = p.N * p.L;
  const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + p.eps);
  const double a = (gamma ? gamma[c] : 1.0) * invstd;
  const double b = fma(-a, static_cast<double>(running_mean[c]), beta ? static_cast<double>(beta[c]) : 0.0);
  const float af = static_cast<float>(a), bf = static_cast<float>(b);
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    y[i] = __fmaf_rn(af, x[i], bf);
  }
}

// gbeta = sum gy, ggamma = sum gy*xhat, gx = gamma*invstd * (gy - mean(gy) - xhat*mean(gy*xhat)).
__global__ void __launch_bounds__(kBnThreads) bn_backward_kernel(float* gx, float* ggamma, float* gbeta,
                                                                 const float* gy, const float* x, const float* gamma,
                                                                 const float* save_mean, const float* save_invstd,
                                                                 BatchNormParams p) {
  __shared__ double smem[kBnThreads / 32];
  const int64_t c = blockIdx.x, M = p.N * p.L;
  const double mean = save_mean[c], invstd = save_invstd[c];
  double sg = 0.0, sgx = 0.0;
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    sg += gy[i];
    sgx += gy[i] * (x[i] - mean) * invstd;
  }
  const double sum_gy = cuda::block_sum<kBnThreads>(sg, smem);
  const double sum_gy_xhat = cuda::block_sum<kBnThreads>(sgx, smem);
  if (threadIdx.x == 0) {
    if (gbeta) gbeta[c] = static_cast<float>(sum_gy);
    if (ggamma) ggamma[c] = static_cast<float>(sum_gy_xhat);
  }
  const double k = (gamma ? gamma[c] : 1.0) * invstd;
  const double inv_m = 1.0 / static_cast<double>(M);
  const double mean_gy = sum_gy * inv_m, mean_gy_xhat = sum_gy_xhat * inv_m;
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    const double xhat = (x[i] - mean) * invstd;
    gx[i] = static_cast<float>(k * fma(-xhat, mean_gy_xhat, gy[i] - mean_gy));
  }
}

// Fixed statistics: gx = gy * gamma * invstd_running; ggamma/gbeta as in training.
__global__ void __launch_bounds__(kBnThreads) bn_backward_eval_kernel(float* gx, float* ggamma, float* gbeta,
                                                                      const float* gy, const float* x,
                                                                      const float* gamma, const float* running_mean,
                                                                      const float* running_var, BatchNormParams p) {
  __shared__ double smem[kBnThreads / 32];
  const int64_t c = blockIdx.x, M = p.N * p.L;
  const double mean = running_mean[c];
  const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + p.eps);
  if (ggamma || gbeta) {  // uniform over the block
    double sg = 0.0, sgx = 0.0;
    for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
      const int64_t i = at(m, c, p);
      sg += gy[i];
      sgx += gy[i] * (x[i] - mean) * invstd;
    }
    const double sum_gy = cuda::block_sum<kBnThreads>(sg, smem);
    const double sum_gy_xhat = cuda::block_sum<kBnThreads>(sgx, smem);
    if (threadIdx.x == 0) {
      if (gbeta) gbeta[c] = static_cast<float>(sum_gy);
      if (ggamma) ggamma[c] = static_cast<float>(sum_gy_xhat);
    }
  }
  const float k = static_cast<float>((gamma ? gamma[c] : 1.0) * invstd);
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    gx[i] = gy[i] * k;
  }
}

unsigned channel_blocks(const BatchNormParams& p) {
  if (p.C > 0x7fffffff) throw std::runtime_error("batchnorm (cuda): too many channels for one launch");
  return static_cast<unsigned>(p.C);
}

}  // namespace

template <>
void batchnorm_forward_train<Device::CUDA>(float* y, float* save_mean, float* save_invstd, float* running_mean,
                                           float* running_var, const float* x, const float* gamma, const float* beta,
                                           const BatchNormParams& p, Stream s) {
  if (p.C <= 0) return;
  bn_forward_train_kernel<<<channel_blocks(p), kBnThreads, 0, stream_of(s)>>>(y, save_mean, save_invstd, running_mean,
                                                                              running_var, x, gamma, beta, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void batchnorm_forward_eval<Device::CUDA>(float* y, const float* x, const float* gamma, const float* beta,
                                          const float* running_mean, const float* running_var,
                                          const BatchNormParams& p, Stream s) {
  if (p.C <= 0 || p.N * p.L <= 0) return;
  bn_forward_eval_kernel<<<channel_blocks(p), kBnThreads, 0, stream_of(s)>>>(y, x, gamma, beta, running_mean,
                                                                             running_var, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void batchnorm_backward<Device::CUDA>(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                                      const float* gamma, const float* save_mean, const float* save_invstd,
                                      const BatchNormParams& p, Stream s) {
  if (p.C <= 0) return;
  bn_backward_kernel<<<channel_blocks(p), kBnThreads, 0, stream_of(s)>>>(gx, ggamma, gbeta, gy, x, gamma, save_mean,
                                                                         save_invstd, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void batchnorm_backward_eval<Device::CUDA>(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                                           const float* gamma, const float* running_mean, const float* running_var,
                                           const BatchNormParams& p, Stream s) {
  if (p.C <= 0) return;
  bn_backward_eval_kernel<<<channel_blocks(p), kBnThreads, 0, stream_of(s)>>>(gx, ggamma, gbeta, gy, x, gamma,
                                                                              running_mean, running_var, p);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
