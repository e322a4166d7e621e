#include "experiments/analysis/rise.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"

namespace ml::analysis {

namespace {

// Counters reserved for one mask: far more than any grid draws (s² <= 2^20 is checked).
constexpr uint64_t kCountersPerMask = uint64_t{1} << 20;

bool is_relu(nn::Module* m) { return dynamic_cast<nn::ReLU*>(m) != nullptr; }

// Direct children of a module, in order (named_modules lists the whole subtree).
std::vector<std::pair<std::string, nn::Module*>> children(nn::Module& m) {
  std::vector<std::pair<std::string, nn::Module*>> out;
  for (auto& [name, ptr] : m.named_modules())
    if (name.find('.') == std::string::npos) out.emplace_back(name, ptr);
  return out;
}

// Runs `m` on x until the submodule `target` (dotted, relative to m) has produced its output.
// Only Sequential containers can be stopped early; `done` says whether target was reached.
Tensor run_until(nn::Module& m, const std::string& target, const Tensor& x, bool& done) {
  auto* seq = dynamic_cast<nn::Sequential*>(&m);
  ML_CHECK(seq != nullptr, "rise: cannot stop inside a non-sequential module");
  const auto kids = children(m);
  Tensor h = x;
  for (size_t i = 0; i < kids.size(); ++i) {
    const std::string& name = kids[i].first;
    if (target == name) {
      done = true;
      return (*seq)[i](h);
    }
    if (target.rfind(name + ".", 0) == 0) {
      h = run_until((*seq)[i], target.substr(name.size() + 1), h, done);
      if (done) return h;
      continue;
    }
    h = (*seq)[i](h);
  }
  return h;
}

// True when every container on the path to `target` is a Sequential (so run_until applies).
bool sequential_path(nn::Module& root, const std::string& target) {
  nn::Module* m = &root;
  std::string rest = target;
  while (true) {
    if (dynamic_cast<nn::Sequential*>(m) == nullptr) return false;
    const size_t dot = rest.find('.');
    const std::string head = rest.substr(0, dot);
    nn::Module* next = nullptr;
    for (auto& [name, ptr] : children(*m))
      if (name == head) next = ptr;
    if (next == nullptr) return false;
    if (dot == std::string::npos) return true;
    m = next;
    rest = rest.substr(dot + 1);
  }
}

}  // namespace

void check_rise_options(const RiseOptions& o, int64_t h, int64_t w) {
  ML_CHECK(o.masks > 0, "rise: --masks must be > 0, got ", o.masks);
  ML_CHECK(o.grid >= 1, "rise: --grid must be >= 1, got ", o.grid);
  ML_CHECK(o.grid <= std::min(h, w), "rise: --grid ", o.grid, " is larger than the image (", h, " x ", w, ")");
  ML_CHECK(o.grid * o.grid + 64 <= static_cast<int64_t>(kCountersPerMask), "rise: --grid ", o.grid, " is too large");
  ML_CHECK(o.keep > 0.0 && o.keep < 1.0, "rise: --keep (p) must be in (0, 1), got ", o.keep);
  ML_CHECK(o.batch > 0, "rise: --batch must be > 0, got ", o.batch);
}

RiseMaskSpec rise_mask_spec(const RiseOptions& o, int64_t h, int64_t w) {
  check_rise_options(o, h, w);
  RiseMaskSpec spec;
  spec.grid = o.grid;
  spec.h = h;
  spec.w = w;
  spec.keep = o.keep;
  spec.nearest = o.binary;
  spec.seed = o.seed;
  spec.counters_per_mask = kCountersPerMask;
  return spec;
}

Tensor rise_masks(const RiseOptions& o, int64_t h, int64_t w, int64_t first, int64_t count, Device device) {
  return rise_mask_batch(rise_mask_spec(o, h, w), first, count, device);
}

RiseTarget::RiseTarget(AnalysisNet& net, const std::string& layer, bool post_relu) : net_(net) {
  const models::AnalysisLayer& l = net.model.layer(layer);  // throws, listing the valid names
  module_ = l.module;
  apply_relu_ = post_relu && l.relu;
  if (!post_relu && !l.relu) {
    // The analysed output is a ReLU module's: explain the module before it (the pre-ReLU score).
    nn::Module* m = net.model.net->find_module(module_);
    ML_CHECK(m != nullptr, "rise: model ", net.model.name, " has no module '", module_, "'");
    if (is_relu(m)) {
      const size_t dot = module_.rfind('.');
      const std::string parent = dot == std::string::npos ? "" : module_.substr(0, dot);
      const std::string leaf = dot == std::string::npos ? module_ : module_.substr(dot + 1);
      nn::Module* pm = parent.empty() ? net.model.net.get() : net.model.net->find_module(parent);
      const auto kids = children(*pm);
      for (size_t i = 0; i < kids.size(); ++i)
        if (kids[i].first == leaf) {
          ML_CHECK(i > 0, "rise: layer '", layer, "' is a ReLU with no module before it");
          module_ = (parent.empty() ? "" : parent + ".") + kids[i - 1].first;
        }
    }
  }
  net_.model.net->eval();
  const int64_t S = net.model.image_size;
  units_ = scores(Tensor::full({1, net.model.in_channels, S, S}, 0.5f)).size(1);
}

Tensor RiseTarget::norm_mean() const {
  return Tensor::from_vector({1, net_.model.in_channels, 1, 1}, net_.norm.mean, net_.device);
}
Tensor RiseTarget::norm_std() const {
  return Tensor::from_vector({1, net_.model.in_channels, 1, 1}, net_.norm.std, net_.device);
}

Tensor RiseTarget::scores_on_device(const Tensor& images) {
  NoGradGuard ng;
  return scores_normalized_on_device(div(sub(images.to(net_.device), norm_mean()), norm_std()));
}

Tensor RiseTarget::scores_normalized_on_device(const Tensor& x) {
  const models::Model& m = net_.model;
  NoGradGuard ng;
  Tensor out;
  if (sequential_path(*m.net, module_)) {
    bool done = false;
    out = run_until(*m.net, module_, x, done);
    ML_CHECK(done, "rise: the forward never reached module '", module_, "'");
  } else {
    nn::ActivationCapture capture(*m.net, {module_});
    (*m.net)(x);
    out = capture[module_];
  }
  if (apply_relu_) out = relu(out);
  return out.reshape({x.size(0), -1});
}

Tensor RiseTarget::scores(const Tensor& images) { return scores_on_device(images).to(Device::CPU).clone(); }

std::vector<uint8_t> foreground_mask(const Tensor& image, float gray) {
  ML_CHECK(image.dim() == 3, "rise: image must be (C, H, W), got ", image.str());
  const int64_t C = image.size(0), HW = image.size(1) * image.size(2);
  const Tensor img = image.to(Device::CPU);
  const float* p = img.data();
  std::vector<uint8_t> fg(static_cast<size_t>(HW), 0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < HW; ++i)
      if (std::fabs(p[c * HW + i] - gray) > 0.5f / 255.f) fg[static_cast<size_t>(i)] = 1;
  return fg;
}

std::vector<uint8_t> dilate_disc(const std::vector<uint8_t>& mask, int64_t h, int64_t w, int64_t radius) {
  ML_CHECK(static_cast<int64_t>(mask.size()) == h * w, "dilate_disc: mask of ", mask.size(), " pixels for ", h, " x ", w);
  std::vector<uint8_t> out(mask.size(), 0);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      if (!mask[static_cast<size_t>(y * w + x)]) continue;
      for (int64_t dy = -radius; dy <= radius; ++dy)
        for (int64_t dx = -radius; dx <= radius; ++dx) {
          if (dx * dx + dy * dy > radius * radius) continue;
          const int64_t yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) out[static_cast<size_t>(yy * w + xx)] = 1;
        }
    }
  return out;
}

