#include "engine/io/npy.h"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include "engine/device.h"
#include "engine/io/atomic_file.h"

namespace ml {

// The tensor's bytes are written and read as they lie in memory, and the format is
// little-endian ('<f4'), so the host must be little-endian too (x86-64 and ARM64 are).
static_assert(std::endian::native == std::endian::little, "npy: the raw copy assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy aligns the start of the data to 64 bytes so that a memory-mapped array is aligned
// for any dtype and for vector loads; we write the same padding so our files are identical
// to numpy's and a reader that memory-maps them gets the same guarantee.
constexpr size_t kAlign = 64;
// Recent numpy leaves 21 - len(str(shape[0])) spare spaces after the dict, so that appending
// rows can rewrite the shape in place (format.py, GROWTH_AXIS_MAX_DIGITS); we do the same.
constexpr size_t kGrowthAxisMaxDigits = 21;

const char* descr_of(DType t) {
  switch (t) {
    case DType::F32: return "<f4";
    case DType::I32: return "<i4";
    case DType::U8: return "|u1";
  }
  return "?";
}

// Python's repr of a shape tuple: (), (5,), (2, 3).
std::string shape_repr(const Shape& s) {
  if (s.size() == 1) return detail::cat("(", s[0], ",)");
  return shape_str(s);
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Everything before the data: magic, version, header length, header dict, padding, '\n'.
std::string npy_preamble(DType dtype, const Shape& shape) {
  std::string dict = std::string("{'descr': '") + descr_of(dtype) + "', 'fortran_order': False, 'shape': " +
                     shape_repr(shape) + ", }";
  if (!shape.empty()) dict.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
  const size_t hlen = dict.size() + 1;  // + '\n'
  // v1.0 stores the header length in 16 bits; longer headers need v2.0's 32 bits.
  for (int major : {1, 2}) {
    const size_t len_bytes = major == 1 ? 2 : 4;
    // As numpy: a header that already ends on the boundary still gets a full 64 spaces.
    const size_t pad = kAlign - (kMagicLen + 2 + len_bytes + hlen) % kAlign;
    if (major == 1 && hlen + pad > 0xffff) continue;
    std::string out(kMagic, kMagicLen);
    out.push_back(static_cast<char>(major));
    out.push_back(0);
    put_le(out, hlen + pad, static_cast<int>(len_bytes));
    out += dict;
    out.append(pad, ' ');
    out.push_back('\n');
    return out;
  }
  throw Error("save_npy: header too long");  // unreachable: v2.0 holds 4 GiB of header
}

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A parser for the one Python literal an NPY header is: a dict with string keys whose
// values are strings, booleans or tuples of non-negative integers. numpy reads it with
// ast.literal_eval, so any spacing, key order and trailing comma is valid and is accepted.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (consume('}')) break;
      const size_t key_at = i_;
      const std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      auto once = [&](bool& seen) {
        if (seen) fail("key '" + key + "' appears twice", key_at);
        seen = true;
      };
      if (key == "descr") {
        once(have_descr);
        if (peek() == '[') fail("structured dtypes (a list 'descr') are not supported", i_);
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        once(have_fortran);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(have_shape);
        h.shape = shape_tuple();
      } else {
        fail("unexpected key '" + key + "' (an NPY header has 'descr', 'fortran_order', 'shape')", key_at);
      }
      skip_ws();
      if (consume(',')) continue;
      expect('}');
      break;
    }
    skip_ws();  // the padding: spaces and the final '\n'
    if (i_ != s_.size()) fail("unexpected characters after the header dict", i_);
    if (!have_descr) fail("the header has no 'descr' key", i_);
    if (!have_fortran) fail("the header has no 'fortran_order' key", i_);
    if (!have_shape) fail("the header has no 'shape' key", i_);
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what, size_t at) const {
    throw Error(detail::cat(path_, ": invalid NPY header: ", what, " at character ", at, " of \"", trimmed(), "\""));
  }
  std::string_view trimmed() const {
    std::string_view t = s_;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\n')) t.remove_suffix(1);
    return t.substr(0, 200);  // a corrupt header can be 4 GiB of noise
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool consume(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'", i_);
  }
  // 'text' or "text"; dtype strings and key names never need escapes.
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string", i_);
    const size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') fail("escape sequences are not supported in header strings", i_);
      ++i_;
    }
    if (i_ >= s_.size()) fail("unterminated string", start - 1);
    return std::string(s_.substr(start, i_++ - start));
  }
  bool boolean() {
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return value;
      }
    }
    fail("expected True or False", i_);
  }
  int64_t non_negative_int() {
    if (peek() == '-') fail("negative dimension", i_);
    const size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large", start);
      v = v * 10 + (s_[i_++] - '0');
    }
    if (i_ == start) fail("expected an integer", i_);
    consume('L');  // Python 2's long suffix, found in old files: (3L, 4L)
    return v;
  }
  // (), (n,), (a, b), (a, b,). "(n)" is not a tuple in Python, so it is refused as numpy does.
  Shape shape_tuple() {
    Shape shape;
    expect('(');
    skip_ws();
    if (consume(')')) return shape;
    bool trailing_comma = false;
    for (;;) {
      shape.push_back(non_negative_int());
      skip_ws();
      trailing_comma = consume(',');
      skip_ws();
      if (consume(')')) break;
      if (!trailing_comma) fail("expected ',' or ')' in the shape", i_);
    }
    if (shape.size() == 1 && !trailing_comma) fail("shape (n) is not a tuple; a 1-d shape is written (n,)", i_);
    return shape;
  }

  std::string_view s_;
  const std::string& path_;
  size_t i_ = 0;
};

