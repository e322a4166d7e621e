// models/vit_b_16.h — ViT-B/16 (Dosovitskiy et al. 2021) in torchvision's layout and parameter
// names (torchvision/models/vision_transformer.py), so a state dict exported by
// tools/export_torchvision_weights.py loads unchanged:
//   conv_proj: conv 16x16/16 3 -> 768 (bias), the patch embedding: (N, 768, 14, 14) ->
//     (N, 196, 768); class_token (1, 1, 768) prepended -> (N, 197, 768);
//   encoder.pos_embedding (1, 197, 768) added; encoder.layers.encoder_layer_0 .. _11, each
//     pre-norm: x + self_attention(ln_1(x)), then x + mlp(ln_2(x)); self_attention is
//     nn.MultiheadAttention's packed in_proj_weight (2304, 768) / in_proj_bias (2304) and
//     out_proj (768 -> 768), 12 heads of 64; mlp.0 Linear 768 -> 3072, GELU (exact), mlp.3
//     Linear 3072 -> 768; encoder.ln; heads.head Linear 768 -> classes on the class token.
// Every LayerNorm has eps 1e-6, as torchvision. 86,567,656 parameters at 1000 classes.
// Dropouts are 0 in torchvision's vit_b_16, so they are left out.
// The position embedding fixes the input size: image_size (224 by default; any multiple of 16
// builds a matching embedding, as torchvision's VisionTransformer(image_size=...)) is the only
// size forward accepts; another is an error naming both.
// Analysis taps: every encoder block ("block1" .. "block12", (N, 197, 768)) and the class token
// after encoder.ln ("class_token", (N, 768)), and the logits.
#pragma once
#include "models/model.h"

namespace ml::models {

Model vit_b_16(int64_t num_classes, int64_t image_size, Generator& gen);

// nn.MultiheadAttention's self-attention (inference, no mask, no dropout), as ViT's encoder
// blocks use it: x (N, L, D); in_proj_weight (3D, D) and in_proj_bias (3D) packed as q, k, v;
// out_w (D, D), out_b (D); D divisible by heads. Per head h (columns h*D/heads .. of q, k, v):
// softmax(q k^T / sqrt(D/heads)) v; the heads concatenated, then out_proj. -> (N, L, D).
// The batched matmul is a loop of 2-D matmuls over the (N x heads) slices.
Tensor multi_head_self_attention(const Tensor& x, const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                 const Tensor& out_w, const Tensor& out_b, int64_t heads);

}  // namespace ml::models
