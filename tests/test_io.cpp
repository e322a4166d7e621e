// tests/test_io.cpp — NPY and safetensors files, and the atomic writer under them.
//
// Saving and loading is pure data movement, so every comparison is bit for bit (memcmp of
// the raw bytes: NaN != NaN would make a value comparison useless, and -0.0 == 0.0 would
// hide a lost sign). Files "as numpy / the reference writer would write them" are assembled
// by hand from bytes, so the readers are checked against the formats, not against our own
// writers. Every malformed file must give an ml::Error naming the file and the problem.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/tensor.h"
#include "tests/cuda_skip.h"
#include "tests/testing.h"

namespace fs = std::filesystem;
using namespace ml;
using namespace ml::testing;

namespace {

// A fresh folder under the system temp directory, removed with everything in it.
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::string read_bytes(const std::string& path) {
  const auto v = read_file(path);
  return std::string(v.begin(), v.end());
}

std::string raw_bytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.raw()), t.nbytes());
}

// Same dtype, shape and bits.
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && raw_bytes(a) == raw_bytes(b);
}

// A tensor whose bytes are random: for float32 this includes NaNs with payloads, infinities
// and denormals, which a reader that converts values instead of copying bytes would change.
Tensor random_bits(const Shape& shape, DType dtype, uint32_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  std::mt19937 rng(seed);
  auto* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(rng());
  return t;
}

Tensor floats_from_bits(const std::vector<uint32_t>& bits) {
  Tensor t = Tensor::empty({static_cast<int64_t>(bits.size())}, DType::F32);
  std::memcpy(t.raw(), bits.data(), bits.size() * 4);
  return t;
}

std::string le(uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// An NPY file as numpy writes it: magic, version, header length (2 bytes for v1, 4 for
// v2/v3), the header dict padded with spaces and a final '\n' so the data starts on a
// 64-byte boundary, then the data.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  return std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0' +
         le(header.size(), major == 1 ? 2 : 4) + header + data;
}

// A safetensors file: 8-byte little-endian header length, the JSON, the buffer.
std::string st_file(const std::string& json, const std::string& buffer) {
  return le(json.size(), 8) + json + buffer;
}

}  // namespace

// The error names the file and says what is wrong (`word` is part of the problem's wording).
#define CHECK_IO_ERROR(expr, path, word)                                                 \
  do {                                                                                   \
    const std::string msg_ = error_of([&] { (void)(expr); });                            \
    CHECK_MESSAGE((contains(msg_, path) && contains(msg_, word)), "message: ", msg_); \
  } while (0)

// ---- round trips -------------------------------------------------------------------------

TEST_CASE("io: float32 special values survive npy and safetensors bit for bit") {
  const float denorm = std::numeric_limits<float>::denorm_min();
  std::vector<uint32_t> bits = {
      0x7fc00000u,  // quiet NaN
      0x7fc00123u,  // quiet NaN with a payload
      0xffc00000u,  // negative NaN
      0x7f800001u,  // signalling NaN (arithmetic would quiet it)
      0x7f800000u,  // +inf
      0xff800000u,  // -inf
      0x80000000u,  // -0.0
      0x00000000u,  // +0.0
      0x00000001u,  // the smallest denormal
      0x807fffffu,  // the largest negative denormal
      0x00800000u,  // FLT_MIN
      0x7f7fffffu,  // FLT_MAX
      0x3eaaaaabu,  // 1/3
  };
  uint32_t d;
  std::memcpy(&d, &denorm, 4);
  REQUIRE(d == 0x00000001u);
  const Tensor t = floats_from_bits(bits);
  TempDir dir;
  save_npy(dir.file("special.npy"), t);
  CHECK(same_bits(load_npy(dir.file("special.npy")), t));
  save_safetensors(dir.file("special.safetensors"), {{"x", t}});
  const SafetensorsFile back = load_safetensors(dir.file("special.safetensors"));
  REQUIRE(back.items.size() == 1);
  CHECK(same_bits(back.items[0].second, t));
}

