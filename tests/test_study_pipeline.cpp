// The mirror-symmetry study's pipeline (issue 6): streamed unit statistics, stimulus
// manifests, the streamed msvt analysis against an in-memory reference, its floors, the
// streamed invariance/equivariance against the in-memory per-image reference, and
// extract_activations against the engine's own forward pass.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <stb_image_write.h>

#include "engine/data/image_folder.h"
#include "engine/io/npy.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "experiments/analysis/activations.h"
#include "experiments/analysis/equivariance_study.h"
#include "experiments/analysis/msvt_study.h"
#include "experiments/analysis/unit_stats.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;
using namespace ml::testing;
namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

// A PNG of uniformly random pixels, size x size with `comp` channels (1 gray, 3 RGB).
void write_random_png(const std::string& path, int size, int comp, Generator& g) {
  const Tensor px = Tensor::uniform({int64_t{size} * size * comp}, 0.f, 255.f, g);
  std::vector<uint8_t> bytes(static_cast<size_t>(px.numel()));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(px.data()[i]);
  REQUIRE(stbi_write_png(path.c_str(), size, size, comp, bytes.data(), size * comp) != 0);
}

// A manifest of `objects` objects x 9 views, in shuffled row order (the reader must sort), with
// gray PNGs of the given size whose pixels are random.
StimulusSet make_set(const TempDir& dir, int64_t objects, int64_t size, Generator& g) {
  std::string csv = "file,label,category,exemplar,view_deg\n";
  std::vector<std::string> rows;
  for (int64_t o = 0; o < objects; ++o)
    for (int v = 8; v >= 0; --v) {  // views written last to first
      const std::string cat = o % 2 ? "face" : "fruit";
      const std::string file = cat + std::to_string(o) + "_" + std::to_string(v) + ".png";
      write_random_png((fs::path(dir.path) / file).string(), static_cast<int>(size), 1, g);
      rows.push_back(file + "," + std::to_string(o % 2) + "," + cat + "," + std::to_string(o / 2) + "," +
                     std::to_string(-90.0 + 22.5 * v));
    }
  for (const auto& r : rows) csv += r + "\n";
  write_text(fs::path(dir.path) / "manifest.csv", csv);
  write_text(fs::path(dir.path) / "stimuli.json",
             R"({"families": [{"name": "face", "symmetry": "one_plane"}, {"name": "fruit", "symmetry": "none"}]})");
  return read_stimulus_set((fs::path(dir.path) / "manifest.csv").string());
}

}  // namespace

TEST_CASE("UnitStats: streamed batches give the two-pass mean and population std") {
  Generator g(3);
  // A large mean with a small spread: the naive sum-of-squares formula would cancel.
  Tensor x = add(Tensor::normal({37, 5}, 0.f, 0.01f, g), 1000.f);
  x.data()[2] = 7.f;  // unit 2 ...
  for (int64_t i = 0; i < 37; ++i) x.data()[i * 5 + 2] = 7.f;  // ... is constant
  UnitStats s(5);
  for (int64_t a : {0, 1, 11, 30}) s.add(x.slice(a, a == 0 ? 1 : a == 1 ? 11 : a == 11 ? 30 : 37));
  CHECK(s.count() == 37);
  for (int64_t u = 0; u < 5; ++u) {
    double m = 0, ss = 0;
    for (int64_t i = 0; i < 37; ++i) m += x.data()[i * 5 + u];
    m /= 37;
    for (int64_t i = 0; i < 37; ++i) ss += (x.data()[i * 5 + u] - m) * (x.data()[i * 5 + u] - m);
    // double accumulation of float inputs: agreement to ~1e-12 relative; 1e-9 leaves margin.
    CHECK(s.mean(u) == doctest::Approx(m).epsilon(1e-12));
    CHECK(s.std(u) == doctest::Approx(std::sqrt(ss / 37)).epsilon(1e-9));
    CHECK(s.informative(u) == (u != 2));
  }
  CHECK(contains(error_of([&] { zscore_units(x, s, std::vector<bool>(5, true)); }), "constant"));
}

