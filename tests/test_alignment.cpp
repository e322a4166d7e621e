// The alignment study end to end (issue 19): neural data files and their named errors, the
// simulated populations, and the neural_alignment program's ci preset on rendered faces with an
// untrained vgg_small, whose simulated areas have a known answer.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/io/csv.h"
#include "engine/io/npy.h"
#include "experiments/analysis/alignment_study.h"
#include "experiments/analysis/neural_data.h"
#include "experiments/analysis/neural_sim.h"
#include "experiments/analysis/stimulus_set.h"
#include "tests/testing.h"
#include "tools/render/mesh_set.h"
#include "tools/render/stimulus_set.h"

using namespace ml;
using namespace ml::analysis;
using namespace ml::testing;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

// A folder with 2 identities x 3 views (-45, 0, 45), tiny image files and one area.
void small_data(const fs::path& dir, const std::string& manifest, const Tensor& area) {
  fs::create_directories(dir);
  for (const char* f : {"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"}) write_text(dir / f, "x");
  write_text(dir / "manifest.csv", manifest);
  save_npy((dir / "V1.npy").string(), area);
}

const char* kManifest = "file,identity,view_deg\na.png,A,-45\nb.png,A,0\nc.png,A,45\nd.png,B,-45\ne.png,B,0\nf.png,B,45\n";

Tensor ramp(int64_t n, int64_t N, int64_t R = 1) {
  std::vector<float> v(static_cast<size_t>(n * N * R));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 7919) % 13);
  return R == 1 ? Tensor::from_vector({n, N}, v) : Tensor::from_vector({n, N, R}, v);
}

}  // namespace

TEST_CASE("neural data: the file format reads back and bad input gets named errors") {
  TempDir tmp;
  const fs::path d = fs::path(tmp.path) / "ok";
  small_data(d, kManifest, ramp(6, 4, 3));
  const NeuralData data = read_neural_data(d.string(), {});
  REQUIRE(data.areas.size() == 1);
  CHECK(data.areas[0].name == "V1");
  CHECK(data.areas[0].repeats == 3);
  CHECK(data.stimuli.mirror == std::vector<int64_t>{2, 1, 0, 5, 4, 3});
  // Repeats are averaged: stimulus 1, neuron 2.
  const Tensor raw = ramp(6, 4, 3);
  CHECK(data.areas[0].responses(1, 2) == doctest::Approx((raw.data()[(1 * 4 + 2) * 3] + raw.data()[(1 * 4 + 2) * 3 + 1] +
                                                          raw.data()[(1 * 4 + 2) * 3 + 2]) / 3.0));

  auto err = [&](const std::string& name, const std::string& manifest, const Tensor& area) {
    const fs::path dd = fs::path(tmp.path) / name;
    small_data(dd, manifest, area);
    return error_of([&] { read_neural_data(dd.string(), {}); });
  };
  Tensor nan = ramp(6, 4);
  nan.data()[9] = std::nanf("");
  expect_parts(err("nan", kManifest, nan), {"V1", "stimulus 2", "neuron 1", "NaN"});
  Tensor flat = ramp(6, 4);
  for (int i = 0; i < 6; ++i) flat.data()[i * 4 + 3] = 2.f;
  expect_parts(err("const", kManifest, flat), {"V1", "neuron 3", "same", "every stimulus"});
  expect_parts(err("rows", kManifest, ramp(5, 4)), {"V1", "5 stimuli", "lists 6"});
  expect_parts(err("dims", kManifest, Tensor::zeros({6})), {"V1", "(6)", "(stimuli, neurons)"});
  expect_parts(err("noimg", "file,identity,view_deg\na.png,A,-45\n,A,0\nc.png,A,45\n", ramp(3, 4)), {"line 3", "no image"});
  expect_parts(err("missing", "file,identity,view_deg\na.png,A,-45\nzz.png,A,0\nc.png,A,45\n", ramp(3, 4)), {"line 3", "zz.png", "does not exist"});
  expect_parts(err("unpaired", "file,identity,view_deg\na.png,A,-45\nb.png,A,0\nc.png,A,30\n", ramp(3, 4)),
               {"identity 'A'", "view -45", "mirror view 45"});
  expect_parts(err("twice", "file,identity,view_deg\na.png,A,-45\nb.png,A,-45\nc.png,A,45\n", ramp(3, 4)), {"line 3", "listed twice"});
  // Areas with different stimulus counts: the second is refused against the manifest.
  const fs::path two = fs::path(tmp.path) / "two";
  small_data(two, kManifest, ramp(6, 4));
  save_npy((two / "V2.npy").string(), ramp(5, 4));
  expect_parts(error_of([&] { read_neural_data(two.string(), {}); }), {"V2", "5 stimuli", "lists 6"});
  // A bootstrap count of 0 is refused before any work.
  std::vector<LayerActivations> layers(1);
  layers[0].name = "l";
  layers[0].a = RowMatrixXf::Random(6, 5);
  layers[0].af = RowMatrixXf::Random(6, 5);
  AlignmentOptions o;
  o.bootstrap = 0;
  CHECK(contains(error_of([&] { run_alignment(data, layers, o); }), "bootstrap count must be >= 1"));
}

