// tests/fuzz/test_fuzz_regressions.cpp — the fuzz targets in the regular suite: every input
// saved under tests/fuzz/regressions/<target>/ (a crash libFuzzer found, kept after the fix)
// replays through the same body the fuzzer runs (targets.h), and each fix has a plain case
// that names what went wrong before it.
#include <doctest/doctest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "experiments/analysis/activations.h"
#include "tests/fuzz/targets.h"
#include "tests/testing.h"

namespace fs = std::filesystem;
using namespace ml;

namespace {

// tests/fuzz/regressions in the source tree (tests/CMakeLists.txt defines the path).
fs::path regressions_dir() { return MIRRORLAB_FUZZ_REGRESSIONS; }

void write(const fs::path& p, const std::vector<uint8_t>& b) { fuzz::write_bytes(p.string(), b.data(), b.size()); }

void be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// The ml::Error `f` throws, or "" (and a failed check) when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL_CHECK("no ml::Error thrown");
  return "";
}

}  // namespace

TEST_CASE("fuzz regressions: every saved input replays through its target without a finding") {
  const fs::path root = regressions_dir();
  REQUIRE(fs::is_directory(root));
  int replayed = 0;
  for (const fuzz::Target& t : fuzz::targets()) {
    const fs::path dir = root / t.name;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
      const std::vector<uint8_t> bytes = read_file(entry.path().string());
      INFO("target ", t.name, ", input ", entry.path().string());
      CHECK_NOTHROW(t.body(bytes.data(), bytes.size()));
      ++replayed;
    }
  }
  // Folders for targets that do not exist would never replay: refuse them.
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    bool known = false;
    for (const fuzz::Target& t : fuzz::targets()) known = known || entry.path().filename() == t.name;
    CHECK_MESSAGE(known, "tests/fuzz/regressions/", entry.path().filename().string(), " names no fuzz target");
  }
  CHECK(replayed > 0);
}

TEST_CASE("fuzz target bodies accept a valid IDX pair, raw and gzip'd by the target") {
  // A valid IDX pair goes through the idx body (mode 0: written as given).
  std::vector<uint8_t> images, labels;
  be32(images, 0x00000803);
  for (uint32_t v : {2u, 1u, 1u}) be32(images, v);
  images.insert(images.end(), {7, 9});
  be32(labels, 0x00000801);
  be32(labels, 2);
  labels.insert(labels.end(), {1, 2});
  std::vector<uint8_t> in{0, static_cast<uint8_t>(images.size()), 0};
  in.insert(in.end(), images.begin(), images.end());
  in.insert(in.end(), labels.begin(), labels.end());
  CHECK_NOTHROW(fuzz::fuzz_idx(in.data(), in.size()));
  in[0] = 1;  // gzip'd by the target
  CHECK_NOTHROW(fuzz::fuzz_idx(in.data(), in.size()));
}

TEST_CASE("load_idx refuses counts whose product overflows before allocating anything") {
  testing::TempDir dir("fuzz_idx");
  // 2^31 x 2^31 x 4 = 2^64 bytes: wrapped to 0 in 64 bits it matched the empty payload, and
  // the loader then asked for a (2^31, 1, 2^31, 4) tensor (a signed overflow on the way).
  std::vector<uint8_t> images;
  be32(images, 0x00000803);
  for (uint32_t v : {0x80000000u, 0x80000000u, 4u}) be32(images, v);
  std::vector<uint8_t> labels;
  be32(labels, 0x00000801);
  be32(labels, 0);
  write(dir.path / "img", images);
  write(dir.path / "lab", labels);
  const std::string msg = error_of([&] { load_idx((dir.path / "img").string(), (dir.path / "lab").string(), "x"); });
  CHECK(msg.find((dir.path / "img").string()) != std::string::npos);
  CHECK(msg.find("more data than any file can hold") != std::string::npos);
}

TEST_CASE("load_idx stops reading a gzip'd file past the size its header announces") {
  testing::TempDir dir("fuzz_idx_gz");
  // 1 label announced, 64 MiB of zeros behind it: gzip'd that is ~64 KiB. The loader must
  // refuse it as trailing bytes (and not inflate all of it; the cap is checked by the
  // sanitizer run's malloc limit, the message here).
  std::vector<uint8_t> labels;
  be32(labels, 0x00000801);
  be32(labels, 1);
  labels.resize(labels.size() + (64u << 20), 0);
  const std::string lab = (dir.path / "lab.gz").string();
  gzFile g = gzopen(lab.c_str(), "wb9");
  REQUIRE(g != nullptr);
  REQUIRE(gzwrite(g, labels.data(), static_cast<unsigned>(labels.size())) == static_cast<int>(labels.size()));
  REQUIRE(gzclose(g) == Z_OK);
  std::vector<uint8_t> images;
  be32(images, 0x00000803);
  for (uint32_t v : {1u, 1u, 1u}) be32(images, v);
  images.push_back(5);
  write(dir.path / "img", images);
  const std::string msg = error_of([&] { load_idx((dir.path / "img").string(), lab, "x"); });
  CHECK(msg.find(lab) != std::string::npos);
  CHECK(msg.find("trailing bytes") != std::string::npos);
}

TEST_CASE("weights metadata of the wrong type is an ml::Error naming the file and the field") {
  testing::TempDir dir("fuzz_meta");
  const std::string w = (dir.path / "w.safetensors").string();
  struct Case {
    std::string model, field;
  };
  // Each of these made load_analysis_net throw nlohmann's type_error (no file, no field) or
  // build a layer of num_classes = 2^40 outputs.
  for (const Case& c : {Case{R"({"name": "vgg_small", "num_classes": "ten"})", "num_classes"},
                        Case{R"({"name": "vgg_small", "image_size": -3})", "image_size"},
                        Case{R"({"name": "vgg_small", "num_classes": 1099511627776})", "num_classes"},
                        Case{R"({"name": 7})", "name"},
                        Case{R"({"name": "vgg_small", "normalization": {"mean": ["a"], "std": [1]}})", "mean"},
                        Case{R"({"name": "vgg_small", "normalization": [1, 2]})", "normalisation"},
                        Case{R"([1, 2])", "object"}}) {
    CAPTURE(c.model);
    save_safetensors(w, {{"x", Tensor::zeros({1})}}, {{"model", c.model}});
    analysis::NetSpec spec;
    spec.weights = w;
    const std::string msg = error_of([&] { analysis::load_analysis_net(spec); });
    CHECK(msg.find(w) != std::string::npos);
    CHECK(msg.find(c.field) != std::string::npos);
  }
}

TEST_CASE("safetensors: a JSON number too large for a double is an invalid header, not a json exception") {
  testing::TempDir dir("fuzz_st");
  // nlohmann reports 1e999 as out_of_range (406), not parse_error: the loader let it escape.
  const std::string header = R"({"x": {"dtype": "U8", "shape": [1e999], "data_offsets": [0, 0]}})";
  std::vector<uint8_t> file(8, 0);
  file[0] = static_cast<uint8_t>(header.size());
  file.insert(file.end(), header.begin(), header.end());
  const fs::path p = dir.path / "big.safetensors";
  write(p, file);
  const std::string msg = error_of([&] { load_safetensors(p.string()); });
  CHECK(msg.find(p.string()) != std::string::npos);
  CHECK(msg.find("invalid JSON header") != std::string::npos);
}
