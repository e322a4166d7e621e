#include "engine/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace ml {

namespace {

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// The whole (decompressed) content of `path`. gzread passes a file without the gzip magic
// (1f 8b) through unchanged, so one reader serves both forms; a gzip stream cut short is an
// error from zlib ("unexpected end of file"), reported with the path.
// Reading stops one byte past the size the IDX header announces (magic + `dims` counts +
// their product): a small gzip'd file can inflate to a thousand times its size, and without
// the cap a hostile or corrupt one would be read into memory whole before the size check.
std::vector<uint8_t> read_maybe_gzip(const std::string& path, const char* what, int dims) {
  ML_CHECK(std::filesystem::is_regular_file(path), what, ": no file '", path, "'");
  gzFile f = gzopen(path.c_str(), "rb");
  ML_CHECK(f != nullptr, what, ": cannot open '", path, "'");
  gzbuffer(f, 1 << 17);
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  uint64_t cap = UINT64_MAX;  // known once the header has been read
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 16);  // zlib's own buffer is 128 KiB; larger chunks gain nothing
  for (;;) {
    if (cap == UINT64_MAX && out.size() >= header) {
      uint64_t payload = 1;
      bool overflow = false;
      for (int d = 0; d < dims; ++d)
        overflow = overflow || __builtin_mul_overflow(payload, uint64_t{be32(out.data() + 4 + 4 * d)}, &payload);
      // An impossible size is reported by parse_header; reading on is pointless then too.
      cap = overflow || payload > UINT64_MAX - header - 2 ? header : header + payload;
    }
    if (out.size() > cap) break;  // trailing bytes: enough to report them
    const uint64_t remaining = cap - std::min<uint64_t>(cap, out.size());  // up to cap + 1 bytes in all
    const uint64_t want = remaining >= chunk.size() ? chunk.size() : remaining + 1;
    const int r = gzread(f, chunk.data(), static_cast<unsigned>(want));
    if (r < 0) {
      int code = 0;
      const std::string msg = gzerror(f, &code);
      gzclose(f);
      throw Error(detail::cat(what, ": '", path, "' is a damaged gzip stream: ", msg));
    }
    if (r == 0) break;
    out.insert(out.end(), chunk.begin(), chunk.begin() + r);
  }
  // gzread returns 0 both at a clean end and when the stream stops mid-member; gzerror
  // tells the two apart.
  int code = 0;
  const std::string msg = gzerror(f, &code);
  gzclose(f);
  ML_CHECK(code == Z_OK || code == Z_STREAM_END, what, ": '", path, "' is a damaged gzip stream: ", msg);
  return out;
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// Checks the header (magic, then `dims` big-endian counts) and the payload size; returns
// the counts.
std::vector<int64_t> parse_header(const std::vector<uint8_t>& bytes, uint32_t magic, int dims, const std::string& path,
                                  const char* kind) {
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  ML_CHECK(bytes.size() >= 4, "load_idx: ", kind, " file '", path, "' is truncated: ", bytes.size(),
           " bytes, shorter than the 4-byte magic number");
  const uint32_t got = be32(bytes.data());
  ML_CHECK(got == magic, "load_idx: ", kind, " file '", path, "' has wrong magic number ", hex(got), " (expected ",
           hex(magic), " for ", kind, ")");
  ML_CHECK(bytes.size() >= header, "load_idx: ", kind, " file '", path, "' is truncated: ", bytes.size(),
           " bytes, shorter than its ", header, "-byte header");
  std::vector<int64_t> counts;
  // Three 32-bit counts can multiply past 2^64: checked, so that a corrupt header cannot wrap
  // around to the size of the data that is there (nor be undefined behaviour in int64).
  // The product is also checked in int64 left to right, as Tensor computes its element count:
  // (2^32-1, 2^32-1, 0) holds no data, yet its partial product overflows int64.
  int64_t payload_i = 1;
  bool overflow = false;
  for (int d = 0; d < dims; ++d) {
    counts.push_back(be32(bytes.data() + 4 + 4 * d));
    overflow = overflow || __builtin_mul_overflow(payload_i, counts.back(), &payload_i);
  }
  const auto payload = static_cast<uint64_t>(payload_i);
  ML_CHECK(!overflow, "load_idx: ", kind, " file '", path, "' header ", shape_str(counts),
           " announces more data than any file can hold");
  const uint64_t have = bytes.size() - header;
  ML_CHECK(have >= payload, "load_idx: ", kind, " file '", path, "' is truncated: its header ", shape_str(counts),
           " needs ", payload, " data bytes, found ", have);
  ML_CHECK(have == payload, "load_idx: ", kind, " file '", path, "' has trailing bytes after the ", payload, " data bytes its header ", shape_str(counts), " announces");
  return counts;
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path, const std::string& name,
                 int64_t num_classes) {
  ML_CHECK(num_classes > 0 && num_classes <= 256, "load_idx: num_classes must be in [1, 256], got ", num_classes);
  Dataset ds;
  ds.name = name;
  ds.num_classes = num_classes;
  {
    const std::vector<uint8_t> bytes = read_maybe_gzip(images_path, "load_idx", 3);
    const auto c = parse_header(bytes, 0x00000803u, 3, images_path, "images");
    ds.pixels = Tensor::empty({c[0], 1, c[1], c[2]}, DType::U8);
    if (ds.pixels.numel() > 0) std::memcpy(ds.pixels.data_u8(), bytes.data() + 16, ds.pixels.nbytes());
  }
  const std::vector<uint8_t> bytes = read_maybe_gzip(labels_path, "load_idx", 1);
  const auto c = parse_header(bytes, 0x00000801u, 1, labels_path, "labels");
  ML_CHECK(c[0] == ds.pixels.size(0), "load_idx: '", labels_path, "' has ", c[0], " labels but '", images_path,
           "' has ", ds.pixels.size(0), " images");
  ds.labels = Tensor::empty({c[0]}, DType::I32);
  int32_t* y = ds.labels.data_i32();
  for (int64_t i = 0; i < c[0]; ++i) {
    const uint8_t v = bytes[8 + static_cast<size_t>(i)];
    ML_CHECK(v < num_classes, "load_idx: '", labels_path, "' label ", int{v}, " of item ", i, " is out of range [0, ",
             num_classes, ")");
    y[i] = v;
  }
  validate(ds);
  return ds;
}

Dataset load_fashion_mnist(const std::string& dir, bool train) {
  ML_CHECK(std::filesystem::is_directory(dir), "load_fashion_mnist: no folder '", dir,
           "' (Debian's dataset-fashion-mnist package installs ", kFashionMnistDir, ")");
  const std::string prefix = train ? "train" : "t10k";
  auto pick = [&](const std::string& base) {
    const std::string gz = dir + "/" + base + ".gz";
    if (std::filesystem::exists(gz)) return gz;
    const std::string plain = dir + "/" + base;
    ML_CHECK(std::filesystem::exists(plain), "load_fashion_mnist: neither '", gz, "' nor '", plain, "' exists");
    return plain;
  };
  return load_idx(pick(prefix + "-images-idx3-ubyte"), pick(prefix + "-labels-idx1-ubyte"),
                  train ? "fashion-mnist-train" : "fashion-mnist-test", 10);
}

}  // namespace ml
