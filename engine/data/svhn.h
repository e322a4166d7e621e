// engine/data/svhn.h — SVHN, "format 2" cropped digits (train_32x32.mat, test_32x32.mat).
//
// Each file is a MATLAB v5 .mat holding two variables: X, uint8 of size 32x32x3xN (rows,
// columns, RGB, image), and y, Nx1 labels 1..10 where 10 stands for the digit 0. MATLAB
// stores arrays column-major (first index fastest), so pixel (row h, column w, channel c)
// of image n sits at X[h + 32 w + 1024 c + 3072 n]; we reorder it to (N, 3, 32, 32) and
// map label 10 to 0, so labels are the digits themselves, as torchvision's SVHN does.
#pragma once
#include <string>

#include "engine/data/dataset.h"

namespace ml {

// One .mat file. Throws an ml::Error naming the file when it is not a readable MAT file,
// X or y is missing, X is not uint8 32x32x3xN, y is not N numbers (Nx1 or 1xN; double,
// single or uint8), or a label is not an integer in 1..10.
Dataset load_svhn_file(const std::string& path, const std::string& name);

// train_32x32.mat or test_32x32.mat in `dir`; names "svhn-train"/"svhn-test".
Dataset load_svhn(const std::string& dir, bool train);

}  // namespace ml
