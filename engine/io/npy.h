// engine/io/npy.h — NumPy's .npy array files, the format our programs hand arrays to the
// Python plotting scripts in (DESIGN.md, "Figures and reports").
//
// Format (numpy/lib/format.py, NEP 1): the magic "\x93NUMPY", a major and a minor version
// byte, the header length (2 bytes little-endian in v1.0, 4 bytes in v2.0 and v3.0), then
// the header — a Python dict literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n' — then the raw array in C order.
#pragma once
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

}  // namespace ml