TEST_CASE("io: every dtype and rank round-trips bit for bit (0-d, 1-d, 5-d, empty)") {
  const std::vector<Shape> shapes = {{}, {7}, {2, 1, 3, 2, 2}, {3, 0, 2}, {0}};
  const std::vector<DType> dtypes = {DType::F32, DType::I32, DType::U8};
  TempDir dir;
  std::vector<std::pair<std::string, Tensor>> all;
  uint32_t seed = 1;
  for (DType dt : dtypes) {
    for (const Shape& s : shapes) {
      const Tensor t = random_bits(s, dt, seed++);
      const std::string name = std::string(dtype_name(dt)) + shape_str(s);
      CAPTURE(name);
      const std::string path = dir.file("t.npy");
      save_npy(path, t);
      const Tensor back = load_npy(path);
      CHECK(back.device() == Device::CPU);
      CHECK(same_bits(back, t));
      all.emplace_back(name, t);
    }
  }
  // int32 extremes and every uint8 value, in both formats.
  const Tensor ints = Tensor::from_vector_i32({5}, {std::numeric_limits<int32_t>::min(),
                                                    std::numeric_limits<int32_t>::max(), -1, 0, 123456789});
  Tensor bytes = Tensor::empty({16, 16}, DType::U8);
  for (int i = 0; i < 256; ++i) bytes.data_u8()[i] = static_cast<uint8_t>(i);
  save_npy(dir.file("ints.npy"), ints);
  save_npy(dir.file("bytes.npy"), bytes);
  CHECK(same_bits(load_npy(dir.file("ints.npy")), ints));
  CHECK(same_bits(load_npy(dir.file("bytes.npy")), bytes));
  all.emplace_back("ints", ints);
  all.emplace_back("bytes", bytes);

  // One safetensors file holding all of them; saved in this order, so loading (which orders
  // by data offset) gives the same order back.
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"seed", "1"}};
  save_safetensors(dir.file("all.safetensors"), all, meta);
  const SafetensorsFile back = load_safetensors(dir.file("all.safetensors"));
  CHECK(back.metadata == meta);
  REQUIRE(back.items.size() == all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    CAPTURE(all[i].first);
    CHECK(back.items[i].first == all[i].first);
    CHECK(back.items[i].second.device() == Device::CPU);
    CHECK(same_bits(back.items[i].second, all[i].second));
  }
  REQUIRE(back.find("ints") != nullptr);
  CHECK(same_bits(*back.find("ints"), ints));
  CHECK(back.find("missing") == nullptr);

  // No tensors at all is a valid file too.
  save_safetensors(dir.file("none.safetensors"), {});
  const SafetensorsFile none = load_safetensors(dir.file("none.safetensors"));
  CHECK(none.items.empty());
  CHECK(none.metadata.empty());
  // Only the finished files are left: no temporaries.
  for (const auto& e : dir.entries()) CHECK_MESSAGE(!contains(e, ".tmp."), e);
}

TEST_CASE("io: a GPU tensor is saved from a host copy") {
  ML_REQUIRE_CUDA();
  Generator g(7);
  const Tensor t = Tensor::normal({3, 4}, 0.f, 1.f, g);
  const Tensor gpu = t.to(Device::CUDA);
  TempDir dir;
  save_npy(dir.file("g.npy"), gpu);
  CHECK(same_bits(load_npy(dir.file("g.npy")), t));
  save_safetensors(dir.file("g.safetensors"), {{"g", gpu}});
  CHECK(same_bits(load_safetensors(dir.file("g.safetensors")).items.at(0).second, t));
}

// ---- NPY against the format ----------------------------------------------------------------

TEST_CASE("io: save_npy writes the header numpy writes") {
  TempDir dir;
  const std::string path = dir.file("a.npy");
  save_npy(path, Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}));
  const std::string f = read_bytes(path);
  // numpy.save(np.arange(1, 7, dtype=np.float32).reshape(2, 3)): a 128-byte preamble
  // (10 + header length 118), 64-byte aligned, then 24 data bytes.
  REQUIRE(f.size() == 128 + 24);
  CHECK(f.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  CHECK(f.substr(8, 2) == le(118, 2));
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(f.substr(10, dict.size()) == dict);
  CHECK(f.find_first_not_of(' ', 10 + dict.size()) == 127);  // spaces, then the '\n'
  CHECK(f[127] == '\n');
  CHECK(f.substr(128) == bytes_of(std::vector<float>{1, 2, 3, 4, 5, 6}));

  // Python's repr of the shape: () for 0-d, (n,) for 1-d; numpy's dtype strings.
  save_npy(path, Tensor::full({}, 2.f));
  CHECK(contains(read_bytes(path), "'shape': (), }"));
  save_npy(path, Tensor::from_vector_i32({4}, {1, 2, 3, 4}));
  CHECK(contains(read_bytes(path), "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }"));
  save_npy(path, Tensor::empty({2, 2}, DType::U8));
  CHECK(contains(read_bytes(path), "'descr': '|u1'"));
  CHECK(read_bytes(path).size() % 64 == 4);  // 64-aligned preamble + 4 bytes
}

