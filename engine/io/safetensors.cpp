#include "engine/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/device.h"
#include "engine/io/atomic_file.h"

namespace ml {

// Tensor bytes are copied as they lie in memory; safetensors is little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors: the raw copy assumes a little-endian host");

namespace {

constexpr const char* kMetadataKey = "__metadata__";

const char* st_dtype(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
  }
  return "?";
}

// One tensor's entry in the header, checked.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // relative to the start of the byte buffer
};

// The header is parsed keeping its key order, so tensors with equal offsets (empty ones)
// come back in the order the file lists them.
using Json = nlohmann::ordered_json;

Entry parse_entry(const std::string& path, const std::string& name, const Json& j, uint64_t buffer_size) {
  const std::string where = detail::cat(path, ": tensor '", name, "'");
  ML_CHECK(j.is_object(), where, ": the header entry is not an object: ", j.dump());
  ML_CHECK(j.contains("dtype") && j["dtype"].is_string(), where, ": missing or non-string \"dtype\"");
  ML_CHECK(j.contains("shape") && j["shape"].is_array(), where, ": missing or non-list \"shape\"");
  ML_CHECK(j.contains("data_offsets") && j["data_offsets"].is_array() && j["data_offsets"].size() == 2, where,
           ": \"data_offsets\" must be a list [begin, end]");

  Entry e;
  e.name = name;
  const std::string dtype = j["dtype"].get<std::string>();
  if (dtype == "F32") e.dtype = DType::F32;
  else if (dtype == "I32") e.dtype = DType::I32;
  else if (dtype == "U8") e.dtype = DType::U8;
  else throw Error(detail::cat(where, " has dtype ", dtype, ", which is not supported (F32, I32, U8 are)"));

  const Json& shape = j["shape"];
  for (const auto& d : shape) {
    ML_CHECK(d.is_number_integer(), where, ": shape ", shape.dump(), " is not a list of integers");
    ML_CHECK(d.is_number_unsigned(), where, ": negative dimension in shape ", shape.dump());
    e.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    ML_CHECK(e.shape.back() >= 0, where, ": dimension too large in shape ", shape.dump());
  }
  ML_CHECK(static_cast<int>(e.shape.size()) <= kMaxTensorDims, where, ": shape ", shape.dump(), " has ",
           e.shape.size(), " dims; tensors have at most ", kMaxTensorDims);

  const Json& off = j["data_offsets"];
  ML_CHECK(off[0].is_number_unsigned() && off[1].is_number_unsigned(), where, ": data_offsets ", off.dump(),
           " must be non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  ML_CHECK(e.begin <= e.end, where, ": data_offsets ", off.dump(), " end before they begin");
  ML_CHECK(e.end <= buffer_size, where, ": data_offsets ", off.dump(), " are out of the buffer (", buffer_size,
           " bytes after the header)");
  // Overflow-checked: a huge corrupt shape must not wrap around to the right size. The
  // element count is checked in int64 left to right, as Tensor computes it: [2^62, 3, 0]
  // holds no data, yet 3 * 2^62 overflows int64 (UBSan through the fuzz target;
  // tests/fuzz/regressions/safetensors).
  int64_t numel = 1;
  uint64_t bytes = 0;
  for (int64_t d : e.shape)
    ML_CHECK(!__builtin_mul_overflow(numel, d, &numel), where, ": shape ", shape.dump(), " is too large");
  ML_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(numel), dtype_size(e.dtype), &bytes), where, ": shape ",
           shape.dump(), " is too large");
  ML_CHECK(bytes == e.end - e.begin, where, ": size mismatch: shape ", shape_str(e.shape), " of ", dtype, " needs ",
           bytes, " bytes but data_offsets ", off.dump(), " span ", e.end - e.begin);
  return e;
}

}  // namespace

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : items)
    if (n == name) return &t;
  return nullptr;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the keys in insertion order, so the header lists the tensors in the
  // order they are laid out (the reference writer also puts __metadata__ first).
  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;

  std::vector<Tensor> host;  // keeps GPU tensors' host copies alive until the write
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    ML_CHECK(name != kMetadataKey, "save_safetensors: ", path, ": '", kMetadataKey,
             "' is reserved for the metadata and cannot name a tensor");
    ML_CHECK(seen.insert(name).second, "save_safetensors: ", path, ": duplicate tensor name '", name, "'");
    ML_CHECK(t.defined(), "save_safetensors: ", path, ": tensor '", name, "' is undefined");
    host.push_back(t.device() == Device::CPU ? t : t.detach().to(Device::CPU));
    header[name] = {{"dtype", st_dtype(t.dtype())},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }

  std::string text;
  try {
    text = header.dump();  // compact, as the reference writer
  } catch (const Json::exception& e) {  // a name or metadata string that is not UTF-8
    throw Error(detail::cat("save_safetensors: ", path, ": cannot write the header: ", e.what()));
  }
  // Pad with spaces (valid trailing JSON whitespace) to a multiple of 8, as the reference
  // writer does, so the buffer starts 8-byte aligned in the file and a memory-mapped F32
  // tensor laid out at an aligned offset can be used in place.
  text.append((8 - text.size() % 8) % 8, ' ');

  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  std::vector<std::span<const uint8_t>> parts{std::span<const uint8_t>(len, 8),
                                              {reinterpret_cast<const uint8_t*>(text.data()), text.size()}};
  for (const Tensor& t : host) parts.emplace_back(static_cast<const uint8_t*>(t.raw()), t.nbytes());
  write_file_atomic(path, parts);
}

