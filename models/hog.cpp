// models/hog.cpp — UoCTTI and Dalal–Triggs HOG on the host (see hog.h). The UoCTTI loops keep
// vl/hog.c's order of float operations (and this file is built without FMA contraction), so the
// values agree with VLFeat's vl_hog to float rounding (tools/hog_vlfeat_compare.c checks it).
#include "models/hog.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>
#include <string>

#include "engine/error.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "models/hog_dalal_triggs_cpu.h"

namespace ml::models {

namespace {

void check_options(const HogOptions& o) {
  // The programs' option names in the messages (experiments/fixed_models.h).
  ML_CHECK(o.orientations >= 1, "hog: the orientation count (--hog-orientations) must be >= 1, got ", o.orientations);
  ML_CHECK(o.cell_size >= 1, "hog: the cell size (--hog-cell) must be >= 1 px, got ", o.cell_size);
  ML_CHECK(o.variant != HogVariant::DalalTriggs || o.block_size >= 1,
           "hog: the block size (--hog-block) must be >= 1 cell, got ", o.block_size);
}

// The smallest image side with one block: UoCTTI's 2 x 2 cells (and VLFeat's minimum of 4 px),
// Dalal-Triggs' b x b cells; and that block in words.
int64_t min_side(const HogOptions& o) {
  return o.variant == HogVariant::UoCTTI ? std::max<int64_t>(2 * o.cell_size, 4) : o.block_size * o.cell_size;
}
std::string block_words(const HogOptions& o) {
  const int64_t b = o.variant == HogVariant::UoCTTI ? 2 : o.block_size;
  return "one " + std::to_string(b) + " x " + std::to_string(b) + " block of " + std::to_string(o.cell_size) +
         "-px cells (" + std::to_string(min_side(o)) + " px)";
}

// One UoCTTI image (C, H, W) -> out (3n+4, R, Q); vl_hog_put_image + vl_hog_extract.
void uoctti_image(const float* image, int64_t C, int64_t H, int64_t W, const HogOptions& o, float* out) {
  const int64_t n = o.orientations, cs = o.cell_size;
  const int64_t hw = (W + cs / 2) / cs, hh = (H + cs / 2) / cs, stride = hw * hh;
  std::vector<float> ox(static_cast<size_t>(n)), oy(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    const double angle = static_cast<double>(k) * std::numbers::pi / static_cast<double>(n);
    ox[static_cast<size_t>(k)] = static_cast<float>(std::cos(angle));
    oy[static_cast<size_t>(k)] = static_cast<float>(std::sin(angle));
  }
  std::vector<float> hist(static_cast<size_t>(2 * n * stride), 0.f), energy(static_cast<size_t>(stride), 0.f);
  auto at = [&](int64_t x, int64_t y, int64_t k) -> float& { return hist[static_cast<size_t>(x + y * hw + k * stride)]; };
  const int64_t plane = H * W;
  // Per column / row: the left (upper) cell centre and the bilinear weights, computed once with
  // vl/hog.c's expressions (they depend on x or y only).
  struct Axis {
    int64_t bin;
    float w1, w2;
  };
  auto axis = [cs](int64_t x) {
    const float hx = static_cast<float>((static_cast<double>(x) + 0.5) / static_cast<double>(cs) - 0.5);
    const auto bin = static_cast<int64_t>(std::floor(hx));
    const float w2 = hx - static_cast<float>(bin);
    return Axis{bin, static_cast<float>(1.0 - w2), w2};
  };
  std::vector<Axis> ax(static_cast<size_t>(W)), ay(static_cast<size_t>(H));
  for (int64_t x = 0; x < W; ++x) ax[static_cast<size_t>(x)] = axis(x);
  for (int64_t y = 0; y < H; ++y) ay[static_cast<size_t>(y)] = axis(y);
  for (int64_t y = 1; y < H - 1; ++y) {
    const Axis Y = ay[static_cast<size_t>(y)];
    for (int64_t x = 1; x < W - 1; ++x) {
      float gradx = 0, grady = 0, grad2 = 0;
      for (int64_t ch = 0; ch < C; ++ch) {
        const float* it = image + ch * plane + y * W + x;
        const float gx = it[1] - it[-1];
        const float gy = it[W] - it[-W];
        const float g2 = gx * gx + gy * gy;
        if (g2 > grad2) {
          gradx = gx;
          grady = gy;
          grad2 = g2;
        }
      }
      const float grad = std::sqrt(grad2);
      const double gden = std::max(static_cast<double>(grad), 1e-10);
      gradx = static_cast<float>(gradx / gden);
      grady = static_cast<float>(grady / gden);
      float weights[2] = {0, 0};
      int64_t bins[2] = {-1, -1};
      if (o.bilinear_orientations) {
        for (int64_t k = 0; k < n; ++k) {
          float score = gradx * ox[static_cast<size_t>(k)] + grady * oy[static_cast<size_t>(k)];
          int64_t bin = k;
          if (score < 0) {
            score = -score;
            bin += n;
          }
          if (score > weights[0]) {
            bins[1] = bins[0];
            weights[1] = weights[0];
            bins[0] = bin;
            weights[0] = score;
          } else if (score > weights[1]) {
            bins[1] = bin;
            weights[1] = score;
          }
        }
        const float angle0 = std::acos(std::min(weights[0], 1.0f));
        weights[1] = static_cast<float>(angle0 / (std::numbers::pi / static_cast<double>(n)));
        weights[0] = 1 - weights[1];
      } else {
        // The first bin of largest |projection| (vl/hog.c's strict '>'), without branches: the
        // scores of random gradients made that loop's branches the profile's top item.
        float best = 0;
        int64_t bin0 = -1;
        for (int64_t k = 0; k < n; ++k) {
          const float score = gradx * ox[static_cast<size_t>(k)] + grady * oy[static_cast<size_t>(k)];
          const float a = std::fabs(score);
          const int64_t bin = score < 0 ? k + n : k;
          const bool gt = a > best;
          best = gt ? a : best;
          bin0 = gt ? bin : bin0;
        }
        bins[0] = bin0;
        weights[0] = 1;
      }
      const Axis X = ax[static_cast<size_t>(x)];
      const int64_t binx = X.bin, biny = Y.bin;
      const float wx1 = X.w1, wx2 = X.w2, wy1 = Y.w1, wy2 = Y.w2;
      for (int b = 0; b < 2; ++b) {
        const int64_t orient = bins[b];
        if (orient < 0) continue;
        const float ow = weights[b];
        if (binx >= 0 && biny >= 0) at(binx, biny, orient) += grad * ow * wx1 * wy1;
        if (binx < hw - 1 && biny >= 0) at(binx + 1, biny, orient) += grad * ow * wx2 * wy1;
        if (binx < hw - 1 && biny < hh - 1) at(binx + 1, biny + 1, orient) += grad * ow * wx2 * wy2;
        if (binx >= 0 && biny < hh - 1) at(binx, biny + 1, orient) += grad * ow * wx1 * wy2;
      }
    }
  }
  // Cell energy: squared norm of the undirected histogram.
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = 0; i < stride; ++i) {
      const float h = hist[static_cast<size_t>(k * stride + i)] + hist[static_cast<size_t>((k + n) * stride + i)];
      energy[static_cast<size_t>(i)] += h * h;
    }
  auto en = [&](int64_t x, int64_t y) { return static_cast<double>(energy[static_cast<size_t>(x + y * hw)]); };
  const float tex = 1.0f / std::sqrt(18.0f);
  for (int64_t y = 0; y < hh; ++y)
    for (int64_t x = 0; x < hw; ++x) {
      const int64_t xm = std::max<int64_t>(x - 1, 0), xp = std::min(x + 1, hw - 1);
      const int64_t ym = std::max<int64_t>(y - 1, 0), yp = std::min(y + 1, hh - 1);
      const double n1 = en(xm, ym), n2 = en(x, ym), n3 = en(xp, ym), n4 = en(xm, y), n5 = en(x, y), n6 = en(xp, y),
                   n7 = en(xm, yp), n8 = en(x, yp), n9 = en(xp, yp);
      // Upper-left, upper-right, lower-left, lower-right 2 x 2 blocks around the cell.
      const double f1 = 1.0 / std::sqrt(n1 + n2 + n4 + n5 + 1e-4), f2 = 1.0 / std::sqrt(n2 + n3 + n5 + n6 + 1e-4),
                   f3 = 1.0 / std::sqrt(n4 + n5 + n7 + n8 + 1e-4), f4 = 1.0 / std::sqrt(n5 + n6 + n8 + n9 + 1e-4);
      double t1 = 0, t2 = 0, t3 = 0, t4 = 0;
      const int64_t cell = x + y * hw;
      for (int64_t k = 0; k < n; ++k) {
        const double ha = hist[static_cast<size_t>(k * stride + cell)], hb = hist[static_cast<size_t>((k + n) * stride + cell)];
        double ha1 = f1 * ha, ha2 = f2 * ha, ha3 = f3 * ha, ha4 = f4 * ha;
        double hb1 = f1 * hb, hb2 = f2 * hb, hb3 = f3 * hb, hb4 = f4 * hb;
        double hc1 = ha1 + hb1, hc2 = ha2 + hb2, hc3 = ha3 + hb3, hc4 = ha4 + hb4;
        ha1 = std::min(0.2, ha1), ha2 = std::min(0.2, ha2), ha3 = std::min(0.2, ha3), ha4 = std::min(0.2, ha4);
        hb1 = std::min(0.2, hb1), hb2 = std::min(0.2, hb2), hb3 = std::min(0.2, hb3), hb4 = std::min(0.2, hb4);
        hc1 = std::min(0.2, hc1), hc2 = std::min(0.2, hc2), hc3 = std::min(0.2, hc3), hc4 = std::min(0.2, hc4);
        t1 += hc1, t2 += hc2, t3 += hc3, t4 += hc4;
        out[k * stride + cell] = static_cast<float>(0.5 * (ha1 + ha2 + ha3 + ha4));
        out[(k + n) * stride + cell] = static_cast<float>(0.5 * (hb1 + hb2 + hb3 + hb4));
        out[(k + 2 * n) * stride + cell] = static_cast<float>(0.5 * (hc1 + hc2 + hc3 + hc4));
      }
      out[(3 * n + 0) * stride + cell] = static_cast<float>(tex * t1);
      out[(3 * n + 1) * stride + cell] = static_cast<float>(tex * t2);
      out[(3 * n + 2) * stride + cell] = static_cast<float>(tex * t3);
      out[(3 * n + 3) * stride + cell] = static_cast<float>(tex * t4);
    }
}

class HogNet : public nn::Module {
 public:
  explicit HogNet(HogOptions o) : o_(o) {
    image_ = register_module("image", std::make_shared<Fn>([](const Tensor& x) { return x; }));
    hog_ = register_module("hog", std::make_shared<Fn>([this](const Tensor& x) { return hog(x, o_); }));
  }
  Tensor forward(const Tensor& x) override { return (*hog_)((*image_)(x)); }

