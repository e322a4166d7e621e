// kernels/shapes.cpp — output-size rules shared by both devices.
#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/pool.h"

namespace ml::kernels {

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"relu", "elu",    "sigmoid", "tanh", "softplus", "exp", "log",      "log1p",
                                "abs",  "square", "sqrt",    "pow",  "neg",      "mul", "add_scalar", "gelu"};
  return names[static_cast<int>(op)];
}

bool conv2d_output_size(Conv2dParams& p) {
  p.P = (p.H + 2 * p.pad_h - p.dil_h * (p.R - 1) - 1) / p.stride_h + 1;
  p.Q = (p.W + 2 * p.pad_w - p.dil_w * (p.S - 1) - 1) / p.stride_w + 1;
  // The numerator can be negative: C++ division truncates toward zero, so test it directly.
  return p.H + 2 * p.pad_h - p.dil_h * (p.R - 1) - 1 >= 0 && p.W + 2 * p.pad_w - p.dil_w * (p.S - 1) - 1 >= 0;
}

static int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t pad, bool ceil_mode) {
  const int64_t span = in + 2 * pad - k;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  // PyTorch: with ceil_mode the last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

bool pool2d_output_size(Pool2dParams& p) {
  p.P = pooled_size(p.H, p.kh, p.sh, p.ph, p.ceil_mode);
  p.Q = pooled_size(p.W, p.kw, p.sw, p.pw, p.ceil_mode);
  return p.P > 0 && p.Q > 0;
}

}  // namespace ml::kernels
