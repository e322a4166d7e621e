// experiments/analysis/v1_simulate.cpp — see the header.
#include "experiments/analysis/v1_simulate.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/generator.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "experiments/analysis/v1_metrics.h"

namespace ml::analysis {

namespace {
constexpr double kPi = std::numbers::pi;
constexpr double kWavelength = 6.0, kEnvelope = 1.8;
constexpr int64_t kWin = 9;

double normal01(Generator& g) {
  const double u1 = std::max(g.next_uniform(), 1e-300), u2 = g.next_uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
}

int64_t poisson(Generator& g, double lambda) {
  // Knuth's product of uniforms; lambda here is at most ~A softplus(1.5 z - 1) < 100.
  if (lambda <= 0) return 0;
  if (lambda > 60) return std::max<int64_t>(0, std::llround(lambda + std::sqrt(lambda) * normal01(g)));
  const double L = std::exp(-lambda);
  int64_t k = 0;
  double p = 1.0;
  do {
    ++k;
    p *= g.next_uniform();
  } while (p > L);
  return k - 1;
}

void dead_leaves(float* out, int64_t H, int64_t W, Generator& g) {
  const int64_t FH = 2 * H, FW = 2 * W;  // drawn at 2x
  std::vector<float> fine(static_cast<size_t>(FH * FW), -1.f);
  int64_t uncovered = FH * FW;
  const double rmin = 0.5, rmax = std::max<double>(H, W) / 2.0;
  const double a = 1.0 / (rmin * rmin), b = 1.0 / (rmax * rmax);
  for (int64_t disc = 0; disc < 2000000 && uncovered > 0; ++disc) {
    // Radius density ∝ r^-3 on [rmin, rmax] by inversion of its CDF, in output pixels.
    const double r = 1.0 / std::sqrt(a - g.next_uniform() * (a - b));
    const double R = 2.0 * r;  // fine pixels
    const double cx = -R + g.next_uniform() * (FW + 2 * R), cy = -R + g.next_uniform() * (FH + 2 * R);
    const float grey = static_cast<float>(g.next_uniform());
    const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cy - R))),
                  y1 = std::min<int64_t>(FH - 1, static_cast<int64_t>(std::ceil(cy + R)));
    const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cx - R))),
                  x1 = std::min<int64_t>(FW - 1, static_cast<int64_t>(std::ceil(cx + R)));
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) {
        const double dy = y + 0.5 - cy, dx = x + 0.5 - cx;
        float& p = fine[static_cast<size_t>(y * FW + x)];
        // Dead leaves: a later disc lies under the earlier ones, so it fills only uncovered pixels.
        if (p < 0.f && dx * dx + dy * dy <= R * R) p = grey, --uncovered;
      }
  }
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      double s = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) s += std::max(0.f, fine[static_cast<size_t>((2 * y + dy) * FW + 2 * x + dx)]);
      out[y * W + x] = static_cast<float>(s / 4.0 + 0.02 * normal01(g));
    }
}

