// tests/test_v1_grating_tuning.cpp — in-silico grating experiments as a cell-type descriptor
// (experiments/analysis/v1_grating_tuning.h): phases re-referenced to a neuron's centre, the
// alignment to the preferred grating (roll + 180-degree reflection), and what it recovers on the
// simulated cells, whose filters are known.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "experiments/analysis/v1_grating_tuning.h"
#include "experiments/analysis/v1_metrics.h"
#include "experiments/analysis/v1_simulate.h"
#include "experiments/analysis/v1_study.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;

namespace {
constexpr double kPi = std::numbers::pi;
constexpr int64_t kO = 36, kP = 8;

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Folded angular distance in degrees, period `period` degrees.
double ang_err(double a_deg, double b_deg, double period) {
  double e = std::fmod(std::fabs(a_deg - b_deg), period);
  return std::min(e, period - e);
}
}  // namespace

TEST_CASE("v1 grating tuning: phases at a neuron's centre by trigonometric interpolation") {
  // A neuron at centre (row 7.3, col 11.6) whose response is 1 + cos(psi - psi0) in the phase psi
  // of the grating AT ITS CENTRE, psi0 = 1.1 rad, at every orientation: a band-limited response,
  // so the re-referenced samples must be exact (to rounding).
  const double cy = 7.3, cx = 11.6, psi0 = 1.1, k = 2 * kPi / 6.0;
  std::vector<double> resp(static_cast<size_t>(kO * kP));
  for (int64_t o = 0; o < kO; ++o)
    for (int64_t p = 0; p < kP; ++p) {
      const double th = kPi * static_cast<double>(o) / kO, phi = 2 * kPi * static_cast<double>(p) / kP;
      const double psi = phi + k * (cx * std::cos(th) + cy * std::sin(th));  // phase at the centre
      resp[static_cast<size_t>(o * kP + p)] = 1 + std::cos(psi - psi0);
    }
  const auto rel = grating_phases_at_centre(resp, 1, kO, kP, {{cy, cx}}, 6.0);
  double worst = 0;
  for (int64_t o = 0; o < kO; ++o)
    for (int64_t q = 0; q < kP; ++q)
      worst = std::max(worst, std::fabs(rel[static_cast<size_t>(o * kP + q)] -
                                        (1 + std::cos(2 * kPi * static_cast<double>(q) / kP - psi0))));
  CHECK(worst < 1e-12);
  // Aligned: flat in orientation (max/min 1), preferred phase psi0 (already in [0, pi]: no reflection).
  const AlignedTuning a = align_grating_tuning(rel, 1, kO, kP);
  CHECK(a.reflected[0] == 0);
  CHECK(std::fabs(a.preferred_phase[0] - psi0) < 1e-12);
  CHECK(std::fabs(a.max_over_min[0] - 1.0) < 1e-12);
  // The same neuron with -psi0 is its own 180-degree turn: reflected onto +psi0, equal descriptor.
  std::vector<double> rel2(rel.size());
  for (int64_t o = 0; o < kO; ++o)
    for (int64_t q = 0; q < kP; ++q)
      rel2[static_cast<size_t>(o * kP + q)] = 1 + std::cos(2 * kPi * static_cast<double>(q) / kP + psi0);
  const AlignedTuning b = align_grating_tuning(rel2, 1, kO, kP);
  CHECK(b.reflected[0] == 1);
  CHECK(std::fabs(b.preferred_phase[0] - psi0) < 1e-12);
  double diff = 0;
  for (size_t j = 0; j < a.descriptor.size(); ++j) diff = std::max(diff, std::fabs(a.descriptor[j] - b.descriptor[j]));
  CHECK(diff < 1e-12);
  // Bad input is named.
  CHECK_THROWS_WITH_AS(grating_phases_at_centre(resp, 1, kO, 7, {{cy, cx}}, 6.0), doctest::Contains("7 phases"), Error);
  CHECK_THROWS_WITH_AS(grating_phases_at_centre(resp, 2, kO, kP, {{cy, cx}, {cy, cx}}, 6.0),
                       doctest::Contains("288 responses"), Error);
}

