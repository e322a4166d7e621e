// msvt_rank_sum — trained vs untrained per category and layer (Farzmahdi et al. 2024, Fig. 2—S2B;
// farzmahdi2024-more.md §5): a Wilcoxon rank-sum test of the exemplars' indices of two
// mirror_symmetry runs (msvt_exemplars.csv), Benjamini-Yekutieli FDR over all category x layer
// tests (q = 0.05; --bh for Benjamini-Hochberg). Writes rank_sum.csv: layer, category, the two
// means and SEMs (n - 1), U, z, p, adjusted p, significant.
//   msvt_rank_sum --trained out/msvt/sym --untrained out/msvt/untrained --out out/rank_sum
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/csv.h"
#include "experiments/analysis/fdr.h"

namespace fs = std::filesystem;
using namespace ml;

namespace {
// (layer index, layer, category) -> indices of the exemplars, for one definition.
using Groups = std::map<std::tuple<int64_t, std::string, std::string>, std::vector<double>>;

Groups read_exemplars(const std::string& dir, const std::string& definition) {
  const std::string path = (fs::path(dir) / "msvt_exemplars.csv").string();
  const CsvTable t = read_csv(path, "msvt_rank_sum");
  const int64_t cl = t.column("layer", "msvt_rank_sum"), ci = t.column("layer_index", "msvt_rank_sum"),
                cc = t.column("category", "msvt_rank_sum"), cd = t.column("definition", "msvt_rank_sum"),
                cv = t.column("index", "msvt_rank_sum");
  Groups g;
  for (const auto& r : t.rows) {
    if (trim(r.fields.at(static_cast<size_t>(cd))) != definition) continue;
    const double v = std::stod(r.fields.at(static_cast<size_t>(cv)));
    ML_CHECK(std::isfinite(v), "msvt_rank_sum: '", path, "' line ", r.line, ": index is not a number");
    g[{std::stoll(r.fields.at(static_cast<size_t>(ci))), trim(r.fields.at(static_cast<size_t>(cl))), trim(r.fields.at(static_cast<size_t>(cc)))}]
        .push_back(v);
  }
  ML_CHECK(!g.empty(), "msvt_rank_sum: '", path, "' has no rows of definition '", definition, "'");
  return g;
}

std::pair<double, double> mean_sem(const std::vector<double>& v) {
  double m = 0, ss = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) ss += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::sqrt(static_cast<double>(v.size())) : 0.0};
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trained vs untrained index per category and layer: rank-sum tests with FDR control (Fig. 2-S2B)"};
  std::string trained, untrained, out, definition = "released";
  double q = 0.05;
  bool bh = false;
  app.add_option("--trained", trained, "mirror_symmetry output folder of the trained net")->required();
  app.add_option("--untrained", untrained, "mirror_symmetry output folder of the untrained net(s)")->required();
  app.add_option("--definition", definition, "released | no_diagonal")->capture_default_str();
  app.add_option("--q", q, "FDR level")->capture_default_str();
  app.add_flag("--bh", bh, "Benjamini-Hochberg instead of Benjamini-Yekutieli");
  app.add_option("--out", out, "output folder")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const Groups a = read_exemplars(trained, definition), b = read_exemplars(untrained, definition);
    std::vector<std::tuple<int64_t, std::string, std::string>> keys;
    std::vector<analysis::RankSum> tests;
    std::vector<double> p;
    for (const auto& [key, va] : a) {
      const auto it = b.find(key);
      ML_CHECK(it != b.end(), "msvt_rank_sum: layer '", std::get<1>(key), "' category '", std::get<2>(key), "' is in '", trained,
               "' but not in '", untrained, "'");
      keys.push_back(key);
      tests.push_back(analysis::rank_sum_test(va, it->second));
      p.push_back(tests.back().p);
    }
    const analysis::FdrResult f = bh ? analysis::benjamini_hochberg(p, q) : analysis::benjamini_yekutieli(p, q);
    std::ostringstream csv;
    csv << "layer,layer_index,category,mean_trained,sem_trained,n_trained,mean_untrained,sem_untrained,n_untrained,u,z,p,p_adjusted,"
           "significant,procedure\n";
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto& va = a.at(keys[i]);
      const auto& vb = b.at(keys[i]);
      const auto [ma, sa] = mean_sem(va);
      const auto [mb, sb] = mean_sem(vb);
      csv << std::get<1>(keys[i]) << "," << std::get<0>(keys[i]) << "," << std::get<2>(keys[i]) << "," << ma << "," << sa << "," << va.size()
          << "," << mb << "," << sb << "," << vb.size() << "," << tests[i].u << "," << tests[i].z << "," << tests[i].p << ","
          << f.adjusted[i] << "," << (f.rejected[i] ? 1 : 0) << "," << (bh ? "BH" : "BY") << "\n";
    }
    fs::create_directories(out);
    write_text_atomic((fs::path(out) / "rank_sum.csv").string(), csv.str());
    std::fprintf(stderr, "msvt_rank_sum: %zu tests, %lld significant at q = %g (%s); wrote %s/rank_sum.csv\n", keys.size(),
                 static_cast<long long>(std::count(f.rejected.begin(), f.rejected.end(), true)), q, bh ? "BH" : "BY", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "msvt_rank_sum: %s\n", e.what());
    return 1;
  }
  return 0;
}
