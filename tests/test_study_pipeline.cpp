// The mirror-symmetry study's pipeline (issue 6): streamed unit statistics, stimulus
// manifests, the streamed msvt analysis and its floors, the streamed invariance/equivariance
// (both rot90 variants), each against SCIENCE.md's definitions written out by plain loops in
// tests/study_reference.h (no analysis code in the reference), and extract_activations
// against the engine's own forward pass.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <stb_image_write.h>

#include "engine/data/image_folder.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "experiments/analysis/activations.h"
#include "experiments/analysis/equivariance_study.h"
#include "experiments/analysis/msvt_study.h"
#include "experiments/analysis/unit_stats.h"
#include "tests/study_reference.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::analysis;
using namespace ml::testing;
namespace reference = ml::testing::reference;
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
    // double accumulation of float inputs: the means agree to ~1e-15 relative (bound 1e-12
    // relative); the spread (~0.01 about 1000) loses ~5 digits to the mean, so the std agrees to
    // ~1e-11 relative (bound 1e-9 relative, + 1e-12 absolute for the constant unit's 0).
    CHECK(std::fabs(s.mean(u) - m) <= 1e-12 * std::fabs(m));
    CHECK(std::fabs(s.std(u) - std::sqrt(ss / 37)) <= 1e-9 * std::sqrt(ss / 37) + 1e-12);
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

  // Reference, from SCIENCE.md's steps by plain loops (tests/study_reference.h), sharing no
  // code with the analysis: every unit z-scored across all N images (population sd), constant
  // units dropped, per object the RDM of its views and eq. 1 under both definitions.
  std::vector<double> z;  // (N, kept units), row-major
  int64_t kept = 0;
  {
    const auto v = acts.to_vector();
    std::vector<std::vector<double>> cols;
    for (int64_t u = 0; u < U; ++u) {
      double m = 0, ss = 0;
      for (int64_t i = 0; i < N; ++i) m += v[static_cast<size_t>(i * U + u)];
      m /= static_cast<double>(N);
      for (int64_t i = 0; i < N; ++i) ss += (v[static_cast<size_t>(i * U + u)] - m) * (v[static_cast<size_t>(i * U + u)] - m);
      const double sd = std::sqrt(ss / static_cast<double>(N));
      if (sd == 0) continue;
      std::vector<double> c;
      for (int64_t i = 0; i < N; ++i) c.push_back((v[static_cast<size_t>(i * U + u)] - m) / sd);
      cols.push_back(c);
    }
    kept = static_cast<int64_t>(cols.size());
    z.resize(static_cast<size_t>(N * kept));
    for (int64_t i = 0; i < N; ++i)
      for (int64_t u = 0; u < kept; ++u) z[static_cast<size_t>(i * kept + u)] = cols[static_cast<size_t>(u)][static_cast<size_t>(i)];
  }
  CHECK(kept == U - 1);
  for (size_t k = 0; k < set.objects.size(); ++k) {
    CAPTURE(k);
    std::vector<float> views;
    for (int64_t row : set.objects[k].views)
      for (int64_t u = 0; u < kept; ++u) views.push_back(static_cast<float>(z[static_cast<size_t>(row * kept + u)]));
    const std::vector<double> D = reference::rdm(views, 9, kept);
    // The program's RDM comes from float32 z-scores (double statistics) and a float32
    // correlation over 299 units: entries agree to a few 1e-7 (measured at most 5.2e-7 here);
    // bound 1e-5, far below the RDM's own scale (entries ~1).
    const auto Dk = L.rdms[k].to_vector();
    double worst = 0;
    for (size_t i = 0; i < 81; ++i) worst = std::max(worst, std::fabs(Dk[i] - D[i]));
    CHECK(worst < 1e-5);
    // The index is Pearson r of 72 (56) RDM entries whose spread is >= 0.1: entry errors of
    // <= 5e-7 move r by <= ~2 * 5e-7 / 0.1 = 1e-5 (measured at most 1.5e-7). A change of
    // definition moves it by > 1e-2.
    CHECK(std::fabs(L.index[0][k] - reference::msvt(D, 9, false)) < 1e-5);
    CHECK(std::fabs(L.index[1][k] - reference::msvt(D, 9, true)) < 1e-5);
    if (set.objects[k].category == "face") CHECK(L.index[0][k] > 0.95);
  }
  // Floors (SCIENCE.md): noise representations of 9 views x the 299 kept units. Expected values
  // at this size from 30000 draws through tests/study_reference.h's loops (standard errors
  // 0.0004 and 0.0011): released kReleased299, diagonal-free kDiagFree299. Bounds: 4.5
  // standard errors of the program's 400 draws (computed from the draws) around them.
  constexpr double kReleased299 = -0.1213, kDiagFree299 = -0.0331;
  const MeanSem n0 = mean_sem(L.noise[0]), n1 = mean_sem(L.noise[1]);
  CHECK(n0.n == 400);
  CHECK(n1.n == 400);
  INFO("noise floors: released ", n0.mean, " +- ", n0.sem, ", diagonal-free ", n1.mean, " +- ", n1.sem);
  CHECK(std::fabs(n0.mean - kReleased299) < 4.5 * n0.sem);
  CHECK(std::fabs(n1.mean - kDiagFree299) < 4.5 * n1.sem);
  CHECK(n0.sem < 0.005);  // sd ~0.06 / 20
  CHECK(n1.sem < 0.012);  // sd ~0.18 / 20
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

