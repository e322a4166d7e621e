#include "experiments/analysis/rise_controls.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "experiments/analysis/pearson.h"

namespace ml::analysis {

std::vector<int64_t> top_pixels(const Tensor& map, int level, LevelMapping mapping) {
  ML_CHECK(map.dim() == 2, "rise: map must be (H, W), got ", map.str());
  const int lo = mapping == LevelMapping::Released ? 1 : 0;
  ML_CHECK(level >= lo && level <= 100, "rise: level ", level, " outside ", lo, "..100");
  const float* p = map.data();
  std::vector<int64_t> ranked;
  for (int64_t i = 0; i < map.numel(); ++i)
    if (p[i] != 0.f) ranked.push_back(i);
  // Most important first; ties by pixel index so the ranking is deterministic.
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](int64_t a, int64_t b) { return std::fabs(p[a]) > std::fabs(p[b]); });
  const auto N = static_cast<double>(ranked.size());
  const double frac = mapping == LevelMapping::Released ? (level - 1) / 99.0 : level / 100.0;
  const auto keep = static_cast<size_t>(std::llround(frac * N));
  ranked.resize(std::min(keep, ranked.size()));
  return ranked;
}

namespace {

void check_image(const Tensor& image) {
  ML_CHECK(image.dim() == 3 && image.device() == Device::CPU, "rise: image must be a CPU (C, H, W) tensor, got ",
           image.str());
}

}  // namespace

Tensor insertion_image(const Tensor& image, const std::vector<int64_t>& kept, float gray) {
  check_image(image);
  const int64_t C = image.size(0), HW = image.size(1) * image.size(2);
  Tensor out = Tensor::full(image.shape(), gray);
  const float* src = image.data();
  float* dst = out.data();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i : kept) dst[c * HW + i] = src[c * HW + i];
  return out;
}

Tensor deletion_image(const Tensor& image, const std::vector<int64_t>& kept, float gray) {
  check_image(image);
  const int64_t C = image.size(0), HW = image.size(1) * image.size(2);
  Tensor out = image.clone();
  float* dst = out.data();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i : kept) dst[c * HW + i] = gray;
  return out;
}

std::vector<std::vector<int64_t>> connected_components8(const std::vector<uint8_t>& set, int64_t h, int64_t w) {
  ML_CHECK(static_cast<int64_t>(set.size()) == h * w, "connected_components8: ", set.size(), " pixels for ", h, " x ", w);
  std::vector<int32_t> label(set.size(), -1);
  std::vector<std::vector<int64_t>> comps;
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < h * w; ++start) {
    if (!set[static_cast<size_t>(start)] || label[static_cast<size_t>(start)] >= 0) continue;
    const auto id = static_cast<int32_t>(comps.size());
    comps.emplace_back();
    stack.assign(1, start);
    label[static_cast<size_t>(start)] = id;
    while (!stack.empty()) {
      const int64_t i = stack.back();
      stack.pop_back();
      comps.back().push_back(i);
      const int64_t y = i / w, x = i % w;
      for (int64_t dy = -1; dy <= 1; ++dy)
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const int64_t j = yy * w + xx;
          if (set[static_cast<size_t>(j)] && label[static_cast<size_t>(j)] < 0) {
            label[static_cast<size_t>(j)] = id;
            stack.push_back(j);
          }
        }
    }
    std::sort(comps.back().begin(), comps.back().end());
  }
  return comps;
}

