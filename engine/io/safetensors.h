// engine/io/safetensors.h — Hugging Face safetensors, our weight format: a torchvision
// model exported with `safetensors.torch.save_file(model.state_dict(), ...)` loads with
// PyTorch's parameter names (DESIGN.md, "Interop").
//
// Layout: an 8-byte little-endian header length N; N bytes of JSON
//     {"__metadata__": {"k": "v"}, "conv1.weight": {"dtype": "F32", "shape": [64, 3, 11, 11],
//      "data_offsets": [0, 92928]}, ...}
// (padded with spaces); then the byte buffer, in which every tensor's [begin, end) lies,
// relative to the buffer's start, in C order, little-endian.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace ml {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> items;
  std::map<std::string, std::string> metadata;
  // The tensor called `name`, or nullptr.
  const Tensor* find(const std::string& name) const;
};

// Writes float32/int32/uint8 tensors (any device; GPU tensors are copied to the host) in
// the given order, with optional string metadata. Names must be distinct and may not be
// "__metadata__". The write is atomic (atomic_file.h).
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor into CPU tensors, in the order of their data in the file. The file is
// validated as the reference implementation does (sizes, offsets, full coverage of the
// buffer) and every problem is an ml::Error naming the file and the tensor.
SafetensorsFile load_safetensors(const std::string& path);
// The same for a file already in memory; `name` stands for the file in errors (the fuzz
// target, tests/fuzz, feeds bytes here; load_safetensors is read_file + this).
SafetensorsFile load_safetensors_bytes(std::span<const uint8_t> file, const std::string& name);

}  // namespace ml