SafetensorsFile load_safetensors(const std::string& path) { return load_safetensors_bytes(read_file(path), path); }

SafetensorsFile load_safetensors_bytes(std::span<const uint8_t> file, const std::string& path) {
  const uint64_t n = file.size();
  ML_CHECK(n >= 8, path, ": truncated: ", n, " bytes, shorter than the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(file[i]) << (8 * i);
  ML_CHECK(header_len <= n - 8, path, ": header length ", header_len, " is larger than the file (", n, " bytes)");

  // Parse, noting top-level keys seen twice: JSON parsers keep the last one silently, and
  // a duplicated name means the file does not say which tensor is meant.
  std::set<std::string> keys;
  std::string duplicate;
  auto note_keys = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && !keys.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json header;
  try {
    header = Json::parse(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(header_len),
                                   note_keys);
  } catch (const Json::exception& e) {
    // Not only parse_error: a number too large for a double ("6e616") is out_of_range 406
    // (found by fuzzing; tests/fuzz/regressions/safetensors/json_number_overflow).
    throw Error(detail::cat(path, ": invalid JSON header: ", e.what()));
  }
  ML_CHECK(header.is_object(), path, ": invalid header: the JSON is not an object");
  ML_CHECK(duplicate.empty(), path, ": invalid header: key '", duplicate, "' appears twice");

  const uint8_t* buffer = file.data() + 8 + header_len;
  const uint64_t buffer_size = n - 8 - header_len;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      ML_CHECK(value.is_object(), path, ": \"", kMetadataKey, "\" must be an object of strings");
      for (const auto& [k, v] : value.items()) {
        ML_CHECK(v.is_string(), path, ": metadata value for '", k, "' is not a string: ", v.dump());
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, value, buffer_size));
  }

  // The format requires the tensors to tile the buffer exactly: no overlap, no hole, nothing
  // left over (the reference loader refuses such files). A hole or an overlap means the
  // header does not describe these bytes — a header from another file, or data shifted by
  // a bad edit — and reading on would give silently wrong weights.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const Entry& e : entries) {
    ML_CHECK(e.begin >= covered, path, ": tensor '", e.name, "' data [", e.begin, ", ", e.end, ") overlaps tensor '",
             previous ? *previous : "", "', which ends at ", covered);
    ML_CHECK(e.begin == covered, path, ": the data is not contiguous: bytes [", covered, ", ", e.begin,
             ") before tensor '", e.name, "' belong to no tensor");
    covered = e.end;
    previous = &e.name;
  }
  ML_CHECK(covered == buffer_size, path, ": the data is not contiguous: bytes [", covered, ", ", buffer_size,
           ") at the end of the buffer belong to no tensor");

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::CPU);
    if (e.end > e.begin) std::memcpy(t.raw(), buffer + e.begin, e.end - e.begin);
    out.items.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace ml
