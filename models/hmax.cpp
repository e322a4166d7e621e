#include "models/hmax.h"

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <numbers>
#include <sstream>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "models/hmax_c2_cpu.h"
#include "models/hmax_s1_cpu.h"

namespace ml::models {

namespace {

int64_t filter_size(int64_t j) { return 7 + 2 * j; }

// Zero rows/columns around x (N, C, H, W), by concatenation (the engine has no pad op).
Tensor zero_pad(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2);
  Tensor y = x;
  if (left > 0 || right > 0) {
    std::vector<Tensor> parts;
    if (left > 0) parts.push_back(Tensor::zeros({N, C, H, left}, DType::F32, x.device()));
    parts.push_back(y);
    if (right > 0) parts.push_back(Tensor::zeros({N, C, H, right}, DType::F32, x.device()));
    y = cat(parts, 3);
  }
  if (top > 0 || bottom > 0) {
    const int64_t Wp = y.size(3);
    std::vector<Tensor> parts;
    if (top > 0) parts.push_back(Tensor::zeros({N, C, top, Wp}, DType::F32, x.device()));
    parts.push_back(y);
    if (bottom > 0) parts.push_back(Tensor::zeros({N, C, bottom, Wp}, DType::F32, x.device()));
    y = cat(parts, 2);
  }
  return y;
}

// C1 map side of a band for an S1 map of side S.
int64_t c1_side(int64_t S, int64_t band, bool centred) {
  const int64_t step = hmax_c1_step(band);
  return centred ? S / step + 1 : (S + step - 1) / step;
}

// One stage of the model; its output is what ActivationCapture records under the stage's name.
class Stage : public nn::Module {
 public:
  explicit Stage(std::function<Tensor(const Tensor&)> fn) : fn_(std::move(fn)) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

}  // namespace

double hmax_orientation_deg(int64_t o) {
  static const double kDeg[kHmaxOrientations] = {90.0, -45.0, 0.0, 45.0};
  ML_CHECK(o >= 0 && o < kHmaxOrientations, "hmax: orientation index ", o, " is not in [0, 4)");
  return kDeg[o];
}

int64_t hmax_c1_window(int64_t band) { return 8 + 2 * band; }
int64_t hmax_c1_step(int64_t band) { return (hmax_c1_window(band) + 1) / 2; }

Tensor hmax_gabor(int64_t j, int64_t o) {
  ML_CHECK(j >= 0 && j < kHmaxSizes, "hmax: size index ", j, " is not in [0, 16)");
  const int64_t size = filter_size(j);
  // CBCL init_gabor: div = 4 - 0.05 j, lambda = 2 size / div, sigma = 0.8 lambda, aspect 0.3.
  const double div = 4.0 - 0.05 * static_cast<double>(j);
  const double lambda = 2.0 * static_cast<double>(size) / div;
  const double sigma = 0.8 * lambda;
  const double theta = hmax_orientation_deg(o) * std::numbers::pi / 180.0;
  const double gamma2 = 0.3 * 0.3;
  const int64_t centre = (size + 1) / 2;  // 1-based, as MATLAB's ceil(size/2)
  std::vector<double> f(static_cast<size_t>(size * size), 0.0);
  // i: column offset, j: row offset from the centre; f(row, col), as CBCL's f(j+center, i+center).
  for (int64_t di = 1 - centre; di <= size - centre; ++di)
    for (int64_t dj = 1 - centre; dj <= size - centre; ++dj) {
      double e = 0.0;
      if (std::sqrt(static_cast<double>(di * di + dj * dj)) <= static_cast<double>(size) / 2.0) {
        const double x = di * std::cos(theta) - dj * std::sin(theta);
        const double y = di * std::sin(theta) + dj * std::cos(theta);
        e = std::exp(-(x * x + gamma2 * y * y) / (2.0 * sigma * sigma)) * std::cos(2.0 * std::numbers::pi * x / lambda);
      }
      f[static_cast<size_t>((dj + centre - 1) * size + (di + centre - 1))] = e;
    }
  // Mean over the whole square (CBCL's mean(mean(f))), then unit norm.
  double mean = 0.0;
  for (double v : f) mean += v;
  mean /= static_cast<double>(f.size());
  double norm = 0.0;
  for (double& v : f) {
    v -= mean;
    norm += v * v;
  }
  norm = std::sqrt(norm);
  std::vector<float> out(f.size());
  for (size_t i = 0; i < f.size(); ++i) out[i] = static_cast<float>(f[i] / norm);
  return Tensor::from_vector({size, size}, out);
}

Tensor hmax_gabor_bank(int64_t j) {
  std::vector<Tensor> fs;
  const int64_t size = filter_size(j);
  for (int64_t o = 0; o < kHmaxOrientations; ++o) fs.push_back(hmax_gabor(j, o).reshape({1, 1, size, size}));
  return cat(fs, 0);
}

Tensor elementwise_max(const std::vector<Tensor>& xs) {
  ML_CHECK(!xs.empty(), "elementwise_max: no tensors");
  if (xs.size() == 1) return xs[0];
  const Shape shape = xs[0].shape();
  const int64_t M = xs[0].numel(), k = static_cast<int64_t>(xs.size());
  std::vector<Tensor> cols;
  for (const Tensor& x : xs) {
    ML_CHECK(x.shape() == shape, "elementwise_max: shapes ", shape_str(shape), " and ", shape_str(x.shape()), " differ");
    cols.push_back(x.reshape({M, 1, 1, 1}));
  }
  // Row (M, 1, 1, k) repeated k times into (M, 1, k, k): one k x k max-pool window per element.
  const Tensor row = cat(cols, 3);
  const Tensor tile = cat(std::vector<Tensor>(static_cast<size_t>(k), row), 2);
  return max_pool2d(tile, k).reshape(shape);
}

// ---- the forward computation ----------------------------------------------------------

namespace {

struct HmaxParts {
  HmaxOptions opt;
  std::vector<Tensor> bank;   // per size index: (4, 1, s, s)
  std::vector<Tensor> ones;   // per size index: (1, 1, s, s)
  HmaxPrototypes protos;      // may be empty
  std::vector<Tensor> proto_w;   // per prototype size: (K, 4, n, n)
  std::vector<Tensor> proto_w_neg2;  // -2 p
  std::vector<Tensor> proto_sq;  // (K) ||p||^2, the bias of the -2 x.p convolution
  std::vector<Tensor> ones_row, ones_col;  // (1, 1, 1, n), (1, 1, n, 1)