TEST_CASE("read_stimulus_set: groups objects, sorts views, and names bad manifests") {
  TempDir dir("stimset");
  Generator g(1);
  const StimulusSet set = make_set(dir, 4, 8, g);
  REQUIRE(set.objects.size() == 4);
  CHECK(set.views_deg.front() == -90.0);
  CHECK(set.views_deg.back() == 90.0);
  CHECK(set.categories.size() == 2);
  CHECK(set.categories[0].name == "fruit");
  CHECK(set.categories[0].symmetry == "none");
  CHECK(set.categories[1].mirror_symmetric());
  for (const auto& o : set.objects)
    for (size_t j = 0; j < 9; ++j) CHECK(set.view_deg[static_cast<size_t>(o.views[j])] == -90.0 + 22.5 * static_cast<double>(j));

  const fs::path bad = fs::path(dir.path) / "bad.csv";
  write_text(bad, "file,category,exemplar\na.png,face,0\n");
  expect_parts(error_of([&] { read_stimulus_set(bad.string()); }), {"bad.csv", "view_deg"});
  write_text(bad, "file,category,exemplar,view_deg\na.png,face,0,-90\nb.png,face,0,0\nc.png,face,0,45\n");
  expect_parts(error_of([&] { read_stimulus_set(bad.string()); }), {"bad.csv", "symmetric"});
  write_text(bad, "file,category,exemplar,view_deg\na.png,face,0,-45\nb.png,face,0,0\nc.png,face,0,45\nd.png,face,1,0\n");
  expect_parts(error_of([&] { read_stimulus_set(bad.string()); }), {"bad.csv", "face 1"});
  write_text(bad, "file,category,exemplar,view_deg\na.png,face,zero,0\n");
  expect_parts(error_of([&] { read_stimulus_set(bad.string()); }), {"bad.csv", "line 2", "exemplar"});
}

