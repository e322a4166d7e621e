// engine/io/npy.h — NumPy's .npy array files, the format our programs hand arrays to the
// Python plotting scripts in (DESIGN.md, "Figures and reports").
//
// Format (numpy/lib/format.py, NEP 1): the magic "\x93NUMPY", a major and a minor version
// byte, the header length (2 bytes little-endian in v1.0, 4 bytes in v2.0 and v3.0), then
// the header — a Python dict literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n' — then the raw array in C order.
#pragma once
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "engine/tensor.h"

namespace ml {

// Writes float32 ('<f4'), int32 ('<i4') or uint8 ('|u1') in format v1.0 (v2.0 if the header
// would not fit in v1.0's 16-bit length), byte for byte as numpy.save writes the same array.
// A tensor on the GPU is copied to the host first. The write is atomic (atomic_file.h).
void save_npy(const std::string& path, const Tensor& t);

// Reads a C-ordered little-endian float32/int32/uint8 array of at most 5 dimensions in
// format v1.0, v2.0 or v3.0 into a CPU tensor. Anything else is an ml::Error that names
// the file and what is wrong with it.
Tensor load_npy(const std::string& path);
// The same for a file already in memory; `name` stands for the file in errors. load_npy is
// read_file + this, so the fuzz target (tests/fuzz) exercises exactly the programs' parser.
Tensor load_npy_bytes(std::span<const uint8_t> file, const std::string& name);

// Writes an array too large to hold in memory row block by row block: the shape is fixed up
// front, append() adds rows along the first dimension, finish() checks that every row came
// and renames the temporary "<path>.tmp.<pid>" onto `path`. Until finish() succeeds `path`
// is untouched, and a writer destroyed before finish() (an exception on the way) removes its
// temporary, so a half-written array never looks complete.
class NpyWriter {
 public:
  NpyWriter(const std::string& path, DType dtype, const Shape& shape);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;
  // rows: shape (k, shape[1:]...), same dtype; a GPU tensor is copied to the host.
  void append(const Tensor& rows);
  void finish();

 private:
  std::string path_, tmp_;
  DType dtype_;
  Shape shape_;
  int64_t rows_written_ = 0;
  std::FILE* file_ = nullptr;
};

}  // namespace ml
