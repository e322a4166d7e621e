#include "engine/data/cifar10.h"

#include <cstring>
#include <filesystem>

#include "engine/io/atomic_file.h"

namespace ml {

namespace {
constexpr int64_t kPlane = 32 * 32;
constexpr int64_t kRecord = 1 + 3 * kPlane;  // 3073
}  // namespace

Dataset load_cifar10_files(const std::vector<std::string>& files, const std::string& name) {
  ML_CHECK(!files.empty(), "load_cifar10: no files given");
  // Sizes first, so the set is allocated once and read file by file (no second copy of it).
  int64_t total = 0;
  std::vector<int64_t> records;
  for (const auto& f : files) {
    ML_CHECK(std::filesystem::is_regular_file(f), "load_cifar10: missing file '", f, "'");
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(f));
    ML_CHECK(bytes > 0, "load_cifar10: '", f, "' is empty");
    ML_CHECK(bytes % kRecord == 0, "load_cifar10: '", f, "' has ", bytes, " bytes, not a multiple of the ", kRecord,
             "-byte record (1 label + 3x32x32 pixels): truncated or not a CIFAR-10 binary batch");
    records.push_back(bytes / kRecord);
    total += records.back();
  }
  Dataset ds;
  ds.name = name;
  ds.num_classes = 10;
  ds.pixels = Tensor::empty({total, 3, 32, 32}, DType::U8);
  ds.labels = Tensor::empty({total}, DType::I32);
  uint8_t* px = ds.pixels.data_u8();
  int32_t* y = ds.labels.data_i32();
  int64_t at = 0;
  for (size_t k = 0; k < files.size(); ++k) {
    const std::vector<uint8_t> bytes = read_file(files[k]);
    ML_CHECK(static_cast<int64_t>(bytes.size()) == records[k] * kRecord, "load_cifar10: '", files[k],
             "' changed size while being read");
    for (int64_t r = 0; r < records[k]; ++r, ++at) {
      const uint8_t* rec = bytes.data() + r * kRecord;
      ML_CHECK(rec[0] <= 9, "load_cifar10: '", files[k], "' record ", r, " has label ", int{rec[0]},
               ", out of range [0, 10)");
      y[at] = rec[0];
      std::memcpy(px + at * 3 * kPlane, rec + 1, 3 * kPlane);
    }
  }
  validate(ds);
  return ds;
}

Dataset load_cifar10(const std::string& dir, bool train) {
  ML_CHECK(std::filesystem::is_directory(dir), "load_cifar10: no folder '", dir, "'");
  std::vector<std::string> files;
  if (train) {
    for (int b = 1; b <= 5; ++b) files.push_back(dir + "/data_batch_" + std::to_string(b) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  return load_cifar10_files(files, train ? "cifar10-train" : "cifar10-test");
}

}  // namespace ml