// 1/f noise: random phases, amplitude 1/|f|, summed separably; rescaled to mean 0.5 and the SD
// of uniform greys (0.289), plus the same pixel noise.
void pink_noise(float* out, int64_t H, int64_t W, Generator& g) {
  const int64_t KY = H / 2, KX = W / 2;
  std::vector<double> field(static_cast<size_t>(H * W), 0.0);
  std::vector<double> C(static_cast<size_t>(W)), S(static_cast<size_t>(W));
  for (int64_t ky = 0; ky <= KY; ++ky) {
    std::fill(C.begin(), C.end(), 0.0);
    std::fill(S.begin(), S.end(), 0.0);
    for (int64_t kx = -KX; kx <= KX; ++kx) {
      if (ky == 0 && kx <= 0) continue;  // (0,0) is the mean; (0,-k) duplicates (0,k)
      const double f = std::sqrt(static_cast<double>(ky * ky) / (H * H) + static_cast<double>(kx * kx) / (W * W));
      const double amp = 1.0 / f, ph = 2 * kPi * g.next_uniform();
      const double P = amp * std::cos(ph), Q = amp * std::sin(ph);
      for (int64_t x = 0; x < W; ++x) {
        const double v = 2 * kPi * static_cast<double>(kx * x) / static_cast<double>(W);
        C[static_cast<size_t>(x)] += P * std::cos(v) - Q * std::sin(v);
        S[static_cast<size_t>(x)] += P * std::sin(v) + Q * std::cos(v);
      }
    }
    for (int64_t y = 0; y < H; ++y) {
      const double u = 2 * kPi * static_cast<double>(ky * y) / static_cast<double>(H);
      const double cu = std::cos(u), su = std::sin(u);
      for (int64_t x = 0; x < W; ++x) field[static_cast<size_t>(y * W + x)] += cu * C[static_cast<size_t>(x)] - su * S[static_cast<size_t>(x)];
    }
  }
  double m = 0, ss = 0;
  for (double v : field) m += v;
  m /= static_cast<double>(field.size());
  for (double v : field) ss += (v - m) * (v - m);
  const double sd = std::sqrt(ss / static_cast<double>(field.size()));
  for (int64_t i = 0; i < H * W; ++i)
    out[i] = static_cast<float>(0.5 + 0.2887 * (field[static_cast<size_t>(i)] - m) / sd + 0.02 * normal01(g));
}

// fn(dx, dy) on the 9x9 window whose top-left pixel is (r0, c0), at the exact offsets from
// (cy, cx); then zero mean and unit norm.
std::vector<double> make_window(double cx, double cy, int64_t r0, int64_t c0, auto fn) {
  std::vector<double> w(static_cast<size_t>(kWin * kWin));
  double m = 0;
  for (int64_t i = 0; i < kWin; ++i)
    for (int64_t j = 0; j < kWin; ++j) {
      const double dy = static_cast<double>(r0 + i) - cy, dx = static_cast<double>(c0 + j) - cx;
      m += (w[static_cast<size_t>(i * kWin + j)] = fn(dx, dy));
    }
  m /= static_cast<double>(w.size());
  double ss = 0;
  for (auto& v : w) v -= m, ss += v * v;
  for (auto& v : w) v /= std::sqrt(std::max(ss, 1e-300));
  return w;
}
}  // namespace

V1SimPreset v1_sim_preset(const std::string& name) {
  V1SimPreset p;
  p.name = name;
  if (name == "ci") return p;
  if (name == "small") {
    p.height = p.width = 32;
    p.neurons = 400;
    p.types = {1, 2, 3, 4, 5};
    p.train = 4000, p.val = 500, p.test = 200;
    return p;
  }
  if (name == "paper") {
    p.height = 36, p.width = 64;
    p.neurons = 1000;
    p.types = {1, 2, 3, 4, 5};
    p.train = 5000, p.val = 500, p.test = 200;
    return p;
  }
  throw Error(detail::cat("v1_sim_preset: unknown preset '", name, "' (ci, small, paper)"));
}

Tensor render_v1_images(int64_t n, int64_t height, int64_t width, double noise_fraction, uint64_t seed) {
  ML_CHECK(n >= 1 && height >= 4 && width >= 4, "render_v1_images: ", n, " images of ", height, "x", width);
  Tensor out = Tensor::empty({n, height, width});
  Generator g(seed);
  for (int64_t i = 0; i < n; ++i) {
    float* p = out.data() + i * height * width;
    if (g.next_uniform() < noise_fraction)
      pink_noise(p, height, width, g);
    else
      dead_leaves(p, height, width, g);
  }
  return out;
}

V1Truth draw_v1_cells(const V1SimPreset& p, uint64_t seed) {
  ML_CHECK(p.neurons >= 1 && !p.types.empty(), "draw_v1_cells: preset '", p.name, "' has no neurons or types");
  for (int t : p.types) ML_CHECK(t >= 1 && t <= 5, "draw_v1_cells: cell type ", t, " is not in 1..5");
  Generator g(seed);
  V1Truth t;
  for (int64_t n = 0; n < p.neurons; ++n) {
    t.type.push_back(p.types[static_cast<size_t>(n) % p.types.size()]);
    t.cx.push_back(static_cast<float>(p.width / 4.0 + g.next_uniform() * p.width / 2.0));
    t.cy.push_back(static_cast<float>(p.height / 4.0 + g.next_uniform() * p.height / 2.0));
    t.theta.push_back(static_cast<float>(2 * kPi * g.next_uniform()));
    t.gain.push_back(static_cast<float>(std::exp(std::log(0.1) + g.next_uniform() * (std::log(4.0) - std::log(0.1)))));
  }
  return t;
}

