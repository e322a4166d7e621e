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
// per-element formulas are the CPU's double-precision ones (kernels/cpu/batchnorm.cpp, commit
// e1bd7d5): y = a (x - mean) + beta formed in double before one rounding (a*x + b in float
// loses a small spread about a large mean: at x = 1000 +- 0.01 float's spacing is 6e-5), and
// the backward recomputes the mean in double from its sums of x, gy and gy*x instead of reading
// the float-rounded save_mean, with sum gy*xhat = invstd (sum gy*x - mean sum gy) and
// gx = k gy + b (x - mean) + c0 as the CPU writes them.
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

// y = a (x - mean) + b over channel c, in double before one rounding (the CPU's normalise_channel).
__device__ __forceinline__ void normalise(float* y, const float* x, const BatchNormParams& p, int64_t c, double mean,
                                          double a, double b) {
  const int64_t M = p.N * p.L;
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    y[i] = static_cast<float>(a * (static_cast<double>(x[i]) - mean) + b);
  }
}

// Block sums over channel c of x, gy and gy*x, in double (the CPU's grad_sums); every thread
// gets them. sum gy (x - m) = sum gy*x - m sum gy: each gy*x is exact in double.
struct GradSums {
  double x, gy, gy_x;
};
__device__ __forceinline__ GradSums grad_sums(const float* gy, const float* x, const BatchNormParams& p, int64_t c,
                                              double* smem) {
  const int64_t M = p.N * p.L;
  double sx = 0.0, sg = 0.0, sgx = 0.0;
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    sx += x[i];
    sg += gy[i];
    sgx += static_cast<double>(gy[i]) * x[i];
  }
  GradSums s;
  s.x = cuda::block_sum<kBnThreads>(sx, smem);
  s.gy = cuda::block_sum<kBnThreads>(sg, smem);
  s.gy_x = cuda::block_sum<kBnThreads>(sgx, smem);
  return s;
}

__global__ void __launch_bounds__(kBnThreads) bn_forward_train_kernel(float* y, float* save_mean, float* save_invstd,
                                                                      float* running_mean, float* running_var,
                                                                      const float* x, const float* gamma,
                                                                      const float* beta, BatchNormParams p) {
  ML_SHARED(double, smem, [kBnThreads / 32]);
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
  normalise(y, x, p, c, mean, (gamma ? gamma[c] : 1.0) * invstd, beta ? static_cast<double>(beta[c]) : 0.0);
}

__global__ void __launch_bounds__(kBnThreads) bn_forward_eval_kernel(float* y, const float* x, const float* gamma,
                                                                     const float* beta, const float* running_mean,
                                                                     const float* running_var, BatchNormParams p) {
  const int64_t c = blockIdx.x;
  const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + p.eps);
  normalise(y, x, p, c, running_mean[c], (gamma ? gamma[c] : 1.0) * invstd,
            beta ? static_cast<double>(beta[c]) : 0.0);
}

// gbeta = sum gy, ggamma = sum gy*xhat, gx = gamma*invstd * (gy - mean(gy) - xhat*mean(gy*xhat)).
__global__ void __launch_bounds__(kBnThreads) bn_backward_kernel(float* gx, float* ggamma, float* gbeta,
                                                                 const float* gy, const float* x, const float* gamma,
                                                                 const float* save_mean, const float* save_invstd,
                                                                 BatchNormParams p) {
  ML_SHARED(double, smem, [kBnThreads / 32]);
  const int64_t c = blockIdx.x, M = p.N * p.L;
  // The mean from the sums again, not save_mean (rounded to float): see the file comment.
  (void)save_mean;
  const GradSums sums = grad_sums(gy, x, p, c, smem);
  const double mean = sums.x / static_cast<double>(M);
  const double invstd = save_invstd[c];
  const double sum_gy = sums.gy;
  const double sum_gy_xhat = invstd * (sums.gy_x - mean * sums.gy);
  if (threadIdx.x == 0) {
    if (gbeta) gbeta[c] = static_cast<float>(sum_gy);
    if (ggamma) ggamma[c] = static_cast<float>(sum_gy_xhat);
  }
  const double k = (gamma ? gamma[c] : 1.0) * invstd;
  const double inv_m = 1.0 / static_cast<double>(M);
  // gx = k * (gy - mean_gy - xhat * mean_gy_xhat) = a * gy + b * (x - mean) + c0.
  const double a = k, b = -k * invstd * sum_gy_xhat * inv_m, c0 = -k * sum_gy * inv_m;
  for (int64_t m = threadIdx.x; m < M; m += kBnThreads) {
    const int64_t i = at(m, c, p);
    gx[i] = static_cast<float>(a * gy[i] + b * (static_cast<double>(x[i]) - mean) + c0);
  }
}

// Fixed statistics: gx = gy * gamma * invstd_running; ggamma/gbeta from the sums as in training.
__global__ void __launch_bounds__(kBnThreads) bn_backward_eval_kernel(float* gx, float* ggamma, float* gbeta,
                                                                      const float* gy, const float* x,
                                                                      const float* gamma, const float* running_mean,
                                                                      const float* running_var, BatchNormParams p) {
  ML_SHARED(double, smem, [kBnThreads / 32]);
  const int64_t c = blockIdx.x, M = p.N * p.L;
  const double mean = running_mean[c];
  const double invstd = 1.0 / sqrt(static_cast<double>(running_var[c]) + p.eps);
  if (ggamma || gbeta) {  // uniform over the block
    const GradSums sums = grad_sums(gy, x, p, c, smem);
    if (threadIdx.x == 0) {
      if (gbeta) gbeta[c] = static_cast<float>(sums.gy);
      if (ggamma) ggamma[c] = static_cast<float>(invstd * (sums.gy_x - mean * sums.gy));
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
  ML_LAUNCH(channel_blocks(p), kBnThreads, 0, stream_of(s), bn_forward_train_kernel)(
      y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void batchnorm_forward_eval<Device::CUDA>(float* y, const float* x, const float* gamma, const float* beta,
                                          const float* running_mean, const float* running_var,
                                          const BatchNormParams& p, Stream s) {
  if (p.C <= 0 || p.N * p.L <= 0) return;
  ML_LAUNCH(channel_blocks(p), kBnThreads, 0, stream_of(s), bn_forward_eval_kernel)(
      y, x, gamma, beta, running_mean, running_var, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void batchnorm_backward<Device::CUDA>(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                                      const float* gamma, const float* save_mean, const float* save_invstd,
                                      const BatchNormParams& p, Stream s) {
  if (p.C <= 0) return;
  ML_LAUNCH(channel_blocks(p), kBnThreads, 0, stream_of(s), bn_backward_kernel)(
      gx, ggamma, gbeta, gy, x, gamma, save_mean, save_invstd, p);
  ML_CUDA_CHECK_LAST();
}

template <>
void batchnorm_backward_eval<Device::CUDA>(float* gx, float* ggamma, float* gbeta, const float* gy, const float* x,
                                           const float* gamma, const float* running_mean, const float* running_var,
                                           const BatchNormParams& p, Stream s) {
  if (p.C <= 0) return;
  ML_LAUNCH(channel_blocks(p), kBnThreads, 0, stream_of(s), bn_backward_eval_kernel)(
      gx, ggamma, gbeta, gy, x, gamma, running_mean, running_var, p);
  ML_CUDA_CHECK_LAST();
}

}  // namespace ml::kernels
