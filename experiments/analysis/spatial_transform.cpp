#include "experiments/analysis/spatial_transform.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"

namespace ml::analysis {

void Transform::inverse(double x, double y, double& gx, double& gy) const {
  switch (kind) {
    case Kind::Identity: gx = x, gy = y; return;
    case Kind::HFlip: gx = -x, gy = y; return;
    case Kind::VFlip: gx = x, gy = -y; return;
    case Kind::Rot90: gx = -y, gy = x; return;   // R(90°)·u
    case Kind::Rot180: gx = -x, gy = -y; return;
    case Kind::Rot270: gx = y, gy = -x; return;  // R(−90°)·u
    case Kind::Affine: {
      const double t = angle_deg * std::numbers::pi / 180.0, c = std::cos(t), s = std::sin(t);
      gx = (c * x - s * y) / scale;
      gy = (s * x + c * y) / scale;
      return;
    }
  }
}

Transform Transform::inverse_transform() const {
  Transform t = *this;
  switch (kind) {
    case Kind::Rot90: t.kind = Kind::Rot270, t.name = "rot270"; return t;
    case Kind::Rot270: t.kind = Kind::Rot90, t.name = "rot90"; return t;
    case Kind::Affine:
      t.angle_deg = -angle_deg;
      t.scale = 1.0 / scale;
      t.name = name + "_inverse";
      return t;
    default: return t;  // the identity, flips and rot180 are their own inverses
  }
}

Transform parse_transform(const std::string& name) {
  const auto bad = [&] {
    return Error(detail::cat("transform '", name,
                             "' is not one of identity, hflip, vflip, rot90, rot180, rot<deg>, scale<s>, rot<deg>_scale<s>"));
  };
  // A number at the start of `text`; all of `text` when `whole`.
  const auto number = [&](const std::string& text, size_t& used) {
    try {
      return std::stod(text, &used);
    } catch (const std::exception&) {
      throw bad();
    }
  };
  Transform t;
  t.name = name;
  if (name == "identity") return t;
  if (name == "hflip") return t.kind = Transform::Kind::HFlip, t;
  if (name == "vflip") return t.kind = Transform::Kind::VFlip, t;
  if (name == "rot90") return t.kind = Transform::Kind::Rot90, t;
  if (name == "rot180") return t.kind = Transform::Kind::Rot180, t;
  if (name == "rot270") return t.kind = Transform::Kind::Rot270, t;
  t.kind = Transform::Kind::Affine;
  std::string rest;
  if (name.rfind("rot", 0) == 0) {
    size_t used = 0;
    t.angle_deg = number(name.substr(3), used);
    rest = name.substr(3 + used);
    if (!rest.empty()) {
      if (rest.rfind("_scale", 0) != 0) throw bad();
      rest = rest.substr(6);
      if (rest.empty()) throw bad();
    }
  } else if (name.rfind("scale", 0) == 0) {
    rest = name.substr(5);
    if (rest.empty()) throw bad();
  } else {
    throw bad();
  }
  if (!rest.empty()) {
    size_t used = 0;
    t.scale = number(rest, used);
    if (used != rest.size()) throw bad();
  }
  ML_CHECK(t.scale > 0 && std::isfinite(t.scale) && std::isfinite(t.angle_deg), "transform '", name,
           "': the scale must be > 0 and both numbers finite");
  return t;
}

namespace {

// Bilinear sample of a (H, W) plane at (x, y) pixel coordinates, zero outside.
float bilinear(const float* p, int64_t H, int64_t W, double x, double y) {
  const double fx = std::floor(x), fy = std::floor(y);
  const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  const double ax = x - fx, ay = y - fy;
  double v = 0;
  for (int dy = 0; dy <= 1; ++dy)
    for (int dx = 0; dx <= 1; ++dx) {
      const int64_t xx = x0 + dx, yy = y0 + dy;
      if (xx < 0 || xx >= W || yy < 0 || yy >= H) continue;
      const double w = (dx ? ax : 1 - ax) * (dy ? ay : 1 - ay);
      if (w != 0) v += w * p[yy * W + xx];
    }
  return static_cast<float>(v);
}

}  // namespace

Tensor transform_images(const Tensor& x, const Transform& g) {
  ML_CHECK(x.defined() && x.dim() == 4, "transform_images: images must be (N, C, H, W), got ", x.str());
  switch (g.kind) {
    case Transform::Kind::Identity: return x.clone();
    case Transform::Kind::HFlip: return hflip(x).detach();
    case Transform::Kind::VFlip: return vflip(x).detach();
    case Transform::Kind::Rot90:
      ML_CHECK(x.size(2) == x.size(3), "transform_images: rot90 needs square images, got ", x.str());
      return rot90(x, 1).detach();
    case Transform::Kind::Rot180: return rot90(x, 2).detach();
    case Transform::Kind::Rot270:
      ML_CHECK(x.size(2) == x.size(3), "transform_images: rot270 needs square images, got ", x.str());
      return rot90(x, 3).detach();
    case Transform::Kind::Affine: break;
  }
  const Tensor xc = x.to(Device::CPU);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor y = Tensor::empty(x.shape());
  const double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float* src = xc.data() + (n * C + c) * H * W;
      float* dst = y.data() + (n * C + c) * H * W;
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          double sx, sy;
          g.inverse(j - cx, i - cy, sx, sy);
          dst[i * W + j] = bilinear(src, H, W, sx + cx, sy + cy);
        }
    }
  return y.to(x.device());
}