V1CellBank::V1CellBank(const V1Truth& truth, int64_t height, int64_t width) : truth_(truth), H_(height), W_(width) {
  const double k = 2 * kPi / kWavelength, s2 = 2 * kEnvelope * kEnvelope;
  for (size_t n = 0; n < truth.type.size(); ++n) {
    const double th = truth.theta[n], ct = std::cos(th), st = std::sin(th);
    auto gabor_pair = [&](double cx, double cy) {
      const int64_t r0 = std::lround(cy) - kWin / 2, c0 = std::lround(cx) - kWin / 2;
      auto even = make_window(cx, cy, r0, c0, [&](double dx, double dy) {
        return std::exp(-(dx * dx + dy * dy) / s2) * std::cos(k * (dx * ct + dy * st));
      });
      auto odd = make_window(cx, cy, r0, c0, [&](double dx, double dy) {
        return std::exp(-(dx * dx + dy * dy) / s2) * std::sin(k * (dx * ct + dy * st));
      });
      return std::vector<Window>{{r0, c0, even}, {r0, c0, odd}};
    };
    const double cx = truth.cx[n], cy = truth.cy[n];
    std::vector<Window> f;
    switch (truth.type[n]) {
      case 1: f = {gabor_pair(cx, cy)[0]}; break;
      case 2: f = {gabor_pair(cx, cy)[1]}; break;
      case 3: f = gabor_pair(cx, cy); break;
      case 4: {
        const int64_t r0 = std::lround(cy) - kWin / 2, c0 = std::lround(cx) - kWin / 2;
        f = {{r0, c0, make_window(cx, cy, r0, c0, [](double dx, double dy) {
                const double d2 = dx * dx + dy * dy;
                const double c = std::exp(-d2 / (2 * 1.2 * 1.2)) / (2 * kPi * 1.2 * 1.2);
                const double s = std::exp(-d2 / (2 * 3.0 * 3.0)) / (2 * kPi * 3.0 * 3.0);
                return c - 0.8 * s;
              })}};
        break;
      }
      case 5: {
        // Along the bar = perpendicular to the carrier direction.
        const double ox = -st * 1.5 * kWavelength, oy = ct * 1.5 * kWavelength;
        f = gabor_pair(cx, cy);
        for (auto& w : gabor_pair(cx + ox, cy + oy)) f.push_back(w);
        for (auto& w : gabor_pair(cx - ox, cy - oy)) f.push_back(w);
        break;
      }
      default: throw Error(detail::cat("V1CellBank: neuron ", n, " has type ", truth.type[n], ", not 1..5"));
    }
    filters_.push_back(std::move(f));
  }
}

double V1CellBank::apply(const Window& w, const float* img) const {
  double s = 0;
  for (int64_t i = 0; i < kWin; ++i) {
    const int64_t r = w.r0 + i;
    if (r < 0 || r >= H_) continue;  // zero outside the image
    for (int64_t j = 0; j < kWin; ++j) {
      const int64_t c = w.c0 + j;
      if (c < 0 || c >= W_) continue;
      s += w.w[static_cast<size_t>(i * kWin + j)] * img[r * W_ + c];
    }
  }
  return s;
}

