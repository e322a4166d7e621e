// engine/data/cifar10.h — CIFAR-10, "binary version" (cifar-10-batches-bin/).
//
// Each file is a sequence of 3073-byte records: one label byte (0..9), then the 32x32
// image as three 1024-byte planes, red, green, blue, each row-major. A record's pixels are
// therefore already (3, 32, 32) in our NCHW order. The training set is data_batch_1.bin ..
// data_batch_5.bin (10,000 records each), the test set test_batch.bin.
#pragma once
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace ml {

// The records of `files`, concatenated in that order: (N, 3, 32, 32), 10 classes. Throws an
// ml::Error naming the file when one is missing, empty, not a whole number of records, or
// holds a label > 9.
Dataset load_cifar10_files(const std::vector<std::string>& files, const std::string& name);

// data_batch_1..5.bin (train) or test_batch.bin from `dir`; names "cifar10-train"/"cifar10-test".
Dataset load_cifar10(const std::string& dir, bool train);

}  // namespace ml
