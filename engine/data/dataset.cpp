#include "engine/data/dataset.h"

#include <cstring>

namespace ml {

void validate(const Dataset& ds) {
  const std::string who = "dataset '" + ds.name + "'";
  ML_CHECK(ds.pixels.defined() && ds.labels.defined(), who, ": pixels or labels missing");
  ML_CHECK(ds.pixels.dtype() == DType::U8 && ds.pixels.dim() == 4 && ds.pixels.device() == Device::CPU, who,
           ": pixels must be uint8 (N, C, H, W) on the CPU, got ", ds.pixels.str());
  ML_CHECK(ds.labels.dtype() == DType::I32 && ds.labels.dim() == 1 && ds.labels.device() == Device::CPU, who,
           ": labels must be int32 (N) on the CPU, got ", ds.labels.str());
  ML_CHECK(ds.labels.size(0) == ds.pixels.size(0), who, ": ", ds.pixels.size(0), " images but ", ds.labels.size(0),
           " labels");
  ML_CHECK(ds.num_classes > 0, who, ": num_classes must be positive, got ", ds.num_classes);
  const int32_t* y = ds.labels.data_i32();
  for (int64_t i = 0; i < ds.labels.size(0); ++i)
    ML_CHECK(y[i] >= 0 && y[i] < ds.num_classes, who, ": label ", y[i], " of image ", i, " outside [0, ",
             ds.num_classes, ")");
}

Dataset subset(const Dataset& ds, const std::vector<int64_t>& index, const std::string& name) {
  validate(ds);
  const int64_t n = ds.size();
  Shape shape = ds.pixels.shape();
  shape[0] = static_cast<int64_t>(index.size());
  Dataset out;
  out.pixels = Tensor::empty(shape, DType::U8);
  out.labels = Tensor::empty({shape[0]}, DType::I32);
  out.num_classes = ds.num_classes;
  out.name = name;
  const int64_t image_bytes = ds.channels() * ds.height() * ds.width();
  const uint8_t* src = ds.pixels.data_u8();
  uint8_t* dst = out.pixels.data_u8();
  const int32_t* ys = ds.labels.data_i32();
  int32_t* yd = out.labels.data_i32();
  for (size_t k = 0; k < index.size(); ++k) {
    const int64_t i = index[k];
    ML_CHECK(0 <= i && i < n, "subset of '", ds.name, "': index ", i, " at position ", k, " outside [0, ", n, ")");
    std::memcpy(dst + static_cast<int64_t>(k) * image_bytes, src + i * image_bytes, static_cast<size_t>(image_bytes));
    yd[k] = ys[i];
  }
  return out;
}

std::vector<int64_t> class_counts(const Dataset& ds) {
  validate(ds);
  std::vector<int64_t> counts(static_cast<size_t>(ds.num_classes), 0);
  const int32_t* y = ds.labels.data_i32();
  for (int64_t i = 0; i < ds.size(); ++i) ++counts[static_cast<size_t>(y[i])];
  return counts;
}

}  // namespace ml