std::vector<double> V1CellBank::drives(const Tensor& images) const {
  ML_CHECK(images.dim() == 3 && images.size(1) == H_ && images.size(2) == W_, "V1CellBank::drives: images ",
           images.str(), " must be (n, ", H_, ", ", W_, ")");
  const int64_t n = images.size(0), N = neurons();
  std::vector<double> d(static_cast<size_t>(n * N));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* img = images.data() + i * H_ * W_;
    for (int64_t j = 0; j < N; ++j) {
      const auto& f = filters_[static_cast<size_t>(j)];
      double v = 0;
      switch (truth_.type[static_cast<size_t>(j)]) {
        case 1: case 2: case 4: v = apply(f[0], img); break;
        case 3: {
          const double e = apply(f[0], img), o = apply(f[1], img);
          v = e * e + o * o;
          break;
        }
        case 5: {
          double en[3];
          for (int k = 0; k < 3; ++k) {
            const double e = apply(f[2 * k], img), o = apply(f[2 * k + 1], img);
            en[k] = e * e + o * o;
          }
          v = en[0] - 0.7 * 0.5 * (en[1] + en[2]);  // 0.7 x the flanks' mean (see the header)
          break;
        }
        default: break;
      }
      d[static_cast<size_t>(i * N + j)] = v;
    }
  }
  return d;
}

V1Simulation simulate_v1(const V1SimPreset& p, uint64_t seed, bool progress) {
  ML_CHECK(p.train >= 2 && p.val >= 2 && p.test >= 2 && p.repeats >= 2 && p.reference_images >= 2,
           "simulate_v1: preset '", p.name, "' needs >= 2 train/val/test images, repeats and reference images");
  V1Simulation s;
  s.preset = p;
  s.seed = seed;
  s.truth = draw_v1_cells(p, seed * 7 + 1);
  const V1CellBank bank(s.truth, p.height, p.width);
  const int64_t N = p.neurons;
  if (progress) std::fprintf(stderr, "simulate_v1: %lld reference images\n", static_cast<long long>(p.reference_images));
  // Standardisation of each cell's drive over the reference images (their own seed stream).
  const auto ref = bank.drives(render_v1_images(p.reference_images, p.height, p.width, p.noise_fraction, seed * 7 + 2));
  std::vector<double> mu(static_cast<size_t>(N), 0.0), sd(static_cast<size_t>(N), 0.0);
  for (int64_t i = 0; i < p.reference_images; ++i)
    for (int64_t j = 0; j < N; ++j) mu[static_cast<size_t>(j)] += ref[static_cast<size_t>(i * N + j)];
  for (auto& m : mu) m /= static_cast<double>(p.reference_images);
  for (int64_t i = 0; i < p.reference_images; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double d = ref[static_cast<size_t>(i * N + j)] - mu[static_cast<size_t>(j)];
      sd[static_cast<size_t>(j)] += d * d;
    }
  for (auto& v : sd) v = std::sqrt(std::max(v / static_cast<double>(p.reference_images), 1e-24));
  Generator spikes(seed * 7 + 3);
  auto rates = [&](const Tensor& images) {
    const auto d = bank.drives(images);
    const int64_t n = images.size(0);
    std::vector<float> lam(static_cast<size_t>(n * N));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const double z = (d[static_cast<size_t>(i * N + j)] - mu[static_cast<size_t>(j)]) / sd[static_cast<size_t>(j)];
        const double u = 1.5 * z - 1.0, sp = u > 30 ? u : std::log1p(std::exp(u));
        lam[static_cast<size_t>(i * N + j)] = static_cast<float>(s.truth.gain[static_cast<size_t>(j)] * sp);
      }
    return Tensor::from_vector({n, N}, lam);
  };
  auto counts = [&](const Tensor& lam, int64_t repeats) {
    const auto lv = lam.to_vector();
    std::vector<float> c(lv.size() * static_cast<size_t>(repeats));
    for (int64_t r = 0; r < repeats; ++r)
      for (size_t k = 0; k < lv.size(); ++k) c[static_cast<size_t>(r) * lv.size() + k] = static_cast<float>(poisson(spikes, lv[k]));
    return c;
  };
  if (progress) std::fprintf(stderr, "simulate_v1: %lld + %lld + %lld images\n", static_cast<long long>(p.train),
                             static_cast<long long>(p.val), static_cast<long long>(p.test));
  s.images_train = render_v1_images(p.train, p.height, p.width, p.noise_fraction, seed * 7 + 4);
  s.images_val = render_v1_images(p.val, p.height, p.width, p.noise_fraction, seed * 7 + 5);
  s.images_test = render_v1_images(p.test, p.height, p.width, p.noise_fraction, seed * 7 + 6);
  s.rates_train = rates(s.images_train);
  s.rates_val = rates(s.images_val);
  s.rates_test = rates(s.images_test);
  s.responses_train = Tensor::from_vector({p.train, N}, counts(s.rates_train, 1));
  s.responses_val = Tensor::from_vector({p.val, N}, counts(s.rates_val, 1));
  s.responses_test = Tensor::from_vector({p.repeats, p.test, N}, counts(s.rates_test, p.repeats));
  return s;
}

