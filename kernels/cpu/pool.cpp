// kernels/cpu/pool.cpp — the reference max, average and adaptive-average pooling over
// (N, C, H, W), one OpenMP task per (n, c) plane (planes never share an input or output
// element, so the backward scatters need no atomics).
//
// Window of output (p, q), as PyTorch: rows [p*sh - ph, p*sh - ph + kh), columns likewise;
// the parts outside [0, H) x [0, W) are padding. Max pooling treats padding as -inf (never
// selected); average pooling treats it as zeros and divides by
//   count_include_pad:  the window clipped to the padded input [-ph, H + ph) x [-pw, W + pw)
//   otherwise:          the window clipped to the real input   [0, H) x [0, W)
// (with ceil_mode the last window can reach past H + ph, which is why the first divisor is
// a clip too, not always kh*kw).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/lanes.h"
#include "kernels/pool.h"

namespace ml::kernels {

namespace {

// Enough work to be worth waking the thread team.
constexpr int64_t kParallelMin = 1 << 14;

struct Window {
  int64_t h0, h1, w0, w1;  // the window clipped to the real input: [h0, h1) x [w0, w1)
};

Window real_window(const Pool2dParams& p, int64_t op, int64_t oq) {
  const int64_t hs = op * p.sh - p.ph, ws = oq * p.sw - p.pw;
  return {std::max<int64_t>(hs, 0), std::min<int64_t>(hs + p.kh, p.H), std::max<int64_t>(ws, 0),
          std::min<int64_t>(ws + p.kw, p.W)};
}

// Average pooling's divisor (see the file comment).
int64_t avg_divisor(const Pool2dParams& p, int64_t op, int64_t oq) {
  if (!p.count_include_pad) {
    const Window w = real_window(p, op, oq);
    return (w.h1 - w.h0) * (w.w1 - w.w0);
  }
  const int64_t hs = op * p.sh - p.ph, ws = oq * p.sw - p.pw;
  const int64_t he = std::min<int64_t>(hs + p.kh, p.H + p.ph), we = std::min<int64_t>(ws + p.kw, p.W + p.pw);
  return (he - hs) * (we - ws);
}

// Adaptive window i of `out` over `in`: [floor(i*in/out), ceil((i+1)*in/out)).
inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

// Windows two columns apart (sw = 2: AlexNet's 3x3 / 2 and VGG's 2x2 / 2), no padding, every
// window inside the image: the same rule as the general loop below, kLanes windows to a vector.
// Tap (r, s) of window q reads column 2q + s, the even half of the pairs from column s on. The
// candidates come in row-major window order; a later one replaces the best so far if it is
// greater or NaN, and nothing replaces a NaN (so the value and, when asked, the index are the
// general loop's, bit for bit). ap null: no indices.
void max_pool_stride2_plane(float* yp, int32_t* ap, const float* xp, const Pool2dParams& p) {
  using lanes::vf;
  using lanes::vi;
  for (int64_t op = 0; op < p.P; ++op) {
    const int64_t h0 = op * p.sh;
    for (int64_t qb = 0; qb < p.Q; qb += lanes::kLanes) {
      const int n = static_cast<int>(std::min<int64_t>(lanes::kLanes, p.Q - qb));
      // 2n - 1 floats from column 2 qb + s: the last window's tap s is column 2 (qb + n - 1) + s.
      vf best{}, odd;
      vi at{};
      const vi base = vi{} + static_cast<int32_t>(2 * qb) + 2 * lanes::iota();
      for (int64_t r = 0; r < p.kh; ++r) {
        const float* row = xp + (h0 + r) * p.W + 2 * qb;
        for (int64_t s = 0; s < p.kw; ++s) {
          vf cand;
          lanes::load_pairs(row + s, 2 * n - 1, cand, odd);
          if (r == 0 && s == 0) {
            best = cand;
            if (ap) at = base + static_cast<int32_t>(h0 * p.W);
            continue;
          }
          const vi take = (best == best) & ((cand > best) | (cand != cand));
          best = take ? cand : best;
          if (ap) at = take ? base + static_cast<int32_t>((h0 + r) * p.W + s) : at;
        }
      }
      lanes::store(yp + op * p.Q + qb, best, n);
      if (ap) lanes::store(ap + op * p.Q + qb, at, n);
    }
  }
}

}  // namespace

// ---- max ------------------------------------------------------------------------------

template <>
void max_pool2d_forward<Device::CPU>(float* y, int32_t* argmax, const float* x, const Pool2dParams& p, Stream) {
  const int64_t planes = p.N * p.C, HW = p.H * p.W, PQ = p.P * p.Q;
#pragma omp parallel for schedule(static) if (planes * PQ * p.kh * p.kw > kParallelMin)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* xp = x + nc * HW;
    float* yp = y + nc * PQ;
    int32_t* ap = argmax ? argmax + nc * PQ : nullptr;
    if (p.sw == 2 && p.ph == 0 && p.pw == 0 && (p.P - 1) * p.sh + p.kh <= p.H && (p.Q - 1) * 2 + p.kw <= p.W) {
      max_pool_stride2_plane(yp, ap, xp, p);
      continue;
    }
    for (int64_t op = 0; op < p.P; ++op)
      for (int64_t oq = 0; oq < p.Q; ++oq) {
        const Window w = real_window(p, op, oq);
        // Start from -inf with no index: a window that lies wholly in the padding (which the
        // ops' padding <= kernel/2 rule excludes) gives -inf and argmax -1, which the backward
        // skips. Strict '>' keeps the first maximum in row-major order; a NaN counts as the
        // maximum (it propagates, as in PyTorch) and the first NaN wins.
        float best = -std::numeric_limits<float>::infinity();
        int64_t best_i = -1;
        for (int64_t h = w.h0; h < w.h1 && !std::isnan(best); ++h)
          for (int64_t c = w.w0; c < w.w1; ++c) {
            const float v = xp[h * p.W + c];
            if (best_i < 0 || v > best || std::isnan(v)) {
              best = v;
              best_i = h * p.W + c;
              if (std::isnan(v)) break;
            }
          }
        yp[op * p.Q + oq] = best;
        if (ap) ap[op * p.Q + oq] = static_cast<int32_t>(best_i);
      }
  }
}

