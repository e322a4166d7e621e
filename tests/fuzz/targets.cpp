#include "tests/fuzz/targets.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <set>
#include <span>

#include "engine/data/cifar10.h"
#include "engine/data/idx.h"
#include "engine/error.h"
#include "engine/io/csv.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "experiments/analysis/activations.h"
#include "experiments/analysis/stimulus_set.h"
#include "tools/render/manifest.h"
#include "tools/render/obj.h"

namespace ml::fuzz {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void violation(const std::string& what) { throw Violation(what); }

void check(bool ok, const std::string& what) {
  if (!ok) violation(what);
}

// Runs `parse`; true when it returned, false when it threw an ml::Error that names `file`.
// Any other exception propagates; an ml::Error that does not name the file is a violation
// (the message is all a researcher gets to find the bad input).
template <class F>
bool parsed(F&& parse, const std::string& file) {
  try {
    parse();
    return true;
  } catch (const Error& e) {
    check(std::string(e.what()).find(file) != std::string::npos,
          "the error does not name the file '" + file + "': " + e.what());
    return false;
  }
}

// Post-conditions that throw ml::Error themselves (validate) are part of the contract.
template <class F>
void holds(F&& f, const char* what) {
  try {
    f();
  } catch (const Error& e) {
    violation(std::string(what) + ": the returned object is invalid: " + e.what());
  }
}

void check_tensor(const Tensor& t, const std::string& what) {
  check(t.defined() && t.device() == Device::CPU && t.dim() <= kMaxTensorDims, what + ": bad tensor");
  check(t.nbytes() == static_cast<size_t>(t.numel()) * dtype_size(t.dtype()), what + ": nbytes != numel * dtype size");
}

void write_gzip(const std::string& path, const uint8_t* data, size_t size) {
  gzFile g = gzopen(path.c_str(), "wb");
  if (!g) violation("cannot create " + path);
  if (size && gzwrite(g, data, static_cast<unsigned>(size)) != static_cast<int>(size)) violation("gzwrite failed");
  gzclose(g);
}

}  // namespace

const std::string& scratch_dir() {
  // Removed by the static's destructor (an atexit handler registered inside the initialiser
  // would run after that destructor and read a freed string: ASan's first finding here).
  struct Scratch {
    std::string path;
    Scratch() {
      const char* tmp = std::getenv("TMPDIR");
      path = std::string(tmp && *tmp ? tmp : "/tmp") + "/mirrorlab-fuzz-XXXXXX";
      if (!::mkdtemp(path.data())) violation("cannot create a scratch folder " + path);
    }
    ~Scratch() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Scratch dir;
  return dir.path;
}

void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) violation("cannot create " + path);
  if (size && std::fwrite(data, 1, size, f) != size) violation("write failed: " + path);
  std::fclose(f);
}

void fuzz_npy(const uint8_t* data, size_t size) {
  const std::string name = "fuzz-input.npy";
  Tensor t;
  if (!parsed([&] { t = load_npy_bytes(std::span(data, size), name); }, name)) return;
  check_tensor(t, "load_npy");
  check(t.nbytes() <= size, "load_npy: more data than the file holds");
}

void fuzz_safetensors(const uint8_t* data, size_t size) {
  const std::string name = "fuzz-input.safetensors";
  SafetensorsFile f;
  if (!parsed([&] { f = load_safetensors_bytes(std::span(data, size), name); }, name)) return;
  std::set<std::string> names;
  size_t bytes = 0;
  for (const auto& [n, t] : f.items) {
    check(names.insert(n).second && n != "__metadata__", "load_safetensors: duplicate or reserved name " + n);
    check_tensor(t, "load_safetensors '" + n + "'");
    bytes += t.nbytes();
  }
  check(bytes <= size, "load_safetensors: more data than the file holds");
}

void fuzz_idx(const uint8_t* data, size_t size) {
  if (size < 3) return;
  const bool gzip_here = data[0] & 1;
  const size_t split = std::min<size_t>(size - 3, data[1] | (size_t{data[2]} << 8));
  const uint8_t* images = data + 3;
  const uint8_t* labels = images + split;
  const size_t labels_size = size - 3 - split;
  const std::string dir = scratch_dir();
  const std::string ip = dir + "/images-idx3-ubyte.gz", lp = dir + "/labels-idx1-ubyte.gz";
  if (gzip_here) {
    write_gzip(ip, images, split);
    write_gzip(lp, labels, labels_size);
  } else {
    write_bytes(ip, images, split);
    write_bytes(lp, labels, labels_size);
  }
  Dataset ds;
  // The error names whichever of the two files is wrong: the folder is in both names.
  if (!parsed([&] { ds = load_idx(ip, lp, "fuzz", 10); }, dir)) return;
  holds([&] { validate(ds); }, "load_idx");
  check(ds.pixels.dim() == 4 && ds.pixels.size(1) == 1, "load_idx: images are not (N, 1, H, W)");
}