namespace {

// One axis of a layer: site i is centred at a + b·i; `n` sites.
struct Axis1 {
  double a = 0.0, b = 1.0;
  int64_t n = 0;
};

void through_window(Axis1& ax, int64_t k, int64_t stride, int64_t pad, int64_t dil, bool ceil_mode, const std::string& what) {
  const int64_t span = dil * (k - 1) + 1;
  const int64_t num = ax.n + 2 * pad - span;
  ML_CHECK(num >= 0, "site_geometry: ", what, " is larger than its input (", ax.n, " sites)");
  const int64_t out = (ceil_mode ? (num + stride - 1) / stride : num / stride) + 1;
  // Output j covers inputs j·stride − pad ... + span − 1: centred at input j·stride − pad + (span − 1)/2.
  ax.a = ax.a + ax.b * (static_cast<double>(-pad) + (span - 1) / 2.0);
  ax.b = ax.b * static_cast<double>(stride);
  ax.n = out;
}

}  // namespace

SiteGeometry site_geometry(nn::Module& net, const std::string& module, int64_t image_size) {
  ML_CHECK(image_size > 0, "site_geometry: image size must be > 0");
  Axis1 ax{0.0, 1.0, image_size};
  if (module == "image" || module.empty()) return {0.0, 1.0, image_size, image_size};
  bool inside = false, found = false;
  for (auto& [name, m] : net.named_modules()) {
    const bool in_target = name == module || name.rfind(module + ".", 0) == 0;
    if (inside && !in_target) break;  // left the target's subtree: its output is reached
    inside = in_target;
    found = found || in_target;
    if (auto* c = dynamic_cast<nn::Conv2d*>(m)) {
      const auto& o = c->options;
      ML_CHECK(o.stride_h == o.stride_w && o.pad_h == o.pad_w && o.dil_h == o.dil_w && c->weight.size(2) == c->weight.size(3),
               "site_geometry: '", name, "' is not square (different strides, paddings or kernel sides)");
      through_window(ax, c->weight.size(2), o.stride_h, o.pad_h, o.dil_h, false, name);
    } else if (auto* p = dynamic_cast<nn::MaxPool2d*>(m)) {
      through_window(ax, p->kernel, p->stride ? p->stride : p->kernel, p->padding, 1, p->ceil_mode, name);
    } else if (auto* p = dynamic_cast<nn::AvgPool2d*>(m)) {
      through_window(ax, p->kernel, p->stride ? p->stride : p->kernel, p->padding, 1, p->ceil_mode, name);
    } else if (auto* p = dynamic_cast<nn::AdaptiveAvgPool2d*>(m)) {
      ML_CHECK(p->out_h == ax.n && p->out_w == ax.n, "site_geometry: '", name,
               "' resamples the sites (adaptive pooling to ", p->out_h, " x ", p->out_w, " from ", ax.n, ")");
    } else if (dynamic_cast<nn::Flatten*>(m) != nullptr || dynamic_cast<nn::Linear*>(m) != nullptr) {
      ML_CHECK(false, "site_geometry: '", module, "' lies after '", name,
               "', where the sites are flattened; a fully connected layer's P_g is the identity");
    }
  }
  ML_CHECK(found, "site_geometry: the model has no module '", module, "'");
  return {ax.a, ax.b, ax.n, ax.n};
}