  void to(Device d) {
    for (auto* v : {&bank, &ones, &proto_w, &proto_w_neg2, &proto_sq, &ones_row, &ones_col})
      for (Tensor& t : *v) t = t.to(d);
  }
};

// S1 of one size index: (B, 4, S, S), the half-kernel border 0.
Tensor s1_size(const HmaxParts& h, const Tensor& x, const Tensor& x2, int64_t j) {
  const int64_t s = filter_size(j), half = (s - 1) / 2;
  const Tensor resp = abs(conv2d(x, h.bank[static_cast<size_t>(j)]));             // (B, 4, S-s+1, S-s+1)
  // sqrt(sum of squared pixels under the kernel); CBCL replaces a zero norm by 1, where the
  // response is 0 too: the 1e-12 under the root does the same and moves no other value by
  // more than float rounding for images in [0, 1] quantised to 8 bits.
  const Tensor norm = sqrt(add(conv2d(x2, h.ones[static_cast<size_t>(j)]), 1e-12f));  // (B, 1, ., .)
  return zero_pad(div(resp, norm), half, half, half, half);
}

// S1 of the size indices `js` on the host kernel: (B, 4 |js|, S, S), images x sizes spread over
// threads (largest sizes first: they take up to 30x longer).
Tensor s1_sizes_cpu(const HmaxParts& h, const Tensor& x, const std::vector<int64_t>& js) {
  const int64_t B = x.size(0), S = x.size(2), J = static_cast<int64_t>(js.size());
  Tensor out = Tensor::empty({B, 4 * J, S, S});
  const float* xp = x.data();
  float* op = out.data();
  const int64_t tasks = B * J;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t i = J - 1 - t / B, b = t % B, j = js[static_cast<size_t>(i)];
    hmax_s1_cpu(xp + b * S * S, S, h.bank[static_cast<size_t>(j)].data(), filter_size(j), op + (b * 4 * J + 4 * i) * S * S);
  }
  return out;
}

bool host_s1(const HmaxParts& h, const Tensor& x) { return x.device() == Device::CPU && !h.opt.engine_ops; }

// The S1 maps of band b's two sizes, (B, 4, S, S) each.
Tensor c1_pool(const HmaxParts& h, const Tensor& s1map, int64_t band) {
  const int64_t m = hmax_c1_window(band), step = hmax_c1_step(band);
  if (h.opt.centred_c1) return max_pool2d(s1map, m, step, m / 2);
  // CBCL maxfilter [0 0 m-1 m-1]: window (i, j)..(i+m-1, j+m-1), clipped at the bottom/right
  // edge (S1 >= 0, so zero padding there is the same), sampled from (0, 0) every `step`.
  return max_pool2d(zero_pad(s1map, 0, m - 1, 0, m - 1), m, step);
}

// C1 of one band from the S1 maps of its two sizes (B, 4, S, S): (B, 4, L, L). Pooling each
// size then taking the max equals the max then pooling, on maps 16-25x smaller.
Tensor c1_band(const HmaxParts& h, const Tensor& s1a, const Tensor& s1b, int64_t band) {
  return elementwise_max({c1_pool(h, s1a, band), c1_pool(h, s1b, band)});
}

// The same on the host from S1 maps (B, C, S, S) whose channels ca..ca+3 and cb..cb+3 are the
// band's two sizes.
Tensor c1_band_cpu(const HmaxParts& h, const Tensor& s1, int64_t ca, int64_t cb, int64_t band) {
  const int64_t B = s1.size(0), C = s1.size(1), S = s1.size(2);
  const int64_t m = hmax_c1_window(band), step = hmax_c1_step(band), L = c1_side(S, band, h.opt.centred_c1);
  const int64_t offset = h.opt.centred_c1 ? m / 2 : 0;
  Tensor out = Tensor::empty({B, 4, L, L});
  const float* sp = s1.data();
  float* op = out.data();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < B * 4; ++t) {
    const int64_t b = t / 4, o = t % 4;
    hmax_c1_cpu(sp + (b * C + ca + o) * S * S, sp + (b * C + cb + o) * S * S, S, m, step, offset, L, op + t * L * L);
  }
  return out;
}

