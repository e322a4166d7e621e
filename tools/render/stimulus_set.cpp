#include "tools/render/stimulus_set.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>
#include <tuple>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "tools/render/manifest.h"

namespace ml::render {

namespace fs = std::filesystem;

const std::vector<double>& study_views() {
  static const std::vector<double> views = [] {
    std::vector<double> v;
    for (int j = 0; j < 9; ++j) v.push_back(-90.0 + 22.5 * j);
    return v;
  }();
  return views;
}

namespace {

std::vector<uint8_t> encode_png(const std::vector<uint8_t>& gray, int size, const std::string& path) {
  std::vector<uint8_t> bytes;
  auto sink = [](void* ctx, void* data, int n) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
  };
  ML_CHECK(stbi_write_png_to_func(sink, &bytes, size, size, 1, gray.data(), size) != 0,
           "write_stimulus_set: stb_image_write could not encode '", path, "'");
  return bytes;
}

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// Prints "what: done/total" at every tenth and at the end.
struct Progress {
  std::FILE* log;
  const char* what;
  size_t total;
  void step(size_t done) const {
    if (log && (done == total || (done * 10 / total) != ((done - 1) * 10 / total))) {
      std::fprintf(log, "%s: %zu/%zu\n", what, done, total);
      std::fflush(log);
    }
  }
};

// A rendering kept between the passes: the shade as is, the coverage as its sample count.
struct Cached {
  std::vector<float> shade;
  std::vector<uint8_t> covered;  // coverage * S^2 (S <= 15, so <= 225)
  int size = 0, supersample = 1;

  explicit Cached(Rendering&& r) : shade(std::move(r.shade)), size(r.size), supersample(r.supersample) {
    const double s2 = double(supersample) * supersample;
    for (float c : r.coverage) covered.push_back(static_cast<uint8_t>(std::lround(c * s2)));
  }
  Rendering restore() && {
    Rendering r;
    r.size = size;
    r.supersample = supersample;
    r.shade = std::move(shade);
    const double s2 = double(supersample) * supersample;
    // The rasteriser's own expression, so the float is bit-identical.
    for (uint8_t k : covered) r.coverage.push_back(static_cast<float>(static_cast<double>(k) / s2));
    return r;
  }
  static int64_t bytes(const Rendering& r) { return static_cast<int64_t>(r.shade.size() * (sizeof(float) + 1)); }
};

}  // namespace

