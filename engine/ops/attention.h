// engine/ops/attention.h — multi-head self-attention as one op (engine/ops/attention.cpp).
// (Its own header rather than a line in engine/ops.h, which every file includes: adding one
// there rebuilt the whole tree on the 2-core machine. The declaration can move into ops.h.)
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace ml {

// Multi-head scaled dot-product self-attention from packed projections, as nn.MultiheadAttention
// after its in_proj: qkv (N, L, 3D) holds q, k and v side by side in the last dimension, head h of
// each in columns [h hd, (h+1) hd) of its third, hd = D / heads. Returns (N, L, D) with head h's
// softmax(q_h k_hᵀ / sqrt(hd)) v_h in columns [h hd, (h+1) hd) (torch's concatenated heads).
// Differentiable with respect to qkv.
Tensor multi_head_attention(const Tensor& qkv, int64_t heads);

}  // namespace ml
