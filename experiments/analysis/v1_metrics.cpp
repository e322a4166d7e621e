// experiments/analysis/v1_metrics.cpp — see the header. Everything accumulates in double.
#include "experiments/analysis/v1_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "engine/error.h"
#include "engine/generator.h"

namespace ml::analysis {

std::vector<float> RepeatedResponses::repeat_mean() const {
  std::vector<float> m(static_cast<size_t>(images * neurons), 0.f);
  for (int64_t i = 0; i < images; ++i)
    for (int64_t n = 0; n < neurons; ++n) {
      double s = 0;
      for (int64_t r = 0; r < repeats; ++r) s += at(r, i, n);
      m[static_cast<size_t>(i * neurons + n)] = static_cast<float>(s / static_cast<double>(repeats));
    }
  return m;
}

namespace {
template <class T>
std::vector<double> correlation_columns(const std::vector<T>& a, const std::vector<T>& b, int64_t images,
                                        int64_t neurons, double min_sd) {
  ML_CHECK(static_cast<int64_t>(a.size()) == images * neurons && a.size() == b.size(), "per_neuron_correlation: ",
           a.size(), " and ", b.size(), " values for ", images, " images x ", neurons, " neurons");
  ML_CHECK(min_sd >= 0, "per_neuron_correlation: min_sd ", min_sd, " is negative");
  std::vector<double> r(static_cast<size_t>(neurons), 0.0);
  for (int64_t n = 0; n < neurons; ++n) {
    double ma = 0, mb = 0;
    for (int64_t i = 0; i < images; ++i) ma += a[static_cast<size_t>(i * neurons + n)], mb += b[static_cast<size_t>(i * neurons + n)];
    ma /= static_cast<double>(images), mb /= static_cast<double>(images);
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t i = 0; i < images; ++i) {
      const double da = a[static_cast<size_t>(i * neurons + n)] - ma, db = b[static_cast<size_t>(i * neurons + n)] - mb;
      sab += da * db, saa += da * da, sbb += db * db;
    }
    const double sda = std::sqrt(saa / static_cast<double>(images)), sdb = std::sqrt(sbb / static_cast<double>(images));
    const bool degenerate = sda < min_sd || sdb < min_sd || saa == 0 || sbb == 0;
    r[static_cast<size_t>(n)] = degenerate ? 0.0 : sab / std::sqrt(saa * sbb);
  }
  return r;
}
}  // namespace

std::vector<double> per_neuron_correlation(const std::vector<float>& a, const std::vector<float>& b, int64_t images,
                                           int64_t neurons, double min_sd) {
  return correlation_columns(a, b, images, neurons, min_sd);
}
std::vector<double> per_neuron_correlation(const std::vector<double>& a, const std::vector<double>& b, int64_t images,
                                           int64_t neurons, double min_sd) {
  return correlation_columns(a, b, images, neurons, min_sd);
}

namespace {
void check_repeats(const RepeatedResponses& t, const char* who) {
  ML_CHECK(t.repeats >= 2 && t.images >= 2 && t.neurons >= 1 &&
               static_cast<int64_t>(t.values.size()) == t.repeats * t.images * t.neurons,
           who, ": test responses need >= 2 repeats and >= 2 images; got ", t.repeats, " x ", t.images, " x ",
           t.neurons, " with ", t.values.size(), " values");
}
// Unbiased across-repeat variance of image i, neuron n.
double repeat_var(const RepeatedResponses& t, int64_t i, int64_t n) {
  double m = 0;
  for (int64_t r = 0; r < t.repeats; ++r) m += t.at(r, i, n);
  m /= static_cast<double>(t.repeats);
  double v = 0;
  for (int64_t r = 0; r < t.repeats; ++r) v += (t.at(r, i, n) - m) * (t.at(r, i, n) - m);
  return v / static_cast<double>(t.repeats - 1);
}
}  // namespace

