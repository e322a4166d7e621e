#include "engine/data/svhn.h"

#include <matio.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>

#include "engine/io/matio_handles.h"

namespace ml {

namespace {

// matio reports problems through a log function (by default printed to stderr). We keep
// the last message so an error can say what matio saw; the hook is installed once.
thread_local std::string g_matio_last;
void matio_log(int level, char* message) {
  if (level & (MATIO_LOG_LEVEL_ERROR | MATIO_LOG_LEVEL_CRITICAL | MATIO_LOG_LEVEL_WARNING))
    g_matio_last = message ? message : "";
}
void install_matio_log() {
  static std::once_flag once;
  std::call_once(once, [] { Mat_LogInitFunc("mirrorlab", matio_log); });
}
std::string matio_said() { return g_matio_last.empty() ? "" : " (matio: " + g_matio_last + ")"; }

using io::MatFile;
using io::MatVar;

size_t var_numel(const matvar_t* v) {
  size_t n = 1;
  for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
  return n;
}

// matio does not notice a MAT v5 file cut short: it returns the variable with the missing
// bytes zero-filled and says nothing. So before reading, walk the file's top-level data
// elements (after the 128-byte header, each is an 8-byte tag — type, byte count — and that
// many bytes; MAT-File Format, "Data Element Format") and check that every announced
// element fits in the file. Only the tags are read.
void check_mat5_complete(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  ML_CHECK(f != nullptr, "load_svhn: cannot open '", path, "'");
  const auto size = static_cast<uint64_t>(std::filesystem::file_size(path));
  ML_CHECK(size >= 128, "load_svhn: '", path, "' is truncated: ", size, " bytes, shorter than the 128-byte MAT header");
  uint8_t endian[2];
  ML_CHECK(std::fseek(f.get(), 126, SEEK_SET) == 0 && std::fread(endian, 1, 2, f.get()) == 2, "load_svhn: cannot read '",
           path, "'");
  // "IM" when the writer's byte order is little-endian (as ours), "MI" when big-endian.
  const bool swap = endian[0] == 'M' && endian[1] == 'I';
  auto u32 = [&](const uint8_t* p) {
    return swap ? (uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3])
                : (uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0]);
  };
  uint64_t pos = 128;
  while (pos < size) {
    uint8_t tag[8];
    ML_CHECK(size - pos >= 8, "load_svhn: '", path, "' is truncated: ", size - pos,
             " stray bytes where a data element's 8-byte tag should be (at byte ", pos, ")");
    ML_CHECK(std::fseek(f.get(), static_cast<long>(pos), SEEK_SET) == 0 && std::fread(tag, 1, 8, f.get()) == 8,
             "load_svhn: cannot read '", path, "' at byte ", pos);
    const uint32_t type = u32(tag), nbytes = u32(tag + 4);
    // A small element packs type and size into 4 bytes; never at the top level, but harmless.
    const uint64_t len = (type >> 16) != 0 ? 8 : 8 + uint64_t{nbytes};
    ML_CHECK(pos + len <= size, "load_svhn: '", path, "' is truncated: the data element at byte ", pos, " announces ",
             len, " bytes, the file ends after ", size - pos);
    pos += len;
  }
}

MatVar read_var(mat_t* mat, const char* var, const std::string& path) {
  g_matio_last.clear();
  MatVar v(Mat_VarRead(mat, var));
  ML_CHECK(v != nullptr, "load_svhn: '", path, "' has no readable variable '", var, "'", matio_said());
  ML_CHECK(v->data != nullptr && !v->isComplex, "load_svhn: '", path, "' variable '", var,
           "' has no real numeric data (truncated file?)", matio_said());
  return v;
}

}  // namespace