TEST_CASE("run_msvt: streamed analysis equals the in-memory reference, and its floors are the definitions'") {
  TempDir dir("msvtstudy");
  Generator g(2);
  const StimulusSet set = make_set(dir, 6, 4, g);
  const int64_t N = set.size(), U = 300;
  // Activations per manifest row: the mirror-symmetric family ("face") depends only on |yaw|
  // plus a little noise; "fruit" is unstructured; unit 0 is constant (must be dropped).
  Tensor acts = Tensor::normal({N, U}, 0.f, 1.f, g);
  std::vector<Tensor> proto;
  for (int64_t o = 0; o < 6; ++o) proto.push_back(Tensor::normal({5, U}, 0.f, 1.f, g));
  for (int64_t o = 0; o < 6; ++o)
    for (int64_t j = 0; j < 9; ++j) {
      const int64_t row = set.objects[static_cast<size_t>(o)].views[static_cast<size_t>(j)];
      float* a = acts.data() + row * U;
      if (set.objects[static_cast<size_t>(o)].category == "face")
        for (int64_t u = 0; u < U; ++u) a[u] = proto[static_cast<size_t>(o)].data()[std::min(j, 8 - j) * U + u] + 0.05f * a[u];
      a[0] = 3.f;
    }
  const ActivationFn fn = [&](const std::vector<int64_t>& rows) {
    Tensor y = Tensor::empty({static_cast<int64_t>(rows.size()), U});
    for (size_t i = 0; i < rows.size(); ++i) std::copy_n(acts.data() + rows[i] * U, U, y.data() + static_cast<int64_t>(i) * U);
    return std::vector<Tensor>{y};
  };
  MsvtOptions o;
  o.batch_objects = 4;  // two uneven passes
  o.noise_draws = 400;
  o.progress = false;
  const MsvtResult r = run_msvt(set, {"layer"}, fn, o);
  REQUIRE(r.layers.size() == 1);
  const MsvtLayer& L = r.layers[0];
  CHECK(L.informative_units == U - 1);

  // Reference: the whole set at once with the engine's ops.
  const Tensor z = zscore(select_units(acts, informative_units(acts)));
  for (size_t k = 0; k < set.objects.size(); ++k) {
    std::vector<Tensor> views;
    for (int64_t row : set.objects[k].views) views.push_back(z.slice(row, row + 1));
    const Tensor D = exemplar_rdm(cat(views, 0));
    // float32 z-scores from double vs float statistics: RDM entries agree to ~1e-6.
    CHECK(max_abs_diff(D, L.rdms[k]) < 1e-5);
    CHECK(L.index[0][k] == doctest::Approx(msvt_index(D)).epsilon(1e-4));
    if (set.objects[k].category == "face") CHECK(L.index[0][k] > 0.95);
  }
  // Floors (SCIENCE.md): noise -1/8 with the diagonal, near 0 without; 400 draws put the
  // mean's standard error at 0.015/20 and 0.18/20, so 0.01 and 0.05 are > 5 SE away.
  double noise0 = 0, noise1 = 0;
  for (double v : L.noise[0]) noise0 += v / static_cast<double>(L.noise[0].size());
  for (double v : L.noise[1]) noise1 += v / static_cast<double>(L.noise[1].size());
  CHECK(noise0 == doctest::Approx(-0.125).epsilon(0.08));
  CHECK(std::abs(noise1) < 0.08);
  CHECK(L.shuffled[0].size() == 6 * 4);

  // Files: the pooled row covers the mirror-symmetric family only.
  write_msvt(r, set, "toy", (fs::path(dir.path) / "out").string());
  std::ifstream f(fs::path(dir.path) / "out" / "msvt.csv");
  std::string header, line, all;
  std::getline(f, header);
  CHECK(header == "model,layer,layer_index,category,symmetry,definition,mean,sem,n");
  while (std::getline(f, line)) all += line + "\n";
  CHECK(contains(all, "toy,layer,0,pooled,pooled,released,"));
  CHECK(contains(all, "toy,layer,0,face,one_plane,released,"));
  const Tensor rdms = load_npy((fs::path(dir.path) / "out" / "rdms.npy").string());
  CHECK(rdms.shape() == Shape{1, 6, 9, 9});
  CHECK(fs::exists(fs::path(dir.path) / "out" / "msvt_floor.csv"));
}

TEST_CASE("run_equivariance: streamed per-image correlations equal the in-memory reference") {
  NetSpec spec;
  spec.model = "vgg_small";
  spec.untrained = true;
  spec.seed = 5;
  spec.in_channels = 1;
  spec.image_size = 28;
  AnalysisNet net = load_analysis_net(spec);
  Generator g(9);
  const Tensor images = Tensor::uniform({10, 1, 28, 28}, 0.f, 1.f, g);
  const std::vector<std::string> layers{"conv1_2", "fc2"};
  for (bool legacy : {false, true}) {
    EquivarianceOptions o;
    o.batch = 4;  // 4 + 4 + 2
    o.rot90_legacy = legacy;
    o.progress = false;
    const auto rows = run_equivariance(net, layers, [&](int64_t a, int64_t b) { return images.slice(a, b).clone(); }, 10, o);
    REQUIRE(rows.size() == 3 * 3);  // per transform: conv1_2 invariance + equivariance, fc2 invariance
    const auto fx = layer_outputs(net, images, layers);
    for (const EquivarianceRow& row : rows) {
      const Tensor fgx = layer_outputs(net, apply_transform(row.transform, images).clone(), layers)[static_cast<size_t>(row.layer_index)];
      const Tensor& f = fx[static_cast<size_t>(row.layer_index)];
      std::vector<bool> keep(static_cast<size_t>(f.numel() / 10), true);
      if (row.conv) keep = central_mask(row.transform, f.size(1), f.size(2), f.size(3));
      std::vector<double> ref;
      if (row.measure == "invariance") {
        ref = per_image_correlation(f.reshape({10, -1}), fgx.reshape({10, -1}), keep);
      } else if (legacy && row.transform == Transform::Rot90) {
        ref = per_image_correlation(f.reshape({10, -1}), apply_transform(row.transform, fgx).reshape({10, -1}), keep);
      } else {
        ref = per_image_correlation(fgx.reshape({10, -1}), apply_transform(row.transform, f).reshape({10, -1}), keep);
      }
      REQUIRE(row.per_image.size() == 10);
      // float z-scores from double statistics vs the reference's double z-scores: 1e-4.
      for (size_t i = 0; i < 10; ++i) CHECK(row.per_image[i] == doctest::Approx(ref[i]).epsilon(1e-4));
    }
  }
}