TEST_CASE("neural sim: Poisson counts have the rate as mean and variance, kinds follow the mix") {
  Generator g(5);
  double s = 0, ss = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<double>(poisson(6.5, g));
    s += k;
    ss += k * k;
  }
  const double mean = s / n, var = ss / n - mean * mean;
  // SE of the mean sqrt(6.5 / 20000) = 0.018; of the variance ~ 0.07: 5 SE margins.
  CHECK(mean == doctest::Approx(6.5).epsilon(0.09 / 6.5));
  CHECK(var == doctest::Approx(6.5).epsilon(0.35 / 6.5));
  SimOptions o;
  o.areas = {parse_area_mix("X:40:0.5,0.25,0.25")};
  std::vector<int64_t> id;
  std::vector<double> view;
  for (int i = 0; i < 4; ++i)
    for (double v : {-90.0, 0.0, 90.0}) {
      id.push_back(i);
      view.push_back(v);
    }
  const auto sims = simulate_populations(id, view, o);
  int counts[3] = {0, 0, 0};
  for (auto k : sims[0].kinds) ++counts[static_cast<int>(k)];
  CHECK(counts[0] == 20);
  CHECK(counts[1] == 10);
  CHECK(counts[2] == 10);
  // Mirror-symmetric and invariant neurons: the same expected rate for a view and its mirror.
  for (int64_t k = 20; k < 40; ++k)
    for (int i = 0; i < 4; ++i) CHECK(sims[0].expected(i * 3, k) == doctest::Approx(sims[0].expected(i * 3 + 2, k)));
  CHECK(contains(error_of([] { parse_area_mix("X:40:0.5,0.5"); }), "three fractions"));
}

TEST_CASE("neural_alignment: ci preset end to end on rendered faces recovers the simulated answer") {
  const auto t0 = std::chrono::steady_clock::now();
  TempDir tmp;
  const fs::path stim = fs::path(tmp.path) / "stim", neural = fs::path(tmp.path) / "neural", out = fs::path(tmp.path) / "out";
  {
    render::MeshSet set;
    render::RenderOptions ro;
    ro.size = 32;
    ro.supersample = 2;
    render::add_family(set, "face", 10, 0, 0.0, ro.camera);
    render::write_stimulus_set(set.categories, set.items, render::render_source(set, ro), stim.string(), {}, nullptr);
  }
  // 10 identities x 5 views from the rendered set, three areas with known mixes.
  const StimulusSet set = read_stimulus_set((stim / "manifest.csv").string());
  std::vector<std::string> files, names;
  std::vector<int64_t> identity;
  std::vector<double> view;
  for (const auto& obj : set.objects) {
    names.push_back("face_" + std::to_string(obj.exemplar));
    for (int64_t row : obj.views)
      for (double v : {-90.0, -45.0, 0.0, 45.0, 90.0})
        if (set.view_deg[static_cast<size_t>(row)] == v) {
          files.push_back(set.files[static_cast<size_t>(row)]);
          identity.push_back(static_cast<int64_t>(names.size()) - 1);
          view.push_back(v);
        }
  }
  REQUIRE(files.size() == 50);
  SimOptions so;
  so.seed = 3;
  so.areas = {parse_area_mix("ML_MF:100:0.7,0.2,0.1"), parse_area_mix("AL:80:0.15,0.7,0.15"), parse_area_mix("AM:80:0.1,0.2,0.7")};
  write_simulation(neural.string(), files, names, identity, view, simulate_populations(identity, view, so), so, {{"test", true}});

  AlignmentProgram p;
  p.net.model = "vgg_small";
  p.net.untrained = true;
  p.net.image_size = 32;
  p.neural = neural.string();
  p.out = out.string();
  p.preset = "ci";
  p.plot = false;
  p.progress = false;
  const nlohmann::json summary = run_alignment_program(p);
  CHECK(summary["bootstrap"] == 100);
  CHECK(summary["splits"] == 10);
  // Every output is there, one row per layer x area, and the split adds up to r in each row.
  for (const char* f : {"alignment.csv", "areas.csv", "neural_rdms.npy", "alignment.json"}) CHECK(fs::is_regular_file(out / f));
  const CsvTable t = read_csv((out / "alignment.csv").string(), "test");
  CHECK(t.rows.size() == 7 * 3);
  const int64_t c_r = t.column("r", "t"), c_pi = t.column("phi_i", "t"), c_ps = t.column("phi_s", "t"), c_lo = t.column("r_lo", "t"),
                c_hi = t.column("r_hi", "t"), c_sd = t.column("r_sd", "t");
  for (const auto& row : t.rows) {
    auto num = [&](int64_t c) { return std::stod(row.fields[static_cast<size_t>(c)]); };
    // Six significant digits in the CSV: sums agree to ~1e-6.
    CHECK(num(c_pi) + num(c_ps) == doctest::Approx(num(c_r)).epsilon(1e-5));
    CHECK(num(c_lo) < num(c_hi));
    CHECK(num(c_sd) > 0);
  }
  CHECK(load_npy((out / "neural_rdms.npy").string()).shape() == Shape{3, 50, 50});
  // The known answer (simulate_population's claims) is recovered by this untrained net.
  REQUIRE(summary.contains("verdicts"));
  CHECK(summary["verdicts"].size() == 3);
  for (const auto& v : summary["verdicts"]) {
    INFO(v.dump());
    CHECK(v["agrees"].get<bool>());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("ci preset end to end: ", seconds, " s");
}
