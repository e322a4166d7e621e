#include "engine/data/composite.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/generator.h"

namespace ml {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

void composite_item(float* out, int64_t S, const uint8_t* item, int64_t ih, int64_t iw, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double R = S / 2.0;
  // Background: a grating, or 16 gratings with 1/f amplitudes.
  const bool grating = u(rng) < 0.5;
  const int nc = grating ? 1 : 16;
  std::vector<double> fx(nc), fy(nc), ph(nc), amp(nc);
  double asum = 0;
  for (int k = 0; k < nc; ++k) {
    const double f = grating ? 1.0 + 5.0 * u(rng) : std::exp(std::log(1.0) + u(rng) * std::log(12.0));
    const double o = u(rng) * kPi;
    fx[k] = f * std::cos(o) / S, fy[k] = f * std::sin(o) / S, ph[k] = 2 * kPi * u(rng), amp[k] = 1.0 / f;
    asum += amp[k];
  }
  const double contrast = 0.15 + 0.2 * u(rng);
  // Item: size 0.35..0.7 S, centre uniform in a disc of radius 0.35 R.
  const double size = (0.35 + 0.35 * u(rng)) * S;
  const double rr = 0.35 * R * std::sqrt(u(rng)), ra = 2 * kPi * u(rng);
  const double cx = R + rr * std::cos(ra), cy = R + rr * std::sin(ra);
  for (int64_t y = 0; y < S; ++y)
    for (int64_t x = 0; x < S; ++x) {
      double bg = 0;
      for (int k = 0; k < nc; ++k) bg += amp[k] * std::sin(2 * kPi * (fx[k] * x + fy[k] * y) + ph[k]);
      double v = 0.5 + contrast * bg / asum;
      // Bilinear sample of the item at this pixel.
      const double sx = (x + 0.5 - (cx - size / 2)) / size * iw - 0.5, sy = (y + 0.5 - (cy - size / 2)) / size * ih - 0.5;
      if (sx > -1 && sy > -1 && sx < iw && sy < ih) {
        const int64_t x0 = static_cast<int64_t>(std::floor(sx)), y0 = static_cast<int64_t>(std::floor(sy));
        const double ax = sx - x0, ay = sy - y0;
        auto at = [&](int64_t yy, int64_t xx) {
          return (yy < 0 || xx < 0 || yy >= ih || xx >= iw) ? 0.0 : item[yy * iw + xx] / 255.0;
        };
        const double a = (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1)) +
                         ay * ((1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1));
        v = (1 - a) * v + a * (0.1 + 0.9 * a);
      }
      // Aperture with a one-pixel soft edge.
      const double r = std::hypot(x + 0.5 - R, y + 0.5 - R);
      const double w = std::clamp(R - 0.5 - r, 0.0, 1.0);
      out[y * S + x] = static_cast<float>(0.5 + w * (v - 0.5));
    }
}

Dataset with_composites(const Dataset& items, const Dataset& canvas, double share, uint64_t seed) {
  ML_CHECK(share >= 0.0 && share <= 1.0, "with_composites: share must be in [0, 1], got ", share);
  validate(items);
  validate(canvas);
  ML_CHECK(items.channels() == 1 && canvas.channels() == 1, "with_composites: ", items.name, " and ", canvas.name,
           " must be one-channel sets, got ", items.channels(), " and ", canvas.channels(), " channels");
  ML_CHECK(items.size() == canvas.size(), "with_composites: ", items.name, " has ", items.size(), " images, ",
           canvas.name, " ", canvas.size());
  ML_CHECK(canvas.height() == canvas.width(), "with_composites: ", canvas.name, " must be square, got ",
           canvas.height(), " x ", canvas.width());
  const int64_t N = items.size(), ih = items.height(), iw = items.width(), S = canvas.height();
  const int32_t *la = items.labels.data_i32(), *lb = canvas.labels.data_i32();
  ML_CHECK(std::equal(la, la + N, lb), "with_composites: ", items.name, " and ", canvas.name, " have different labels");
  if (share == 0.0) return canvas;
  Dataset out = canvas;
  out.pixels = canvas.pixels.clone();
  out.name = canvas.name + "-composites";
  // Coins first, from one stream; then each composite from its own (seed, index) stream, so the
  // set does not depend on the thread count.
  std::mt19937_64 coins(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<uint8_t> chosen(static_cast<size_t>(N));
  for (auto& c : chosen) c = u(coins) < share;
  const uint8_t* src = items.pixels.data_u8();
  uint8_t* dst = out.pixels.data_u8();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    if (!chosen[static_cast<size_t>(i)]) continue;
    std::mt19937_64 rng(stream_seed(seed, static_cast<uint64_t>(i)));
    std::vector<float> img(static_cast<size_t>(S * S));
    composite_item(img.data(), S, src + i * ih * iw, ih, iw, rng);
    for (int64_t k = 0; k < S * S; ++k)
      dst[i * S * S + k] = static_cast<uint8_t>(std::lround(std::clamp(img[static_cast<size_t>(k)], 0.f, 1.f) * 255.f));
  }
  return out;
}

}  // namespace ml
