#include "experiments/analysis/stimulus_set.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/data/image_folder.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/csv.h"

namespace ml::analysis {

namespace fs = std::filesystem;

namespace {

constexpr const char* kWho = "read_stimulus_set";

template <class T>
T parse_number(const std::string& field, const std::string& manifest, int64_t line, const char* column) {
  const std::string f = trim(field);
  T v{};
  const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
  ML_CHECK(ec == std::errc() && end == f.data() + f.size(), kWho, ": '", manifest, "' line ", line, ": column ",
           column, " must be a number, got '", field, "'");
  return v;
}

// stimuli.json (tools/render_stimuli) names each category's symmetry class under "categories"
// (or "families").
std::map<std::string, std::string> symmetry_classes(const fs::path& folder) {
  std::map<std::string, std::string> out;
  const fs::path path = folder / "stimuli.json";
  if (!fs::is_regular_file(path)) return out;
  const std::vector<uint8_t> bytes = read_file(path.string());
  const auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  ML_CHECK(!j.is_discarded(), kWho, ": '", path.string(), "' is not valid JSON");
  for (const char* key : {"categories", "families"})
    if (j.contains(key) && j[key].is_array())
      for (const auto& f : j[key])
        if (f.contains("name") && f.contains("symmetry") && f["name"].is_string() && f["symmetry"].is_string())
          out[f["name"].get<std::string>()] = f["symmetry"].get<std::string>();
  return out;
}

}  // namespace

StimulusSet read_stimulus_set(const std::string& manifest) {
  const CsvTable t = read_csv(manifest, kWho);
  const int64_t c_file = t.column("file", kWho), c_cat = t.column("category", kWho),
                c_ex = t.column("exemplar", kWho), c_view = t.column("view_deg", kWho);
  ML_CHECK(!t.rows.empty(), kWho, ": '", manifest, "' lists no images");
  const fs::path folder = fs::path(manifest).parent_path();
  const auto classes = symmetry_classes(folder);

  StimulusSet s;
  s.manifest = manifest;
  std::map<std::pair<std::string, int64_t>, size_t> object_of;
  for (const CsvRow& row : t.rows) {
    const auto need = static_cast<size_t>(std::max({c_file, c_cat, c_ex, c_view}) + 1);
    ML_CHECK(row.fields.size() >= need, kWho, ": '", manifest, "' line ", row.line, " has ", row.fields.size(),
             " fields, the header names ", t.header.size());
    const fs::path file = trim(row.fields[static_cast<size_t>(c_file)]);
    ML_CHECK(!file.empty(), kWho, ": '", manifest, "' line ", row.line, ": empty file name");
    const std::string cat = trim(row.fields[static_cast<size_t>(c_cat)]);
    ML_CHECK(!cat.empty(), kWho, ": '", manifest, "' line ", row.line, ": empty category");
    const auto ex = parse_number<int64_t>(row.fields[static_cast<size_t>(c_ex)], manifest, row.line, "exemplar");
    const auto view = parse_number<double>(row.fields[static_cast<size_t>(c_view)], manifest, row.line, "view_deg");
    // from_chars reads "nan" and "inf": a NaN angle would leave the views unsortable.
    ML_CHECK(std::isfinite(view), kWho, ": '", manifest, "' line ", row.line, ": column view_deg must be a finite ",
             "angle, got '", row.fields[static_cast<size_t>(c_view)], "'");
    const int64_t index = s.size();
    s.files.push_back((file.is_absolute() ? file : folder / file).string());
    s.category.push_back(cat);
    s.exemplar.push_back(ex);
    s.view_deg.push_back(view);
    if (std::none_of(s.categories.begin(), s.categories.end(), [&](const CategoryInfo& c) { return c.name == cat; })) {
      const auto it = classes.find(cat);
      s.categories.push_back({cat, it == classes.end() ? "unknown" : it->second});
    }
    const auto [it, fresh] = object_of.try_emplace({cat, ex}, s.objects.size());
    if (fresh) s.objects.push_back({cat, ex, {}});
    s.objects[it->second].views.push_back(index);
  }

  // Category order of first appearance, then exemplar; views by angle.
  auto cat_rank = [&](const std::string& c) {
    return std::find_if(s.categories.begin(), s.categories.end(), [&](const CategoryInfo& i) { return i.name == c; }) -
           s.categories.begin();
  };
  std::stable_sort(s.objects.begin(), s.objects.end(), [&](const StimulusObject& a, const StimulusObject& b) {
    return std::pair(cat_rank(a.category), a.exemplar) < std::pair(cat_rank(b.category), b.exemplar);
  });
  for (StimulusObject& o : s.objects)
    std::stable_sort(o.views.begin(), o.views.end(), [&](int64_t a, int64_t b) {
      return s.view_deg[static_cast<size_t>(a)] < s.view_deg[static_cast<size_t>(b)];
    });

  // Every object must be seen from the same angles, symmetric about the frontal view.
  const StimulusObject& first = s.objects.front();
  for (int64_t r : first.views) s.views_deg.push_back(s.view_deg[static_cast<size_t>(r)]);
  const auto n = static_cast<int64_t>(s.views_deg.size());
  ML_CHECK(n >= 3 && n % 2 == 1, kWho, ": '", manifest, "': object ", first.category, " ", first.exemplar, " has ", n,
           " views; the index needs an odd number >= 3 (a frontal view in the middle)");
  for (int64_t j = 0; j < n; ++j)
    ML_CHECK(std::abs(s.views_deg[static_cast<size_t>(j)] + s.views_deg[static_cast<size_t>(n - 1 - j)]) < 1e-6, kWho,
             ": '", manifest, "': the view angles must be symmetric about 0 (view j mirrors view n-1-j), got ",
             s.views_deg[static_cast<size_t>(j)], " and ", s.views_deg[static_cast<size_t>(n - 1 - j)]);
  for (const StimulusObject& o : s.objects) {
    bool same = static_cast<int64_t>(o.views.size()) == n;
    for (int64_t j = 0; same && j < n; ++j)
      same = std::abs(s.view_deg[static_cast<size_t>(o.views[static_cast<size_t>(j)])] -
                      s.views_deg[static_cast<size_t>(j)]) < 1e-6;
    ML_CHECK(same, kWho, ": '", manifest, "': object ", o.category, " ", o.exemplar, " is not seen from the same ", n,
             " angles as ", first.category, " ", first.exemplar);
  }
  return s;
}

Tensor load_stimuli(const StimulusSet& set, const std::vector<int64_t>& rows, int64_t channels, int64_t size) {
  std::vector<std::string> paths;
  for (int64_t r : rows) {
    ML_CHECK(r >= 0 && r < set.size(), "load_stimuli: row ", r, " outside the set '", set.manifest, "' of ", set.size());
    paths.push_back(set.files[static_cast<size_t>(r)]);
  }
  return load_images(paths, channels, size, size);
}

}  // namespace ml::analysis