Tensor rise_maps(RiseTarget& target, const Tensor& image, const std::vector<int64_t>& units, const RiseOptions& o,
                 bool progress) {
  std::vector<std::vector<int64_t>> groups;
  for (int64_t u : units) groups.push_back({u});
  return rise_group_maps(target, image, groups, o, progress);
}

Tensor rise_group_maps(RiseTarget& target, const Tensor& image, const std::vector<std::vector<int64_t>>& groups,
                       const RiseOptions& o, bool progress) {
  ML_CHECK(image.dim() == 3, "rise: image must be (C, H, W), got ", image.str());
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  check_rise_options(o, H, W);
  ML_CHECK(!groups.empty(), "rise: no units to explain");
  for (const auto& g : groups) {
    ML_CHECK(!g.empty(), "rise: an empty group of units");
    for (int64_t u : g)
      ML_CHECK(u >= 0 && u < target.units(), "rise: --unit ", u, " is outside layer module '", target.module(), "' (",
               target.units(), " units)");
  }
  const int64_t U = static_cast<int64_t>(groups.size()), HW = H * W;
  // Everything per mask stays on the network's device: the masks are drawn there, the masked
  // batch is formed there, and Σ_i s_i m_i is accumulated there (Kahan-compensated, mask by
  // mask in mask order, so the maps are bit-identical however the masks are batched). Only the
  // scores (B x units) come to the host, to be summed into the groups' scores in double.
  const Device dev = target.device();
  const RiseMaskSpec spec = rise_mask_spec(o, H, W);
  Tensor sum = Tensor::zeros({U, HW}, DType::F32, dev), comp = Tensor::zeros({U, HW}, DType::F32, dev);
  // The masked image g + m ⊙ (x − g), normalised for the net, is m ⊙ a + k with
  // a = (x − g) / std_c and k = (g − mean_c) / std_c, both computed once per image: two passes
  // over the (B, C, H, W) batch instead of four (form, add g, subtract the mean, divide by the
  // std), the per-batch cost outside the network that grows with the image (issue 18).
  NoGradGuard ng;
  const Tensor mean = target.norm_mean(), stdv = target.norm_std();
  const Tensor a = div(sub(image.to(dev).reshape({1, C, H, W}), o.gray), stdv);        // (1, C, H, W)
  const Tensor k = div(sub(Tensor::full({1, C, 1, 1}, o.gray, dev), mean), stdv);  // (1, C, 1, 1)
  for (int64_t i0 = 0; i0 < o.masks; i0 += o.batch) {
    const int64_t B = std::min(o.batch, o.masks - i0);
    const Tensor m = rise_mask_batch(spec, i0, B, dev);                 // (B, 1, H, W)
    const Tensor x_norm = add(mul(m, a), k);                            // (g + m ⊙ (x − g) − mean) / std
    const Tensor s = target.scores_normalized_on_device(x_norm).to(Device::CPU).clone();  // (B, units) on the host
    const int64_t all = s.size(1);
    std::vector<float> gs(static_cast<size_t>(B * U));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t k = 0; k < U; ++k) {
        double v = 0;
        for (int64_t u : groups[static_cast<size_t>(k)]) v += s.data()[b * all + u];
        gs[static_cast<size_t>(b * U + k)] = static_cast<float>(v);
      }
    rise_accumulate(sum, comp, m, Tensor::from_vector({B, U}, gs, dev));
    if (progress)
      std::fprintf(stderr, "\rrise: %lld/%lld masks", static_cast<long long>(i0 + B), static_cast<long long>(o.masks));
  }
  if (progress) std::fprintf(stderr, "\n");
  const Tensor hs = sum.to(Device::CPU), hc = comp.to(Device::CPU);
  Tensor out = Tensor::empty({U, H, W});
  float* po = out.data();
  // The compensated sum is s − c.
  for (int64_t j = 0; j < U * HW; ++j)
    po[j] = static_cast<float>((static_cast<double>(hs.data()[j]) - static_cast<double>(hc.data()[j])) /
                               static_cast<double>(o.masks));
  return out;
}

Tensor postprocess_map(const Tensor& raw, const std::vector<uint8_t>& region) {
  ML_CHECK(raw.dim() == 2 && static_cast<int64_t>(region.size()) == raw.numel(), "rise: map ", raw.str(),
           " and region of ", region.size(), " pixels differ");
  const int64_t n = raw.numel();
  const float* p = raw.data();
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += p[i];
  mean /= static_cast<double>(n);
  Tensor out = Tensor::empty(raw.shape());
  float* q = out.data();
  for (int64_t i = 0; i < n; ++i) q[i] = region[static_cast<size_t>(i)] ? static_cast<float>(p[i] - mean) : 0.f;
  return out;
}

}  // namespace ml::analysis
