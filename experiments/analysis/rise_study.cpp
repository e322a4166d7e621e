#include "experiments/analysis/rise_study.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "engine/error.h"
#include "engine/io/csv.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/ops.h"
#include "experiments/analysis/msvt.h"
#include "experiments/analysis/pearson.h"

namespace ml::analysis {

namespace fs = std::filesystem;

namespace {

// Responses of `units` (or all units when empty) to a batch of images: (B, k) on the CPU.
Tensor responses(RiseTarget& t, const Tensor& images, const std::vector<int64_t>& units) {
  const Tensor s = t.scores(images);
  if (units.empty()) return s;
  const int64_t B = s.size(0), all = s.size(1), k = static_cast<int64_t>(units.size());
  Tensor out = Tensor::empty({B, k});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < k; ++j) out.data()[b * k + j] = s.data()[b * all + units[static_cast<size_t>(j)]];
  return out;
}

Tensor stack(const std::vector<Tensor>& xs) {
  std::vector<Tensor> rows;
  for (const Tensor& x : xs) {
    Shape s = x.shape();
    s.insert(s.begin(), 1);
    rows.push_back(x.reshape(s));
  }
  return cat(rows, 0);
}

// The mirror-symmetry index (released definition) of units' view responses (views, k):
// z-scored per unit over the views (our choice, science file §3), 9x9 RDM, index.
double index_of(const Tensor& resp) {
  if (resp.size(1) < 2) return NAN;
  return msvt_index(rdm(zscore(resp)));
}

double sd_of(const std::vector<double>& v, double mean) {
  if (v.size() < 2) return NAN;
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace

std::vector<int64_t> first_object_per_category(const StimulusSet& set) {
  std::vector<int64_t> out;
  for (const auto& c : set.categories)
    for (size_t i = 0; i < set.objects.size(); ++i)
      if (set.objects[i].category == c.name) {
        out.push_back(static_cast<int64_t>(i));
        break;
      }
  return out;
}

RiseStudyResult run_rise_study(AnalysisNet& net, const StimulusSet& set, const RiseStudyOptions& o) {
  const int64_t C = net.model.in_channels, S = net.model.image_size;
  check_rise_options(o.rise, S, S);
  ML_CHECK(o.shuffles >= 1, "importance_maps: --shuffles must be >= 1, got ", o.shuffles);
  for (int p : o.levels) ML_CHECK(p >= 1 && p <= 99, "importance_maps: --levels ", p, " outside 1..99");
  ML_CHECK(o.control_level >= 1 && o.control_level <= 100, "importance_maps: --control-level ", o.control_level,
           " outside 1..100");
  RiseTarget target(net, o.layer, o.rise.post_relu);
  ML_CHECK(o.unit < target.units(), "importance_maps: --unit ", o.unit, " is outside layer '", o.layer, "' (",
           target.units(), " units)");
  const std::vector<int64_t> objects = o.objects.empty() ? first_object_per_category(set) : o.objects;
  for (int64_t i : objects)
    ML_CHECK(i >= 0 && i < static_cast<int64_t>(set.objects.size()), "importance_maps: object ", i, " outside the set '",
             set.manifest, "' of ", set.objects.size());

  RiseStudyResult res;
  res.module = target.module();
  res.units = target.units();
  const float g = o.rise.gray;
  const Tensor blank = Tensor::full({1, C, S, S}, g);
  const Tensor blank_scores = target.scores(blank);
  for (size_t oi = 0; oi < objects.size(); ++oi) {
    const StimulusObject& obj = set.objects[static_cast<size_t>(objects[oi])];
    const int64_t V = static_cast<int64_t>(obj.views.size());
    RiseObjectResult r;
    r.object = objects[oi];
    r.images = load_stimuli(set, obj.views, C, S);  // (V, C, S, S)
    // Foreground of every view: without one there is nothing to rank.
    std::vector<std::vector<uint8_t>> region(static_cast<size_t>(V));
    for (int64_t v = 0; v < V; ++v) {
      const auto fg = foreground_mask(r.images.slice(v, v + 1).reshape({C, S, S}), g);
      ML_CHECK(std::count(fg.begin(), fg.end(), 1) > 0, "importance_maps: view ", v, " of ", obj.category, " ",
               obj.exemplar, " in '", set.manifest, "' has no foreground (every pixel is the background gray)");
      region[static_cast<size_t>(v)] = dilate_disc(fg, S, S, 5);
    }
    const Tensor all = target.scores(r.images);  // (V, units)
    const UnitCurveStats st = unit_curve_stats(all, set.views_deg);
    r.unit_5c = o.unit >= 0 ? o.unit : select_unit_5c(st);
    r.units_5d = select_units_5d(st, o.percentile_5d);
    if (r.unit_5c < 0) {
      std::fprintf(stderr, "importance_maps: %s %lld: no unit with a positive V correlation; skipped\n",
                   obj.category.c_str(), static_cast<long long>(obj.exemplar));
      res.objects.push_back(std::move(r));
      continue;
    }
    std::vector<std::vector<int64_t>> groups{{r.unit_5c}};
    if (!r.units_5d.empty()) groups.push_back(r.units_5d);
    std::vector<Tensor> m5c, m5d;
    const int64_t u = r.unit_5c;
    Generator shuffle_gen(o.rise.seed + 1000003ULL * static_cast<uint64_t>(r.object + 1));
    std::vector<Tensor> ins5d, shuf5d_median;
    // Per level of the 5C sweep, the unit's response at each view.
    std::vector<std::vector<double>> sweep_ins(o.levels.size()), sweep_del(o.levels.size());
    for (int64_t v = 0; v < V; ++v) {
      if (o.progress)
        std::fprintf(stderr, "\rimportance_maps: object %zu/%zu (%s %lld), view %lld/%lld   ", oi + 1, objects.size(),
                     obj.category.c_str(), static_cast<long long>(obj.exemplar), static_cast<long long>(v + 1),
                     static_cast<long long>(V));
      const Tensor img = r.images.slice(v, v + 1).reshape({C, S, S}).clone();
      const auto& reg = region[static_cast<size_t>(v)];
      const Tensor raw = rise_group_maps(target, img, groups, o.rise);
      m5c.push_back(postprocess_map(raw.slice(0, 1).reshape({S, S}), reg));
      if (groups.size() > 1) m5d.push_back(postprocess_map(raw.slice(1, 2).reshape({S, S}), reg));

      // 5A/5B curves: original, deletion and insertion at the control level, shuffles, blank.
      const auto kept = top_pixels(m5c.back(), o.control_level, o.mapping);
      r.original.push_back(all.data()[v * all.size(1) + u]);
      const Tensor ins = insertion_image(img, kept, g), del = deletion_image(img, kept, g);
      const Tensor rd = responses(target, stack({del, ins}), {u});
      r.deletion.push_back(rd.data()[0]);
      r.insertion.push_back(rd.data()[1]);
      std::vector<Tensor> shuffled;
      for (int64_t k = 0; k < o.shuffles; ++k)
        shuffled.push_back(shuffle_patches(img, kept, g, shuffle_gen, 1000, o.shuffle_legacy_offset).image);
      const auto sv = responses(target, stack(shuffled), {u}).to_vector();
      double mean = 0;
      for (float x : sv) mean += x;
      mean /= static_cast<double>(sv.size());
      r.shuffle_mean.push_back(mean);
      r.shuffle_sd.push_back(sd_of(std::vector<double>(sv.begin(), sv.end()), mean));
      r.blank.push_back(blank_scores.data()[u]);

      // 5C sweep: insertion at p, deletion at 100 - p.
      std::vector<Tensor> sweep;
      for (int p : o.levels) {
        sweep.push_back(insertion_image(img, top_pixels(m5c.back(), p, o.mapping), g));
        sweep.push_back(deletion_image(img, top_pixels(m5c.back(), 100 - p, o.mapping), g));
      }
      const auto sw = responses(target, stack(sweep), {u}).to_vector();
      for (size_t l = 0; l < o.levels.size(); ++l) {
        sweep_ins[l].push_back(sw[2 * l]);
        sweep_del[l].push_back(sw[2 * l + 1]);
      }

      // 5D: the 5D units on the inserted image (their summed map at the control level) and the
      // per-unit median over its shuffles.
      if (groups.size() > 1) {
        const auto kept5 = top_pixels(m5d.back(), o.control_level, o.mapping);
        ins5d.push_back(responses(target, stack({insertion_image(img, kept5, g)}), r.units_5d));
        std::vector<Tensor> sh;
        for (int64_t k = 0; k < o.shuffles; ++k)
          sh.push_back(shuffle_patches(img, kept5, g, shuffle_gen, 1000, o.shuffle_legacy_offset).image);
        const Tensor rs = responses(target, stack(sh), r.units_5d);  // (shuffles, k)
        const int64_t K = rs.size(1);
        Tensor med = Tensor::empty({1, K});
        std::vector<float> col(static_cast<size_t>(o.shuffles));
        for (int64_t j = 0; j < K; ++j) {
          for (int64_t k = 0; k < o.shuffles; ++k) col[static_cast<size_t>(k)] = rs.data()[k * K + j];
          std::sort(col.begin(), col.end());
          const size_t n = col.size();
          med.data()[j] = n % 2 ? col[n / 2] : 0.5f * (col[n / 2 - 1] + col[n / 2]);
        }
        shuf5d_median.push_back(med);
      }
    }
    if (o.progress) std::fprintf(stderr, "\n");
    // The sweep's correlations with the original curve over the views.
    for (size_t l = 0; l < o.levels.size(); ++l) {
      r.r_insertion.push_back(pearson(sweep_ins[l].data(), r.original.data(), V));
      r.r_deletion.push_back(pearson(sweep_del[l].data(), r.original.data(), V));
    }
    r.maps_5c = stack(m5c);
    if (!m5d.empty()) {
      r.maps_5d = stack(m5d);
      r.index_original = index_of(responses(target, r.images, r.units_5d));
      r.index_insertion = index_of(cat(ins5d, 0));
      r.index_shuffle = index_of(cat(shuf5d_median, 0));
    }
    res.objects.push_back(std::move(r));
  }
  return res;
}

namespace {

std::string fmt(double v) { return csv_number(v); }

// An RGB overlay: the view in gray, the map's positive part in red and negative part in blue,
// scaled by the object's largest |map| (so every view of an object shares one scale).
void write_overlay(const std::string& path, const Tensor& image, const Tensor& map, float scale) {
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  std::vector<uint8_t> rgb(static_cast<size_t>(H * W * 3));
  for (int64_t i = 0; i < H * W; ++i) {
    double gray = 0;
    for (int64_t c = 0; c < C; ++c) gray += image.data()[c * H * W + i];
    gray /= static_cast<double>(C);
    const double a = scale > 0 ? std::clamp(map.data()[i] / scale, -1.f, 1.f) : 0.0;
    const double base = 0.6 * gray, hot = base + (1 - base) * std::fabs(a), cold = base * (1 - std::fabs(a));
    rgb[static_cast<size_t>(3 * i)] = static_cast<uint8_t>(std::lround(255 * (a > 0 ? hot : cold)));
    rgb[static_cast<size_t>(3 * i + 1)] = static_cast<uint8_t>(std::lround(255 * cold));
    rgb[static_cast<size_t>(3 * i + 2)] = static_cast<uint8_t>(std::lround(255 * (a < 0 ? hot : cold)));
  }
  std::vector<uint8_t> bytes;
  auto sink = [](void* ctx, void* data, int n) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
  };
  ML_CHECK(stbi_write_png_to_func(sink, &bytes, static_cast<int>(W), static_cast<int>(H), 3, rgb.data(),
                                  static_cast<int>(W * 3)) != 0,
           "importance_maps: could not encode '", path, "'");
  write_file_atomic(path, std::span<const uint8_t>(bytes.data(), bytes.size()));
}

}  // namespace

void write_rise_study(const RiseStudyResult& res, const StimulusSet& set, const RiseStudyOptions& o,
                      const std::string& dir) {
  fs::create_directories(fs::path(dir) / "overlays");
  std::ostringstream curves, levels, idx;
  curves << "object,category,exemplar,view_deg,unit,original,deletion,insertion,shuffle_mean,shuffle_sd,blank\n";
  levels << "object,category,exemplar,level,r_insertion,r_deletion\n";
  idx << "object,category,exemplar,n_units_5d,index_original,index_insertion,index_shuffle\n";
  std::vector<Tensor> m5c, m5d;
  for (const RiseObjectResult& r : res.objects) {
    const StimulusObject& obj = set.objects[static_cast<size_t>(r.object)];
    const std::string id = std::to_string(r.object) + "," + obj.category + "," + std::to_string(obj.exemplar);
    if (r.unit_5c < 0) continue;
    for (size_t v = 0; v < r.original.size(); ++v)
      curves << id << "," << fmt(set.views_deg[v]) << "," << r.unit_5c << "," << fmt(r.original[v]) << ","
             << fmt(r.deletion[v]) << "," << fmt(r.insertion[v]) << "," << fmt(r.shuffle_mean[v]) << ","
             << fmt(r.shuffle_sd[v]) << "," << fmt(r.blank[v]) << "\n";
    for (size_t l = 0; l < o.levels.size(); ++l)
      levels << id << "," << o.levels[l] << "," << fmt(r.r_insertion[l]) << "," << fmt(r.r_deletion[l]) << "\n";
    idx << id << "," << r.units_5d.size() << "," << fmt(r.index_original) << "," << fmt(r.index_insertion) << ","
        << fmt(r.index_shuffle) << "\n";
    m5c.push_back(r.maps_5c);
    if (r.maps_5d.defined()) m5d.push_back(r.maps_5d);
    // Overlays, one scale per object.
    float scale = 0;
    for (float x : r.maps_5c.to_vector()) scale = std::max(scale, std::fabs(x));
    const int64_t V = r.maps_5c.size(0), C = r.images.size(1), S = r.images.size(2);
    for (int64_t v = 0; v < V; ++v) {
      char name[160];
      std::snprintf(name, sizeof name, "%s_%lld_view%d.png", obj.category.c_str(), static_cast<long long>(obj.exemplar),
                    static_cast<int>(std::lround(set.views_deg[static_cast<size_t>(v)])));
      write_overlay((fs::path(dir) / "overlays" / name).string(), r.images.slice(v, v + 1).reshape({C, S, S}),
                    r.maps_5c.slice(v, v + 1).reshape({S, S}), scale);
    }
  }
  // 5C summary over objects: median and SD of the correlations per level, and the paired
  // difference insertion - deletion (median, SD / sqrt(n) as the paper's SD/15 for 225 objects).
  std::ostringstream summary;
  summary << "level,n,median_r_insertion,sd_r_insertion,median_r_deletion,sd_r_deletion,median_difference,se_difference\n";
  auto median = [](std::vector<double> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
    if (v.empty()) return double(NAN);
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  auto sd = [](const std::vector<double>& v) {
    std::vector<double> w;
    for (double x : v)
      if (!std::isnan(x)) w.push_back(x);
    if (w.size() < 2) return double(NAN);
    double m = 0;
    for (double x : w) m += x;
    m /= static_cast<double>(w.size());
    double s = 0;
    for (double x : w) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(w.size() - 1));
  };
  for (size_t l = 0; l < o.levels.size(); ++l) {
    std::vector<double> ins, del, diff;
    for (const RiseObjectResult& r : res.objects) {
      if (r.unit_5c < 0) continue;
      ins.push_back(r.r_insertion[l]);
      del.push_back(r.r_deletion[l]);
      diff.push_back(r.r_insertion[l] - r.r_deletion[l]);
    }
    const double n = static_cast<double>(ins.size());
    summary << o.levels[l] << "," << ins.size() << "," << fmt(median(ins)) << "," << fmt(sd(ins)) << ","
            << fmt(median(del)) << "," << fmt(sd(del)) << "," << fmt(median(diff)) << "," << fmt(sd(diff) / std::sqrt(n))
            << "\n";
  }
  write_text_atomic((fs::path(dir) / "curves.csv").string(), curves.str());
  write_text_atomic((fs::path(dir) / "levels.csv").string(), levels.str());
  write_text_atomic((fs::path(dir) / "summary_5c.csv").string(), summary.str());
  write_text_atomic((fs::path(dir) / "index_5d.csv").string(), idx.str());
  if (!m5c.empty()) save_npy((fs::path(dir) / "maps_5c.npy").string(), stack(m5c));
  if (!m5d.empty() && m5d.size() == m5c.size()) save_npy((fs::path(dir) / "maps_5d.npy").string(), stack(m5d));
}

}  // namespace ml::analysis
