// engine/ops/attention.cpp — multi-head scaled dot-product self-attention from the packed q, k, v
// projections (nn.MultiheadAttention after its in_proj, as ViT uses it).
//
// Why one op: written with the 2-D ops it was a loop over the (batch x head) slices, each with
// copies of q, k and v out of the packed (N, L, 3D) tensor. Here every product reads the packed
// tensor in place through the GEMM's row pitch (3D) and head stride (hd): one strided batched
// GEMM per sample for q kᵀ (all heads), the row softmax, and one for a v that writes each head's
// output straight into its columns of (N, L, D). No per-head copies, on every device the GEMM
// and softmax kernels run on (cuBLAS's strided batched GEMM on CUDA).
#include "engine/ops/attention.h"

#include "engine/autograd.h"
#include "engine/ops/common.h"
#include "kernels/gemm.h"
#include "kernels/softmax.h"

#include <omp.h>

#include <cmath>
#include <vector>

namespace ml {

namespace {

// The products of one sample, heads as the GEMM's batch. Pointers are to the sample's first
// element; `lda` etc. are row pitches. C_h = alpha op(A_h) op(B_h), A_h = A + h sa, ...
void heads_gemm(Device dev, float* C, int64_t ldc, int64_t sc, const float* A, int64_t lda, int64_t sa, bool ta,
                const float* B, int64_t ldb, int64_t sb, bool tb, int64_t M, int64_t Nc, int64_t K, int64_t heads,
                float alpha) {
  kernels::GemmParams p;
  p.M = M;
  p.N = Nc;
  p.K = K;
  p.trans_a = ta;
  p.trans_b = tb;
  p.lda = lda;
  p.ldb = ldb;
  p.ldc = ldc;
  p.alpha = alpha;
  p.beta = 0.f;
  p.batch = heads;
  p.stride_a = sa;
  p.stride_b = sb;
  p.stride_c = sc;
  dispatch(dev, [&](auto D) { kernels::gemm<D>(C, A, B, p, device_stream(D)); });
}

// The CPU forward: one task per (sample, head) running q_h k_hᵀ, the row softmax and P v_h back to
// back, so the head's L x L scores (152 KiB at ViT's L = 197) are still in L2 when the softmax and
// the second product read them, and one parallel loop over the N x heads tasks replaces the 2 N + 1
// parallel regions of the batched form (each ends in a barrier, where on a loaded machine a
// descheduled thread makes the other spin). Inside the loop the GEMM and softmax kernels run on
// their calling thread. Each task's products are the same single Eigen products as the batched
// GEMM's items, so the result does not depend on the thread count. `attn` (N, heads, L, L)
// receives the probabilities when given (for the backward); else each thread reuses one L x L
// buffer.
void attention_cpu(float* y, float* attn, const float* in, int64_t N, int64_t L, int64_t D, int64_t heads,
                   float scale) {
  const int64_t D3 = 3 * D, hd = D / heads, LL = L * L;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  std::vector<float> scratch(attn ? 0 : static_cast<size_t>(threads * LL));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t t = 0; t < N * heads; ++t) {
    const int64_t n = t / heads, h = t % heads;
    float* a = attn ? attn + t * LL : scratch.data() + static_cast<size_t>(omp_get_thread_num()) * LL;
    const float* s = in + n * L * D3 + h * hd;
    heads_gemm(Device::CPU, a, L, LL, s, D3, hd, false, s + D, D3, hd, true, L, L, hd, 1, scale);
    const kernels::SoftmaxParams sp{L, L, 1, false};
    kernels::softmax_forward<Device::CPU>(a, a, sp, Stream{});
    heads_gemm(Device::CPU, y + n * L * D + h * hd, D, hd, a, L, LL, false, s + 2 * D, D3, hd, false, L, hd, L, 1,
               1.f);
  }
}

}  // namespace