 private:
  struct Fn : nn::Module {
    explicit Fn(std::function<Tensor(const Tensor&)> f) : f_(std::move(f)) {}
    Tensor forward(const Tensor& x) override { return f_(x); }
    std::function<Tensor(const Tensor&)> f_;
  };
  HogOptions o_;
  std::shared_ptr<Fn> image_, hog_;
};

}  // namespace

HogVariant parse_hog_variant(const std::string& name) {
  if (name == "uoctti") return HogVariant::UoCTTI;
  if (name == "dalal_triggs") return HogVariant::DalalTriggs;
  throw Error("hog: unknown variant '" + name + "' (uoctti, dalal_triggs)");
}

const char* hog_variant_name(HogVariant v) { return v == HogVariant::UoCTTI ? "uoctti" : "dalal_triggs"; }

int64_t hog_dimension(const HogOptions& o) {
  check_options(o);
  return o.variant == HogVariant::UoCTTI ? 3 * o.orientations + 4 : o.block_size * o.block_size * o.orientations;
}

std::pair<int64_t, int64_t> hog_grid(int64_t H, int64_t W, const HogOptions& o) {
  check_options(o);
  const int64_t cs = o.cell_size;
  ML_CHECK(H >= min_side(o) && W >= min_side(o), "hog: a ", H, " x ", W, " image is smaller than ", block_words(o));
  if (o.variant == HogVariant::UoCTTI) return {(H + cs / 2) / cs, (W + cs / 2) / cs};
  return {H / cs - o.block_size + 1, W / cs - o.block_size + 1};
}