Dataset load_svhn_file(const std::string& path, const std::string& name) {
  install_matio_log();
  ML_CHECK(std::filesystem::is_regular_file(path), "load_svhn: missing file '", path, "'");
  g_matio_last.clear();
  MatFile mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  ML_CHECK(mat != nullptr, "load_svhn: '", path, "' is not a readable MATLAB .mat file", matio_said());
  if (Mat_GetVersion(mat.get()) == MAT_FT_MAT5) check_mat5_complete(path);  // v7.3 is HDF5, checked by HDF5

  // X: uint8 32x32x3xN. Mat_VarRead holds all of it (225 MB for the training set) while
  // it is reordered into our tensor: the peak is twice the set, briefly, at load time. (A file holding one image has rank 3: MATLAB drops trailing 1s.)
  MatVar X = read_var(mat.get(), "X", path);
  ML_CHECK(X->class_type == MAT_C_UINT8 && X->data_type == MAT_T_UINT8, "load_svhn: '", path,
           "' variable 'X' must be uint8, got matio class ", static_cast<int>(X->class_type));
  ML_CHECK((X->rank == 4 || X->rank == 3) && X->dims[0] == 32 && X->dims[1] == 32 && X->dims[2] == 3, "load_svhn: '",
           path, "' variable 'X' must be 32x32x3xN, got ", io::mat_dims(X.get()));
  const auto n = static_cast<int64_t>(X->rank == 4 ? X->dims[3] : 1);
  ML_CHECK(X->nbytes == static_cast<size_t>(n) * 3072, "load_svhn: '", path, "' variable 'X' holds ", X->nbytes,
           " bytes, expected ", n * 3072, " for ", io::mat_dims(X.get()), " (truncated file?)");

  MatVar y = read_var(mat.get(), "y", path);
  ML_CHECK(y->rank == 2 && (y->dims[0] == 1 || y->dims[1] == 1) && var_numel(y.get()) == static_cast<size_t>(n),
           "load_svhn: '", path, "' variable 'y' must hold one label per image (", n, "x1), got ", io::mat_dims(y.get()));
  ML_CHECK(y->class_type == MAT_C_DOUBLE || y->class_type == MAT_C_SINGLE || y->class_type == MAT_C_UINT8,
           "load_svhn: '", path, "' variable 'y' must be double, single or uint8, got matio class ",
           static_cast<int>(y->class_type));

  Dataset ds;
  ds.name = name;
  ds.num_classes = 10;
  ds.labels = Tensor::empty({n}, DType::I32);
  int32_t* lab = ds.labels.data_i32();
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    switch (y->class_type) {
      case MAT_C_DOUBLE: v = static_cast<const double*>(y->data)[i]; break;
      case MAT_C_SINGLE: v = static_cast<const float*>(y->data)[i]; break;
      default: v = static_cast<const uint8_t*>(y->data)[i]; break;
    }
    ML_CHECK(v >= 1 && v <= 10 && v == std::floor(v), "load_svhn: '", path, "' label ", v, " of image ", i,
             " is not an integer in 1..10");
    lab[i] = static_cast<int32_t>(v) % 10;  // 10 is the digit 0
  }

  // Column-major (h, w, c, n) -> row-major (n, c, h, w): for each image and channel the
  // 32x32 plane is stored transposed (w-major), so this is a per-plane transpose.
  ds.pixels = Tensor::empty({n, 3, 32, 32}, DType::U8);
  const auto* src = static_cast<const uint8_t*>(X->data);
  uint8_t* dst = ds.pixels.data_u8();
  for (int64_t p = 0; p < n * 3; ++p) {  // plane p = (image, channel), in both layouts
    const uint8_t* s = src + p * 1024;
    uint8_t* d = dst + p * 1024;
    for (int h = 0; h < 32; ++h)
      for (int w = 0; w < 32; ++w) d[h * 32 + w] = s[h + 32 * w];
  }
  validate(ds);
  return ds;
}

Dataset load_svhn(const std::string& dir, bool train) {
  ML_CHECK(std::filesystem::is_directory(dir), "load_svhn: no folder '", dir, "'");
  return load_svhn_file(dir + (train ? "/train_32x32.mat" : "/test_32x32.mat"), train ? "svhn-train" : "svhn-test");
}

}  // namespace ml
