// symmetry_plane — the symmetry-plane score of every image of a stimulus set (Farzmahdi et al.
// 2024, Fig. 2—S1; experiments/analysis/image_symmetry.h). Writes symmetry_plane.csv (per
// image: file, category, exemplar, view_deg, score, axis) and symmetry_plane_summary.csv (per
// category and view: mean, SD, n).
//   symmetry_plane --stimuli stim/manifest.csv --size 227 --out out/symmetry_plane
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "engine/data/image_folder.h"
#include "engine/io/atomic_file.h"
#include "experiments/analysis/image_symmetry.h"
#include "experiments/analysis/stimulus_set.h"

namespace fs = std::filesystem;
using namespace ml;

int main(int argc, char** argv) {
  CLI::App app{"Symmetry-plane score of every image of a stimulus set (Fig. 2-S1)"};
  std::string stimuli, out;
  int64_t size = 227;
  app.add_option("--stimuli", stimuli, "stimulus manifest (file, category, exemplar, view_deg)")->required();
  app.add_option("--size", size, "images are read (resized if needed) at size x size, gray")->capture_default_str();
  app.add_option("--out", out, "output folder")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    ML_CHECK(size >= 2, "--size must be >= 2, got ", size);
    const analysis::StimulusSet set = analysis::read_stimulus_set(stimuli);
    std::ostringstream csv;
    csv << "file,category,exemplar,view_deg,score,axis\n";
    std::map<std::pair<std::string, double>, std::vector<double>> groups;
    for (int64_t i = 0; i < set.size(); ++i) {
      const Tensor img = load_image(set.files[static_cast<size_t>(i)], 1, size, size);
      const analysis::SymmetryPlane s = analysis::symmetry_plane_score(img.data(), size, size);
      csv << fs::path(set.files[static_cast<size_t>(i)]).filename().string() << "," << set.category[static_cast<size_t>(i)] << ","
          << set.exemplar[static_cast<size_t>(i)] << "," << set.view_deg[static_cast<size_t>(i)] << "," << s.score << "," << s.axis << "\n";
      groups[{set.category[static_cast<size_t>(i)], set.view_deg[static_cast<size_t>(i)]}].push_back(s.score);
    }
    std::ostringstream sum;
    sum << "category,view_deg,mean,sd,n\n";
    for (const auto& [key, v] : groups) {
      double m = 0, ss = 0;
      for (double x : v) m += x;
      m /= static_cast<double>(v.size());
      for (double x : v) ss += (x - m) * (x - m);
      const double sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
      sum << key.first << "," << key.second << "," << m << "," << sd << "," << v.size() << "\n";
    }
    fs::create_directories(out);
    write_text_atomic((fs::path(out) / "symmetry_plane.csv").string(), csv.str());
    write_text_atomic((fs::path(out) / "symmetry_plane_summary.csv").string(), sum.str());
    std::fprintf(stderr, "symmetry_plane: %lld images, wrote %s/symmetry_plane.csv\n", static_cast<long long>(set.size()), out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "symmetry_plane: %s\n", e.what());
    return 1;
  }
  return 0;
}
