#include "experiments/analysis/neural_data.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>

#include "engine/error.h"
#include "engine/io/csv.h"
#include "engine/io/npy.h"

namespace ml::analysis {

namespace fs = std::filesystem;

namespace {
constexpr const char* kWho = "neural data";
}

NeuralStimuli read_neural_manifest(const std::string& path, bool check_images) {
  const CsvTable t = read_csv(path, kWho);
  const int64_t c_file = t.column("file", kWho), c_id = t.column("identity", kWho);
  const int64_t c_view = t.has_column("view_deg") ? t.column("view_deg", kWho) : t.column("view", kWho);
  ML_CHECK(!t.rows.empty(), kWho, ": '", path, "' lists no stimuli");
  const fs::path folder = fs::path(path).parent_path();
  NeuralStimuli s;
  s.manifest = path;
  std::map<std::pair<std::string, double>, int64_t> row_of;
  for (const CsvRow& row : t.rows) {
    const auto need = static_cast<size_t>(std::max({c_file, c_id, c_view}) + 1);
    ML_CHECK(row.fields.size() >= need, kWho, ": '", path, "' line ", row.line, " has ", row.fields.size(), " fields, the header names ",
             t.header.size());
    const fs::path file = trim(row.fields[static_cast<size_t>(c_file)]);
    ML_CHECK(!file.empty(), kWho, ": '", path, "' line ", row.line, ": the row names no image file");
    const fs::path resolved = file.is_absolute() ? file : folder / file;
    ML_CHECK(!check_images || fs::is_regular_file(resolved), kWho, ": '", path, "' line ", row.line, ": image '", resolved.string(),
             "' does not exist");
    const std::string id = trim(row.fields[static_cast<size_t>(c_id)]);
    ML_CHECK(!id.empty(), kWho, ": '", path, "' line ", row.line, ": empty identity");
    const std::string vf = trim(row.fields[static_cast<size_t>(c_view)]);
    double view = 0;
    const auto [end, ec] = std::from_chars(vf.data(), vf.data() + vf.size(), view);
    ML_CHECK(ec == std::errc() && end == vf.data() + vf.size() && std::isfinite(view), kWho, ": '", path, "' line ", row.line,
             ": view must be a number (degrees), got '", vf, "'");
    ML_CHECK(row_of.emplace(std::make_pair(id, view), s.size()).second, kWho, ": '", path, "' line ", row.line, ": identity '", id,
             "' at view ", view, " is listed twice");
    s.files.push_back(resolved.string());
    s.identity.push_back(id);
    s.view_deg.push_back(view);
    if (std::find(s.identities.begin(), s.identities.end(), id) == s.identities.end()) s.identities.push_back(id);
    if (std::find(s.views.begin(), s.views.end(), view) == s.views.end()) s.views.push_back(view);
  }
  std::sort(s.views.begin(), s.views.end());
  s.mirror.resize(s.files.size());
  for (int64_t i = 0; i < s.size(); ++i) {
    const auto it = row_of.find({s.identity[static_cast<size_t>(i)], -s.view_deg[static_cast<size_t>(i)] + 0.0});
    ML_CHECK(it != row_of.end(), kWho, ": '", path, "': identity '", s.identity[static_cast<size_t>(i)], "' is seen at view ",
             s.view_deg[static_cast<size_t>(i)], " but not at its mirror view ", -s.view_deg[static_cast<size_t>(i)] + 0.0,
             " (views must pair with mirror partners)");
    s.mirror[static_cast<size_t>(i)] = it->second;
  }
  ML_CHECK(s.size() >= 3, kWho, ": '", path, "' lists ", s.size(), " stimuli; RDM comparisons need at least 3");
  return s;
}

void validate_responses(const RowMatrixXd& r, const std::string& what) {
  for (int64_t i = 0; i < r.rows(); ++i)
    for (int64_t k = 0; k < r.cols(); ++k)
      ML_CHECK(std::isfinite(r(i, k)), what, ": the response of neuron ", k, " to stimulus ", i, " is ", r(i, k),
               " (NaN or infinite values are not allowed)");
  for (int64_t k = 0; k < r.cols(); ++k)
    ML_CHECK(r.col(k).minCoeff() < r.col(k).maxCoeff(), what, ": neuron ", k, " responds the same (", r(0, k),
             ") to every stimulus; remove constant neurons");
}

NeuralArea read_neural_area(const std::string& npy_path, const std::string& name, int64_t n) {
  const Tensor raw = load_npy(npy_path);
  ML_CHECK(raw.dim() == 2 || raw.dim() == 3, kWho, ": area '", name, "' ('", npy_path, "') has shape ", shape_str(raw.shape()),
           "; expected (stimuli, neurons) or (stimuli, neurons, repeats)");
  ML_CHECK(raw.size(0) == n, kWho, ": area '", name, "' ('", npy_path, "') has ", raw.size(0), " stimuli but the manifest lists ", n,
           " (every area must cover the manifest's stimuli, in its order)");
  const int64_t N = raw.size(1), R = raw.dim() == 3 ? raw.size(2) : 1;
  // Spike counts often come as integers: any of the NPY reader's dtypes, read as float.
  auto value = [&raw](int64_t i) -> float {
    switch (raw.dtype()) {
      case DType::F32: return raw.data()[i];
      case DType::I32: return static_cast<float>(raw.data_i32()[i]);
      case DType::U8: return static_cast<float>(raw.data_u8()[i]);
    }
    return 0.f;
  };
  ML_CHECK(N >= 2 && R >= 1, kWho, ": area '", name, "' ('", npy_path, "') has ", N, " neurons and ", R,
           " repeats; needs >= 2 neurons and >= 1 repeat");
  NeuralArea area;
  area.name = name;
  area.path = npy_path;
  area.repeats = R;
  area.responses.resize(n, N);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < N; ++k) {
      double s = 0;
      for (int64_t r = 0; r < R; ++r) {
        const float v = value((i * N + k) * R + r);
        ML_CHECK(std::isfinite(v), kWho, ": area '", name, "' ('", npy_path, "'): stimulus ", i, " neuron ", k, " repeat ", r, " is ", v,
                 " (NaN or infinite values are not allowed)");
        s += v;
      }
      area.responses(i, k) = s / static_cast<double>(R);
    }
  validate_responses(area.responses, std::string(kWho) + ": area '" + name + "' ('" + npy_path + "')");
  return area;
}

NeuralData read_neural_data(const std::string& dir, const std::vector<std::string>& areas, bool check_images) {
  ML_CHECK(fs::is_directory(dir), kWho, ": '", dir, "' is not a folder");
  NeuralData d;
  d.stimuli = read_neural_manifest((fs::path(dir) / "manifest.csv").string(), check_images);
  std::vector<std::string> names = areas;
  if (names.empty()) {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".npy") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
  }
  ML_CHECK(!names.empty(), kWho, ": '", dir, "' holds no <area>.npy arrays");
  for (const auto& name : names) {
    const fs::path p = fs::path(dir) / (name + ".npy");
    ML_CHECK(fs::is_regular_file(p), kWho, ": area '", name, "': '", p.string(), "' does not exist");
    d.areas.push_back(read_neural_area(p.string(), name, d.stimuli.size()));
  }
  return d;
}

}  // namespace ml::analysis