Tensor hog(const Tensor& images, const HogOptions& o) {
  ML_CHECK(images.defined() && images.dtype() == DType::F32 && images.dim() == 4 &&
               (images.size(1) == 1 || images.size(1) == 3),
           "hog: images must be float32 (B, 1 or 3, H, W), got ", images.defined() ? images.str() : "undefined");
  const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
  // Plain variables, not a structured binding: clang 14 (the fuzz build) cannot capture a binding
  // in the OpenMP region below.
  const auto grid = hog_grid(H, W, o);
  const int64_t R = grid.first, Q = grid.second;
  const int64_t D = hog_dimension(o);
  const Tensor x = images.to(Device::CPU);
  Tensor y = Tensor::empty({B, D, R, Q});
  const float* xp = x.data();
  float* yp = y.data();
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    if (o.variant == HogVariant::UoCTTI)
      uoctti_image(xp + b * C * H * W, C, H, W, o, yp + b * D * R * Q);
    else
      hog_dalal_triggs_cpu(xp + b * C * H * W, C, H, W, o.orientations, o.cell_size, o.block_size, yp + b * D * R * Q);
  }
  return y.to(images.device());
}

const char* hog_transform_name(HogTransform g) {
  switch (g) {
    case HogTransform::HFlip: return "hflip";
    case HogTransform::VFlip: return "vflip";
    case HogTransform::Rot180: return "rot180";
    case HogTransform::Rot90: return "rot90";
  }
  return "?";
}