ShuffleResult shuffle_patches(const Tensor& image, const std::vector<int64_t>& kept, float gray, Generator& gen,
                              int max_tries, bool legacy_offset) {
  check_image(image);
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2), HW = H * W;
  std::vector<uint8_t> set(static_cast<size_t>(HW), 0);
  for (int64_t i : kept) set[static_cast<size_t>(i)] = 1;
  struct Box {
    std::vector<int64_t> pixels;
    int64_t y0, x0, y1, x1;  // inclusive
    int64_t area() const { return (y1 - y0 + 1) * (x1 - x0 + 1); }
  };
  std::vector<Box> boxes;
  for (auto& comp : connected_components8(set, H, W)) {
    Box b{comp, H, W, -1, -1};
    for (int64_t i : comp) {
      b.y0 = std::min(b.y0, i / W);
      b.y1 = std::max(b.y1, i / W);
      b.x0 = std::min(b.x0, i % W);
      b.x1 = std::max(b.x1, i % W);
    }
    boxes.push_back(std::move(b));
  }
  // Largest bounding box first (ties: the component found first), so big patches find room.
  std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) { return a.area() > b.area(); });

  ShuffleResult r{Tensor::full(image.shape(), gray), 0, 0};
  std::vector<uint8_t> occupied(static_cast<size_t>(HW), 0);
  const float* src = image.data();
  float* dst = r.image.data();
  const int64_t shift = legacy_offset ? -1 : 0;
  for (const Box& b : boxes) {
    const int64_t bh = b.y1 - b.y0 + 1, bw = b.x1 - b.x0 + 1;
    bool done = false;
    for (int t = 0; t < max_tries && !done; ++t) {
      // Top-left corner of the box, wholly inside the image.
      const int64_t ty = gen.next_below(H - bh + 1), tx = gen.next_below(W - bw + 1);
      const int64_t oy = ty - b.y0 + shift, ox = tx - b.x0 + shift;
      bool free = true;
      for (int64_t i : b.pixels) {
        const int64_t y = i / W + oy, x = i % W + ox;
        if (y < 0 || y >= H || x < 0 || x >= W || occupied[static_cast<size_t>(y * W + x)]) {
          free = false;
          break;
        }
      }
      if (!free) continue;
      for (int64_t i : b.pixels) {
        const int64_t j = (i / W + oy) * W + (i % W + ox);
        occupied[static_cast<size_t>(j)] = 1;
        for (int64_t c = 0; c < C; ++c) dst[c * HW + j] = src[c * HW + i];
      }
      done = true;
    }
    (done ? r.placed : r.dropped) += 1;
  }
  return r;
}

UnitCurveStats unit_curve_stats(const Tensor& responses, const std::vector<double>& angles) {
  ML_CHECK(responses.dim() == 2 && responses.size(0) == static_cast<int64_t>(angles.size()),
           "rise: responses ", responses.str(), " for ", angles.size(), " view angles");
  const int64_t V = responses.size(0), U = responses.size(1);
  const float* p = responses.data();
  std::vector<double> absang(angles.size());
  for (size_t j = 0; j < angles.size(); ++j) absang[j] = std::fabs(angles[j]);
  UnitCurveStats s;
  s.v_corr.resize(static_cast<size_t>(U));
  s.reflection_corr.resize(static_cast<size_t>(U));
  std::vector<double> c(static_cast<size_t>(V)), rev(static_cast<size_t>(V));
  for (int64_t u = 0; u < U; ++u) {
    for (int64_t j = 0; j < V; ++j) c[static_cast<size_t>(j)] = p[j * U + u];
    for (int64_t j = 0; j < V; ++j) rev[static_cast<size_t>(j)] = c[static_cast<size_t>(V - 1 - j)];
    s.v_corr[static_cast<size_t>(u)] = pearson(c.data(), absang.data(), V);
    s.reflection_corr[static_cast<size_t>(u)] = pearson(c.data(), rev.data(), V);
  }
  return s;
}

int64_t select_unit_5c(const UnitCurveStats& s) {
  int64_t best = -1;
  for (size_t u = 0; u < s.v_corr.size(); ++u) {
    if (!(s.v_corr[u] > 0) || std::isnan(s.reflection_corr[u])) continue;
    if (best < 0 || s.reflection_corr[u] > s.reflection_corr[static_cast<size_t>(best)]) best = static_cast<int64_t>(u);
  }
  return best;
}

std::vector<int64_t> select_units_5d(const UnitCurveStats& s, double percentile) {
  ML_CHECK(percentile >= 0 && percentile < 100, "rise: percentile must be in [0, 100), got ", percentile);
  std::vector<int64_t> cand;
  std::vector<double> refl;
  for (size_t u = 0; u < s.v_corr.size(); ++u)
    if (s.v_corr[u] > 0 && !std::isnan(s.reflection_corr[u])) {
      cand.push_back(static_cast<int64_t>(u));
      refl.push_back(s.reflection_corr[u]);
    }
  if (cand.empty()) return {};
  // numpy's default (linear) percentile of the candidates' reflection correlations.
  std::vector<double> sorted = refl;
  std::sort(sorted.begin(), sorted.end());
  const double pos = percentile / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double thr = sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
  std::vector<int64_t> out;
  for (size_t k = 0; k < cand.size(); ++k)
    if (refl[k] > thr) out.push_back(cand[k]);
  return out;
}

}  // namespace ml::analysis