Tensor multi_head_attention(const Tensor& qkv, int64_t heads) {
  detail::check_f32("multi_head_attention", qkv, "qkv");
  detail::check_dim("multi_head_attention", qkv, "qkv", 3);
  const int64_t N = qkv.size(0), L = qkv.size(1), D3 = qkv.size(2);
  ML_CHECK(D3 % 3 == 0, "multi_head_attention: qkv ", qkv.str(), " must hold q, k and v side by side (last dimension 3 D)");
  const int64_t D = D3 / 3;
  ML_CHECK(heads > 0 && D > 0 && D % heads == 0, "multi_head_attention: D = ", D, " is not divisible by ", heads,
           " heads");
  const int64_t hd = D / heads, LL = L * L;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  const Device dev = qkv.device();
  Tensor y = Tensor::empty({N, L, D}, DType::F32, dev);
  if (y.numel() == 0) return y;
  // scores (N, heads, L, L) = scale q_h k_hᵀ, then softmax over the last dimension in place
  // (the softmax kernel reads each row fully before it writes it). Kept for the backward only
  // when one will run; an inference forward on the CPU keeps one head's scores per thread.
  const bool keep = GradMode::enabled() && qkv.requires_grad();
  Tensor attn = keep || dev != Device::CPU ? Tensor::empty({N, heads, L, L}, DType::F32, dev) : Tensor{};
  const float* in = qkv.data();
  if (dev == Device::CPU) {
    attention_cpu(y.data(), attn.defined() ? attn.data() : nullptr, in, N, L, D, heads, scale);
  } else {
    float* a = attn.data();
    for (int64_t n = 0; n < N; ++n) {
      const float* s = in + n * L * D3;
      heads_gemm(dev, a + n * heads * LL, L, LL, s, D3, hd, false, s + D, D3, hd, true, L, L, hd, heads, scale);
    }
    const kernels::SoftmaxParams sp{N * heads * L, L, 1, false};
    dispatch(dev, [&](auto Dv) { kernels::softmax_forward<Dv>(a, a, sp, device_stream(Dv)); });
    // y[n, :, h hd:(h+1) hd] = attn[n, h] v_h
    for (int64_t n = 0; n < N; ++n)
      heads_gemm(dev, y.data() + n * L * D, D, hd, a + n * heads * LL, L, LL, false, in + n * L * D3 + 2 * D, D3, hd,
                 false, L, hd, L, heads, 1.f);
  }
  if (!keep) return y;
  const Tensor qs = qkv.detach(), as = attn.detach();
  return record(y, "multi_head_attention", {qkv}, [qs, as, N, L, D, heads, hd, scale](const Tensor& g) {
    const Device dv = g.device();
    const int64_t D3 = 3 * D, LL = L * L;
    const float* in = qs.data();
    const float* a = as.data();
    Tensor gq = Tensor::empty(qs.shape(), DType::F32, dv);  // every element written below
    Tensor ga = Tensor::empty(as.shape(), DType::F32, dv);
    for (int64_t n = 0; n < N; ++n) {
      const float* gn = g.data() + n * L * D;
      const float* s = in + n * L * D3;
      float* gs = gq.data() + n * L * D3;
      // d attn = g_h v_hᵀ (L, L);  d v_h = attn_hᵀ g_h (L, hd)
      heads_gemm(dv, ga.data() + n * heads * LL, L, LL, gn, D, hd, false, s + 2 * D, D3, hd, true, L, L, hd, heads,
                 1.f);
      heads_gemm(dv, gs + 2 * D, D3, hd, a + n * heads * LL, L, LL, true, gn, D, hd, false, L, hd, L, heads, 1.f);
    }
    // d scores = attn * (d attn - rowsum(d attn * attn)), in place
    const kernels::SoftmaxParams sp{N * heads * L, L, 1, false};
    dispatch(dv, [&](auto Dv) {
      kernels::softmax_backward<Dv>(ga.data(), ga.data(), a, sp, device_stream(Dv));
    });
    for (int64_t n = 0; n < N; ++n) {
      const float* s = in + n * L * D3;
      const float* gsn = ga.data() + n * heads * LL;
      float* gs = gq.data() + n * L * D3;
      // d q_h = scale d scores k_h;  d k_h = scale d scoresᵀ q_h
      heads_gemm(dv, gs, D3, hd, gsn, L, LL, false, s + D, D3, hd, false, L, hd, L, heads, scale);
      heads_gemm(dv, gs + D, D3, hd, gsn, L, LL, true, s, D3, hd, false, L, hd, L, heads, scale);
    }
    return std::vector<Tensor>{gq};
  });
}

}  // namespace ml