void write_v1_simulation(const V1Simulation& s, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const fs::path root(dir);
  nlohmann::json files;
  auto put = [&](const std::string& key, const Tensor& t) {
    save_npy((root / (key + ".npy")).string(), t);
    files[key] = key + ".npy";
  };
  put("images_train", s.images_train);
  put("images_val", s.images_val);
  put("images_test", s.images_test);
  put("responses_train", s.responses_train);
  put("responses_val", s.responses_val);
  put("responses_test", s.responses_test);
  put("rates_train", s.rates_train);
  put("rates_val", s.rates_val);
  put("rates_test", s.rates_test);
  const int64_t N = static_cast<int64_t>(s.truth.type.size());
  put("truth_type", Tensor::from_vector_i32({N}, s.truth.type));
  put("truth_theta", Tensor::from_vector({N}, s.truth.theta));
  put("truth_cx", Tensor::from_vector({N}, s.truth.cx));
  put("truth_cy", Tensor::from_vector({N}, s.truth.cy));
  put("truth_gain", Tensor::from_vector({N}, s.truth.gain));
  const auto& p = s.preset;
  nlohmann::json m = {{"format", "mirrorlab-v1/1"},
                      {"source", "simulate_v1"},
                      {"preset", p.name},
                      {"seed", s.seed},
                      {"height", p.height},
                      {"width", p.width},
                      {"neurons", N},
                      {"types", p.types},
                      {"train", p.train},
                      {"val", p.val},
                      {"test", p.test},
                      {"repeats", p.repeats},
                      {"reference_images", p.reference_images},
                      {"theta_convention",
                       "carrier along (cos theta, sin theta) in (column, row) pixels; clockwise on a row-down display"},
                      {"files", files}};
  write_text_atomic((root / "manifest.json").string(), m.dump(1));
}

std::vector<double> drive_correlation_with_type(const V1Truth& truth, const Tensor& images, int other) {
  ML_CHECK(images.dim() == 3 && images.size(0) >= 2, "drive_correlation_with_type: images ", images.str(),
           " must be (n >= 2, H, W)");
  ML_CHECK(other >= 1 && other <= 5, "drive_correlation_with_type: cell type ", other, " is not in 1..5");
  V1Truth alt = truth;
  std::fill(alt.type.begin(), alt.type.end(), other);
  const int64_t H = images.size(1), W = images.size(2), n = images.size(0);
  const auto a = V1CellBank(truth, H, W).drives(images), b = V1CellBank(alt, H, W).drives(images);
  // A plain correlation: only an exactly constant drive scores 0 (drives are not the paper's
  // predictions, so its 1e-5 SD floor does not apply).
  return per_neuron_correlation(a, b, n, static_cast<int64_t>(truth.type.size()), 0.0);
}

std::vector<double> analytic_fev(const Tensor& rates_test, int64_t repeats) {
  ML_CHECK(rates_test.dim() == 2 && rates_test.size(0) >= 2 && repeats >= 1, "analytic_fev: rates ", rates_test.str(),
           " must be (t >= 2, N)");
  const int64_t t = rates_test.size(0), N = rates_test.size(1);
  const float* r = rates_test.data();
  std::vector<double> fev(static_cast<size_t>(N));
  for (int64_t j = 0; j < N; ++j) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < t; ++i) m += r[i * N + j];
    m /= static_cast<double>(t);
    for (int64_t i = 0; i < t; ++i) v += (r[i * N + j] - m) * (r[i * N + j] - m);
    v /= static_cast<double>(t);
    fev[static_cast<size_t>(j)] = v / (v + m / static_cast<double>(repeats));
  }
  return fev;
}

}  // namespace ml::analysis
