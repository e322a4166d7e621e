#include "experiments/analysis/equivariance_study.h"

#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "experiments/analysis/msvt.h"
#include "experiments/analysis/pearson.h"
#include "experiments/analysis/unit_stats.h"

namespace ml::analysis {

namespace {

// The three conditions of one (layer, transform): a = f(x), b = f(g x), c = g f(x) (or, for
// the legacy rot90, g f(g x)).
enum Cond { kFx = 0, kFgx = 1, kGf = 2 };

struct LayerTransform {
  UnitStats stats[3];
  std::vector<bool> mask;  // the central column/row/pixel removed (conv layers)
};

// f(x), f(g x) and the transformed maps for one batch, per layer.
struct BatchActs {
  std::vector<Tensor> fx;
  std::vector<std::vector<Tensor>> fgx, gf;  // [transform][layer]
};

BatchActs batch_acts(AnalysisNet& net, const std::vector<std::string>& layers, const Tensor& x,
                     const EquivarianceOptions& o) {
  BatchActs b;
  b.fx = layer_outputs(net, x, layers);
  for (Transform g : o.transforms) {
    b.fgx.push_back(layer_outputs(net, apply_transform(g, x).clone(), layers));
    std::vector<Tensor> gf;
    for (size_t l = 0; l < layers.size(); ++l) {
      const Tensor& source = (o.rot90_legacy && g == Transform::Rot90) ? b.fgx.back()[l] : b.fx[l];
      if (source.dim() != 4)
        gf.push_back(Tensor());
      else
        gf.push_back(o.map_transform ? o.map_transform(g, layers[l], source).clone() : apply_transform(g, source).clone());
    }
    b.gf.push_back(std::move(gf));
  }
  return b;
}

const Tensor& cond(const BatchActs& b, size_t t, size_t l, int c) {
  return c == kFx ? b.fx[l] : c == kFgx ? b.fgx[t][l] : b.gf[t][l];
}

}  // namespace

std::vector<EquivarianceRow> run_equivariance(AnalysisNet& net, const std::vector<std::string>& layers,
                                              const ImageFn& images, int64_t n_images, const EquivarianceOptions& o) {
  ML_CHECK(n_images >= 2, "equivariance: z-scoring needs at least 2 images, got ", n_images);
  const std::vector<Shape> shapes = layer_shapes(net, layers);
  const size_t T = o.transforms.size(), L = layers.size();
  std::vector<std::vector<LayerTransform>> lt(T, std::vector<LayerTransform>(L));
  for (size_t t = 0; t < T; ++t)
    for (size_t l = 0; l < L; ++l) {
      const Shape& s = shapes[l];
      const int64_t U = shape_numel(s);
      for (auto& st : lt[t][l].stats) st = UnitStats(U);
      lt[t][l].mask = s.size() == 3 ? central_mask(o.transforms[t], s[0], s[1], s[2]) : std::vector<bool>(U, true);
      if (s.size() == 3 && o.transforms[t] == Transform::Rot90)
        ML_CHECK(s[1] == s[2], "equivariance: rot90 needs square maps; layer ", layers[l], " is ", shape_str(s));
    }

  // Pass 1: per-unit statistics of every condition.
  for (int64_t i0 = 0; i0 < n_images; i0 += o.batch) {
    const int64_t i1 = std::min(n_images, i0 + o.batch);
    const BatchActs b = batch_acts(net, layers, images(i0, i1), o);
    for (size_t t = 0; t < T; ++t)
      for (size_t l = 0; l < L; ++l)
        for (int c = 0; c < 3; ++c)
          if (c != kGf || shapes[l].size() == 3) lt[t][l].stats[c].add(cond(b, t, l, c).reshape({i1 - i0, -1}));
    if (o.progress) std::fprintf(stderr, "\requivariance: statistics %lld/%lld images", static_cast<long long>(i1), static_cast<long long>(n_images));
  }

  // The units each comparison keeps: inside the mask and informative in both conditions.
  auto keep_of = [&](const LayerTransform& x, int c1, int c2) {
    std::vector<bool> k = x.mask;
    for (size_t u = 0; u < k.size(); ++u)
      k[u] = k[u] && x.stats[c1].informative(static_cast<int64_t>(u)) && x.stats[c2].informative(static_cast<int64_t>(u));
    return k;
  };
  std::vector<EquivarianceRow> rows;
  // comparisons[t][l] = {(row index, c1, c2, keep)}
  struct Cmp {
    size_t row;
    int c1, c2;
    std::vector<bool> keep;
  };
  std::vector<std::vector<std::vector<Cmp>>> cmps(T, std::vector<std::vector<Cmp>>(L));
  for (size_t t = 0; t < T; ++t)
    for (size_t l = 0; l < L; ++l) {
      const bool conv = shapes[l].size() == 3;
      const bool legacy = o.rot90_legacy && o.transforms[t] == Transform::Rot90;
      rows.push_back({layers[l], static_cast<int64_t>(l), conv, o.transforms[t], "invariance", {}});
      cmps[t][l].push_back({rows.size() - 1, kFx, kFgx, keep_of(lt[t][l], kFx, kFgx)});
      if (conv) {
        rows.push_back({layers[l], static_cast<int64_t>(l), conv, o.transforms[t], "equivariance", {}});
        // legacy rot90: r(f(x), g f(g x)); the equations: r(f(g x), g f(x)).
        const int c1 = legacy ? kFx : kFgx;
        cmps[t][l].push_back({rows.size() - 1, c1, kGf, keep_of(lt[t][l], c1, kGf)});
      }
    }

  // Pass 2: z-score with the set's statistics, correlate image by image over the kept units.
  for (int64_t i0 = 0; i0 < n_images; i0 += o.batch) {
    const int64_t i1 = std::min(n_images, i0 + o.batch), B = i1 - i0;
    const BatchActs b = batch_acts(net, layers, images(i0, i1), o);
    for (size_t t = 0; t < T; ++t)
      for (size_t l = 0; l < L; ++l)
        for (const Cmp& cm : cmps[t][l]) {
          // z-score only the kept units (others would divide by a zero std).
          const Tensor z1 = zscore_units(cond(b, t, l, cm.c1).reshape({B, -1}), lt[t][l].stats[cm.c1], cm.keep);
          const Tensor z2 = zscore_units(cond(b, t, l, cm.c2).reshape({B, -1}), lt[t][l].stats[cm.c2], cm.keep);
          const int64_t K = z1.size(1);
          for (int64_t i = 0; i < B; ++i)
            rows[cm.row].per_image.push_back(K >= 2 ? pearson(z1.data() + i * K, z2.data() + i * K, K) : NAN);
        }
    if (o.progress) std::fprintf(stderr, "\requivariance: correlations %lld/%lld images  ", static_cast<long long>(i1), static_cast<long long>(n_images));
  }
  if (o.progress) std::fprintf(stderr, "\n");
  return rows;
}

void append_equivariance_csv(std::string& csv, const std::vector<EquivarianceRow>& rows, const std::string& model,
                             const std::string& image_set, bool rot90_legacy) {
  for (const EquivarianceRow& r : rows) {
    std::vector<double> defined;
    for (double v : r.per_image)
      if (!std::isnan(v)) defined.push_back(v);
    const MeanSem m = mean_sem(defined);
    char buf[512];
    const std::string transform =
        std::string(transform_name(r.transform)) + (rot90_legacy && r.transform == Transform::Rot90 ? "_legacy" : "");
    std::snprintf(buf, sizeof buf, "%s,%s,%lld,%s,%s,%s,%s,%.6g,%.6g,%lld\n", model.c_str(), r.layer.c_str(),
                  static_cast<long long>(r.layer_index), r.conv ? "conv" : "fc", image_set.c_str(), transform.c_str(),
                  r.measure.c_str(), m.mean, m.sd, static_cast<long long>(m.n));
    csv += buf;
  }
}

}  // namespace ml::analysis