template <>
void max_pool2d_backward<Device::CPU>(float* gx, const float* gy, const int32_t* argmax, const Pool2dParams& p,
                                      Stream) {
  const int64_t planes = p.N * p.C, HW = p.H * p.W, PQ = p.P * p.Q;
#pragma omp parallel for schedule(static) if (planes * (HW + PQ) > kParallelMin)
  for (int64_t nc = 0; nc < planes; ++nc) {
    float* gp = gx + nc * HW;
    const float* gyp = gy + nc * PQ;
    const int32_t* ap = argmax + nc * PQ;
    std::fill(gp, gp + HW, 0.f);
    // Overlapping windows (stride < kernel) can share a maximum: the gradients add up.
    for (int64_t i = 0; i < PQ; ++i)
      if (ap[i] >= 0) gp[ap[i]] += gyp[i];
  }
}

// ---- average --------------------------------------------------------------------------

template <>
void avg_pool2d_forward<Device::CPU>(float* y, const float* x, const Pool2dParams& p, Stream) {
  const int64_t planes = p.N * p.C, HW = p.H * p.W, PQ = p.P * p.Q;
#pragma omp parallel for schedule(static) if (planes * PQ * p.kh * p.kw > kParallelMin)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* xp = x + nc * HW;
    float* yp = y + nc * PQ;
    for (int64_t op = 0; op < p.P; ++op)
      for (int64_t oq = 0; oq < p.Q; ++oq) {
        const Window w = real_window(p, op, oq);
        const int64_t div = avg_divisor(p, op, oq);
        double acc = 0.0;  // the reference sums in double; CUDA's float sum is compared with a tolerance
        for (int64_t h = w.h0; h < w.h1; ++h)
          for (int64_t c = w.w0; c < w.w1; ++c) acc += xp[h * p.W + c];
        yp[op * p.Q + oq] = div > 0 ? static_cast<float>(acc / static_cast<double>(div)) : 0.f;
      }
  }
}

