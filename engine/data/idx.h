// engine/data/idx.h — the IDX format of MNIST and Fashion-MNIST.
//
// An IDX file is a big-endian header and raw bytes: the magic number 0x00000803 (unsigned
// bytes, 3 dimensions) then N, rows, cols as uint32 for images, 0x00000801 then N for
// labels, followed by exactly N*rows*cols (or N) bytes, row-major. The published files are
// gzip'd; both forms are read (zlib reads a plain file through the same calls).
#pragma once
#include <cstdint>
#include <string>

#include "engine/data/dataset.h"

namespace ml {

// Images (N, 1, rows, cols) and their labels. Throws an ml::Error naming the file for a
// missing or unreadable file, a wrong magic number, truncated data or trailing bytes,
// a different N in the two files, and a label >= num_classes.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, const std::string& name,
                 int64_t num_classes = 10);

// Debian's `dataset-fashion-mnist` installs the four published files here.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz (60,000 images) or the t10k-*
// pair (10,000), in `dir`; a file without the .gz suffix is used when the .gz one is absent.
// Name "fashion-mnist-train" or "fashion-mnist-test".
Dataset load_fashion_mnist(const std::string& dir = kFashionMnistDir, bool train = true);

}  // namespace ml