TEST_CASE("run_msvt without z-scoring (Fig. 2-S7): RDMs of the raw rows, and loud units decide") {
  TempDir dir("msvtraw");
  Generator g(4);
  const StimulusSet set = make_set(dir, 6, 4, g);
  const int64_t N = set.size(), U = 200, loud = 30;
  // Per object: 170 quiet units (scale 1) that depend on |yaw| only (mirror-symmetric tuning)
  // and 30 loud units (scale 100, mean 500) that follow the signed yaw. z-scored, the 170
  // symmetric units outvote the 30; raw, the 30 loud units carry almost all of the variance.
  // Unit 0 is constant (3): z-scoring drops it, the raw RDMs keep it.
  Tensor acts = Tensor::normal({N, U}, 0.f, 1.f, g);
  for (size_t o = 0; o < set.objects.size(); ++o) {
    const Tensor proto = Tensor::normal({9, U}, 0.f, 1.f, g);
    for (int64_t j = 0; j < 9; ++j) {
      float* a = acts.data() + set.objects[o].views[static_cast<size_t>(j)] * U;
      for (int64_t u = 0; u < U; ++u)
        a[u] = u < loud ? 500.f + 100.f * proto.data()[j * U + u] + 0.05f * a[u]
                        : proto.data()[std::min(j, 8 - j) * U + u] + 0.05f * a[u];
      a[0] = 3.f;
    }
  }
  const ActivationFn fn = [&](const std::vector<int64_t>& rows) { return std::vector<Tensor>{gather_rows(acts, rows)}; };
  MsvtOptions o;
  o.progress = false;
  o.noise_draws = 10;
  const MsvtResult z = run_msvt(set, {"layer"}, fn, o);
  o.zscore = false;
  const MsvtResult raw = run_msvt(set, {"layer"}, fn, o);
  CHECK(z.zscored);
  CHECK_FALSE(raw.zscored);
  const auto v = acts.to_vector();
  for (size_t k = 0; k < set.objects.size(); ++k) {
    CAPTURE(k);
    // Reference: the RDM of the object's raw rows, every unit, by plain loops. float32
    // correlation of rows with mean ~3..500 over 200 units: entries agree to ~1e-6 relative to
    // the rows' scale (measured below 2e-6); bound 1e-4, while the z-scored RDM differs by > 0.1.
    std::vector<float> rows;
    for (int64_t row : set.objects[k].views) rows.insert(rows.end(), v.begin() + row * U, v.begin() + (row + 1) * U);
    const std::vector<double> D = reference::rdm(rows, 9, U);
    const auto Dk = raw.layers[0].rdms[k].to_vector();
    double worst = 0, apart = 0;
    const auto Dz = z.layers[0].rdms[k].to_vector();
    for (size_t i = 0; i < 81; ++i) worst = std::max(worst, std::fabs(Dk[i] - D[i])), apart = std::max(apart, std::fabs(Dz[i] - D[i]));
    CHECK(worst < 1e-4);
    CHECK(apart > 0.1);
    CHECK(std::fabs(raw.layers[0].index[0][k] - reference::msvt(D, 9, false)) < 1e-3);
    // The two analyses disagree where they must: z-scored, mirror-symmetric tuning (index near
    // 1); raw, the loud units leave it far from 1 (measured: z-scored 0.972...0.985, raw
    // -0.11...0.16 over the 6 objects).
    CHECK(z.layers[0].index[0][k] > 0.8);
    CHECK(raw.layers[0].index[0][k] < 0.5);
  }
  write_msvt(raw, set, "toy", (fs::path(dir.path) / "out").string());
  const auto bytes = read_file((fs::path(dir.path) / "out" / "rdms.json").string());
  CHECK(contains(std::string(bytes.begin(), bytes.end()), "\"zscored\": false"));
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
    // Reference by eqs. 2-3 written out (tests/study_reference.h): g x and g f(x) by the
    // hand-written index maps, the masks of SCIENCE.md, z-scoring and r by loops. Only the
    // network's forward pass (layer_outputs) is shared with the program.
    const auto fx = layer_outputs(net, images, layers);
    for (const EquivarianceRow& row : rows) {
      CAPTURE(row.layer);
      CAPTURE(row.measure);
      CAPTURE(transform_name(row.transform));
      const reference::G G = row.transform == Transform::HFlip   ? reference::G::HFlip
                             : row.transform == Transform::VFlip ? reference::G::VFlip
                                                                 : reference::G::Rot90;
      const Tensor gx = Tensor::from_vector(images.shape(), reference::transform(G, images.to_vector(), 10, 1, 28, 28));
      const Tensor fgx = layer_outputs(net, gx, layers)[static_cast<size_t>(row.layer_index)];
      const Tensor& f = fx[static_cast<size_t>(row.layer_index)];
      const int64_t U = f.numel() / 10;
      std::vector<bool> keep(static_cast<size_t>(U), true);
      if (row.conv) keep = reference::mask(G, f.size(1), f.size(2), f.size(3));
      auto g_of = [&](const Tensor& m) { return reference::transform(G, m.to_vector(), 10, m.size(1), m.size(2), m.size(3)); };
      std::vector<double> ref;
      if (row.measure == "invariance") {
        ref = reference::per_image_r(f.to_vector(), fgx.to_vector(), 10, U, keep);  // r(f(x), f(g x))
      } else if (legacy && row.transform == Transform::Rot90) {
        ref = reference::per_image_r(f.to_vector(), g_of(fgx), 10, U, keep);  // released: r(f(x), g f(g x))
      } else {
        ref = reference::per_image_r(fgx.to_vector(), g_of(f), 10, U, keep);  // eq. 3: r(f(g x), g f(x))
      }
      REQUIRE(row.per_image.size() == 10);
      // The program z-scores in float32 from double statistics over up to 18432 units; r
      // is a mean of products of z-scores with ~1e-7 relative error each, so it agrees with the
      // double reference to ~1e-6 (measured at most 6.6e-7); the bound is 1e-5 absolute.
      for (size_t i = 0; i < 10; ++i) CHECK(std::fabs(row.per_image[i] - ref[i]) < 1e-5);
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