TEST_CASE("io: load_npy reads files assembled as numpy writes them") {
  TempDir dir;
  const std::string path = dir.file("hand.npy");
  const std::vector<float> v = {0.5f, -1.5f, 2.25f, 3e-41f, -0.f, 1e30f};

  // Exactly the brief's file: v1.0, the standard dict, padded to 64 bytes.
  write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", bytes_of(v)));
  Tensor t = load_npy(path);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.dtype() == DType::F32);
  CHECK(raw_bytes(t) == bytes_of(v));

  // What ast.literal_eval accepts: any key order, double quotes, odd spacing, no trailing
  // comma, trailing comma inside the shape, Python 2's long suffix, versions 2.0 and 3.0.
  const std::vector<std::pair<std::string, int>> same = {
      {"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", 1},
      {"{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,3,)}", 1},
      {"{ 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 2 , 3 ) , }", 1},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", 1},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 2},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 3},
  };
  for (const auto& [dict, major] : same) {
    CAPTURE(dict);
    CAPTURE(major);
    write_bytes(path, npy_file(dict, bytes_of(v), major));
    t = load_npy(path);
    CHECK(t.shape() == Shape{2, 3});
    CHECK(raw_bytes(t) == bytes_of(v));
  }

  // 1-d int32, 0-d uint8, an empty array.
  const std::vector<int32_t> iv = {-7, 0, 1 << 30, -2147483647 - 1};
  write_bytes(path, npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", bytes_of(iv)));
  t = load_npy(path);
  CHECK(t.shape() == Shape{4});
  CHECK(t.to_vector_i32() == iv);
  write_bytes(path, npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", "\xfe"));
  t = load_npy(path);
  CHECK(t.shape() == Shape{});
  CHECK(t.data_u8()[0] == 0xfe);
  write_bytes(path, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", ""));
  t = load_npy(path);
  CHECK(t.shape() == Shape{0, 5});
}

TEST_CASE("io: malformed NPY files are refused, naming the file and the problem") {
  TempDir dir;
  const std::string p = dir.file("bad.npy");
  const std::string six = bytes_of(std::vector<float>(6, 1.f));
  auto with_dict = [&](const std::string& dict, const std::string& data) { write_bytes(p, npy_file(dict, data)); };
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

  write_bytes(p, "PK\x03\x04 this is a zip");
  CHECK_IO_ERROR(load_npy(p), p, "bad magic");
  write_bytes(p, "\x93NUM");
  CHECK_IO_ERROR(load_npy(p), p, "bad magic");

  std::string f = npy_file(good, six);
  f[6] = 4;  // version 4.0
  write_bytes(p, f);
  CHECK_IO_ERROR(load_npy(p), p, "unsupported NPY version 4.0");
  f[6] = 1;  // version 1.1
  f[7] = 1;
  write_bytes(p, f);
  CHECK_IO_ERROR(load_npy(p), p, "unsupported NPY version 1.1");

  write_bytes(p, npy_file(good, six).substr(0, 40));  // cut inside the header
  CHECK_IO_ERROR(load_npy(p), p, "truncated header");
  write_bytes(p, std::string("\x93NUMPY\x02\x00\x10", 9));  // cut inside a v2 length
  CHECK_IO_ERROR(load_npy(p), p, "truncated header");

  // The dtype message is the documented one, exactly.
  with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", std::string(24, '\0'));
  CHECK(error_of([&] { load_npy(p); }) == p + ": dtype '<f8' is not supported (float32, int32, uint8 are)");
  with_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string(3, '\0'));
  CHECK_IO_ERROR(load_npy(p), p, "dtype '|b1' is not supported");
  with_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", six);
  CHECK_IO_ERROR(load_npy(p), p, "big-endian");
  with_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", std::string(8, '\0'));
  CHECK_IO_ERROR(load_npy(p), p, "structured");

  with_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six);
  CHECK_IO_ERROR(load_npy(p), p, "fortran_order");
  with_dict("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 2), }", "ab");
  CHECK_IO_ERROR(load_npy(p), p, "6 dims");

  with_dict(good, six.substr(0, 20));
  const std::string shorter = error_of([&] { load_npy(p); });
  CHECK_MESSAGE((contains(shorter, p) && contains(shorter, "truncated") && contains(shorter, "needs 24 bytes") &&
                 contains(shorter, "has 20")),
                shorter);
  with_dict(good, six + "xxxx");
  const std::string longer = error_of([&] { load_npy(p); });
  CHECK_MESSAGE((contains(longer, p) && contains(longer, "longer") && contains(longer, "needs 24 bytes") &&
                 contains(longer, "has 28")),
                longer);
  // A shape whose byte count overflows 64 bits must not wrap round to the file's size.
  with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", "");
  CHECK_IO_ERROR(load_npy(p), p, "too large");

  // Header syntax.
  with_dict("{'descr': '<f4', 'shape': (2, 3), }", six);
  CHECK_IO_ERROR(load_npy(p), p, "no 'fortran_order' key");
  with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", six);
  CHECK_IO_ERROR(load_npy(p), p, "unexpected key 'extra'");
  with_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six);
  CHECK_IO_ERROR(load_npy(p), p, "twice");
  with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", six);
  CHECK_IO_ERROR(load_npy(p), p, "not a tuple");
  with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", six);
  CHECK_IO_ERROR(load_npy(p), p, "negative");
  with_dict("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3), }", six);
  CHECK_IO_ERROR(load_npy(p), p, "True or False");
  with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) ", six);
  CHECK_IO_ERROR(load_npy(p), p, "expected '}'");
  with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} junk", six);
  CHECK_IO_ERROR(load_npy(p), p, "after the header");

  CHECK_IO_ERROR(load_npy(dir.file("missing.npy")), dir.file("missing.npy"), "No such file");
}

