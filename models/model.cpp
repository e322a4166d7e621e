#include "models/model.h"

#include <sstream>

#include "engine/io/safetensors.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "models/alexnet.h"
#include "models/convnext_tiny.h"
#include "models/resnet50.h"
#include "models/vit_b_16.h"
#include "models/vgg16.h"
#include "models/vgg_small.h"

namespace ml::models {

const AnalysisLayer& Model::layer(const std::string& wanted) const {
  for (const auto& l : layers)
    if (l.name == wanted) return l;
  std::ostringstream os;
  os << name << ": no analysis layer '" << wanted << "'; the layers are:";
  for (const auto& l : layers) os << " " << l.name;
  throw Error(os.str());
}

std::vector<std::string> model_names() {
  return {"vgg_small", "vgg_small_paper", "alexnet", "alexnet_lrn", "vgg16", "resnet50", "convnext_tiny", "vit_b_16", "vggface"};
}

Model make_model(const std::string& name, const ModelOptions& o) {
  Generator gen(o.seed);
  // Dropout masks get their own streams, derived from the seed (engine/generator.h), so changing
  // the initialisation does not change the masks and vice versa, and no seed's masks are another's.
  const uint64_t dropout_seed = stream_seed(o.seed, kStreamDropout);
  Model m;
  if (name == "vgg_small" || name == "vgg_small_paper") {
    m = vgg_small(o.in_channels ? o.in_channels : 3, o.image_size ? o.image_size : 32,
                  o.num_classes ? o.num_classes : 10, gen, dropout_seed, name == "vgg_small_paper");
  } else if (name == "resnet50") {
    ML_CHECK(o.in_channels == 0 || o.in_channels == 3, name, ": takes 3-channel input, not ", o.in_channels);
    m = resnet50(o.num_classes ? o.num_classes : 1000, gen);
    if (o.image_size) m.image_size = o.image_size;  // adaptive pooling accepts other sizes
  } else if (name == "convnext_tiny") {
    ML_CHECK(o.in_channels == 0 || o.in_channels == 3, name, ": takes 3-channel input, not ", o.in_channels);
    m = convnext_tiny(o.num_classes ? o.num_classes : 1000, gen);
    if (o.image_size) m.image_size = o.image_size;  // adaptive pooling accepts other sizes
  } else if (name == "vit_b_16") {
    ML_CHECK(o.in_channels == 0 || o.in_channels == 3, name, ": takes 3-channel input, not ", o.in_channels);
    // The position embedding is built for image_size; forward accepts only that size.
    m = vit_b_16(o.num_classes ? o.num_classes : 1000, o.image_size ? o.image_size : 224, gen);
  } else if (name == "vggface") {
    // VGG-Face (Parkhi et al. 2015): configuration D with 2,622 identity outputs; its weights come
    // from MatConvNet's vgg-face.mat through tools/vggface_convert (models/matconvnet.h).
    ML_CHECK(o.in_channels == 0 || o.in_channels == 3, name, ": takes 3-channel input, not ", o.in_channels);
    m = vgg16(o.num_classes ? o.num_classes : 2622, gen, dropout_seed);
    m.name = "vggface";
    if (o.image_size) m.image_size = o.image_size;  // adaptive pooling accepts other sizes
  } else if (name == "alexnet" || name == "alexnet_lrn" || name == "vgg16") {
    ML_CHECK(o.in_channels == 0 || o.in_channels == 3, name, ": takes 3-channel input, not ", o.in_channels);
    const int64_t classes = o.num_classes ? o.num_classes : 1000;
    m = name == "alexnet" ? alexnet(classes, gen, dropout_seed)
        : name == "vgg16" ? vgg16(classes, gen, dropout_seed)
                          : alexnet_lrn(classes, gen, dropout_seed);
    if (o.image_size) m.image_size = o.image_size;  // adaptive pooling accepts other sizes
  } else {
    std::ostringstream os;
    os << "unknown model '" << name << "'; known:";
    for (const auto& n : model_names()) os << " " << n;
    throw Error(os.str());
  }
  if (o.untrained) init_untrained(*m.net, gen);
  return m;
}

void init_untrained(nn::Module& net, Generator& gen) {
  for (auto& [name, mod] : net.named_modules()) {
    Tensor* w = nullptr;
    Tensor* b = nullptr;
    if (auto* c = dynamic_cast<nn::Conv2d*>(mod)) {
      w = &c->weight;
      b = &c->bias;
    } else if (auto* l = dynamic_cast<nn::Linear*>(mod)) {
      w = &l->weight;
      b = &l->bias;
    } else {
      continue;
    }
    const int64_t fan_in = nn::init::fans(*w).in;
    nn::init::lecun_normal_(*w, gen, fan_in);
    if (b->defined()) nn::init::lecun_normal_(*b, gen, fan_in);
  }
  // Attention's packed q/k/v projection (ViT: nn.MultiheadAttention's in_proj_weight (3D, D) and
  // in_proj_bias (3D)) is a weight like any Linear's: N(0, 1/D) too (the study's untrained nets
  // draw every weight from N(0, 1/fan_in); torchvision's xavier_uniform would leave it at
  // variance 2/(4D)). Its out_proj is a Linear, drawn above.
  const auto ends = [](const std::string& name, const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (auto& p : net.named_parameters()) {
    if (ends(p.first, "in_proj_weight")) {
      nn::init::lecun_normal_(p.second, gen, p.second.size(1));
    } else if (ends(p.first, "in_proj_bias")) {
      nn::init::lecun_normal_(p.second, gen, p.second.size(0) / 3);
    }
  }
}

void load_weights(nn::Module& net, const std::string& path) { load_weights(net, load_safetensors(path), path); }

void load_weights(nn::Module& net, const SafetensorsFile& file, const std::string& path) {
  try {
    net.load_state_dict(file.items);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace ml::models