Tensor hog_move(const Tensor& x, HogTransform g) {
  switch (g) {
    case HogTransform::HFlip: return hflip(x);
    case HogTransform::VFlip: return vflip(x);
    case HogTransform::Rot180: return rot90(x, 2);
    case HogTransform::Rot90: return rot90(x, 1);
  }
  ML_CHECK(false, "hog_move: unknown transform ", static_cast<int>(g));
  return x;
}

std::vector<int64_t> hog_channel_permutation(HogTransform g, int64_t n) {
  ML_CHECK(n >= 1, "hog permutation: the orientation count must be >= 1, got ", n);
  ML_CHECK(g != HogTransform::Rot90 || n % 2 == 0, "hog permutation: rot90 needs an even orientation count (bins at ",
           "multiples of 90 deg), got ", n);
  auto mod = [](int64_t a, int64_t m) { return ((a % m) + m) % m; };
  std::vector<int64_t> p(static_cast<size_t>(3 * n + 4));
  // Texture values: blocks UL, UR, LL, LR around the cell (0..3).
  int64_t tex[4] = {0, 1, 2, 3};
  for (int64_t k = 0; k < 2 * n; ++k) {
    int64_t d = k;
    switch (g) {
      case HogTransform::HFlip: d = mod(n - k, 2 * n); break;      // theta -> pi - theta
      case HogTransform::VFlip: d = mod(2 * n - k, 2 * n); break;  // theta -> -theta
      case HogTransform::Rot180: d = mod(k + n, 2 * n); break;     // theta -> theta + pi
      case HogTransform::Rot90: d = mod(k - n / 2, 2 * n); break;  // theta -> theta - pi/2 (CCW, y down)
    }
    p[static_cast<size_t>(k)] = d;
  }
  for (int64_t k = 0; k < n; ++k) {
    int64_t u = k;
    switch (g) {
      case HogTransform::HFlip:
      case HogTransform::VFlip: u = mod(n - k, n); break;
      case HogTransform::Rot180: u = k; break;
      case HogTransform::Rot90: u = mod(k - n / 2, n); break;
    }
    p[static_cast<size_t>(2 * n + k)] = 2 * n + u;
  }
  switch (g) {
    case HogTransform::HFlip: tex[0] = 1, tex[1] = 0, tex[2] = 3, tex[3] = 2; break;
    case HogTransform::VFlip: tex[0] = 2, tex[1] = 3, tex[2] = 0, tex[3] = 1; break;
    case HogTransform::Rot180: tex[0] = 3, tex[1] = 2, tex[2] = 1, tex[3] = 0; break;
    case HogTransform::Rot90: tex[0] = 2, tex[1] = 0, tex[2] = 3, tex[3] = 1; break;  // UL->LL, UR->UL, LL->LR, LR->UR
  }
  for (int64_t t = 0; t < 4; ++t) p[static_cast<size_t>(3 * n + t)] = 3 * n + tex[t];
  return p;
}