TEST_CASE("v1 grating tuning: the simulated cells' aligned responses give their types, orientations and phases") {
  // The ci cells (128: T1-T4 cycled), their rates on the gratings (z over 600 training-like images),
  // phases at their true centres.
  const V1SimPreset p = v1_sim_preset("ci");
  const V1Truth t = draw_v1_cells(p, 3);
  const int64_t N = p.neurons;
  const Tensor ref = render_v1_images(600, p.height, p.width, p.noise_fraction, 17);
  const auto rates = cell_grating_rates(t, p.height, p.width, ref, kO, kP);
  std::vector<std::pair<double, double>> centre(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) centre[static_cast<size_t>(n)] = {t.cy[static_cast<size_t>(n)], t.cx[static_cast<size_t>(n)]};
  const auto rel = grating_phases_at_centre(rates, N, kO, kP, centre, 6.0);
  const AlignedTuning a = align_grating_tuning(rel, N, kO, kP);
  std::vector<double> flat[5], ori_err, phase[5];
  for (int64_t n = 0; n < N; ++n) {
    const int ty = t.type[static_cast<size_t>(n)];
    flat[ty].push_back(a.max_over_min[static_cast<size_t>(n)]);
    phase[ty].push_back(a.preferred_phase[static_cast<size_t>(n)] * 180 / kPi);
    if (ty != 4)
      ori_err.push_back(ang_err(180.0 * a.peak[static_cast<size_t>(n)] / kO, t.theta[static_cast<size_t>(n)] * 180 / kPi, 180));
  }
  // T4 (DoG) is nearly untuned: phase-averaged tuning max/min below check 4's 1.5, though not 1:
  // science file §6 makes every filter zero-mean over its 9 x 9 square window, and for the DoG
  // (surround weight 0.8, so not balanced) that subtracts a box whose spectrum is 4-fold
  // anisotropic; its drive amplitude to 6-px gratings then varies 1.33x with orientation (1.13x
  // without the zero-mean step; a NumPy re-implementation, seed 3: tuning max/min 1.35). The
  // oriented types are far from flat (measured 5.0, 4.6, 123 for T1-T3).
  CHECK(median_of(flat[4]) < 1.5);
  for (int ty : {1, 2, 3}) CHECK(median_of(flat[ty]) > 3.0);
  // The peak orientation is theta (mod 180) to the 5-degree grid and the filters' few-degree
  // anisotropy (the cells' grating preference, tests/test_v1.cpp: median 2.5, max 10.5).
  CHECK(median_of(ori_err) <= 5.0);
  // Canonical preferred phase at the centre: even cells (T1) and the on-centre DoG (T4) 0, odd
  // cells (T2) 90 degrees; T3 (energy) has no first harmonic to speak of. 20 degrees: the phase
  // at the centre moves 60 degrees per px, and the centres are exact here, so the spread is the
  // rectified response's harmonics only. A wrong sign of the re-referencing (psi = phi - k c.n)
  // scatters these over the circle with the neuron's position.
  CHECK(median_of(phase[1]) < 20.0);
  CHECK(median_of(phase[4]) < 20.0);
  CHECK(std::fabs(median_of(phase[2]) - 90.0) < 20.0);
  // k-means (4 clusters, 50 restarts) on the aligned descriptor recovers the types.
  std::vector<int> truth(t.type.begin(), t.type.end());
  const auto cl = kmeans(a.descriptor, N, kO * kP, 4, 50, 7);
  const double ari = adjusted_rand_index(cl, truth);
  MESSAGE("aligned grating descriptor ARI on the cells themselves: ", ari);
  CHECK(ari >= 0.95);
  // Without the 180-degree reflection odd cells split by which of (theta, psi) / (theta + pi, -psi)
  // they were drawn as (theta ~ U[0, 2 pi)): ARI drops well below.
  const AlignedTuning nr = align_grating_tuning(rel, N, kO, kP, false);
  const double ari_nr = adjusted_rand_index(kmeans(nr.descriptor, N, kO * kP, 4, 50, 7), truth);
  MESSAGE("without reflection: ", ari_nr);
  CHECK(ari_nr < ari - 0.1);
}