std::vector<double> oracle_fev(const RepeatedResponses& t) {
  check_repeats(t, "oracle_fev");
  const auto mean = t.repeat_mean();
  std::vector<double> fev(static_cast<size_t>(t.neurons));
  for (int64_t n = 0; n < t.neurons; ++n) {
    double noise = 0, mu = 0;
    for (int64_t i = 0; i < t.images; ++i) noise += repeat_var(t, i, n), mu += mean[static_cast<size_t>(i * t.neurons + n)];
    noise /= static_cast<double>(t.images) * static_cast<double>(t.repeats);
    mu /= static_cast<double>(t.images);
    double total = 0;
    for (int64_t i = 0; i < t.images; ++i) {
      const double d = mean[static_cast<size_t>(i * t.neurons + n)] - mu;
      total += d * d;
    }
    total /= static_cast<double>(t.images - 1);
    fev[static_cast<size_t>(n)] = total > 0 ? std::max(0.0, 1.0 - noise / total) : 0.0;
  }
  return fev;
}

std::vector<double> feve(const RepeatedResponses& t, const std::vector<float>& prediction,
                         std::vector<double>* explainable) {
  check_repeats(t, "feve");
  ML_CHECK(static_cast<int64_t>(prediction.size()) == t.images * t.neurons, "feve: ", prediction.size(),
           " predictions for ", t.images, " images x ", t.neurons, " neurons");
  std::vector<double> out(static_cast<size_t>(t.neurons));
  if (explainable) explainable->assign(static_cast<size_t>(t.neurons), 0.0);
  const double trials = static_cast<double>(t.repeats * t.images);
  for (int64_t n = 0; n < t.neurons; ++n) {
    double m = 0, mse = 0, noise = 0;
    for (int64_t r = 0; r < t.repeats; ++r)
      for (int64_t i = 0; i < t.images; ++i) {
        m += t.at(r, i, n);
        const double e = t.at(r, i, n) - prediction[static_cast<size_t>(i * t.neurons + n)];
        mse += e * e;
      }
    m /= trials, mse /= trials;
    double V = 0;
    for (int64_t r = 0; r < t.repeats; ++r)
      for (int64_t i = 0; i < t.images; ++i) V += (t.at(r, i, n) - m) * (t.at(r, i, n) - m);
    V /= trials - 1;
    for (int64_t i = 0; i < t.images; ++i) noise += repeat_var(t, i, n);
    noise /= static_cast<double>(t.images);
    out[static_cast<size_t>(n)] = 1.0 - (mse - noise) / (V - noise + 1e-9);
    if (explainable) (*explainable)[static_cast<size_t>(n)] = V > 0 ? (V - noise) / V : 0.0;
  }
  return out;
}

std::vector<double> jackknife_oracle(const RepeatedResponses& t) {
  check_repeats(t, "jackknife_oracle");
  const int64_t T = t.repeats * t.images;
  std::vector<float> single(static_cast<size_t>(T * t.neurons)), loo(single.size());
  for (int64_t i = 0; i < t.images; ++i)
    for (int64_t n = 0; n < t.neurons; ++n) {
      double s = 0;
      for (int64_t r = 0; r < t.repeats; ++r) s += t.at(r, i, n);
      for (int64_t r = 0; r < t.repeats; ++r) {
        const size_t k = static_cast<size_t>((i * t.repeats + r) * t.neurons + n);
        single[k] = t.at(r, i, n);
        loo[k] = static_cast<float>((s - t.at(r, i, n)) / static_cast<double>(t.repeats - 1));
      }
    }
  return per_neuron_correlation(single, loo, T, t.neurons);
}