namespace {

// The grid moved as g moves pixels, then channel k of the result is channel p[k]'s source: out
// channel p[k] = moved channel k.
Tensor move_and_permute(const Tensor& f, HogTransform g, const std::vector<int64_t>& p) {
  ML_CHECK(g != HogTransform::Rot90 || f.size(2) == f.size(3), "hog permutation: rot90 needs a square cell grid, got ",
           f.size(2), " x ", f.size(3), " cells");
  const Tensor moved = hog_move(f, g);
  std::vector<int64_t> inv(p.size());
  for (size_t k = 0; k < p.size(); ++k) inv[static_cast<size_t>(p[k])] = static_cast<int64_t>(k);
  std::vector<Tensor> chans;
  for (size_t k = 0; k < p.size(); ++k) chans.push_back(narrow(moved, 1, inv[k], 1));
  return cat(chans, 1);
}

}  // namespace

Tensor hog_apply_transform(const Tensor& f, HogTransform g, int64_t n) {
  ML_CHECK(f.defined() && f.dim() == 4 && f.size(1) == 3 * n + 4, "hog permutation: features must be (B, 3n+4 = ",
           3 * n + 4, ", R, C) UoCTTI HOG, got ", f.defined() ? f.str() : "undefined");
  return move_and_permute(f, g, hog_channel_permutation(g, n));
}

std::vector<int64_t> hog_channel_permutation(HogTransform g, const HogOptions& o) {
  if (o.variant == HogVariant::UoCTTI) return hog_channel_permutation(g, o.orientations);
  check_options(o);
  const int64_t n = o.orientations, bs = o.block_size;
  ML_CHECK(g != HogTransform::Rot90 || n % 2 == 0, "hog permutation: rot90 needs an even orientation count (a bin ",
           "edge at 90 deg), got ", n);
  std::vector<int64_t> p(static_cast<size_t>(bs * bs * n));
  for (int64_t a = 0; a < bs; ++a)
    for (int64_t b = 0; b < bs; ++b)
      for (int64_t i = 0; i < n; ++i) {
        int64_t a2 = a, b2 = b, i2 = i;
        switch (g) {
          case HogTransform::HFlip: b2 = bs - 1 - b, i2 = n - 1 - i; break;       // theta -> 180 - theta
          case HogTransform::VFlip: a2 = bs - 1 - a, i2 = n - 1 - i; break;       // theta -> -theta
          case HogTransform::Rot180: a2 = bs - 1 - a, b2 = bs - 1 - b; break;     // theta -> theta + 180
          case HogTransform::Rot90: a2 = bs - 1 - b, b2 = a, i2 = (i + n / 2) % n; break;  // theta -> theta - 90
        }
        p[static_cast<size_t>((a * bs + b) * n + i)] = (a2 * bs + b2) * n + i2;
      }
  return p;
}

Tensor hog_apply_transform(const Tensor& f, HogTransform g, const HogOptions& o) {
  if (o.variant == HogVariant::UoCTTI) return hog_apply_transform(f, g, o.orientations);
  const int64_t D = hog_dimension(o);
  ML_CHECK(f.defined() && f.dim() == 4 && f.size(1) == D, "hog permutation: features must be (B, b*b*n = ", D,
           ", R, C) Dalal-Triggs HOG, got ", f.defined() ? f.str() : "undefined");
  return move_and_permute(f, g, hog_channel_permutation(g, o));
}

Model hog_model(const HogOptions& o, int64_t in_channels, int64_t image_size) {
  ML_CHECK(in_channels == 1 || in_channels == 3, "hog: --in-channels must be 1 (gray) or 3 (colour), got ", in_channels);
  check_options(o);
  ML_CHECK(image_size >= min_side(o), "hog: --image-size ", image_size, " is smaller than ", block_words(o));
  Model m;
  m.name = "hog";
  m.in_channels = in_channels;
  m.image_size = image_size;
  m.num_classes = 0;
  m.net = std::make_shared<HogNet>(o);
  m.layers = {{"image", "image", false}, {"hog", "hog", false}};
  return m;
}

}  // namespace ml::models
