#include "models/vit_b_16.h"

#include <cmath>

#include "engine/nn/layers.h"
#include "engine/ops/attention.h"

namespace ml::models {

using namespace ml::nn;

namespace {

constexpr float kLayerNormEps = 1e-6f;  // torchvision: partial(nn.LayerNorm, eps=1e-6)
constexpr int64_t kPatch = 16, kDim = 768, kHeads = 12, kMlpDim = 3072, kLayers = 12;

// nn.MultiheadAttention(dim, heads, batch_first=True) as self-attention, inference form.
class SelfAttention : public Module {
 public:
  SelfAttention(int64_t dim, int64_t heads, Generator& gen) : heads_(heads) {
    // PyTorch: xavier_uniform_ on the packed (3 dim, dim) matrix, zero biases.
    const float bound = std::sqrt(6.f / static_cast<float>(dim + 3 * dim));
    in_proj_weight = register_parameter("in_proj_weight", Tensor::uniform({3 * dim, dim}, -bound, bound, gen));
    in_proj_bias = register_parameter("in_proj_bias", Tensor::zeros({3 * dim}));
    out_proj = register_module("out_proj", std::make_shared<Linear>(dim, dim, gen));
  }
  // x: (N, L, dim) -> (N, L, dim)
  Tensor forward(const Tensor& x) override {
    return multi_head_self_attention(x, in_proj_weight, in_proj_bias, out_proj->weight, out_proj->bias, heads_);
  }
  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;

 private:
  int64_t heads_;
};

class EncoderBlock : public Module {
 public:
  explicit EncoderBlock(Generator& gen) {
    ln_1 = register_module("ln_1", std::make_shared<LayerNorm>(kDim, kLayerNormEps));
    self_attention = register_module("self_attention", std::make_shared<SelfAttention>(kDim, kHeads, gen));
    ln_2 = register_module("ln_2", std::make_shared<LayerNorm>(kDim, kLayerNormEps));
    mlp = std::make_shared<Sequential>();
    fc_1 = std::make_shared<PointwiseLinear>(kDim, kMlpDim, gen);
    fc_2 = std::make_shared<PointwiseLinear>(kMlpDim, kDim, gen);
    mlp->add("0", fc_1);
    mlp->add("1", std::make_shared<GELU>());
    mlp->add("3", fc_2);  // torchvision's 2 is a dropout
    register_module("mlp", mlp);
  }
  // x: (N, L, 768) -> (N, L, 768) = h + mlp(ln_2(h)), h = x + self_attention(ln_1(x)).
  // Written with the fused linear ops (engine/ops.h): each layer norm with the linear layer after
  // it, the GELU and the residual adds with the linear layer before them. At inference on the CPU
  // that is 5 parallel regions per block instead of 13, with the bits of the modules called one
  // by one (tests/test_linear_fused.cpp).
  Tensor forward(const Tensor& x) override {
    const int64_t N = x.size(0), L = x.size(1);
    const Tensor x2 = x.reshape({N * L, kDim});
    const SelfAttention& sa = *self_attention;
    const Tensor qkv = layer_norm_linear(x2, ln_1->weight, ln_1->bias, ln_1->eps, sa.in_proj_weight,
                                         sa.in_proj_bias);                                    // (N L, 3 768)
    const Tensor o = multi_head_attention(qkv.reshape({N, L, 3 * kDim}), kHeads).reshape({N * L, kDim});
    const Tensor h = linear_residual(o, sa.out_proj->weight, sa.out_proj->bias, x2);          // (N L, 768)
    const Tensor a = layer_norm_linear(h, ln_2->weight, ln_2->bias, ln_2->eps, fc_1->weight, fc_1->bias,
                                       /*gelu_after=*/true);                                  // (N L, 3072)
    return linear_residual(a, fc_2->weight, fc_2->bias, h).reshape({N, L, kDim});
  }
  std::shared_ptr<LayerNorm> ln_1, ln_2;
  std::shared_ptr<SelfAttention> self_attention;
  std::shared_ptr<Sequential> mlp;
  std::shared_ptr<PointwiseLinear> fc_1, fc_2;  // mlp.0 and mlp.3
};

class Encoder : public Module {
 public:
  Encoder(int64_t seq_length, Generator& gen) {
    pos_embedding = register_parameter("pos_embedding", Tensor::normal({1, seq_length, kDim}, 0.f, 0.02f, gen));
    layers = std::make_shared<Sequential>();
    for (int64_t i = 0; i < kLayers; ++i)
      layers->add("encoder_layer_" + std::to_string(i), std::make_shared<EncoderBlock>(gen));
    register_module("layers", layers);
    ln = register_module("ln", std::make_shared<LayerNorm>(kDim, kLayerNormEps));
  }
  Tensor forward(const Tensor& x) override { return (*ln)((*layers)(add(x, pos_embedding))); }
  Tensor pos_embedding;  // (1, 1 + patches, 768)
  std::shared_ptr<Sequential> layers;
  std::shared_ptr<LayerNorm> ln;
};

// (N, L, 768) -> (N, 768): the class token's row; a module so that the analysis can tap it.
class ClassTokenOutput : public Module {
 public:
  Tensor forward(const Tensor& x) override { return narrow(x, 1, 0, 1).reshape({x.size(0), x.size(2)}); }
};

class VisionTransformer : public Module {
 public:
  VisionTransformer(int64_t image_size, int64_t num_classes, Generator& gen) : image_size_(image_size) {
    const int64_t side = image_size / kPatch;
    class_token = register_parameter("class_token", Tensor::zeros({1, 1, kDim}));
    conv_proj = register_module("conv_proj", std::make_shared<Conv2d>(3, kDim, kPatch, gen, kPatch, 0, 1, 1, true));
    encoder = register_module("encoder", std::make_shared<Encoder>(side * side + 1, gen));
    class_token_output = register_module("class_token_output", std::make_shared<ClassTokenOutput>());
    heads = std::make_shared<Sequential>();
    heads->add("head", std::make_shared<Linear>(kDim, num_classes, gen));
    register_module("heads", heads);
  }
  // x: (N, 3, S, S), S = image_size -> (N, classes)
  Tensor forward(const Tensor& x) override {
    const int64_t seq = encoder->pos_embedding.size(1);
    ML_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == image_size_ && x.size(3) == image_size_,
             "vit_b_16: input ", x.str(), " cannot be served by the position embedding of ", seq,
             " positions; expected (N, 3, ", image_size_, ", ", image_size_, ") (", (seq - 1), " patches of ",
             kPatch, "x", kPatch, " plus the class token)");
    const int64_t N = x.size(0);
    const Tensor patches = (*conv_proj)(x);                                                  // (N, 768, s, s)
    const Tensor tokens = transpose(patches.reshape({N, kDim, seq - 1}), 1, 2);            // (N, s*s, 768)
    const Tensor h = cat({expand(class_token, {N, 1, kDim}), tokens}, 1);                 // (N, 1 + s*s, 768)
    return (*heads)((*class_token_output)((*encoder)(h)));
  }
  Tensor class_token;
  std::shared_ptr<Conv2d> conv_proj;
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<ClassTokenOutput> class_token_output;
  std::shared_ptr<Sequential> heads;