void check_images(const Tensor& x, const HmaxOptions& o) {
  ML_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == x.size(3), "hmax: images must be (B, 1, S, S) gray, got ",
           x.str());
  ML_CHECK(x.size(2) >= kHmaxLargestFilter, "hmax: image side ", x.size(2), " is smaller than the largest S1 filter (",
           kHmaxLargestFilter, " x ", kHmaxLargestFilter, ")");
  ML_CHECK(x.size(2) == o.image_size, "hmax: images are ", x.size(2), " px, the model was built for ", o.image_size);
}

struct Layout {
  std::vector<int64_t> c1_side;             // per band
  std::vector<std::vector<int64_t>> s2_side;  // [band][size index]: 0 when the prototype does not fit
};

Layout layout_for(const HmaxOptions& o, const HmaxPrototypes& p) {
  Layout l;
  for (int64_t b = 0; b < kHmaxBands; ++b) {
    l.c1_side.push_back(c1_side(o.image_size, b, o.centred_c1));
    std::vector<int64_t> row;
    for (int64_t n : p.sizes) row.push_back(l.c1_side.back() >= n ? l.c1_side.back() - n + 1 : 0);
    l.s2_side.push_back(row);
  }
  return l;
}

std::shared_ptr<HmaxParts> make_parts(const HmaxOptions& o, const HmaxPrototypes& p) {
  auto h = std::make_shared<HmaxParts>();
  h->opt = o;
  for (int64_t j = 0; j < kHmaxSizes; ++j) {
    h->bank.push_back(hmax_gabor_bank(j));
    h->ones.push_back(Tensor::ones({1, 1, filter_size(j), filter_size(j)}));
  }
  h->protos = p;
  for (size_t i = 0; i < p.sizes.size(); ++i) {
    const Tensor& w = p.patches[i];
    const int64_t K = w.size(0), n = p.sizes[i];
    const auto v = w.to_vector();
    std::vector<float> sq(static_cast<size_t>(K), 0.f);
    for (int64_t k = 0; k < K; ++k) {
      double s = 0.0;
      for (int64_t e = 0; e < 4 * n * n; ++e) s += static_cast<double>(v[static_cast<size_t>(k * 4 * n * n + e)]) * v[static_cast<size_t>(k * 4 * n * n + e)];
      sq[static_cast<size_t>(k)] = static_cast<float>(s);
    }
    h->proto_w.push_back(w.to(Device::CPU).clone());
    h->proto_w_neg2.push_back(mul(w.to(Device::CPU), -2.f));
    h->proto_sq.push_back(Tensor::from_vector({K}, sq));
    h->ones_row.push_back(Tensor::ones({1, 1, 1, n}));
    h->ones_col.push_back(Tensor::ones({1, 1, n, 1}));
  }
  return h;
}