SetSummary write_stimulus_set(const std::vector<CategorySpec>& categories, const std::vector<StimulusItem>& items,
                              const ImageSource& source, const std::string& out_dir, nlohmann::json meta,
                              std::FILE* log, int64_t cache_bytes) {
  ML_CHECK(!items.empty(), "write_stimulus_set: no images to write");
  ML_CHECK(!out_dir.empty(), "write_stimulus_set: empty output folder (--out)");
  // The order of the files and of the manifest's rows: category, exemplar, view.
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto key = [&](size_t i) { return std::make_tuple(items[i].category, items[i].exemplar, items[i].view_deg); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  for (size_t k = 0; k < order.size(); ++k) {
    const StimulusItem& it = items[order[k]];
    ML_CHECK(it.category >= 0 && it.category < static_cast<int64_t>(categories.size()),
             "write_stimulus_set: item ", order[k], " has category index ", it.category, " of ", categories.size());
    ML_CHECK(k == 0 || key(order[k - 1]) != key(order[k]), "write_stimulus_set: two images of category '",
             categories[it.category].name, "' exemplar ", it.exemplar, " view ", format_view(it.view_deg));
  }

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  ML_CHECK(fs::is_directory(out_dir), "write_stimulus_set: cannot create the output folder '", out_dir, "'",
           ec ? ": " + ec.message() : "");
  const fs::path manifest = fs::path(out_dir) / "manifest.csv";
  if (fs::exists(manifest)) {
    fs::remove(manifest);
    if (log) std::fprintf(log, "removed the old %s; it is written again when the set is complete\n", manifest.c_str());
  }

  // Pass 1: moments of every image (kept, when they fit, for pass 2).
  std::vector<ForegroundStats> stats(items.size());
  std::vector<std::optional<Cached>> cache(items.size());
  Progress p1{log, "pass 1/2, render and measure", order.size()};
  int64_t cached_bytes = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    Rendering r = source(i);
    stats[i] = foreground_stats(r);
    ML_CHECK(r.supersample >= 1 && r.supersample <= 15, "write_stimulus_set: supersample ", r.supersample,
             " outside [1, 15]");
    if (cached_bytes + Cached::bytes(r) <= cache_bytes) {
      cached_bytes += Cached::bytes(r);
      cache[i].emplace(std::move(r));
    }
    p1.step(k + 1);
  }
  SetSummary summary;
  summary.targets = equalization_targets(stats);
  summary.images = static_cast<int64_t>(items.size());
  const EqualizationTargets& target = summary.targets;
  if (log)
    std::fprintf(log, "equalisation targets: foreground mean %.5f, std %.5f\n", target.mean, target.std);

  // Pass 2: solve each image's gain, quantise, write; measure the files' foregrounds.
  std::vector<ManifestRow> rows;
  Progress p2{log, "pass 2/2, equalise and write", order.size()};
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const Rendering r = cache[i] ? std::move(*cache[i]).restore() : source(i);
    cache[i].reset();
    const Gain gain = solve_gain(r, stats[i], target);
    const std::vector<uint8_t> px = equalized_pixels(r, gain);
    const StimulusItem& it = items[i];
    const std::string name = image_name(categories[it.category].name, it.exemplar, it.view_deg);
    if (gain.exact) {
      const MeasuredStats m = measure_foreground(px, r);
      summary.max_mean_error = std::max(summary.max_mean_error, std::fabs(m.mean - target.mean));
      summary.max_std_error = std::max(summary.max_std_error, std::fabs(m.std - target.std));
    } else {
      ++summary.inexact;
      if (log)
        std::fprintf(log, "warning: %s does not reach the targets (%lld foreground pixels)\n", name.c_str(),
                     static_cast<long long>(stats[i].n));
    }
    if (gain.clipped > 0) {
      ++summary.clipping_images;
      summary.max_clipped_fraction = std::max(summary.max_clipped_fraction,
                                              static_cast<double>(gain.clipped) / static_cast<double>(stats[i].n));
    }
    const std::string path = (fs::path(out_dir) / name).string();
    write_file_atomic(path, encode_png(px, r.size, path));
    rows.push_back({name, it.category, categories[it.category].name, it.exemplar, it.view_deg});
    p2.step(k + 1);
  }

  nlohmann::json cats = nlohmann::json::array();
  for (size_t c = 0; c < categories.size(); ++c) {
    std::vector<int64_t> exemplars;
    for (const auto& it : items)
      if (it.category == static_cast<int64_t>(c)) exemplars.push_back(it.exemplar);
    std::sort(exemplars.begin(), exemplars.end());
    exemplars.erase(std::unique(exemplars.begin(), exemplars.end()), exemplars.end());
    cats.push_back({{"name", categories[c].name},
                    {"label", c},
                    {"symmetry", categories[c].symmetry},
                    {"source", categories[c].source},
                    {"exemplars", exemplars.size()}});
  }
  meta["categories"] = cats;
  meta["images"] = items.size();
  meta["equalization"] = {
      {"method", "SHINE-style lumMatch: per image shade' = clamp(alpha * shade + beta, 0, 1), re-composited over "
                 "the background with the rendered coverage; (alpha, beta) solved so that every foreground has "
                 "exactly the target mean and std (closed form, or bisection on the clamped map where it clips)"},
      {"foreground", "coverage >= 0.5 (rendered sets); for sets loaded from PNGs: 8-bit value != 128"},
      {"statistic", "gray value in [0, 1] (= PNG value / 255) over the foreground; std is the population std"},
      {"targets", "mean over images of each image's foreground mean and std before equalisation"},
      {"target_mean", target.mean},
      {"target_std", target.std},
      {"inexact_images", summary.inexact},
      {"clipping_images", summary.clipping_images},
      {"max_clipped_fraction", summary.max_clipped_fraction},
      {"clipped_fraction_of", "the image's foreground pixels whose shade was clamped at 0 or 1"},
      {"residual_max_abs_mean", summary.max_mean_error},
      {"residual_max_abs_std", summary.max_std_error},
      {"residual_bound_8bit", 0.5 / 255.0}};
  meta["background_gray"] = 128;
  write_text((fs::path(out_dir) / "stimuli.json").string(), meta.dump(2) + "\n");
  write_text(manifest.string(), manifest_csv(rows));  // last: the set is complete
  if (log)
    std::fprintf(log,
                 "wrote %zu images, stimuli.json and manifest.csv to %s\n"
                 "  residuals after 8-bit rounding: mean %.2e, std %.2e (bound %.2e); %lld image(s) with clamped "
                 "pixels (at most %.1f%% of one image's foreground)\n",
                 rows.size(), out_dir.c_str(), summary.max_mean_error, summary.max_std_error, 0.5 / 255.0,
                 static_cast<long long>(summary.clipping_images), 100.0 * summary.max_clipped_fraction);
  return summary;
}

}  // namespace ml::render