 private:
  int64_t image_size_;
};

}  // namespace

Tensor multi_head_self_attention(const Tensor& x, const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                 const Tensor& out_w, const Tensor& out_b, int64_t heads) {
  ML_CHECK(x.defined() && x.dim() == 3, "multi_head_self_attention: x must be (N, L, D), got ",
           x.defined() ? x.str() : std::string("undefined"));
  const int64_t N = x.size(0), L = x.size(1), D = x.size(2);
  ML_CHECK(heads > 0 && D % heads == 0, "multi_head_self_attention: D = ", D, " is not divisible by ", heads,
           " heads");
  ML_CHECK(in_proj_weight.defined() && in_proj_weight.shape() == Shape({3 * D, D}),
           "multi_head_self_attention: in_proj_weight must be (", 3 * D, ", ", D, "), got ",
           in_proj_weight.defined() ? in_proj_weight.str() : std::string("undefined"));
  // One op for the heads: strided batched GEMMs on the packed projections, no per-head copies.
  const Tensor qkv = linear(x.reshape({N * L, D}), in_proj_weight, in_proj_bias).reshape({N, L, 3 * D});
  const Tensor o = multi_head_attention(qkv, heads).reshape({N * L, D});
  return linear(o, out_w, out_b).reshape({N, L, D});
}

Model vit_b_16(int64_t num_classes, int64_t image_size, Generator& gen) {
  ML_CHECK(image_size > 0 && image_size % kPatch == 0, "vit_b_16: image_size must be a positive multiple of ",
           kPatch, " (the patch size), got ", image_size);
  Model m;
  m.name = "vit_b_16";
  m.net = std::make_shared<VisionTransformer>(image_size, num_classes, gen);
  m.in_channels = 3;
  m.image_size = image_size;
  m.num_classes = num_classes;
  // The blocks' outputs are the residual stream (no ReLU applied); the logits get one, as
  // every model's last layer in the analysis.
  for (int64_t i = 0; i < kLayers; ++i)
    m.layers.push_back({"block" + std::to_string(i + 1), "encoder.layers.encoder_layer_" + std::to_string(i), false});
  m.layers.push_back({"class_token", "class_token_output", false});
  m.layers.push_back({"fc", "heads", true});
  return m;
}

}  // namespace ml::models