// ---- safetensors against the format --------------------------------------------------------

TEST_CASE("io: load_safetensors reads a file assembled by hand") {
  TempDir dir;
  const std::string path = dir.file("hand.safetensors");
  const std::vector<float> a = {1.f, -2.f, 0.5f, -0.f, 3e-42f, 6.f};  // (2, 3) at [0, 24)
  const std::vector<int32_t> b = {-3, 2147483647};                     // (2,) at [24, 32)
  const std::string c = "\x07";                                        // 0-d uint8 at [32, 33)
  // Keys in an order other than the data's, metadata last, no padding: all valid.
  const std::string json =
      "{\"c\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[32,33]},"
      "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[24,32]},"
      " \"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},"
      "\"__metadata__\":{\"format\":\"pt\"}}";
  write_bytes(path, st_file(json, bytes_of(a) + bytes_of(b) + c));
  const SafetensorsFile st = load_safetensors(path);
  REQUIRE(st.items.size() == 3);
  CHECK(st.items[0].first == "a");  // sorted by data offset
  CHECK(st.items[1].first == "b");
  CHECK(st.items[2].first == "c");
  CHECK(st.items[0].second.shape() == Shape{2, 3});
  CHECK(raw_bytes(st.items[0].second) == bytes_of(a));
  CHECK(st.items[1].second.to_vector_i32() == b);
  CHECK(st.items[2].second.shape() == Shape{});
  CHECK(st.items[2].second.data_u8()[0] == 7);
  CHECK(st.metadata == std::map<std::string, std::string>{{"format", "pt"}});
}

TEST_CASE("io: save_safetensors lays out the header as the reference writer does") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  const Tensor w = Tensor::from_vector({3}, {1, 2, 3});
  const Tensor b = Tensor::from_vector_i32({1}, {9});
  save_safetensors(path, {{"z.weight", w}, {"a.bias", b}}, {{"k", "v"}});
  const std::string f = read_bytes(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(f[i])) << (8 * i);
  CHECK(n % 8 == 0);                 // the buffer starts 8-byte aligned
  CHECK(f.size() == 8 + n + 12 + 4);  // header, then exactly the tensors' bytes
  const std::string header = f.substr(8, n);
  CHECK(header.rfind("{\"__metadata__\":{\"k\":\"v\"}", 0) == 0);
  // Tensors appear, and are laid out, in the order given, not sorted by name.
  CHECK(contains(header, "\"z.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}"));
  CHECK(contains(header, "\"a.bias\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[12,16]}"));
  CHECK(header.find("z.weight") < header.find("a.bias"));
  CHECK(header.find_first_not_of(' ', header.rfind('}') + 1) == std::string::npos);  // space padding
  CHECK(f.substr(8 + n) == raw_bytes(w) + raw_bytes(b));

  CHECK_IO_ERROR(save_safetensors(dir.file("dup.safetensors"), {{"x", w}, {"x", b}}), "dup.safetensors", "duplicate");
  CHECK_IO_ERROR(save_safetensors(dir.file("meta.safetensors"), {{"__metadata__", w}}), "meta.safetensors",
                 "reserved");
  CHECK_FALSE(fs::exists(dir.file("dup.safetensors")));
}