// Hmax holds the stages; they share the parts, and move them with to().
class HmaxNet : public nn::Module {
 public:
  HmaxNet(std::shared_ptr<HmaxParts> parts, Layout layout) : h_(std::move(parts)), layout_(std::move(layout)) {
    image_ = register_module("image", std::make_shared<Stage>([](const Tensor& x) { return x; }));
    s1_ = register_module("s1", std::make_shared<Stage>([this](const Tensor& x) { return s1(x); }));
    c1_ = register_module("c1", std::make_shared<Stage>([this](const Tensor& x) { return from_image_ ? c1_from_image(x) : c1(x); }));
    if (!h_->protos.sizes.empty()) {
      s2_ = register_module("s2", std::make_shared<Stage>([this](const Tensor& x) { return s2(x); }));
      c2_ = register_module("c2", std::make_shared<Stage>([this](const Tensor& x) { return from_c1_ ? c2_from_c1(x) : c2(x); }));
    }
  }
  Tensor forward(const Tensor& x) override {
    check_images(x, h_->opt);
    if (x.device() != device_) {
      h_->to(x.device());
      device_ = x.device();
    }
    // On the host a stage nobody captures is skipped: C1 straight from the image (no (B, 64, S, S)
    // S1 tensor), C2 straight from C1 (no S2 maps; models/hmax_c2_cpu.h).
    const bool host = host_s1(*h_, x);
    Tensor y = (*image_)(x);
    if (host && !s1_->has_forward_hook()) {
      Flag f(from_image_);
      y = (*c1_)(y);
    } else {
      y = (*c1_)((*s1_)(y));
    }
    if (s2_) {
      if (host && !s2_->has_forward_hook()) {
        Flag f(from_c1_);
        y = (*c2_)(y);
      } else {
        y = (*c2_)((*s2_)(y));
      }
    }
    return y;
  }

 private:
  // (B, 1, S, S) -> (B, 64, S, S)
  Tensor s1(const Tensor& x) const {
    if (host_s1(*h_, x)) {
      std::vector<int64_t> all(kHmaxSizes);
      for (int64_t j = 0; j < kHmaxSizes; ++j) all[static_cast<size_t>(j)] = j;
      return s1_sizes_cpu(*h_, x, all);
    }
    const Tensor x2 = square(x);
    std::vector<Tensor> maps;
    for (int64_t j = 0; j < kHmaxSizes; ++j) maps.push_back(s1_size(*h_, x, x2, j));
    return cat(maps, 1);
  }
  // (B, 64, S, S) -> (B, sum_b 4 L_b^2)
  Tensor c1(const Tensor& s1map) const {
    const int64_t B = s1map.size(0);
    std::vector<Tensor> flat;
    for (int64_t b = 0; b < kHmaxBands; ++b) {
      const Tensor c = host_s1(*h_, s1map) ? c1_band_cpu(*h_, s1map, 8 * b, 8 * b + 4, b)
                                           : c1_band(*h_, narrow(s1map, 1, 8 * b, 4), narrow(s1map, 1, 8 * b + 4, 4), b);
      flat.push_back(c.reshape({B, -1}));
    }
    return cat(flat, 1);
  }
  // band b of the flattened C1: (B, 4, L, L)
  Tensor c1_of(const Tensor& c1flat, int64_t b) const {
    int64_t off = 0;
    for (int64_t i = 0; i < b; ++i) off += 4 * layout_.c1_side[static_cast<size_t>(i)] * layout_.c1_side[static_cast<size_t>(i)];
    const int64_t L = layout_.c1_side[static_cast<size_t>(b)];
    return narrow(c1flat, 1, off, 4 * L * L).reshape({c1flat.size(0), 4, L, L});
  }
  // (B, U_c1) -> (B, U_s2): band-major, then prototype size, (K, P, P) each.
  Tensor s2(const Tensor& c1flat) const {
    const int64_t B = c1flat.size(0);
    std::vector<Tensor> flat;
    for (int64_t b = 0; b < kHmaxBands; ++b) {
      const Tensor x = c1_of(c1flat, b);
      const Tensor x2 = sum(square(x), {1}, true);  // (B, 1, L, L): the 4 orientations' energy
      for (size_t i = 0; i < h_->protos.sizes.size(); ++i) {
        if (layout_.s2_side[static_cast<size_t>(b)][i] == 0) continue;
        // d^2 = ||x||^2 + (||p||^2 - 2 x.p): a separable n x n box sum (a row, then a column of
        // ones) and one convolution (a GEMM) per band and prototype size.
        const Tensor xx = conv2d(conv2d(x2, h_->ones_row[i]), h_->ones_col[i]);
        const Tensor d2 = relu(add(xx, conv2d(x, h_->proto_w_neg2[i], h_->proto_sq[i])));
        const float sg = h_->opt.s2_sigma;
        const Tensor r = sg > 0 ? exp(mul(d2, -1.f / (2.f * sg * sg))) : neg(d2);
        flat.push_back(r.reshape({B, -1}));
      }
    }
    return cat(flat, 1);
  }
  // (B, U_s2) -> (B, K): max over positions (a max-pool over the whole map) and bands.
  Tensor c2(const Tensor& s2flat) const {
    const int64_t B = s2flat.size(0);
    std::vector<std::vector<Tensor>> per_size(h_->protos.sizes.size());
    int64_t off = 0;
    for (int64_t b = 0; b < kHmaxBands; ++b)
      for (size_t i = 0; i < h_->protos.sizes.size(); ++i) {
        const int64_t P = layout_.s2_side[static_cast<size_t>(b)][i];
        if (P == 0) continue;
        const int64_t K = h_->protos.patches[i].size(0);
        const Tensor m = narrow(s2flat, 1, off, K * P * P).reshape({B, K, P, P});
        off += K * P * P;
        per_size[i].push_back(max_pool2d(m, P).reshape({B, K}));
      }
    std::vector<Tensor> out;
    for (auto& v : per_size) out.push_back(elementwise_max(v));
    return cat(out, 1);
  }

