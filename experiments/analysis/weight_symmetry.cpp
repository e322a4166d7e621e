#include "experiments/analysis/weight_symmetry.h"

#include <cmath>

#include "engine/error.h"

namespace ml::analysis {

double filter_symmetry(const float* w, int64_t C, int64_t kh, int64_t kw, bool rows) {
  ML_CHECK(C >= 1 && kh >= 2 && kw >= 2, "filter_symmetry: filter ", C, " x ", kh, " x ", kw, " needs a kernel of >= 2 x 2");
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, n = 0;
  const int64_t half = rows ? kh / 2 : kw / 2;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < (rows ? half : kh); ++y)
      for (int64_t x = 0; x < (rows ? kw : half); ++x) {
        const double a = w[(c * kh + y) * kw + x];
        const double b = rows ? w[(c * kh + (kh - 1 - y)) * kw + x] : w[(c * kh + y) * kw + (kw - 1 - x)];
        sa += a;
        sb += b;
        saa += a * a;
        sbb += b * b;
        sab += a * b;
        n += 1;
      }
  const double va = saa - sa * sa / n, vb = sbb - sb * sb / n;
  if (!(va > 0) || !(vb > 0)) return std::nan("");
  return (sab - sa * sb / n) / std::sqrt(va * vb);
}

std::vector<LayerWeightSymmetry> weight_symmetry(const nn::NamedTensors& params) {
  std::vector<LayerWeightSymmetry> out;
  int64_t last_channels = 0;
  for (const auto& [name, t] : params) {
    if (name.size() < 7 || name.substr(name.size() - 7) != ".weight") continue;
    LayerWeightSymmetry l;
    l.parameter = name;
    if (t.dim() == 4 && t.size(2) >= 2 && t.size(3) >= 2) {
      l.filters = t.size(0);
      l.C = t.size(1);
      l.kh = t.size(2);
      l.kw = t.size(3);
      last_channels = t.size(0);
    } else if (t.dim() == 2 && last_channels > 0 && t.size(1) % last_channels == 0) {
      const int64_t area = t.size(1) / last_channels;
      const auto s = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(area))));
      last_channels = 0;  // only the first fc after the convolutions reads a map
      if (s < 2 || s * s != area) continue;
      l.filters = t.size(0);
      l.C = t.size(1) / area;
      l.kh = l.kw = s;
    } else {
      continue;
    }
    const Tensor w = t.to(Device::CPU);
    const int64_t per = l.C * l.kh * l.kw;
    for (int64_t f = 0; f < l.filters; ++f) {
      const double c = filter_symmetry(w.data() + f * per, l.C, l.kh, l.kw, false);
      const double r = filter_symmetry(w.data() + f * per, l.C, l.kh, l.kw, true);
      if (std::isfinite(c)) l.columns.push_back(c);
      if (std::isfinite(r)) l.rows.push_back(r);
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace ml::analysis