template <>
void avg_pool2d_backward<Device::CPU>(float* gx, const float* gy, const Pool2dParams& p, Stream) {
  const int64_t planes = p.N * p.C, HW = p.H * p.W, PQ = p.P * p.Q;
#pragma omp parallel for schedule(static) if (planes * PQ * p.kh * p.kw > kParallelMin)
  for (int64_t nc = 0; nc < planes; ++nc) {
    float* gp = gx + nc * HW;
    const float* gyp = gy + nc * PQ;
    std::fill(gp, gp + HW, 0.f);
    // The adjoint of the forward: each real input of the window receives gy / divisor;
    // padding positions have no input to receive anything.
    for (int64_t op = 0; op < p.P; ++op)
      for (int64_t oq = 0; oq < p.Q; ++oq) {
        const Window w = real_window(p, op, oq);
        const int64_t div = avg_divisor(p, op, oq);
        if (div <= 0) continue;
        const float g = gyp[op * p.Q + oq] / static_cast<float>(div);
        for (int64_t h = w.h0; h < w.h1; ++h)
          for (int64_t c = w.w0; c < w.w1; ++c) gp[h * p.W + c] += g;
      }
  }
}

// ---- adaptive average ---------------------------------------------------------------------
// Windows never empty: end - start >= 1 for every out >= 1, also when out > in (windows repeat).

template <>
void adaptive_avg_pool2d_forward<Device::CPU>(float* y, const float* x, const Pool2dParams& p, Stream) {
  const int64_t planes = p.N * p.C, HW = p.H * p.W, PQ = p.P * p.Q;
#pragma omp parallel for schedule(static) if (planes * (HW + PQ) > kParallelMin)
  for (int64_t nc = 0; nc < planes; ++nc) {
    const float* xp = x + nc * HW;
    float* yp = y + nc * PQ;
    for (int64_t op = 0; op < p.P; ++op) {
      const int64_t h0 = adaptive_start(op, p.H, p.P), h1 = adaptive_end(op, p.H, p.P);
      for (int64_t oq = 0; oq < p.Q; ++oq) {
        const int64_t w0 = adaptive_start(oq, p.W, p.Q), w1 = adaptive_end(oq, p.W, p.Q);
        double acc = 0.0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t c = w0; c < w1; ++c) acc += xp[h * p.W + c];
        yp[op * p.Q + oq] = static_cast<float>(acc / static_cast<double>((h1 - h0) * (w1 - w0)));
      }
    }
  }
}

template <>
void adaptive_avg_pool2d_backward<Device::CPU>(float* gx, const float* gy, const Pool2dParams& p, Stream) {
  const int64_t planes = p.N * p.C, HW = p.H * p.W, PQ = p.P * p.Q;
#pragma omp parallel for schedule(static) if (planes * (HW + PQ) > kParallelMin)
  for (int64_t nc = 0; nc < planes; ++nc) {
    float* gp = gx + nc * HW;
    const float* gyp = gy + nc * PQ;
    std::fill(gp, gp + HW, 0.f);
    for (int64_t op = 0; op < p.P; ++op) {
      const int64_t h0 = adaptive_start(op, p.H, p.P), h1 = adaptive_end(op, p.H, p.P);
      for (int64_t oq = 0; oq < p.Q; ++oq) {
        const int64_t w0 = adaptive_start(oq, p.W, p.Q), w1 = adaptive_end(oq, p.W, p.Q);
        const float g = gyp[op * p.Q + oq] / static_cast<float>((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t c = w0; c < w1; ++c) gp[h * p.W + c] += g;
      }
    }
  }
}

}  // namespace ml::kernels
