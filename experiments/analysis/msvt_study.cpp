#include "experiments/analysis/msvt_study.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/csv.h"
#include "engine/generator.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/ops.h"
#include "experiments/analysis/unit_stats.h"

namespace ml::analysis {

namespace fs = std::filesystem;

const char* definition_name(MsvtDefinition d) { return d == MsvtDefinition::Released ? "released" : "no_diagonal"; }

namespace {

constexpr MsvtDefinition kDefs[2] = {MsvtDefinition::Released, MsvtDefinition::NoDiagonal};

// A uniformly random permutation of 0..n-1 (Fisher-Yates with the study's seeded generator).
std::vector<int64_t> permutation(int64_t n, Generator& gen) {
  const Tensor u = Tensor::uniform({n}, 0.f, 1.f, gen);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = std::min<int64_t>(i, static_cast<int64_t>(u.data()[i] * static_cast<float>(i + 1)));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}


std::string fmt(double v) { return csv_number(v); }

}  // namespace

MsvtResult run_msvt(const StimulusSet& set, const std::vector<std::string>& layers, const ActivationFn& activations,
                    const MsvtOptions& o) {
  NoGradGuard ng;
  const auto L = static_cast<int64_t>(layers.size());
  const auto n_views = static_cast<int64_t>(set.views_deg.size());
  const auto n_objects = static_cast<int64_t>(set.objects.size());
  auto rows_of = [&](int64_t o0, int64_t o1) {
    std::vector<int64_t> rows;
    for (int64_t k = o0; k < o1; ++k)
      for (int64_t r : set.objects[static_cast<size_t>(k)].views) rows.push_back(r);
    return rows;
  };

  // Pass 1: per-unit statistics over every image of the set.
  std::vector<UnitStats> stats;
  for (int64_t o0 = 0; o0 < n_objects; o0 += o.batch_objects) {
    const int64_t o1 = std::min(n_objects, o0 + o.batch_objects);
    const std::vector<Tensor> acts = activations(rows_of(o0, o1));
    ML_CHECK(static_cast<int64_t>(acts.size()) == L, "run_msvt: ", acts.size(), " activation tensors for ", L, " layers");
    if (stats.empty())
      for (const Tensor& a : acts) stats.emplace_back(a.numel() / a.size(0));
    for (int64_t l = 0; l < L; ++l) stats[static_cast<size_t>(l)].add(acts[static_cast<size_t>(l)]);
    if (o.progress) std::fprintf(stderr, "\rmsvt: statistics %lld/%lld objects", static_cast<long long>(o1), static_cast<long long>(n_objects));
  }

  MsvtResult r;
  r.zscored = o.zscore;
  std::vector<std::vector<bool>> keep(static_cast<size_t>(L));
  for (int64_t l = 0; l < L; ++l) {
    MsvtLayer ml_;
    ml_.name = layers[static_cast<size_t>(l)];
    const UnitStats& s = stats[static_cast<size_t>(l)];
    ml_.units = s.units();
    auto& k = keep[static_cast<size_t>(l)];
    k.resize(static_cast<size_t>(s.units()));
    for (int64_t u = 0; u < s.units(); ++u) {
      k[static_cast<size_t>(u)] = s.informative(u);
      ml_.informative_units += s.informative(u);
    }
    r.layers.push_back(std::move(ml_));
  }

  // Pass 2: per-object RDMs of the z-scored units, the index, and the shuffled-view floor.
  Generator shuffle_gen(o.seed ^ 0x5348554646ull);
  for (int64_t o0 = 0; o0 < n_objects; o0 += o.batch_objects) {
    const int64_t o1 = std::min(n_objects, o0 + o.batch_objects);
    const std::vector<Tensor> acts = activations(rows_of(o0, o1));
    for (int64_t l = 0; l < L; ++l) {
      MsvtLayer& ml_ = r.layers[static_cast<size_t>(l)];
      if (ml_.informative_units < 2) continue;  // no RDM from fewer than two units
      const Tensor& a = acts[static_cast<size_t>(l)];
      const Tensor z = o.zscore ? zscore_units(a.reshape({a.size(0), -1}), stats[static_cast<size_t>(l)], keep[static_cast<size_t>(l)])
                                : a.reshape({a.size(0), -1});
      for (int64_t k = o0; k < o1; ++k) {
        const Tensor views = z.slice((k - o0) * n_views, (k - o0 + 1) * n_views);  // (n, kept)
        const Tensor D = exemplar_rdm(views);
        ml_.rdms.push_back(D);
        for (int d = 0; d < 2; ++d) ml_.index[d].push_back(msvt_index(D, kDefs[d]));
        for (int64_t t = 0; t < o.shuffles_per_object; ++t) {
          const Tensor Ds = exemplar_rdm(gather_rows(views, permutation(n_views, shuffle_gen)));
          for (int d = 0; d < 2; ++d) ml_.shuffled[d].push_back(msvt_index(Ds, kDefs[d]));
        }
      }
    }
    if (o.progress) std::fprintf(stderr, "\rmsvt: RDMs %lld/%lld objects      ", static_cast<long long>(o1), static_cast<long long>(n_objects));
  }

  // The noise floor: n views of independent standard-normal units, as many as the layer keeps.
  // Not z-scored across the n views: in the analysis a unit is z-scored across the whole set,
  // which leaves one object's views free; z-scoring 9 rows would force each RDM row to sum to
  // a constant and pull the diagonal-free floor from about -0.05 to about -0.13.
  Generator noise_gen(o.seed ^ 0x4E4F495345ull);
  for (MsvtLayer& ml_ : r.layers) {
    if (ml_.informative_units < 2) continue;
    for (int64_t t = 0; t < o.noise_draws; ++t) {
      const Tensor D = exemplar_rdm(Tensor::normal({n_views, ml_.informative_units}, 0.f, 1.f, noise_gen));
      for (int d = 0; d < 2; ++d) ml_.noise[d].push_back(msvt_index(D, kDefs[d]));
    }
  }
  if (o.progress) std::fprintf(stderr, "\rmsvt: %lld objects x %lld layers done            \n", static_cast<long long>(n_objects), static_cast<long long>(L));
  return r;
}

void write_msvt(const MsvtResult& r, const StimulusSet& set, const std::string& model, const std::string& dir_s) {
  const fs::path dir(dir_s);
  fs::create_directories(dir);
  const auto n_views = static_cast<int64_t>(set.views_deg.size());
  const auto n_objects = static_cast<int64_t>(set.objects.size());
  std::ostringstream msvt, floor, ex;
  msvt << "model,layer,layer_index,category,symmetry,definition,mean,sem,n\n";
  floor << "model,layer,layer_index,definition,null,mean,std,n\n";
  ex << "model,layer,layer_index,category,exemplar,definition,index\n";
  bool any_mirror = false;
  for (const auto& c : set.categories) any_mirror |= c.mirror_symmetric();
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const MsvtLayer& L = r.layers[l];
    for (int d = 0; d < 2; ++d) {
      const std::string head = model + "," + L.name + "," + std::to_string(l) + ",";
      const std::string def = definition_name(kDefs[d]);
      if (L.index[d].empty()) continue;
      std::vector<double> pooled;
      for (const auto& c : set.categories) {
        std::vector<double> v;
        for (int64_t k = 0; k < n_objects; ++k)
          if (set.objects[static_cast<size_t>(k)].category == c.name) {
            v.push_back(L.index[d][static_cast<size_t>(k)]);
            if (c.mirror_symmetric()) pooled.push_back(v.back());
            ex << head << c.name << "," << set.objects[static_cast<size_t>(k)].exemplar << "," << def << ","
               << fmt(v.back()) << "\n";
          }
        const MeanSem ms = mean_sem(v);
        msvt << head << c.name << "," << c.symmetry << "," << def << "," << fmt(ms.mean) << "," << fmt(ms.sem) << ","
             << ms.n << "\n";
      }
      if (any_mirror) {
        const MeanSem ms = mean_sem(pooled);
        msvt << head << "pooled,pooled," << def << "," << fmt(ms.mean) << "," << fmt(ms.sem) << "," << ms.n << "\n";
      }
      for (const auto& [null, draws] : {std::pair{"shuffled_views", &L.shuffled[d]}, std::pair{"noise", &L.noise[d]}}) {
        const MeanSem f = mean_sem(*draws);
        floor << head << def << "," << null << "," << fmt(f.mean) << "," << fmt(f.sd) << "," << f.n << "\n";
      }
    }
  }
  write_text_atomic((dir / "msvt.csv").string(), msvt.str());
  write_text_atomic((dir / "msvt_floor.csv").string(), floor.str());
  write_text_atomic((dir / "msvt_exemplars.csv").string(), ex.str());

