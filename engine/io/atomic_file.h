// engine/io/atomic_file.h — whole-file reads and atomic whole-file writes.
//
// Every file the engine writes (weights, arrays, reports) goes through write_file_atomic,
// so a crash or a full disk in the middle of a save leaves either the old file or the new
// one at `path`, never a truncated mix: a checkpoint that a long run overwrites every
// epoch must stay loadable if the run dies while writing it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ml {

// Writes the concatenation of `parts` to `path` atomically: the bytes go to
// "<path>.tmp.<pid>" in the same folder (rename is only atomic within one file system),
// are flushed to disk with fsync, and the temporary is renamed onto `path`. On any
// failure the temporary is removed and an ml::Error names `path` and the errno text.
// Taking several parts lets a caller write a header and tensor buffers without first
// copying them into one allocation.
void write_file_atomic(const std::string& path, const std::vector<std::span<const uint8_t>>& parts);
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
// The same for text (CSV, JSON, reports).
void write_text_atomic(const std::string& path, const std::string& text);

// The whole file; an ml::Error names `path` and the errno text if it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace ml