Tensor pg_matrix(const SiteGeometry& geo, const Transform& g, int64_t image_size, bool exact, const std::string& layer) {
  const int64_t H = geo.height, W = geo.width, HW = H * W;
  if (g.kind == Transform::Kind::Rot90 || g.kind == Transform::Kind::Rot270)
    ML_CHECK(H == W, "P_g: ", g.name, " needs a square map; layer '", layer, "' is ", H, " x ", W);
  Tensor S = Tensor::zeros({HW, HW});
  float* s = S.data();
  const double c = (static_cast<double>(image_size) - 1) / 2.0;
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) {
      // p(s): the site's receptive-field centre, centred on the image.
      const double ux = geo.offset + geo.stride * j - c, uy = geo.offset + geo.stride * i - c;
      double vx, vy;
      g.inverse(ux, uy, vx, vy);
      // p⁻¹: back to (fractional) site coordinates.
      const double sx = (vx + c - geo.offset) / geo.stride, sy = (vy + c - geo.offset) / geo.stride;
      const double fx = std::floor(sx), fy = std::floor(sy);
      const double ax = sx - fx, ay = sy - fy;
      const bool on_site = std::fabs(sx - std::round(sx)) < 1e-9 && std::fabs(sy - std::round(sy)) < 1e-9;
      if (exact)
        ML_CHECK(on_site, "P_g: transform ", g.name, " is not an exact permutation of layer '", layer, "' sites: site (",
                 i, ", ", j, ") maps to (", sy, ", ", sx, "); its receptive-field centres are not symmetric about the "
                 "image centre (use bilinear mode, or an image size whose centres are)");
      const int64_t row = i * W + j;
      if (on_site) {
        const auto xx = static_cast<int64_t>(std::llround(sx)), yy = static_cast<int64_t>(std::llround(sy));
        if (xx >= 0 && xx < W && yy >= 0 && yy < H) s[row * HW + yy * W + xx] = 1.f;
        continue;
      }
      for (int dy = 0; dy <= 1; ++dy)
        for (int dx = 0; dx <= 1; ++dx) {
          const auto xx = static_cast<int64_t>(fx) + dx, yy = static_cast<int64_t>(fy) + dy;
          if (xx < 0 || xx >= W || yy < 0 || yy >= H) continue;
          s[row * HW + yy * W + xx] += static_cast<float>((dx ? ax : 1 - ax) * (dy ? ay : 1 - ay));
        }
    }
  return S;
}

namespace {

// S as compressed rows: row s of P_g reads sites col[ptr[s] .. ptr[s+1]) with weights w (at most
// 4 per row: a bilinear sample; one for a permutation).
struct SparseRows {
  std::vector<int64_t> ptr, col;
  std::vector<float> w;
};

SparseRows sparse_rows(const Tensor& S) {
  const int64_t n = S.size(0);
  SparseRows r;
  r.ptr.reserve(static_cast<size_t>(n + 1));
  r.ptr.push_back(0);
  const float* s = S.data();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      if (s[i * n + j] != 0.f) r.col.push_back(j), r.w.push_back(s[i * n + j]);
    r.ptr.push_back(static_cast<int64_t>(r.col.size()));
  }
  return r;
}

// out (planes, HW) = rows · in (planes, HW) row by row: out[p, s] = Σ w · in[p, col]. Summed in
// the order of the columns (ascending), so a permutation row copies its value exactly.
void gather_rows(const SparseRows& r, const float* in, float* out, int64_t planes, int64_t HW) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float* a = in + p * HW;
    float* o = out + p * HW;
    for (int64_t s = 0; s < HW; ++s) {
      float acc = 0.f;
      for (int64_t k = r.ptr[static_cast<size_t>(s)]; k < r.ptr[static_cast<size_t>(s) + 1]; ++k)
        acc += r.w[static_cast<size_t>(k)] * a[r.col[static_cast<size_t>(k)]];
      o[s] = acc;
    }
  }
}

// The transpose: grad_in[p, col] += w · grad_out[p, s] (the scatter-add of the gather's backward).
void scatter_rows(const SparseRows& r, const float* gout, float* gin, int64_t planes, int64_t HW) {
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float* g = gout + p * HW;
    float* o = gin + p * HW;
    std::fill(o, o + HW, 0.f);
    for (int64_t s = 0; s < HW; ++s)
      for (int64_t k = r.ptr[static_cast<size_t>(s)]; k < r.ptr[static_cast<size_t>(s) + 1]; ++k)
        o[r.col[static_cast<size_t>(k)]] += r.w[static_cast<size_t>(k)] * g[s];
  }
}

}  // namespace

Tensor apply_pg(const Tensor& phi, const Tensor& S) {
  ML_CHECK(phi.dim() == 4 && S.dim() == 2 && S.size(0) == phi.size(2) * phi.size(3) && S.size(1) == S.size(0),
           "apply_pg: features ", phi.str(), " and sampling matrix ", S.str(), " do not match");
  const int64_t N = phi.size(0), C = phi.size(1), H = phi.size(2), W = phi.size(3);
  if (phi.device() != Device::CPU || S.requires_grad()) {
    // (N·C, HW) · Sᵀ: linear(x, w) = x wᵀ (on the GPU a dense product is cheap; a trainable S
    // needs its own gradient).
    return linear(phi.reshape({N * C, H * W}), S.to(phi.device()), Tensor()).reshape({N, C, H, W});
  }
  // On the CPU the dense (HW, HW) product costs HW² per plane for at most 4 non-zeros per row
  // (676² at vgg_small's conv1_1: the study's largest cost); gather through the rows instead,
  // backward = the transposed scatter-add.
  auto rows = std::make_shared<SparseRows>(sparse_rows(S.to(Device::CPU)));
  Tensor out = Tensor::empty({N, C, H, W});
  gather_rows(*rows, phi.data(), out.data(), N * C, H * W);
  return record(out, "apply_pg", {phi}, [rows, N, C, H, W](const Tensor& g) -> std::vector<Tensor> {
    Tensor gin = Tensor::empty({N, C, H, W});
    scatter_rows(*rows, g.data(), gin.data(), N * C, H * W);
    return {gin};
  });
}

}  // namespace ml::analysis