  // (B, 1, S, S) -> (B, U_c1) on the host: per image and band, the band's two S1 sizes into a
  // thread's buffer (2 x 4 x S x S floats) and pooled at once.
  Tensor c1_from_image(const Tensor& x) const {
    const int64_t B = x.size(0), S = x.size(2);
    std::vector<int64_t> off(kHmaxBands + 1, 0);
    for (int64_t b = 0; b < kHmaxBands; ++b) {
      const int64_t L = layout_.c1_side[static_cast<size_t>(b)];
      off[static_cast<size_t>(b + 1)] = off[static_cast<size_t>(b)] + 4 * L * L;
    }
    const int64_t U = off.back();
    Tensor out = Tensor::empty({B, U});
    const float* xp = x.data();
    float* op = out.data();
    const int64_t tasks = B * kHmaxBands;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      // Largest filters (band 7) first: they take up to 30x longer than band 0's.
      const int64_t band = kHmaxBands - 1 - t / B, b = t % B;
      thread_local std::vector<float> s1;
      s1.resize(static_cast<size_t>(8 * S * S));
      for (int64_t k = 0; k < 2; ++k) {
        const int64_t j = 2 * band + k;
        hmax_s1_cpu(xp + b * S * S, S, h_->bank[static_cast<size_t>(j)].data(), filter_size(j), s1.data() + k * 4 * S * S);
      }
      const int64_t m = hmax_c1_window(band), step = hmax_c1_step(band), L = layout_.c1_side[static_cast<size_t>(band)];
      const int64_t offset = h_->opt.centred_c1 ? m / 2 : 0;
      for (int64_t o = 0; o < 4; ++o)
        hmax_c1_cpu(s1.data() + o * S * S, s1.data() + (4 + o) * S * S, S, m, step, offset, L,
                    op + b * U + off[static_cast<size_t>(band)] + o * L * L);
    }
    return out;
  }

  // Sets a flag for one call, whatever happens.
  struct Flag {
    explicit Flag(bool& b) : b_(b) { b_ = true; }
    ~Flag() { b_ = false; }
    Flag(const Flag&) = delete;
    Flag& operator=(const Flag&) = delete;
    bool& b_;
  };

  // (B, U_c1) -> (B, K) on the host without the S2 maps.
  Tensor c2_from_c1(const Tensor& c1flat) const {
    const int64_t B = c1flat.size(0), U = c1flat.size(1);
    std::vector<HmaxC2Band> bands;
    int64_t off = 0;
    for (int64_t b = 0; b < kHmaxBands; ++b) {
      const int64_t L = layout_.c1_side[static_cast<size_t>(b)];
      bands.push_back({c1flat.data() + off, L, U});
      off += 4 * L * L;
    }
    std::vector<HmaxC2Size> sizes;
    for (size_t i = 0; i < h_->protos.sizes.size(); ++i)
      sizes.push_back({h_->proto_w_neg2[i].data(), h_->proto_sq[i].data(), h_->protos.sizes[i], h_->proto_w_neg2[i].size(0)});
    Tensor out = Tensor::empty({B, h_->protos.count()});
    hmax_c2_cpu(bands, sizes, B, h_->opt.s2_sigma, out.data());
    return out;
  }

  std::shared_ptr<HmaxParts> h_;
  Layout layout_;
  bool from_image_ = false, from_c1_ = false;
  Device device_ = Device::CPU;
  std::shared_ptr<Stage> image_, s1_, c1_, s2_, c2_;
};

}  // namespace

