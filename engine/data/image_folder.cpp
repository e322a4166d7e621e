#include "engine/data/image_folder.h"

#include <stb_image.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <memory>

#include "engine/data/transforms.h"
#include "engine/io/atomic_file.h"
#include "engine/io/csv.h"

namespace ml {

namespace {

struct StbFree {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

}  // namespace

Tensor load_image(const std::string& path, int64_t channels, int64_t H, int64_t W) {
  ML_CHECK(channels == 1 || channels == 3, "load_image: channels must be 1 or 3, got ", channels, " (for '", path,
           "')");
  ML_CHECK(H > 0 && W > 0, "load_image: size must be positive, got ", H, "x", W, " (for '", path, "')");
  ML_CHECK(std::filesystem::is_regular_file(path), "load_image: missing file '", path, "'");
  const std::vector<uint8_t> bytes = read_file(path);
  ML_CHECK(bytes.size() <= static_cast<size_t>(INT32_MAX), "load_image: '", path, "' is too large (", bytes.size(),
           " bytes)");
  int w = 0, h = 0, n = 0;
  std::unique_ptr<unsigned char, StbFree> data(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, 0));
  ML_CHECK(data != nullptr, "load_image: cannot decode '", path, "': ", stbi_failure_reason());
  // stb gives interleaved (h, w, n) with n = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; keep the
  // colour channels as planes (1, c, h, w).
  const int64_t c_in = n <= 2 ? 1 : 3;
  Tensor img = Tensor::empty({1, c_in, h, w}, DType::F32);
  float* out = img.data();
  const int64_t hw = int64_t{h} * w;
  for (int64_t p = 0; p < hw; ++p)
    for (int64_t c = 0; c < c_in; ++c) out[c * hw + p] = static_cast<float>(data.get()[p * n + c]) / 255.f;
  img = to_channels(img, channels);
  if (h != H || w != W) img = resize_bilinear(img, H, W);
  return img;
}

Tensor load_images(const std::vector<std::string>& paths, int64_t channels, int64_t H, int64_t W) {
  ML_CHECK(!paths.empty(), "load_images: no files");
  Tensor batch = Tensor::empty({static_cast<int64_t>(paths.size()), channels, H, W}, DType::F32);
  const int64_t per_image = channels * H * W;
  for (size_t i = 0; i < paths.size(); ++i)
    std::copy_n(load_image(paths[i], channels, H, W).data(), per_image, batch.data() + static_cast<int64_t>(i) * per_image);
  return batch;
}

Dataset load_image_folder(const std::string& manifest, int64_t channels, int64_t H, int64_t W, int64_t num_classes) {
  ML_CHECK(num_classes >= 0, "load_image_folder: num_classes must be >= 0 (0: max label + 1), got ", num_classes);
  ML_CHECK(std::filesystem::is_regular_file(manifest), "load_image_folder: missing manifest '", manifest, "'");
  const std::vector<uint8_t> bytes = read_file(manifest);
  const std::vector<CsvRow> rows = parse_csv(std::string(bytes.begin(), bytes.end()), manifest, "load_image_folder");
  ML_CHECK(!rows.empty(), "load_image_folder: '", manifest, "' is empty (expected a header row 'file,label')");
  const auto& header = rows[0].fields;
  auto column = [&](const char* name) {
    for (size_t k = 0; k < header.size(); ++k)
      if (trim(header[k]) == name) return static_cast<int64_t>(k);
    throw Error(detail::cat("load_image_folder: '", manifest, "' header row has no column '", name,
                            "' (expected at least 'file,label')"));
  };
  const int64_t file_col = column("file"), label_col = column("label");
  const std::filesystem::path folder = std::filesystem::path(manifest).parent_path();
  const auto N = static_cast<int64_t>(rows.size()) - 1;
  ML_CHECK(N > 0, "load_image_folder: '", manifest, "' lists no images");

  Dataset ds;
  ds.name = std::filesystem::path(manifest).stem().string();
  ds.pixels = Tensor::empty({N, channels, H, W}, DType::U8);
  ds.labels = Tensor::empty({N}, DType::I32);
  int32_t* y = ds.labels.data_i32();
  uint8_t* px = ds.pixels.data_u8();
  int64_t max_label = -1;
  for (int64_t i = 0; i < N; ++i) {
    const CsvRow& r = rows[static_cast<size_t>(i + 1)];
    const std::string where = detail::cat("load_image_folder: '", manifest, "' row ", i + 2, " (line ", r.line, ")");
    ML_CHECK(static_cast<int64_t>(r.fields.size()) > std::max(file_col, label_col), where, " has ", r.fields.size(),
             " fields, the header ", header.size());
    const std::string label_text = trim(r.fields[static_cast<size_t>(label_col)]);
    int64_t label = -1;
    const auto [end, ec] = std::from_chars(label_text.data(), label_text.data() + label_text.size(), label);
    ML_CHECK(ec == std::errc() && end == label_text.data() + label_text.size() && label >= 0 && label <= INT32_MAX,
             where, ": label '", label_text, "' is not an integer >= 0");
    ML_CHECK(num_classes == 0 || label < num_classes, where, ": label ", label, " is out of range [0, ", num_classes,
             ")");
    const std::string file = r.fields[static_cast<size_t>(file_col)];
    ML_CHECK(!file.empty(), where, ": empty file name");
    const std::filesystem::path fp(file);
    const std::string path = (fp.is_absolute() ? fp : folder / fp).string();
    Tensor img;
    try {
      img = load_image(path, channels, H, W);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    const float* v = img.data();
    uint8_t* dst = px + i * channels * H * W;
    for (int64_t k = 0; k < channels * H * W; ++k)
      dst[k] = static_cast<uint8_t>(std::lround(std::clamp(v[k], 0.f, 1.f) * 255.f));
    y[i] = static_cast<int32_t>(label);
    max_label = std::max(max_label, label);
  }
  ds.num_classes = num_classes > 0 ? num_classes : max_label + 1;
  validate(ds);
  return ds;
}

}  // namespace ml