DType dtype_of(const std::string& descr, const std::string& path) {
  if (descr == "<f4") return DType::F32;
  if (descr == "<i4") return DType::I32;
  // One byte has no byte order: numpy writes '|u1', a hand-written header may say '<u1'.
  if (descr == "|u1" || descr == "<u1" || descr == ">u1" || descr == "=u1") return DType::U8;
  ML_CHECK(!(descr == ">f4" || descr == ">i4"), path, ": dtype '", descr, "' is big-endian; only little-endian ",
           "data is supported (convert with arr.astype(arr.dtype.newbyteorder('<')))");
  throw Error(detail::cat(path, ": dtype '", descr, "' is not supported (float32, int32, uint8 are)"));
}

}  // namespace

void save_npy(const std::string& path, const Tensor& t) {
  ML_CHECK(t.defined(), "save_npy: ", path, ": the tensor is undefined");
  const Tensor host = t.device() == Device::CPU ? t : t.detach().to(Device::CPU);
  const std::string preamble = npy_preamble(host.dtype(), host.shape());
  write_file_atomic(path, {std::span(reinterpret_cast<const uint8_t*>(preamble.data()), preamble.size()),
                           std::span(static_cast<const uint8_t*>(host.raw()), host.nbytes())});
}

Tensor load_npy(const std::string& path) { return load_npy_bytes(read_file(path), path); }