int64_t HmaxPrototypes::count() const {
  int64_t n = 0;
  for (const Tensor& t : patches) n += t.size(0);
  return n;
}

Model hmax_model(const HmaxOptions& o, const HmaxPrototypes& p) {
  ML_CHECK(o.image_size >= kHmaxLargestFilter, "hmax: --image-size ", o.image_size,
           " is smaller than the largest S1 filter (", kHmaxLargestFilter, " x ", kHmaxLargestFilter, ")");
  ML_CHECK(o.s2_sigma >= 0, "hmax: S2 sigma must be >= 0 (0: -d^2), got ", o.s2_sigma);
  ML_CHECK(p.sizes.size() == p.patches.size(), "hmax: prototype sizes and tensors differ in number");
  const Layout l = layout_for(o, p);
  for (size_t i = 0; i < p.sizes.size(); ++i) {
    const Tensor& w = p.patches[i];
    const int64_t n = p.sizes[i];
    ML_CHECK(w.dim() == 4 && w.size(1) == kHmaxOrientations && w.size(2) == n && w.size(3) == n && w.size(0) > 0,
             "hmax: prototypes of size ", n, " must be (K, 4, ", n, ", ", n, "), got ", w.str());
    ML_CHECK(l.s2_side[0][i] > 0, "hmax: prototypes of size ", n, " are larger than every C1 band map (the largest is ",
             l.c1_side[0], " x ", l.c1_side[0], " for ", o.image_size, "-px images)");
  }
  Model m;
  m.name = "hmax";
  m.in_channels = 1;
  m.image_size = o.image_size;
  m.num_classes = 0;
  m.net = std::make_shared<HmaxNet>(make_parts(o, p), l);
  for (const char* n : {"image", "s1", "c1"}) m.layers.push_back({n, n, false});
  if (!p.sizes.empty())
    for (const char* n : {"s2", "c2"}) m.layers.push_back({n, n, false});
  return m;
}

std::vector<Tensor> hmax_c1_bands(const Tensor& images, const HmaxOptions& o) {
  check_images(images, o);
  std::vector<Tensor> out;
  for (int64_t b = 0; b < kHmaxBands; ++b) out.push_back(hmax_c1_band(images, o, b));
  return out;
}

Tensor hmax_c1_band(const Tensor& images, const HmaxOptions& o, int64_t band) {
  check_images(images, o);
  ML_CHECK(band >= 0 && band < kHmaxBands, "hmax: band ", band, " is not in [0, 8)");
  const auto h = make_parts(o, {});
  h->to(images.device());
  if (host_s1(*h, images)) {
    return c1_band_cpu(*h, s1_sizes_cpu(*h, images, {2 * band, 2 * band + 1}), 0, 4, band);
  }
  const Tensor x2 = square(images);
  return c1_band(*h, s1_size(*h, images, x2, 2 * band), s1_size(*h, images, x2, 2 * band + 1), band);
}

