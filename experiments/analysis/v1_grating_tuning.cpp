// experiments/analysis/v1_grating_tuning.cpp — see the header.
#include "experiments/analysis/v1_grating_tuning.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>

#include "engine/error.h"

namespace ml::analysis {

namespace {
constexpr double kPi = std::numbers::pi;
}

std::vector<float> v1_gratings(int64_t O, int64_t P, int64_t H, int64_t W, double wavelength) {
  ML_CHECK(O >= 1 && P >= 1 && H >= 1 && W >= 1, "v1_gratings: ", O, " orientations x ", P, " phases on ", H, " x ",
           W, " px");
  ML_CHECK(wavelength > 0 && std::isfinite(wavelength), "v1_gratings: wavelength ", wavelength, " px");
  std::vector<float> g(static_cast<size_t>(O * P * H * W));
  const double k = 2 * kPi / wavelength;
  for (int64_t o = 0; o < O; ++o)
    for (int64_t p = 0; p < P; ++p) {
      const double th = kPi * static_cast<double>(o) / static_cast<double>(O);
      const double ph = 2 * kPi * static_cast<double>(p) / static_cast<double>(P);
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          g[static_cast<size_t>(((o * P + p) * H + y) * W + x)] = static_cast<float>(
              0.5 + 0.35 * std::cos(k * (static_cast<double>(x) * std::cos(th) + static_cast<double>(y) * std::sin(th)) + ph));
    }
  return g;
}

std::vector<std::pair<double, double>> peak_window_centroid(const std::vector<double>& energy, int64_t N, int64_t H,
                                                            int64_t W, int64_t window) {
  ML_CHECK(N >= 1 && H >= 1 && W >= 1, "peak_window_centroid: ", N, " maps of ", H, " x ", W, " px");
  ML_CHECK(static_cast<int64_t>(energy.size()) == N * H * W, "peak_window_centroid: ", energy.size(),
           " values are not ", N, " maps of ", H, " x ", W, " px");
  ML_CHECK(window >= 1 && window % 2 == 1, "peak_window_centroid: window ", window, " is not an odd number >= 1");
  const int64_t half = window / 2;
  std::vector<std::pair<double, double>> c(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    const double* a = energy.data() + n * H * W;
    int64_t pk = 0;
    for (int64_t p = 1; p < H * W; ++p)
      if (a[p] > a[pk]) pk = p;
    double sw = 0, sr = 0, sc = 0;
    for (int64_t r = std::max<int64_t>(0, pk / W - half); r <= std::min(H - 1, pk / W + half); ++r)
      for (int64_t col = std::max<int64_t>(0, pk % W - half); col <= std::min(W - 1, pk % W + half); ++col)
        sw += a[r * W + col], sr += a[r * W + col] * static_cast<double>(r), sc += a[r * W + col] * static_cast<double>(col);
    c[static_cast<size_t>(n)] = sw > 0 ? std::make_pair(sr / sw, sc / sw)
                                       : std::make_pair(static_cast<double>(pk / W), static_cast<double>(pk % W));
  }
  return c;
}

std::vector<double> grating_phases_at_centre(const std::vector<double>& resp, int64_t N, int64_t O, int64_t P,
                                             const std::vector<std::pair<double, double>>& centre, double wavelength) {
  ML_CHECK(N >= 1 && O >= 1 && P >= 4 && P % 2 == 0, "grating_phases_at_centre: ", N, " neurons, ", O,
           " orientations, ", P, " phases (P must be even and >= 4)");
  ML_CHECK(static_cast<int64_t>(resp.size()) == O * P * N, "grating_phases_at_centre: ", resp.size(),
           " responses are not ", O, " x ", P, " gratings x ", N, " neurons");
  ML_CHECK(static_cast<int64_t>(centre.size()) == N, "grating_phases_at_centre: ", centre.size(), " centres for ", N,
           " neurons");
  ML_CHECK(wavelength > 0 && std::isfinite(wavelength), "grating_phases_at_centre: wavelength ", wavelength, " px");
  const double k = 2 * kPi / wavelength;
  std::vector<double> out(static_cast<size_t>(N * O * P));
  std::vector<std::complex<double>> c(static_cast<size_t>(P / 2 + 1));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      // Harmonics of the response over the absolute phase phi_p.
      for (int64_t h = 0; h <= P / 2; ++h) {
        std::complex<double> s = 0;
        for (int64_t p = 0; p < P; ++p)
          s += resp[static_cast<size_t>((o * P + p) * N + n)] *
               std::polar(1.0, -2 * kPi * static_cast<double>(h * p) / static_cast<double>(P));
        c[static_cast<size_t>(h)] = s / static_cast<double>(P);
      }
      const double th = kPi * static_cast<double>(o) / static_cast<double>(O);
      const double delta = k * (centre[static_cast<size_t>(n)].second * std::cos(th) + centre[static_cast<size_t>(n)].first * std::sin(th));
      for (int64_t q = 0; q < P; ++q) {
        const double phi = 2 * kPi * static_cast<double>(q) / static_cast<double>(P) - delta;  // absolute phase
        double v = c[0].real();
        for (int64_t h = 1; h < P / 2; ++h) v += 2 * (c[static_cast<size_t>(h)] * std::polar(1.0, static_cast<double>(h) * phi)).real();
        v += c[static_cast<size_t>(P / 2)].real() * std::cos(static_cast<double>(P / 2) * phi);
        out[static_cast<size_t>((n * O + o) * P + q)] = v;
      }
    }
  return out;
}

