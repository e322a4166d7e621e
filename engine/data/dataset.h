// engine/data/dataset.h — a labelled image set held whole in memory.
//
// Pixels are kept as uint8 (N, C, H, W), the form every published file stores them in,
// and turned into float32 one batch at a time by the Loader (engine/data/loader.h). Why
// not float: the sets the studies train on are small in images but not in bytes once
// widened to float — SVHN's training set is 73,257 x 3x32x32 = 225 MB as uint8 and 900 MB
// as float32, and the training run must stay under 2 GiB resident (issue 5). uint8 also
// makes the mirrored variants exact data movement (no rounding can creep in), and costs
// nothing in precision: the float image is pixel/255 whenever it is made.
//
// A Dataset is a handle: copying it shares the tensors (engine/tensor.h), so passing one
// by value to a Loader or a split costs nothing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ml {

struct Dataset {
  Tensor pixels;            // uint8 (N, C, H, W), 0..255, on the CPU
  Tensor labels;            // int32 (N), each in [0, num_classes)
  int64_t num_classes = 0;  // 10 for the digit/object sets, 20 for an asym variant of them
  std::string name;         // "fashion-mnist-train", "svhn-test-asym", ... (for logs and errors)

  int64_t size() const { return pixels.defined() ? pixels.size(0) : 0; }
  int64_t channels() const { return pixels.size(1); }
  int64_t height() const { return pixels.size(2); }
  int64_t width() const { return pixels.size(3); }
};

// Throws an ml::Error naming `ds.name` unless pixels are uint8 (N, C, H, W) on the CPU,
// labels are int32 (N) on the CPU, num_classes > 0 and every label is in [0, num_classes).
// Every loader returns a validated set and every function taking a Dataset checks it.
void validate(const Dataset& ds);

// The images and labels at `index` (any order, repeats allowed), in that order; a copy.
Dataset subset(const Dataset& ds, const std::vector<int64_t>& index, const std::string& name);

// Images per class: counts[c] for c in [0, num_classes).
std::vector<int64_t> class_counts(const Dataset& ds);

}  // namespace ml