HmaxPrototypes sample_hmax_prototypes(const Tensor& images, const HmaxOptions& o, int64_t per_size, uint64_t seed,
                                      const std::vector<int64_t>& sizes) {
  check_images(images, o);
  std::vector<Tensor> band2;  // in chunks of 16 images, so memory stays bounded
  for (int64_t i0 = 0; i0 < images.size(0); i0 += 16)
    band2.push_back(hmax_c1_band(images.slice(i0, std::min(images.size(0), i0 + 16)), o, 1).to(Device::CPU));
  return sample_hmax_prototypes_from_c1(cat(band2, 0), per_size, seed, sizes);
}

HmaxPrototypes sample_hmax_prototypes_from_c1(const Tensor& band2, int64_t per_size, uint64_t seed,
                                              const std::vector<int64_t>& sizes) {
  ML_CHECK(per_size > 0, "hmax prototypes: the number per size (--hmax-per-size) must be > 0, got ", per_size);
  ML_CHECK(band2.dim() == 4 && band2.size(1) == kHmaxOrientations && band2.size(2) == band2.size(3),
           "hmax prototypes: band-2 C1 maps must be (N, 4, L, L), got ", band2.str());
  const int64_t N = band2.size(0), L = band2.size(2);
  ML_CHECK(N > 0, "hmax prototypes: no images to sample from");
  for (int64_t n : sizes)
    ML_CHECK(n >= 1 && n <= L, "hmax prototypes: size ", n, " does not fit the band-2 C1 map (", L, " x ", L, ")");
  const auto c1 = band2.to(Device::CPU).to_vector();
  Generator gen(seed);
  HmaxPrototypes p;
  for (int64_t n : sizes) {
    std::vector<float> v(static_cast<size_t>(per_size * 4 * n * n));
    for (int64_t k = 0; k < per_size; ++k) {
      const int64_t img = k * N / per_size;
      const int64_t r0 = gen.next_below(L - n + 1), c0 = gen.next_below(L - n + 1);
      for (int64_t c = 0; c < 4; ++c)
        for (int64_t r = 0; r < n; ++r)
          for (int64_t q = 0; q < n; ++q)
            v[static_cast<size_t>(((k * 4 + c) * n + r) * n + q)] =
                c1[static_cast<size_t>(((img * 4 + c) * L + r0 + r) * L + c0 + q)];
    }
    p.sizes.push_back(n);
    p.patches.push_back(Tensor::from_vector({per_size, 4, n, n}, v));
  }
  return p;
}

void save_hmax_prototypes(const std::string& path, const HmaxPrototypes& p) {
  std::vector<std::pair<std::string, Tensor>> items;
  for (size_t i = 0; i < p.sizes.size(); ++i) items.emplace_back("prototypes." + std::to_string(p.sizes[i]), p.patches[i]);
  save_safetensors(path, items, {{"model", "hmax"}});
}

HmaxPrototypes load_hmax_prototypes(const std::string& path, int64_t image_size) {
  const SafetensorsFile f = load_safetensors(path);
  ML_CHECK(!f.items.empty(), "hmax prototypes: '", path, "' holds no tensors");
  HmaxPrototypes p;
  for (const auto& [name, t] : f.items) {
    const std::string prefix = "prototypes.";
    ML_CHECK(name.rfind(prefix, 0) == 0, "hmax prototypes: '", path, "' has a tensor '", name,
             "'; expected only prototypes.<n>");
    int64_t n = 0;
    try {
      n = std::stoll(name.substr(prefix.size()));
    } catch (const std::exception&) {
      throw Error("hmax prototypes: '" + path + "' tensor '" + name + "' does not end in a patch size");
    }
    ML_CHECK(t.dtype() == DType::F32 && t.dim() == 4 && t.size(0) > 0 && t.size(1) == kHmaxOrientations &&
                 t.size(2) == n && t.size(3) == n,
             "hmax prototypes: '", path, "' tensor '", name, "' is ", t.str(), "; expected float32 (K, 4, ", n, ", ",
             n, ") (4 = the C1 orientations)");
    p.sizes.push_back(n);
    p.patches.push_back(t);
  }
  HmaxOptions o;
  o.image_size = image_size;
  const Layout l = layout_for(o, p);
  for (size_t i = 0; i < p.sizes.size(); ++i)
    ML_CHECK(l.s2_side[0][i] > 0, "hmax prototypes: '", path, "' has ", p.sizes[i], "-px prototypes, larger than every C1 band map (",
             l.c1_side[0], " px at most for ", image_size, "-px images)");
  return p;
}

}  // namespace ml::models