Tensor load_npy_bytes(std::span<const uint8_t> file, const std::string& path) {
  const size_t n = file.size();
  ML_CHECK(n >= kMagicLen && std::memcmp(file.data(), kMagic, kMagicLen) == 0, path,
           ": bad magic: not an NPY file (it does not start with \"\\x93NUMPY\")");
  ML_CHECK(n >= kMagicLen + 2, path, ": truncated header: the file ends inside the version bytes");
  const int major = file[6], minor = file[7];
  ML_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, path, ": unsupported NPY version ", major, ".",
           minor, " (1.0, 2.0 and 3.0 are supported)");
  // v1.0 has a 16-bit header length; v2.0 a 32-bit one; v3.0 is v2.0 with a UTF-8 header.
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicLen + 2 + len_bytes;
  ML_CHECK(n >= prefix, path, ": truncated header: the file ends inside the header length (", n, " bytes)");
  const size_t header_len = get_le(file.data() + kMagicLen + 2, static_cast<int>(len_bytes));
  ML_CHECK(header_len <= n - prefix, path, ": truncated header: it claims ", header_len, " bytes but only ",
           n - prefix, " follow");

  const std::string_view text(reinterpret_cast<const char*>(file.data()) + prefix, header_len);
  const NpyHeader h = HeaderParser(text, path).parse();
  const DType dtype = dtype_of(h.descr, path);
  ML_CHECK(!h.fortran_order, path, ": fortran_order True is not supported (save a C-ordered array, e.g. ",
           "np.ascontiguousarray(a))");
  ML_CHECK(static_cast<int>(h.shape.size()) <= kMaxTensorDims, path, ": shape ", shape_str(h.shape), " has ",
           h.shape.size(), " dims; tensors have at most ", kMaxTensorDims);

  // Expected data size, with overflow checks: a corrupt shape must not wrap around to a
  // size that happens to match. The element count is checked in int64 left to right, as
  // Tensor computes it: (2^62, 3, 0) holds no data, yet its partial product 3 * 2^62
  // overflows int64 (UBSan through the fuzz target; tests/fuzz/regressions/npy).
  const size_t found = n - prefix - header_len;
  int64_t numel = 1;
  uint64_t expected = 0;
  for (int64_t d : h.shape)
    ML_CHECK(!__builtin_mul_overflow(numel, d, &numel), path, ": shape ", shape_str(h.shape), " is too large");
  ML_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(dtype), &expected), path, ": shape ",
           shape_str(h.shape), " is too large");
  ML_CHECK(found >= expected, path, ": data is truncated: shape ", shape_str(h.shape), " of ", dtype_name(dtype),
           " needs ", expected, " bytes but the file has ", found);
  // Extra bytes are not ignored: they mean the header's shape is not the array's shape.
  ML_CHECK(found == expected, path, ": data is longer than the shape requires: shape ", shape_str(h.shape), " of ",
           dtype_name(dtype), " needs ", expected, " bytes but the file has ", found, " (wrong shape in the header?)");

  Tensor t = Tensor::empty(h.shape, dtype, Device::CPU);
  if (expected) std::memcpy(t.raw(), file.data() + prefix + header_len, expected);
  return t;
}

NpyWriter::NpyWriter(const std::string& path, DType dtype, const Shape& shape)
    : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())), dtype_(dtype), shape_(shape) {
  ML_CHECK(!shape.empty(), "NpyWriter: ", path, ": an array written by rows needs at least one dimension");
  file_ = std::fopen(tmp_.c_str(), "wb");
  ML_CHECK(file_ != nullptr, "NpyWriter: cannot create '", tmp_, "' to write '", path, "': ", std::strerror(errno));
  const std::string preamble = npy_preamble(dtype, shape);
  ML_CHECK(std::fwrite(preamble.data(), 1, preamble.size(), file_) == preamble.size(), "NpyWriter: write to '", tmp_,
           "' failed: ", std::strerror(errno));
}

NpyWriter::~NpyWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

void NpyWriter::append(const Tensor& rows) {
  ML_CHECK(file_ != nullptr, "NpyWriter: ", path_, ": append after finish");
  ML_CHECK(rows.dtype() == dtype_ && rows.dim() == static_cast<int64_t>(shape_.size()), "NpyWriter: ", path_,
           ": rows ", rows.str(), " do not match the array ", shape_str(shape_));
  for (size_t d = 1; d < shape_.size(); ++d)
    ML_CHECK(rows.size(static_cast<int64_t>(d)) == shape_[d], "NpyWriter: ", path_, ": rows ", rows.str(),
             " do not match the array ", shape_str(shape_));
  ML_CHECK(rows_written_ + rows.size(0) <= shape_[0], "NpyWriter: ", path_, ": more than the ", shape_[0],
           " rows declared");
  const Tensor host = rows.device() == Device::CPU ? rows : rows.detach().to(Device::CPU);
  ML_CHECK(std::fwrite(host.raw(), 1, host.nbytes(), file_) == host.nbytes(), "NpyWriter: write to '", tmp_,
           "' failed: ", std::strerror(errno));
  rows_written_ += rows.size(0);
}

void NpyWriter::finish() {
  ML_CHECK(file_ != nullptr, "NpyWriter: ", path_, ": finish called twice");
  ML_CHECK(rows_written_ == shape_[0], "NpyWriter: ", path_, ": ", rows_written_, " of ", shape_[0],
           " rows written");
  const bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int err = errno;
  std::fclose(file_);
  file_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    ML_CHECK(false, "NpyWriter: cannot complete '", path_, "': ", std::strerror(ok ? errno : err));
  }
}

}  // namespace ml