TEST_CASE("io: malformed safetensors files are refused, naming the file and the problem") {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  const std::string buf24(24, '\x01');
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape, uint64_t b,
                  uint64_t e) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
  };
  auto with_json = [&](const std::string& json, const std::string& buffer) { write_bytes(p, st_file(json, buffer)); };
  // A header object made of these members.
  auto with = [&](const std::vector<std::string>& members, const std::string& buffer) {
    std::string json = "{";
    for (const auto& m : members) json.append(json.size() > 1 ? "," : "").append(m);
    with_json(json.append("}"), buffer);
  };

  write_bytes(p, "\x10\x00\x00");
  CHECK_IO_ERROR(load_safetensors(p), p, "truncated");
  write_bytes(p, le(1000, 8) + "{}");
  CHECK_IO_ERROR(load_safetensors(p), p, "larger than the file");
  with_json("{\"a\":{\"dtype\":\"F32\",", "");
  CHECK_IO_ERROR(load_safetensors(p), p, "invalid JSON");
  with_json("[1, 2]", "");
  CHECK_IO_ERROR(load_safetensors(p), p, "not an object");

  with({entry("w", "F64", "[3]", 0, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "tensor 'w' has dtype F64, which is not supported");
  with({entry("h", "BF16", "[12]", 0, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "tensor 'h' has dtype BF16");

  with({entry("w", "F32", "[5]", 0, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "size mismatch");
  with({entry("w", "F32", "[8]", 0, 32)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "out of the buffer");
  with({entry("w", "F32", "[0]", 8, 4)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "end before they begin");
  with({entry("w", "F32", "[2, -3]", 0, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "negative dimension");
  with({entry("w", "F32", "[2, 1.5]", 0, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "not a list of integers");
  with({entry("w", "U8", "[1,1,1,1,2,12]", 0, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "6 dims");
  // A shape whose byte count overflows 64 bits must not wrap round to the span's size.
  with({entry("w", "F32", "[4611686018427387904, 4]", 0, 0)}, "");
  CHECK_IO_ERROR(load_safetensors(p), p, "too large");

  // Coverage: overlap, a hole, unused bytes at the end, a hole at the start.
  with({entry("a", "F32", "[4]", 0, 16), entry("b", "F32", "[4]", 8, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "overlaps tensor 'a'");
  with({entry("a", "F32", "[2]", 0, 8), entry("b", "F32", "[2]", 16, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "not contiguous");
  with({entry("a", "F32", "[4]", 0, 16)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "not contiguous");
  with({entry("a", "F32", "[4]", 8, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "not contiguous");

  // A name given twice, and metadata that is not strings.
  with({entry("a", "F32", "[3]", 0, 12), entry("a", "F32", "[3]", 12, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "'a' appears twice");
  with({"\"__metadata__\":{\"epoch\":3}", entry("a", "F32", "[6]", 0, 24)}, buf24);
  CHECK_IO_ERROR(load_safetensors(p), p, "not a string");
  with({entry("a", "F32", "[6]", 0, 24)}, buf24);
  CHECK_NOTHROW(load_safetensors(p));  // the base case of all of the above is valid
}

// ---- atomic writes -------------------------------------------------------------------------

TEST_CASE("io: write_file_atomic replaces the file and leaves no temporary") {
  TempDir dir;
  const std::string path = dir.file("out.bin");
  write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("first"), 5));
  CHECK(read_bytes(path) == "first");
  const std::string a = "second ", b = "version";
  write_file_atomic(path, {std::span(reinterpret_cast<const uint8_t*>(a.data()), a.size()),
                           std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size())});
  CHECK(read_bytes(path) == "second version");
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});

  // Into a folder that does not exist: an error naming the path, and nothing created.
  const std::string nowhere = dir.file("no_such_dir/out.npy");
  CHECK_IO_ERROR(save_npy(nowhere, Tensor::ones({2})), nowhere, "No such file or directory");
  CHECK_FALSE(fs::exists(dir.path / "no_such_dir"));
  CHECK(dir.entries() == std::vector<std::string>{"out.bin"});

  // A failure after the temporary exists (renaming a file onto a folder) removes it.
  fs::create_directories(dir.path / "taken");
  const std::string taken = dir.file("taken");
  CHECK_IO_ERROR(save_npy(taken, Tensor::ones({2})), taken, "rename");
  CHECK(fs::is_directory(taken));
  std::vector<std::string> left = dir.entries();
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"out.bin", "taken"});

  CHECK_IO_ERROR(read_file(dir.file("absent")), dir.file("absent"), "No such file");
  CHECK_IO_ERROR(read_file(taken), taken, "directory");
}