  // rdms.npy: (L, objects, n, n); a layer with fewer than two informative units is NaN.
  const auto L = static_cast<int64_t>(r.layers.size());
  Tensor rdms = Tensor::full({L, n_objects, n_views, n_views}, NAN);
  for (int64_t l = 0; l < L; ++l)
    for (size_t k = 0; k < r.layers[static_cast<size_t>(l)].rdms.size(); ++k)
      std::copy_n(r.layers[static_cast<size_t>(l)].rdms[k].data(), n_views * n_views,
                  rdms.data() + (l * n_objects + static_cast<int64_t>(k)) * n_views * n_views);
  save_npy((dir / "rdms.npy").string(), rdms);
  nlohmann::json j;
  j["model"] = model;
  j["zscored"] = r.zscored;
  j["views_deg"] = set.views_deg;
  j["manifest"] = set.manifest;
  for (const MsvtLayer& layer : r.layers)
    j["layers"].push_back(layer.name), j["units"].push_back(layer.units), j["informative_units"].push_back(layer.informative_units);
  for (const StimulusObject& o : set.objects) j["objects"].push_back({{"category", o.category}, {"exemplar", o.exemplar}});
  write_text_atomic((dir / "rdms.json").string(), j.dump(1) + "\n");
}

}  // namespace ml::analysis