AlignedTuning align_grating_tuning(const std::vector<double>& rel, int64_t N, int64_t O, int64_t P, bool reflect) {
  ML_CHECK(N >= 1 && O >= 1 && P >= 1 && static_cast<int64_t>(rel.size()) == N * O * P, "align_grating_tuning: ",
           rel.size(), " responses are not ", N, " neurons x ", O, " orientations x ", P, " phases");
  AlignedTuning a;
  const int64_t D = O * P;
  a.descriptor.assign(static_cast<size_t>(N * D), 0.0);
  a.peak.assign(static_cast<size_t>(N), 0);
  a.reflected.assign(static_cast<size_t>(N), 0);
  a.preferred_phase.assign(static_cast<size_t>(N), 0.0);
  a.max_over_min.assign(static_cast<size_t>(N), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    auto at = [&](int64_t o, int64_t q) { return rel[static_cast<size_t>((n * O + o) * P + q)]; };
    std::vector<double> f0(static_cast<size_t>(O), 0.0);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t q = 0; q < P; ++q) f0[static_cast<size_t>(o)] += at(o, q) / static_cast<double>(P);
    const int64_t pk = std::max_element(f0.begin(), f0.end()) - f0.begin();
    const double lo = *std::min_element(f0.begin(), f0.end()), hi = f0[static_cast<size_t>(pk)];
    a.max_over_min[static_cast<size_t>(n)] = lo > 0 ? hi / lo : std::numeric_limits<double>::infinity();
    std::complex<double> z1 = 0;
    for (int64_t q = 0; q < P; ++q) z1 += at(pk, q) * std::polar(1.0, 2 * kPi * static_cast<double>(q) / static_cast<double>(P));
    const bool refl = reflect && z1.imag() < 0;
    a.peak[static_cast<size_t>(n)] = static_cast<int>(pk);
    a.reflected[static_cast<size_t>(n)] = refl ? 1 : 0;
    a.preferred_phase[static_cast<size_t>(n)] = refl ? -std::arg(z1) : std::arg(z1);
    double* d = a.descriptor.data() + n * D;
    double mean = 0;
    for (int64_t o = 0; o < O; ++o)
      for (int64_t q = 0; q < P; ++q) {
        const double v = at((o + pk) % O, refl ? (P - q) % P : q);
        d[o * P + q] = v;
        mean += v / static_cast<double>(D);
      }
    double norm = 0;
    for (int64_t j = 0; j < D; ++j) d[j] -= mean, norm += d[j] * d[j];
    norm = std::sqrt(std::max(norm, 1e-300));
    for (int64_t j = 0; j < D; ++j) d[j] /= norm;
  }
  return a;
}

std::vector<double> cell_grating_rates(const V1Truth& truth, int64_t H, int64_t W, const Tensor& reference, int64_t O,
                                       int64_t P) {
  ML_CHECK(reference.dim() == 3 && reference.size(0) >= 2 && reference.size(1) == H && reference.size(2) == W,
           "cell_grating_rates: reference images ", reference.str(), " must be (n >= 2, ", H, ", ", W, ")");
  const V1CellBank bank(truth, H, W);
  const int64_t N = bank.neurons(), n = reference.size(0);
  const auto ref = bank.drives(reference);
  std::vector<double> mu(static_cast<size_t>(N), 0.0), sd(static_cast<size_t>(N), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < N; ++j) mu[static_cast<size_t>(j)] += ref[static_cast<size_t>(i * N + j)] / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double e = ref[static_cast<size_t>(i * N + j)] - mu[static_cast<size_t>(j)];
      sd[static_cast<size_t>(j)] += e * e / static_cast<double>(n);
    }
  for (auto& v : sd) v = std::sqrt(std::max(v, 1e-24));
  auto d = bank.drives(Tensor::from_vector({O * P, H, W}, v1_gratings(O, P, H, W, 6.0)));
  for (int64_t i = 0; i < O * P; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double& v = d[static_cast<size_t>(i * N + j)];
      const double u = 1.5 * (v - mu[static_cast<size_t>(j)]) / sd[static_cast<size_t>(j)] - 1.0;
      v = truth.gain[static_cast<size_t>(j)] * (u > 30 ? u : std::log1p(std::exp(u)));
    }
  return d;
}

}  // namespace ml::analysis