std::vector<int> kmeans(const std::vector<double>& x, int64_t points, int64_t dims, int k, int restarts,
                        uint64_t seed) {
  ML_CHECK(k >= 1 && points >= k && static_cast<int64_t>(x.size()) == points * dims, "kmeans: ", points,
           " points of ", dims, " dims (", x.size(), " values) cannot make ", k, " clusters");
  Generator g(seed);
  auto d2 = [&](int64_t p, const std::vector<double>& c, int64_t j) {
    double s = 0;
    for (int64_t d = 0; d < dims; ++d) {
      const double e = x[static_cast<size_t>(p * dims + d)] - c[static_cast<size_t>(j * dims + d)];
      s += e * e;
    }
    return s;
  };
  std::vector<int> best;
  double best_inertia = std::numeric_limits<double>::infinity();
  for (int rs = 0; rs < restarts; ++rs) {
    std::vector<double> c(static_cast<size_t>(k * dims));
    // k-means++ seeding.
    std::vector<double> dmin(static_cast<size_t>(points), std::numeric_limits<double>::infinity());
    int64_t first = g.next_below(points);
    for (int64_t d = 0; d < dims; ++d) c[static_cast<size_t>(d)] = x[static_cast<size_t>(first * dims + d)];
    for (int j = 1; j < k; ++j) {
      double total = 0;
      for (int64_t p = 0; p < points; ++p) total += (dmin[static_cast<size_t>(p)] = std::min(dmin[static_cast<size_t>(p)], d2(p, c, j - 1)));
      double u = g.next_uniform() * total;
      int64_t pick = points - 1;
      for (int64_t p = 0; p < points; ++p) {
        u -= dmin[static_cast<size_t>(p)];
        if (u <= 0) {
          pick = p;
          break;
        }
      }
      for (int64_t d = 0; d < dims; ++d) c[static_cast<size_t>(j * dims + d)] = x[static_cast<size_t>(pick * dims + d)];
    }
    std::vector<int> label(static_cast<size_t>(points), -1);
    double inertia = 0;
    for (int it = 0; it < 300; ++it) {
      bool changed = false;
      inertia = 0;
      for (int64_t p = 0; p < points; ++p) {
        int arg = 0;
        double m = d2(p, c, 0);
        for (int j = 1; j < k; ++j)
          if (const double v = d2(p, c, j); v < m) m = v, arg = j;
        inertia += m;
        if (label[static_cast<size_t>(p)] != arg) label[static_cast<size_t>(p)] = arg, changed = true;
      }
      if (!changed) break;
      std::vector<double> s(c.size(), 0.0);
      std::vector<int64_t> cnt(static_cast<size_t>(k), 0);
      for (int64_t p = 0; p < points; ++p) {
        const int j = label[static_cast<size_t>(p)];
        ++cnt[static_cast<size_t>(j)];
        for (int64_t d = 0; d < dims; ++d) s[static_cast<size_t>(j * dims + d)] += x[static_cast<size_t>(p * dims + d)];
      }
      for (int j = 0; j < k; ++j)
        if (cnt[static_cast<size_t>(j)] > 0)  // an empty cluster keeps its centre
          for (int64_t d = 0; d < dims; ++d)
            c[static_cast<size_t>(j * dims + d)] = s[static_cast<size_t>(j * dims + d)] / static_cast<double>(cnt[static_cast<size_t>(j)]);
    }
    if (inertia < best_inertia) best_inertia = inertia, best = label;
  }
  return best;
}

double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b) {
  ML_CHECK(a.size() == b.size() && !a.empty(), "adjusted_rand_index: labelings of ", a.size(), " and ", b.size(),
           " items");
  std::map<std::pair<int, int>, double> nij;
  std::map<int, double> ai, bj;
  for (size_t i = 0; i < a.size(); ++i) nij[{a[i], b[i]}] += 1, ai[a[i]] += 1, bj[b[i]] += 1;
  auto c2 = [](double n) { return n * (n - 1) / 2; };
  double sij = 0, sa = 0, sb = 0;
  for (const auto& [k, v] : nij) sij += c2(v);
  for (const auto& [k, v] : ai) sa += c2(v);
  for (const auto& [k, v] : bj) sb += c2(v);
  const double n = c2(static_cast<double>(a.size()));
  const double expected = sa * sb / n, maxi = 0.5 * (sa + sb);
  if (maxi == expected) return 1.0;  // both labelings trivial (sklearn's convention)
  return (sij - expected) / (maxi - expected);
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double mean_of(const std::vector<double>& v) {
  if (v.empty()) return std::nan("");
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

}  // namespace ml::analysis