void fuzz_cifar10(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const size_t body = size - 1;
  const size_t cut = data[0] == 255 ? body : body * data[0] / 255;
  const std::string dir = scratch_dir();
  std::vector<std::string> files{dir + "/data_batch_1.bin"};
  write_bytes(files[0], data + 1, cut);
  if (cut < body) {
    files.push_back(dir + "/data_batch_2.bin");
    write_bytes(files[1], data + 1 + cut, body - cut);
  }
  Dataset ds;
  if (!parsed([&] { ds = load_cifar10_files(files, "fuzz"); }, dir)) return;
  holds([&] { validate(ds); }, "load_cifar10");
  check(ds.size() * 3073 == static_cast<int64_t>(body), "load_cifar10: record count does not match the bytes");
}

void fuzz_stimulus_manifest(const uint8_t* data, size_t size) {
  const std::string dir = scratch_dir();
  const std::string manifest = dir + "/manifest.csv", json = dir + "/stimuli.json";
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t csv_size = nul ? static_cast<size_t>(nul - data) : size;
  write_bytes(manifest, data, csv_size);
  if (nul) {
    write_bytes(json, nul + 1, size - csv_size - 1);
  } else {
    std::error_code ec;
    fs::remove(json, ec);
  }
  analysis::StimulusSet s;
  if (!parsed([&] { s = analysis::read_stimulus_set(manifest); }, dir)) return;
  const auto n = s.views_deg.size();
  check(n >= 3 && n % 2 == 1 && !s.objects.empty(), "read_stimulus_set: bad view count");
  check(s.files.size() == s.category.size() && s.files.size() == s.exemplar.size() &&
            s.files.size() == s.view_deg.size(),
        "read_stimulus_set: per-image lists differ in length");
  for (const auto& o : s.objects) {
    check(o.views.size() == n, "read_stimulus_set: an object with another number of views");
    for (int64_t v : o.views) check(v >= 0 && v < s.size(), "read_stimulus_set: view index out of range");
  }
}

void fuzz_render_manifest(const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/manifest.csv";
  write_bytes(path, data, size);
  std::vector<render::ManifestRow> rows;
  if (!parsed([&] { rows = render::read_manifest(path); }, path)) return;
  check(!rows.empty(), "read_manifest: no rows");
  for (const auto& r : rows)
    check(!r.file.empty() && r.exemplar >= 0 && std::isfinite(r.view_deg), "read_manifest: an invalid row");
}

void fuzz_csv(const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/table.csv";
  write_bytes(path, data, size);
  CsvTable t;
  if (!parsed([&] { t = read_csv(path, "fuzz_csv"); }, path)) return;
  int64_t last = 0;
  for (const auto& r : t.rows) {
    check(r.line >= 1 && r.line >= last, "read_csv: row lines out of order");
    last = r.line;
  }
}

void fuzz_obj(const uint8_t* data, size_t size) {
  const std::string name = "fuzz-input.obj";
  render::Mesh m;
  if (!parsed([&] { m = render::load_obj_text(std::string(reinterpret_cast<const char*>(data), size), name); }, name))
    return;
  check(!m.triangles.empty() && m.positions.size() == m.normals.size() && m.albedo.size() == m.triangles.size(),
        "load_obj: inconsistent mesh");
  for (const auto& t : m.triangles)
    for (int i = 0; i < 3; ++i)
      check(t[i] >= 0 && static_cast<size_t>(t[i]) < m.positions.size(), "load_obj: triangle index out of range");
  for (size_t i = 0; i < m.positions.size(); ++i)
    check(m.positions[i].allFinite() && std::abs(m.normals[i].norm() - 1.0) < 1e-3, "load_obj: bad vertex or normal");
}

void fuzz_net_metadata(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string name = "fuzz-weights.safetensors";
  analysis::NetMetadata m;
  if (parsed([&] { m = analysis::parse_net_metadata(text, name); }, name)) {
    check(m.num_classes >= 0 && m.in_channels >= 0 && m.image_size >= 0, "parse_net_metadata: negative size");
    if (m.has_normalization)
      check(!m.normalization.mean.empty() && m.normalization.mean.size() == m.normalization.std.size(),
            "parse_net_metadata: bad normalisation");
  }
  const std::string path = scratch_dir() + "/final.json";
  write_bytes(path, data, size);
  analysis::Normalization n;
  if (parsed([&] { n = analysis::read_normalization(path); }, path))
    for (float s : n.std) check(s > 0 && std::isfinite(s), "read_normalization: bad std");
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all{{"npy", fuzz_npy},
                                       {"safetensors", fuzz_safetensors},
                                       {"idx", fuzz_idx},
                                       {"cifar10", fuzz_cifar10},
                                       {"stimulus_manifest", fuzz_stimulus_manifest},
                                       {"render_manifest", fuzz_render_manifest},
                                       {"csv", fuzz_csv},
                                       {"obj", fuzz_obj},
                                       {"net_metadata", fuzz_net_metadata}};
  return all;
}

}  // namespace ml::fuzz