TEST_CASE("extract_activations on a random-weight AlexNet reproduces the engine's forward pass") {
  TempDir dir("extract");
  Generator g(4);
  std::vector<std::string> files;
  for (int i = 0; i < 3; ++i) {
    const std::string f = (fs::path(dir.path) / ("img" + std::to_string(i) + ".png")).string();
    write_random_png(f, 224, 3, g);
    files.push_back(f);
  }
  NetSpec spec;
  spec.model = "alexnet";
  spec.untrained = true;
  spec.seed = 11;
  AnalysisNet net = load_analysis_net(spec);
  CHECK(net.norm.source == "imagenet");
  const std::vector<std::string> layers{"conv1", "conv5", "fc7"};
  write_activations(net, files, layers, (fs::path(dir.path) / "acts").string(), /*batch=*/2, false);

  // The engine directly: the same images, ImageNet normalisation, one forward, ReLU.
  const Tensor mean = Tensor::from_vector({1, 3, 1, 1}, {0.485f, 0.456f, 0.406f});
  const Tensor stdv = Tensor::from_vector({1, 3, 1, 1}, {0.229f, 0.224f, 0.225f});
  // Read file by file, independently of load_images, which the program uses.
  std::vector<Tensor> imgs;
  for (const auto& f : files) imgs.push_back(load_image(f, 3, 224, 224));
  const Tensor x = div(sub(cat(imgs, 0), mean), stdv);
  std::vector<std::string> modules;
  for (const auto& l : layers) modules.push_back(net.model.layer(l).module);
  nn::ActivationCapture cap(*net.model.net, modules);
  (*net.model.net)(x);
  for (size_t l = 0; l < layers.size(); ++l) {
    const Tensor saved = load_npy((fs::path(dir.path) / "acts" / (layers[l] + ".npy")).string());
    Tensor direct = cap[modules[l]];
    if (net.model.layer(layers[l]).relu) direct = relu(direct);
    REQUIRE(saved.shape() == Shape{3, direct.numel() / 3});
    // Batches of 2 + 1 against one batch of 3: the CPU conv is per image, so the only
    // difference is none; allow float rounding of a reordered GEMM anyway.
    CHECK(max_abs_diff(saved, direct.reshape({3, -1})) < 1e-4);
  }
  CHECK(fs::exists(fs::path(dir.path) / "acts" / "layers.json"));
}

TEST_CASE("NpyWriter: rows streamed in equal numpy's whole array, and an unfinished writer leaves nothing") {
  TempDir dir("npywriter");
  Generator g(6);
  const Tensor a = Tensor::normal({7, 3}, 0.f, 1.f, g);
  const std::string path = (fs::path(dir.path) / "a.npy").string();
  {
    NpyWriter w(path, DType::F32, {7, 3});
    w.append(a.slice(0, 5));
    w.append(a.slice(5, 7));
    CHECK(contains(error_of([&] { w.append(a.slice(0, 1)); }), "more than the 7 rows"));
    w.finish();
  }
  CHECK(equal(load_npy(path), a));
  const std::string partial = (fs::path(dir.path) / "b.npy").string();
  {
    NpyWriter w(partial, DType::F32, {7, 3});
    w.append(a.slice(0, 2));
    CHECK(contains(error_of([&] { w.finish(); }), "2 of 7 rows"));
  }
  CHECK_FALSE(fs::exists(partial));
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK_MESSAGE(e.path().filename() == "a.npy", e.path());
}