TEST_CASE("v1 grating tuning: the centre window must span an odd cell's two lobes") {
  // Why fit_v1 takes a model neuron's centre over a 9 x 9 window (--grating-centre-window) and not
  // check 5's 5 x 5: the same estimate applied to the simulated cells, whose centres are known.
  // Energy map of each cell: the squared gradient of its drive with respect to the image, summed
  // over 8 training-like images (central differences; exact, the drives are linear or quadratic),
  // as fit_v1 does for a model neuron's predicted rate.
  const V1SimPreset p = v1_sim_preset("ci");
  const V1Truth t = draw_v1_cells(p, 3);
  const int64_t N = p.neurons, H = p.height, W = p.width, K = 8;
  const V1CellBank bank(t, H, W);
  const Tensor imgs = render_v1_images(K, H, W, p.noise_fraction, 23);
  std::vector<double> energy(static_cast<size_t>(N * H * W), 0.0);
  const float eps = 0.125f;
  for (int64_t px = 0; px < H * W; ++px) {
    Tensor pm = Tensor::empty({2 * K, H, W});
    for (int64_t i = 0; i < K; ++i) {
      std::copy(imgs.data() + i * H * W, imgs.data() + (i + 1) * H * W, pm.data() + 2 * i * H * W);
      std::copy(imgs.data() + i * H * W, imgs.data() + (i + 1) * H * W, pm.data() + (2 * i + 1) * H * W);
      pm.data()[2 * i * H * W + px] += eps;
      pm.data()[(2 * i + 1) * H * W + px] -= eps;
    }
    const auto d = bank.drives(pm);  // (2K, N)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t n = 0; n < N; ++n) {
        const double g = (d[static_cast<size_t>(2 * i * N + n)] - d[static_cast<size_t>((2 * i + 1) * N + n)]) / (2.0 * eps);
        energy[static_cast<size_t>(n * H * W + px)] += g * g;
      }
  }
  // Centre error per type (px) and the ARI of the aligned grating descriptor of the cells' own
  // rates with phases re-referenced to the estimated centres (as the previous test, which uses the
  // true centres and reaches >= 0.95).
  const Tensor ref = render_v1_images(600, H, W, p.noise_fraction, 17);
  const auto rates = cell_grating_rates(t, H, W, ref, kO, kP);
  std::vector<int> truth(t.type.begin(), t.type.end());
  struct Result {
    double err[5];
    double t2_phase_deg;  // T2's median canonical preferred phase (cells: 90)
    double ari;
  };
  auto measure = [&](int64_t window) {
    const auto c = peak_window_centroid(energy, N, H, W, window);
    std::vector<double> e[5], ph2;
    for (int64_t n = 0; n < N; ++n)
      e[t.type[static_cast<size_t>(n)]].push_back(std::hypot(c[static_cast<size_t>(n)].first - t.cy[static_cast<size_t>(n)],
                                                              c[static_cast<size_t>(n)].second - t.cx[static_cast<size_t>(n)]));
    Result r{};
    for (int ty = 1; ty <= 4; ++ty) r.err[ty] = median_of(e[ty]);
    const auto rel = grating_phases_at_centre(rates, N, kO, kP, c, 6.0);
    const AlignedTuning a = align_grating_tuning(rel, N, kO, kP);
    for (int64_t n = 0; n < N; ++n)
      if (t.type[static_cast<size_t>(n)] == 2) ph2.push_back(a.preferred_phase[static_cast<size_t>(n)] * 180 / kPi);
    r.t2_phase_deg = median_of(ph2);
    r.ari = adjusted_rand_index(kmeans(a.descriptor, N, kO * kP, 4, 50, 7), truth);
    MESSAGE(window, " x ", window, " window: median centre error T1 ", r.err[1], ", T2 ", r.err[2], ", T3 ", r.err[3],
            ", T4 ", r.err[4], " px; T2 preferred phase ", r.t2_phase_deg, " deg; ARI ", r.ari);
    return r;
  };
  // fit_v1's default (--grating-centre-window) against check 5's 5 x 5.
  const int64_t chosen = V1StudyConfig{}.grating_centre_window;
  CHECK(chosen == 9);
  const Result r9 = measure(chosen), r5 = measure(5);
  // Measured (seed 3): 9 x 9 0.013 / 0.016 / 0.008 / 0.074 px (T1-T4), T2 phase 90 deg, ARI 1.000;
  // 5 x 5 0.14 / 0.50 / 0.20 / 0.02 px, T2 phase 115 deg, ARI 0.979.
  // 9 x 9 covers both lobes of an odd cell: every type's centre within 0.15 px (9 degrees of
  // grating phase at 60 degrees per px; T4's 0.07 px is the zero-mean window's bias on the
  // unbalanced DoG), T2's preferred phase at it within 10 degrees of 90, the types recovered as
  // with the true centres (previous test).
  for (int ty = 1; ty <= 4; ++ty) CHECK(r9.err[ty] < 0.15);
  CHECK(std::fabs(r9.t2_phase_deg - 90.0) < 10.0);
  CHECK(r9.ari >= 0.95);
  // 5 x 5 around the peak lobe of an odd cell (lobes 3 px apart) leaves most of the other lobe
  // out: T2's centre moves > 0.35 px towards the peak lobe (> 21 degrees of phase; 3x the 9 x 9
  // window's T2 error) and its preferred phase > 15 degrees off 90 (the energy map does not say
  // which lobe is the positive one, so the direction is not fixed), while T4 (one lobe) stays
  // within 0.15 px. On these noiseless cells the descriptor still separates the types (ARI ~0.98);
  // on fitted models, whose odd-cell centres the 5 x 5 window put 0.90 px off (seed-0 ci data,
  // README.md, checks 3 and 4, session 5), the in-silico ARI fell from 0.84-0.90 to 0.57-0.70 over
  // seeds 0-2 (bench/RESULTS.md, session 6).
  CHECK(r5.err[2] > 0.35);
  CHECK(r5.err[2] > 3 * r9.err[2]);
  CHECK(std::fabs(r5.t2_phase_deg - 90.0) > 15.0);
  CHECK(r5.err[4] < 0.15);
  CHECK(r5.ari <= r9.ari);
  // Bad input is named.
  CHECK_THROWS_WITH_AS(peak_window_centroid(energy, N, H, W, 4), doctest::Contains("window 4"), Error);
  CHECK_THROWS_WITH_AS(peak_window_centroid(energy, N + 1, H, W, 9), doctest::Contains("values are not"), Error);
}
