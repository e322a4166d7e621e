// tests/test_data.cpp — datasets, transforms, mirrored variants, split and loader.
//
// Every reader is checked on small files written here in the published formats by
// independent means (IDX and CIFAR bytes assembled by hand, gzip by zlib, SVHN .mat by
// libmatio's writer in MATLAB's column-major order, PNG/JPEG by stb_image_write), then
// compared pixel for pixel: loading is data movement, so equality is exact. Image sizes
// are non-square (H != W) wherever the format allows, so a swapped row/column is caught.
// Every malformed file must give an ml::Error naming the file and the problem.
#include <doctest/doctest.h>

#include <matio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <stb_image_write.h>

#include "engine/data/cifar10.h"
#include "engine/data/dataset.h"
#include "engine/data/idx.h"
#include "engine/data/image_folder.h"
#include "engine/data/loader.h"
#include "engine/data/mirror.h"
#include "engine/data/split.h"
#include "engine/data/svhn.h"
#include "engine/data/transforms.h"
#include "engine/ops.h"
#include "tests/testing.h"

namespace fs = std::filesystem;
using namespace ml;
using namespace ml::testing;

namespace {

using Bytes = std::vector<uint8_t>;

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

// Deterministic bytes covering 0..255 (never all zeros: zeros hide wrong indexing).
Bytes random_bytes(size_t n, uint64_t seed) {
  Generator g(seed);
  Bytes b(n);
  for (auto& v : b) v = static_cast<uint8_t>(g.next_u32() & 0xFF);
  return b;
}

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

Bytes idx_images(uint32_t n, uint32_t rows, uint32_t cols, const Bytes& pixels, uint32_t magic = 0x00000803) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

Bytes idx_labels(const Bytes& labels, uint32_t magic = 0x00000801) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, static_cast<uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

Bytes tensor_bytes(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  return Bytes(p, p + t.nbytes());
}

// Runs f, which must throw an ml::Error whose message contains every one of `parts`.
void check_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  std::string msg;
  try {
    f();
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK_MESSAGE(!msg.empty(), "expected an ml::Error containing '", parts.front(), "'");
  for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'", p, "' not in: ", msg);
}

// A dataset of n random uint8 images (C, H, W) with labels i % classes.
Dataset random_dataset(int64_t n, int64_t C, int64_t H, int64_t W, int64_t classes, uint64_t seed) {
  Dataset ds;
  ds.name = "random";
  ds.num_classes = classes;
  ds.pixels = Tensor::empty({n, C, H, W}, DType::U8);
  const Bytes px = random_bytes(static_cast<size_t>(n * C * H * W), seed);
  std::copy(px.begin(), px.end(), ds.pixels.data_u8());
  ds.labels = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) ds.labels.data_i32()[i] = static_cast<int32_t>(i % classes);
  return ds;
}

Bytes image_bytes(const Dataset& ds, int64_t i) {
  const int64_t sz = ds.channels() * ds.height() * ds.width();
  const uint8_t* p = ds.pixels.data_u8() + i * sz;
  return Bytes(p, p + sz);
}

}  // namespace

// ---- IDX --------------------------------------------------------------------------------

TEST_CASE("data: IDX images and labels load pixel-exactly, plain and gzip'd") {
  TempDir dir;
  const uint32_t N = 7, R = 5, C = 4;  // rows != cols: a transposed read would differ
  const Bytes px = random_bytes(N * R * C, 1);
  const Bytes lab = {3, 0, 9, 1, 1, 7, 2};
  write_bytes(dir.file("img"), idx_images(N, R, C, px));
  write_bytes(dir.file("lab"), idx_labels(lab));
  write_gzip(dir.file("img.gz"), idx_images(N, R, C, px));
  write_gzip(dir.file("lab.gz"), idx_labels(lab));
  for (const auto& [img, lb] : {std::pair{"img", "lab"}, {"img.gz", "lab.gz"}, {"img.gz", "lab"}}) {
    CAPTURE(img);
    const Dataset ds = load_idx(dir.file(img), dir.file(lb), "tiny", 10);
    CHECK(ds.pixels.shape() == Shape{N, 1, R, C});
    CHECK(ds.pixels.dtype() == DType::U8);
    CHECK(tensor_bytes(ds.pixels) == px);
    CHECK(ds.labels.to_vector_i32() == std::vector<int32_t>(lab.begin(), lab.end()));
    CHECK(ds.num_classes == 10);
    CHECK(ds.name == "tiny");
  }
}

TEST_CASE("data: malformed IDX files give errors naming the file and the problem") {
  TempDir dir;
  const Bytes px = random_bytes(3 * 4 * 4, 2);
  const Bytes lab = {1, 2, 3};
  write_bytes(dir.file("ok-img"), idx_images(3, 4, 4, px));
  write_bytes(dir.file("ok-lab"), idx_labels(lab));
  const std::string ok_img = dir.file("ok-img"), ok_lab = dir.file("ok-lab");

  // Labels file given as images (magic 0x801 where 0x803 is expected), and vice versa.
  check_error([&] { load_idx(ok_lab, ok_lab, "x"); }, {ok_lab, "wrong magic", "0x00000801"});
  check_error([&] { load_idx(ok_img, ok_img, "x"); }, {ok_img, "wrong magic", "0x00000803"});
  // A float IDX (type byte 0x0D) is not accepted either.
  write_bytes(dir.file("float-img"), idx_images(3, 4, 4, px, 0x00000D03));
  check_error([&] { load_idx(dir.file("float-img"), ok_lab, "x"); }, {"float-img", "wrong magic"});

  // Truncated: data cut short, header cut short, plain and gzip'd.
  Bytes cut = idx_images(3, 4, 4, px);
  cut.resize(cut.size() - 5);
  write_bytes(dir.file("cut-img"), cut);
  check_error([&] { load_idx(dir.file("cut-img"), ok_lab, "x"); }, {"cut-img", "truncated"});
  write_gzip(dir.file("cut-img.gz"), cut);
  check_error([&] { load_idx(dir.file("cut-img.gz"), ok_lab, "x"); }, {"cut-img.gz", "truncated"});
  write_bytes(dir.file("short-header"), Bytes{0, 0, 8, 3, 0, 0});
  check_error([&] { load_idx(dir.file("short-header"), ok_lab, "x"); }, {"short-header", "truncated"});
  // A gzip stream cut in the middle (the compressed bytes, not the payload).
  write_gzip(dir.file("full.gz"), idx_images(3, 4, 4, random_bytes(3 * 4 * 4, 3)));
  Bytes gz = read_bytes(dir.file("full.gz"));
  gz.resize(gz.size() / 2);
  write_bytes(dir.file("broken.gz"), gz);
  check_error([&] { load_idx(dir.file("broken.gz"), ok_lab, "x"); }, {"broken.gz"});

  // Trailing bytes beyond what the header announces.
  Bytes longer = idx_images(3, 4, 4, px);
  longer.push_back(0);
  write_bytes(dir.file("long-img"), longer);
  check_error([&] { load_idx(dir.file("long-img"), ok_lab, "x"); }, {"long-img", "trailing"});

  // Count mismatch between the two files.
  write_bytes(dir.file("four-lab"), idx_labels({1, 2, 3, 4}));
  check_error([&] { load_idx(ok_img, dir.file("four-lab"), "x"); }, {"four-lab", "4 labels", "3 images"});

  // A label out of range for num_classes.
  write_bytes(dir.file("bad-lab"), idx_labels({1, 10, 3}));
  check_error([&] { load_idx(ok_img, dir.file("bad-lab"), "x", 10); }, {"bad-lab", "label 10", "out of range"});
  CHECK_NOTHROW(load_idx(ok_img, dir.file("bad-lab"), "x", 11));

  // Missing file.
  check_error([&] { load_idx(dir.file("nope"), ok_lab, "x"); }, {"nope", "no file"});
}

TEST_CASE("data: load_fashion_mnist finds the published file names, gzip'd or not") {
  TempDir dir;
  const Bytes train_px = random_bytes(5 * 28 * 28, 4), test_px = random_bytes(3 * 28 * 28, 5);
  write_gzip(dir.file("train-images-idx3-ubyte.gz"), idx_images(5, 28, 28, train_px));
  write_gzip(dir.file("train-labels-idx1-ubyte.gz"), idx_labels({0, 1, 2, 3, 4}));
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_images(3, 28, 28, test_px));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_labels({9, 8, 7}));
  const Dataset train = load_fashion_mnist(dir.path.string(), true);
  const Dataset test = load_fashion_mnist(dir.path.string(), false);
  CHECK(train.name == "fashion-mnist-train");
  CHECK(test.name == "fashion-mnist-test");
  CHECK(tensor_bytes(train.pixels) == train_px);
  CHECK(tensor_bytes(test.pixels) == test_px);
  CHECK(test.labels.to_vector_i32() == std::vector<int32_t>{9, 8, 7});
  check_error([&] { load_fashion_mnist(dir.file("missing"), true); }, {"missing"});
}

TEST_CASE("data: the real Fashion-MNIST (Debian's dataset-fashion-mnist), when installed") {
  if (!fs::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) {
    ML_SKIP_TEST(kFashionMnistDir, " is absent (apt install dataset-fashion-mnist)");
  }
  for (const bool train : {false, true}) {
    const Dataset ds = load_fashion_mnist(kFashionMnistDir, train);
    const int64_t n = train ? 60000 : 10000;
    CHECK(ds.pixels.shape() == Shape{n, 1, 28, 28});
    CHECK(class_counts(ds) == std::vector<int64_t>(10, n / 10));  // the published sets are balanced
    // Real images: dark background, bright garments; a reader that misplaces the header
    // would shift every image.
    const uint8_t* p = ds.pixels.data_u8();
    CHECK(p[0] == 0);                                           // image 0's top-left corner is background
    CHECK(*std::max_element(p, p + 784) > 200);                 // and it has bright pixels
  }
}

// ---- CIFAR-10 ---------------------------------------------------------------------------

TEST_CASE("data: CIFAR-10 binary batches load pixel-exactly, R, G, B planes in order") {
  TempDir dir;
  std::vector<Bytes> records;  // all training records in file order
  for (int b = 1; b <= 5; ++b) {
    Bytes file;
    for (int r = 0; r < b; ++r) {  // files of different lengths (1..5 records)
      Bytes rec = random_bytes(3073, 100 + 10 * b + r);
      rec[0] = static_cast<uint8_t>((b + r) % 10);
      file.insert(file.end(), rec.begin(), rec.end());
      records.push_back(rec);
    }
    write_bytes(dir.file("data_batch_" + std::to_string(b) + ".bin"), file);
  }
  Bytes test = random_bytes(3073 * 2, 7);
  test[0] = 9;
  test[3073] = 0;
  write_bytes(dir.file("test_batch.bin"), test);

  const Dataset train = load_cifar10(dir.path.string(), true);
  REQUIRE(train.pixels.shape() == Shape{15, 3, 32, 32});
  CHECK(train.name == "cifar10-train");
  for (size_t i = 0; i < records.size(); ++i) {
    CAPTURE(i);
    CHECK(train.labels.to_vector_i32()[i] == records[i][0]);
    CHECK(image_bytes(train, static_cast<int64_t>(i)) == Bytes(records[i].begin() + 1, records[i].end()));
  }
  // The green plane of image 0, pixel (row 2, col 5): byte 1 + 1024 + 2*32 + 5 of its record.
  CHECK(train.pixels.data_u8()[1 * 1024 + 2 * 32 + 5] == records[0][1 + 1024 + 2 * 32 + 5]);
  const Dataset te = load_cifar10(dir.path.string(), false);
  CHECK(te.labels.to_vector_i32() == std::vector<int32_t>{9, 0});
  CHECK(te.name == "cifar10-test");
}

TEST_CASE("data: malformed CIFAR-10 files give errors naming the file and the problem") {
  TempDir dir;
  Bytes rec = random_bytes(3073 * 2, 8);
  rec[0] = 1;
  rec[3073] = 2;
  write_bytes(dir.file("ok.bin"), rec);
  Bytes cut(rec.begin(), rec.end() - 100);
  write_bytes(dir.file("cut.bin"), cut);
  check_error([&] { load_cifar10_files({dir.file("ok.bin"), dir.file("cut.bin")}, "x"); },
              {"cut.bin", "not a multiple of the 3073-byte record"});
  Bytes bad = rec;
  bad[3073] = 10;
  write_bytes(dir.file("bad.bin"), bad);
  check_error([&] { load_cifar10_files({dir.file("bad.bin")}, "x"); }, {"bad.bin", "record 1", "label 10"});
  write_bytes(dir.file("empty.bin"), {});
  check_error([&] { load_cifar10_files({dir.file("empty.bin")}, "x"); }, {"empty.bin", "empty"});
  // A training folder lacking data_batch_3.bin.
  for (int b : {1, 2, 4, 5}) write_bytes(dir.file("data_batch_" + std::to_string(b) + ".bin"), rec);
  check_error([&] { load_cifar10(dir.path.string(), true); }, {"data_batch_3.bin", "missing"});
  check_error([&] { load_cifar10(dir.path.string(), false); }, {"test_batch.bin", "missing"});
}

// ---- SVHN ---------------------------------------------------------------------------------

namespace {

// Writes a MATLAB v5 file with the given variables; each is (name, class, data type, dims, data).
struct MatVarSpec {
  std::string name;
  matio_classes cls;
  matio_types type;
  std::vector<size_t> dims;
  const void* data;
};

void write_mat(const std::string& path, const std::vector<MatVarSpec>& vars, bool compress = false) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  REQUIRE(mat != nullptr);
  for (const auto& v : vars) {
    std::vector<size_t> dims = v.dims;
    matvar_t* var = Mat_VarCreate(v.name.c_str(), v.cls, v.type, static_cast<int>(dims.size()), dims.data(),
                                  const_cast<void*>(v.data), MAT_F_DONT_COPY_DATA);
    REQUIRE(var != nullptr);
    REQUIRE(Mat_VarWrite(mat, var, compress ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(var);
  }
  Mat_Close(mat);
}

// X as MATLAB holds it, column-major 32x32x3xN: pixel (h, w, c) of image n at
// h + 32 w + 1024 c + 3072 n, taken from our (N, 3, 32, 32) reference.
Bytes to_matlab_order(const Bytes& nchw, size_t n) {
  Bytes x(nchw.size());
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < 3; ++c)
      for (size_t h = 0; h < 32; ++h)
        for (size_t w = 0; w < 32; ++w) x[h + 32 * w + 1024 * c + 3072 * i] = nchw[((i * 3 + c) * 32 + h) * 32 + w];
  return x;
}

}  // namespace

TEST_CASE("data: SVHN .mat (MATLAB v5) loads pixel-exactly and maps label 10 to digit 0") {
  TempDir dir;
  const size_t n = 4;
  const Bytes ref = random_bytes(n * 3072, 9);  // the images in our (N, 3, 32, 32) order
  const Bytes X = to_matlab_order(ref, n);
  const std::vector<double> y = {10, 1, 9, 10};
  write_mat(dir.file("train_32x32.mat"), {{"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, n}, X.data()},
                                          {"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {n, 1}, y.data()}});
  const Dataset ds = load_svhn(dir.path.string(), true);
  CHECK(ds.pixels.shape() == Shape{4, 3, 32, 32});
  CHECK(tensor_bytes(ds.pixels) == ref);
  CHECK(ds.labels.to_vector_i32() == std::vector<int32_t>{0, 1, 9, 0});
  CHECK(ds.num_classes == 10);
  CHECK(ds.name == "svhn-train");
  // Row/column sense: MATLAB's X(h+1, w+1, c+1, i+1) is our pixels[i, c, h, w] (h = 3, w = 17).
  CHECK(ds.pixels.data_u8()[((2 * 3 + 1) * 32 + 3) * 32 + 17] == X[3 + 32 * 17 + 1024 * 1 + 3072 * 2]);

  // Compressed variables (MATLAB's default since v7, and how the published files are saved).
  write_mat(dir.file("z.mat"), {{"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, n}, X.data()},
                                {"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {n, 1}, y.data()}},
            true);
  const Dataset dz = load_svhn_file(dir.file("z.mat"), "z");
  CHECK(tensor_bytes(dz.pixels) == ref);
  CHECK(dz.labels.to_vector_i32() == std::vector<int32_t>{0, 1, 9, 0});

  // y stored as uint8 (some re-saved copies of SVHN are) and as a row vector.
  const std::vector<uint8_t> y8 = {3, 10, 5, 2};
  write_mat(dir.file("test_32x32.mat"), {{"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, n}, X.data()},
                                         {"y", MAT_C_UINT8, MAT_T_UINT8, {1, n}, y8.data()}});
  const Dataset te = load_svhn(dir.path.string(), false);
  CHECK(te.labels.to_vector_i32() == std::vector<int32_t>{3, 0, 5, 2});
  CHECK(te.name == "svhn-test");
}

TEST_CASE("data: malformed SVHN files give errors naming the file and the problem") {
  TempDir dir;
  const size_t n = 2;
  const Bytes X = random_bytes(n * 3072, 10);
  const std::vector<double> y = {1, 2};
  auto file = [&](const char* name) { return dir.file(name); };

  write_mat(file("no_x.mat"), {{"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {n, 1}, y.data()}});
  check_error([&] { load_svhn_file(file("no_x.mat"), "x"); }, {"no_x.mat", "'X'"});
  write_mat(file("no_y.mat"), {{"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, n}, X.data()}});
  check_error([&] { load_svhn_file(file("no_y.mat"), "x"); }, {"no_y.mat", "'y'"});

  const Bytes X28(28 * 28 * 3 * n, 1);
  write_mat(file("dims.mat"), {{"X", MAT_C_UINT8, MAT_T_UINT8, {28, 28, 3, n}, X28.data()},
                               {"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {n, 1}, y.data()}});
  check_error([&] { load_svhn_file(file("dims.mat"), "x"); }, {"dims.mat", "32x32x3xN", "28x28x3x2"});

  const std::vector<double> Xd(n * 3072, 0.5);
  write_mat(file("class.mat"), {{"X", MAT_C_DOUBLE, MAT_T_DOUBLE, {32, 32, 3, n}, Xd.data()},
                                {"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {n, 1}, y.data()}});
  check_error([&] { load_svhn_file(file("class.mat"), "x"); }, {"class.mat", "uint8"});

  for (const double bad : {0.0, 11.0, 2.5}) {
    const std::vector<double> yb = {1, bad};
    write_mat(file("label.mat"), {{"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, n}, X.data()},
                                  {"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {n, 1}, yb.data()}});
    check_error([&] { load_svhn_file(file("label.mat"), "x"); }, {"label.mat", "image 1", "not an integer in 1..10"});
  }

  const std::vector<double> y3 = {1, 2, 3};
  write_mat(file("count.mat"), {{"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, n}, X.data()},
                                {"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {3, 1}, y3.data()}});
  check_error([&] { load_svhn_file(file("count.mat"), "x"); }, {"count.mat", "one label per image"});

  write_bytes(file("garbage.mat"), random_bytes(500, 11));
  check_error([&] { load_svhn_file(file("garbage.mat"), "x"); }, {"garbage.mat"});

  // A valid file cut short: in the first variable's data, in the last one's, with either
  // order of X and y. (matio itself would return the missing bytes as zeros.)
  const MatVarSpec xs{"X", MAT_C_UINT8, MAT_T_UINT8, {32, 32, 3, n}, X.data()};
  const MatVarSpec ys{"y", MAT_C_DOUBLE, MAT_T_DOUBLE, {n, 1}, y.data()};
  for (const int mode : {0, 1, 2}) {  // X first, y first, X first compressed
    const bool x_first = mode != 1;
    write_mat(file("ok.mat"), x_first ? std::vector<MatVarSpec>{xs, ys} : std::vector<MatVarSpec>{ys, xs}, mode == 2);
    CHECK_NOTHROW(load_svhn_file(file("ok.mat"), "x"));
    const Bytes whole = read_bytes(file("ok.mat"));
    for (const size_t keep : {whole.size() / 2, whole.size() - 8, whole.size() - 1, size_t{130}, size_t{100}}) {
      CAPTURE(mode);
      CAPTURE(keep);
      write_bytes(file("cut.mat"), Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(keep)));
      check_error([&] { load_svhn_file(file("cut.mat"), "x"); }, {"cut.mat"});
      if (keep > 128) check_error([&] { load_svhn_file(file("cut.mat"), "x"); }, {"cut.mat", "truncated"});
    }
  }
  check_error([&] { load_svhn(dir.path.string(), true); }, {"train_32x32.mat", "missing"});
}

// ---- image folders --------------------------------------------------------------------------

TEST_CASE("data: image folder with a CSV manifest (PNG gray/RGB/alpha, quoted names, extra columns)") {
  TempDir dir;
  const int H = 5, W = 6;
  const Bytes rgb = random_bytes(H * W * 3, 12), gray = random_bytes(H * W, 13), rgba = random_bytes(H * W * 4, 14);
  fs::create_directories(dir.path / "sub");
  REQUIRE(stbi_write_png(dir.file("sub/a, b.png").c_str(), W, H, 3, rgb.data(), W * 3));
  REQUIRE(stbi_write_png(dir.file("g.png").c_str(), W, H, 1, gray.data(), W));
  REQUIRE(stbi_write_png(dir.file("rgba.png").c_str(), W, H, 4, rgba.data(), W * 4));
  write_bytes(dir.file("set.csv"), [] {
    const std::string s =
        "category,file,label\r\n"
        "cars,\"sub/a, b.png\",2\r\n"
        "\n"
        "faces,g.png, 0\r\n"
        "\"say \"\"hi\"\"\",rgba.png,1\n";
    return Bytes(s.begin(), s.end());
  }());

  // Interleaved (h, w, c) -> planes (c, h, w).
  auto planes = [&](const Bytes& hwc, int c_in, int c_keep) {
    Bytes out;
    for (int c = 0; c < c_keep; ++c)
      for (int p = 0; p < H * W; ++p) out.push_back(hwc[p * c_in + c]);
    return out;
  };
  const Dataset ds = load_image_folder(dir.file("set.csv"), 3, H, W);
  REQUIRE(ds.pixels.shape() == Shape{3, 3, H, W});
  CHECK(ds.labels.to_vector_i32() == std::vector<int32_t>{2, 0, 1});
  CHECK(ds.num_classes == 3);
  CHECK(ds.name == "set");
  CHECK(image_bytes(ds, 0) == planes(rgb, 3, 3));
  Bytes gray3 = planes(gray, 1, 1);
  for (int k = 0; k < 2; ++k) gray3.insert(gray3.end(), gray.begin(), gray.end());  // gray replicated to RGB
  CHECK(image_bytes(ds, 1) == gray3);
  CHECK(image_bytes(ds, 2) == planes(rgba, 4, 3));  // alpha dropped

  // As one channel: RGB -> ITU-R 601-2 luma. The float result is rounded to 8 bits once, so
  // it may differ from the double-precision value by the rounding of a value within 1e-5 of
  // a half level: allow one level.
  const Dataset g1 = load_image_folder(dir.file("set.csv"), 1, H, W, 5);
  CHECK(g1.num_classes == 5);
  CHECK(image_bytes(g1, 1) == gray);
  const Bytes luma = image_bytes(g1, 0);
  int worst = 0;
  for (int p = 0; p < H * W; ++p) {
    const double v = 0.299 * rgb[p * 3] + 0.587 * rgb[p * 3 + 1] + 0.114 * rgb[p * 3 + 2];
    worst = std::max(worst, std::abs(static_cast<int>(luma[p]) - static_cast<int>(std::lround(v))));
  }
  CHECK(worst <= 1);

  // Resized on load: a 2x2 gray image to 4x4 gives F.interpolate's align_corners=False values.
  const uint8_t tiny[4] = {10, 20, 30, 40};
  REQUIRE(stbi_write_png(dir.file("tiny.png").c_str(), 2, 2, 1, tiny, 2));
  const Tensor up = load_image(dir.file("tiny.png"), 1, 4, 4);
  const std::vector<float> expect = {10, 12.5, 17.5, 20, 15, 17.5, 22.5, 25, 25, 27.5, 32.5, 35, 30, 32.5, 37.5, 40};
  CHECK_CLOSE(mul(up, 255.f), Tensor::from_vector({1, 1, 4, 4}, expect), 1e-4, 0);

  // JPEG: lossy, so only close. stb's encoder at quality 100 keeps full-resolution chroma;
  // on a smooth gradient the round trip stays within a few levels (measured: <= 2).
  Bytes grad(16 * 16 * 3);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j)
      for (int c = 0; c < 3; ++c) grad[(i * 16 + j) * 3 + c] = static_cast<uint8_t>(40 + 8 * i + 4 * j + 20 * c);
  REQUIRE(stbi_write_jpg(dir.file("grad.jpg").c_str(), 16, 16, 3, grad.data(), 100));
  const Tensor jpg = load_image(dir.file("grad.jpg"), 3, 16, 16);
  Bytes grad_planes;
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 256; ++p) grad_planes.push_back(grad[p * 3 + c]);
  std::vector<float> gref(grad_planes.begin(), grad_planes.end());
  CHECK_CLOSE(mul(jpg, 255.f), Tensor::from_vector({1, 3, 16, 16}, gref), 4.0, 0);
}

TEST_CASE("data: malformed manifests and images give errors naming the manifest, row and file") {
  TempDir dir;
  const Bytes gray = random_bytes(4 * 4, 15);
  REQUIRE(stbi_write_png(dir.file("ok.png").c_str(), 4, 4, 1, gray.data(), 4));
  write_bytes(dir.file("broken.png"), random_bytes(200, 16));
  auto manifest = [&](const std::string& name, const std::string& text) {
    write_bytes(dir.file(name), Bytes(text.begin(), text.end()));
    return dir.file(name);
  };
  auto load = [&](const std::string& m) { return [m] { load_image_folder(m, 1, 4, 4); }; };
  check_error(load(manifest("m1.csv", "file,label\nok.png,0\nmissing.png,1\n")),
              {"m1.csv", "row 3", "missing.png", "missing file"});
  check_error(load(manifest("m2.csv", "file,label\nbroken.png,0\n")), {"m2.csv", "row 2", "broken.png", "decode"});
  check_error(load(manifest("m3.csv", "file,label\nok.png,cat\n")), {"m3.csv", "row 2", "label 'cat'"});
  check_error(load(manifest("m4.csv", "file,label\nok.png,-1\n")), {"m4.csv", "row 2", "label '-1'"});
  check_error(load(manifest("m5.csv", "name,label\nok.png,0\n")), {"m5.csv", "no column 'file'"});
  check_error(load(manifest("m6.csv", "file,label\n\"ok.png,0\n")), {"m6.csv", "never closed"});
  check_error(load(manifest("m7.csv", "file,label\nok.png\n")), {"m7.csv", "row 2", "1 fields"});
  check_error(load(manifest("m8.csv", "file,label\n")), {"m8.csv", "no images"});
  check_error([&] { load_image_folder(manifest("m9.csv", "file,label\nok.png,3\n"), 1, 4, 4, 3); },
              {"m9.csv", "row 2", "label 3", "out of range"});
  check_error([&] { load_image_folder(dir.file("none.csv"), 1, 4, 4); }, {"none.csv", "missing manifest"});
}

// ---- transforms -------------------------------------------------------------------------------

TEST_CASE("data: transforms — to_float, normalize, channels, resize, hflip") {
  Generator g(21);
  Dataset ds = random_dataset(3, 3, 4, 5, 10, 22);
  const Tensor x = to_float(ds.pixels);
  const auto px = tensor_bytes(ds.pixels);
  const auto xv = x.to_vector();
  for (size_t i = 0; i < px.size(); ++i) REQUIRE(xv[i] == static_cast<float>(px[i]) / 255.f);

  // normalize against the formula, element by element (same float operations: exact).
  const std::vector<float> mean = {0.4914f, 0.4822f, 0.4465f}, stdv = {0.247f, 0.243f, 0.261f};
  const Tensor z = normalize(x, mean, stdv);
  const auto zv = z.to_vector();
  for (size_t i = 0; i < zv.size(); ++i) {
    const size_t c = (i / 20) % 3;
    REQUIRE(zv[i] == (xv[i] - mean[c]) / stdv[c]);
  }
  // The loader's fused path gives the same bits as to_float then normalize.
  std::vector<float> fused(px.size());
  for (int n = 0; n < 3; ++n) pixels_to_normalized(fused.data() + n * 60, px.data() + n * 60, 3, 20, mean, stdv);
  CHECK(fused == zv);
  check_error([&] { normalize(x, {0.5f}, {0.5f}); }, {"normalize", "3 entries"});
  check_error([&] { normalize(x, {0, 0, 0}, {1, 0, 1}); }, {"std[1]"});

  // Channels: gray -> RGB replicates; RGB -> gray is the luma mix; a 3-channel image whose
  // planes are equal is its own gray (weights sum to 1, to float rounding).
  const Tensor gray = Tensor::uniform({2, 1, 3, 4}, 0.f, 1.f, g);
  const Tensor rgb = gray_to_rgb(gray);
  CHECK(rgb.shape() == Shape{2, 3, 3, 4});
  const auto rv = rgb.to_vector(), gv = gray.to_vector();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 12; ++p) REQUIRE(rv[(n * 3 + c) * 12 + p] == gv[n * 12 + p]);
  CHECK_CLOSE(to_grayscale(rgb), gray, 1e-6, 1e-6);  // 0.299+0.587+0.114 = 1 up to float rounding
  CHECK(to_channels(gray, 1).same(gray));
  const Tensor lum = to_grayscale(x);
  CHECK(lum.shape() == Shape{3, 1, 4, 5});
  CHECK(near(lum.to_vector()[7], 0.299 * xv[7] + 0.587 * xv[27] + 0.114 * xv[47], 1e-7, 1e-6));  // float32 sum
  check_error([&] { gray_to_rgb(x); }, {"gray_to_rgb", "1 channel"});

  // Resize, against F.interpolate(bilinear, align_corners=False): the classic 2x2 -> 4x4...
  const Tensor t = Tensor::from_vector({1, 1, 2, 2}, {1, 2, 3, 4});
  CHECK_CLOSE(resize_bilinear(t, 4, 4),
              Tensor::from_vector({1, 1, 4, 4}, {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25,
                                                 3.75, 4}),
              1e-6, 0);
  // ... halving averages 2x2 blocks (sources at 0.5, 2.5), the same size is the identity ...
  const Tensor big = Tensor::uniform({2, 3, 4, 6}, 0.f, 1.f, g);
  const Tensor half = resize_bilinear(big, 2, 3);
  const auto bv = big.to_vector(), hv = half.to_vector();
  for (int p = 0; p < 6; ++p)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) {
        const float* b = bv.data() + p * 24;
        const double avg = (b[(2 * i) * 6 + 2 * j] + b[(2 * i) * 6 + 2 * j + 1] + b[(2 * i + 1) * 6 + 2 * j] +
                            b[(2 * i + 1) * 6 + 2 * j + 1]) / 4.0;
        CHECK(near(hv[p * 6 + i * 3 + j], avg, 1e-7, 1e-6));
      }
  CHECK(testing::equal(resize_bilinear(big, 4, 6), big));
  // ... and an odd, non-integer ratio against a double-precision evaluation of the same
  // definition (float weights: error ~ few ulp of values in [0, 1], so 1e-6).
  const Tensor src = Tensor::uniform({1, 2, 5, 7}, 0.f, 1.f, g);
  const Tensor out = resize_bilinear(src, 3, 11);
  const auto sv = src.to_vector(), ov = out.to_vector();
  auto axis = [](int64_t o, int64_t in, int64_t n_out, int64_t& i0, int64_t& i1, double& l1) {
    const double s = std::max((o + 0.5) * static_cast<double>(in) / static_cast<double>(n_out) - 0.5, 0.0);
    i0 = std::min(static_cast<int64_t>(s), in - 1);
    i1 = std::min(i0 + 1, in - 1);
    l1 = s - static_cast<double>(i0);
  };
  double worst = 0;
  for (int c = 0; c < 2; ++c)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 11; ++j) {
        int64_t a0, a1, b0, b1;
        double la, lb;
        axis(i, 5, 3, a0, a1, la);
        axis(j, 7, 11, b0, b1, lb);
        auto at = [&](int64_t r, int64_t q) { return static_cast<double>(sv[c * 35 + r * 7 + q]); };
        const double v = (1 - la) * ((1 - lb) * at(a0, b0) + lb * at(a0, b1)) + la * ((1 - lb) * at(a1, b0) + lb * at(a1, b1));
        worst = std::max(worst, std::fabs(v - ov[c * 33 + i * 11 + j]));
      }
  CHECK(worst < 1e-6);

  // hflip of a float batch equals the uint8 flip converted to float (two independent
  // implementations: the flip kernel and mirror.cpp's byte reversal).
  CHECK(testing::equal(hflip_images(x), to_float(hflip_pixels(ds.pixels))));
  CHECK(to_float(hflip_pixels(ds.pixels)).to_vector()[0] == xv[4]);  // (0,0,0,0) <- (0,0,0,W-1)
}

// ---- mirrored variants -------------------------------------------------------------------------

TEST_CASE("data: sym and asym variants (flip with probability 0.5, seeded, asym relabels c -> c + n)") {
  const int64_t N = 400;
  const Dataset ds = random_dataset(N, 3, 4, 5, 10, 30);
  const Tensor mirrored = hflip_pixels(ds.pixels);
  // hflip_pixels against the float flip kernel (kernels/flip.h), exactly.
  CHECK(testing::equal(to_float(mirrored), hflip(to_float(ds.pixels))));

  Generator g1(7), g2(7);
  std::vector<uint8_t> f_sym, f_asym;
  const Dataset sym = make_sym(ds, g1, &f_sym);
  const Dataset asym = make_asym(ds, g2, &f_asym);
  CHECK(f_sym == f_asym);  // equal seeds flip the same images
  CHECK(sym.name == "random-sym");
  CHECK(asym.name == "random-asym");
  CHECK(sym.num_classes == 10);
  CHECK(asym.num_classes == 20);
  CHECK(sym.labels.to_vector_i32() == ds.labels.to_vector_i32());
  const auto y0 = ds.labels.to_vector_i32(), ya = asym.labels.to_vector_i32();
  const Dataset flipped_all{mirrored, ds.labels, 10, "m"};
  int64_t n_flipped = 0;
  for (int64_t i = 0; i < N; ++i) {
    CAPTURE(i);
    const bool f = f_asym[static_cast<size_t>(i)];
    n_flipped += f;
    CHECK((ya[i] >= 10) == f);  // flipped <-> label >= n
    CHECK(ya[i] % 10 == y0[i]);
    const Bytes expect = f ? image_bytes(flipped_all, i) : image_bytes(ds, i);
    CHECK(image_bytes(asym, i) == expect);
    CHECK(image_bytes(sym, i) == expect);
  }
  // Binomial(400, 0.5): mean 200, sd 10; 4 sd either side.
  CHECK(n_flipped > 160);
  CHECK(n_flipped < 240);

  // Same seed, same variant; another seed, other flips.
  Generator g3(7), g4(8);
  std::vector<uint8_t> f3, f4;
  const Dataset again = make_asym(ds, g3, &f3);
  make_asym(ds, g4, &f4);
  CHECK(f3 == f_asym);
  CHECK(tensor_bytes(again.pixels) == tensor_bytes(asym.pixels));
  CHECK(f4 != f_asym);
  // Applying to train and test with one generator continues the stream (different coins).
  std::vector<uint8_t> f5;
  make_sym(ds, g1, &f5);
  CHECK(f5 != f_sym);
}

// ---- split --------------------------------------------------------------------------------------

TEST_CASE("data: seeded 90/10 train/validation split") {
  const Dataset ds = random_dataset(1000, 1, 3, 2, 10, 40);
  Generator g(5);
  const TrainValSplit s = split_train_val(ds, 0.1, g);
  CHECK(s.val.size() == 100);
  CHECK(s.train.size() == 900);
  CHECK(s.train.name == "random-fit");
  CHECK(s.val.name == "random-val");
  std::vector<int64_t> all = s.train_index;
  all.insert(all.end(), s.val_index.begin(), s.val_index.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(all == iota);  // disjoint and together everything
  CHECK(std::is_sorted(s.val_index.begin(), s.val_index.end()));
  for (size_t k = 0; k < s.val_index.size(); ++k) {
    REQUIRE(image_bytes(s.val, static_cast<int64_t>(k)) == image_bytes(ds, s.val_index[k]));
    REQUIRE(s.val.labels.to_vector_i32()[k] == ds.labels.to_vector_i32()[static_cast<size_t>(s.val_index[k])]);
  }
  Generator same(5), other(6);
  CHECK(split_train_val(ds, 0.1, same).val_index == s.val_index);
  CHECK(split_train_val(ds, 0.1, other).val_index != s.val_index);
  Generator g2(5);
  CHECK(split_train_val(ds, 0.25, g2).val.size() == 250);
  Generator g3(5);
  check_error([&] { split_train_val(ds, 1.0, g3); }, {"val_fraction", "random"});
}

// ---- loader -------------------------------------------------------------------------------------

namespace {

// A set whose label is the image's index (num_classes = N), so every batch says which
// images it holds.
Dataset indexed_dataset(int64_t n) {
  Dataset ds = random_dataset(n, 3, 4, 5, n, 50);
  std::iota(ds.labels.data_i32(), ds.labels.data_i32() + n, 0);
  ds.name = "indexed";
  return ds;
}

std::vector<int32_t> run_epoch(Loader& loader, int64_t epoch, std::vector<int64_t>* batch_sizes = nullptr) {
  loader.start_epoch(epoch);
  std::vector<int32_t> seen;
  Tensor x, y;
  while (loader.next(x, y)) {
    if (batch_sizes) batch_sizes->push_back(y.size(0));
    const auto v = y.to_vector_i32();
    seen.insert(seen.end(), v.begin(), v.end());
  }
  return seen;
}

}  // namespace

TEST_CASE("data: loader covers every image once per epoch, in a (seed, epoch)-determined order") {
  const int64_t N = 103;
  const Dataset ds = indexed_dataset(N);
  const std::vector<float> mean = {0.5f, 0.4f, 0.3f}, stdv = {0.2f, 0.25f, 0.3f};
  Loader a(ds, 10, true, 1234, mean, stdv);
  CHECK(a.batches_per_epoch() == 11);
  std::vector<int64_t> sizes;
  const auto e0 = run_epoch(a, 0, &sizes);
  CHECK(sizes == std::vector<int64_t>{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3});  // last batch partial
  std::vector<int32_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int32_t> iota(N);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);  // every image exactly once
  CHECK(e0 != iota);      // and shuffled
  CHECK(std::vector<int64_t>(e0.begin(), e0.end()) == a.epoch_order(0));

  // Order depends only on (seed, epoch): a second loader, visiting epochs in another order
  // (a resumed run starts at epoch 2), sees the same batches; epochs differ from each other.
  const auto e1 = run_epoch(a, 1), e2 = run_epoch(a, 2);
  Loader b(ds, 10, true, 1234, mean, stdv);
  CHECK(run_epoch(b, 2) == e2);
  CHECK(run_epoch(b, 0) == e0);
  CHECK(e1 != e0);
  CHECK(e2 != e1);
  Loader c(ds, 10, true, 1235, mean, stdv);
  CHECK(run_epoch(c, 0) != e0);
  // No shuffle: 0..N-1.
  Loader plain(ds, 32, false, 1234);
  CHECK(run_epoch(plain, 5) == iota);

  // drop_last: 10 full batches, the 3 leftover images are not seen.
  Loader d(ds, 10, true, 1234, mean, stdv, true);
  CHECK(d.batches_per_epoch() == 10);
  sizes.clear();
  const auto dropped = run_epoch(d, 0, &sizes);
  CHECK(sizes == std::vector<int64_t>(10, 10));
  CHECK(dropped == std::vector<int32_t>(e0.begin(), e0.begin() + 100));
}

TEST_CASE("data: loader batches are float (B, C, H, W), normalised per channel") {
  const Dataset ds = indexed_dataset(23);
  const std::vector<float> mean = {0.5f, 0.4f, 0.3f}, stdv = {0.2f, 0.25f, 0.3f};
  Loader loader(ds, 8, true, 99, mean, stdv);
  loader.start_epoch(3);
  Tensor x, y;
  int64_t batches = 0;
  while (loader.next(x, y)) {
    ++batches;
    REQUIRE(x.dtype() == DType::F32);
    REQUIRE(y.dtype() == DType::I32);
    REQUIRE(x.shape() == Shape{y.size(0), 3, 4, 5});
    const auto xv = x.to_vector();
    const auto yv = y.to_vector_i32();
    for (int64_t k = 0; k < y.size(0); ++k) {
      const Bytes img = image_bytes(ds, yv[k]);
      for (int64_t e = 0; e < 60; ++e) {
        const int64_t c = e / 20;
        // ToTensor then Normalize, the same float operations: exact.
        REQUIRE(xv[k * 60 + e] == (static_cast<float>(img[e]) / 255.f - mean[c]) / stdv[c]);
      }
    }
  }
  CHECK(batches == 3);
  CHECK_FALSE(loader.next(x, y));  // stays finished
  // Without mean/std the batch is pixel/255.
  Loader raw(ds, 23, false, 0);
  raw.start_epoch(0);
  REQUIRE(raw.next(x, y));
  CHECK(testing::equal(x, to_float(ds.pixels)));
}

TEST_CASE("data: loader's background thread survives restarts and early destruction") {
  const Dataset ds = random_dataset(2000, 3, 32, 32, 10, 60);
  for (int trial = 0; trial < 20; ++trial) {
    Loader loader(ds, 64, true, static_cast<uint64_t>(trial));
    if (trial % 4 == 0) continue;  // destroyed before any epoch
    loader.start_epoch(0);
    Tensor x, y;
    REQUIRE(loader.next(x, y));
    if (trial % 4 == 1) continue;  // destroyed mid-epoch, the worker holding a prepared batch
    // Abandon epoch 0 half-way and start epoch 1 twice: stale prepared batches are dropped.
    for (int k = 0; k < 3; ++k) REQUIRE(loader.next(x, y));
    loader.start_epoch(1);
    loader.start_epoch(1);
    if (trial % 4 == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;  // destroyed while (probably) preparing
    }
    int64_t images = 0;
    while (loader.next(x, y)) images += y.size(0);
    CHECK(images == 2000);
  }
  const Dataset idx = indexed_dataset(50);
  Loader restarted(idx, 7, true, 3);
  restarted.start_epoch(0);
  Tensor x, y;
  REQUIRE(restarted.next(x, y));
  const auto full = run_epoch(restarted, 0);  // restarting the same epoch gives it whole
  CHECK(std::vector<int64_t>(full.begin(), full.end()) == restarted.epoch_order(0));
}

TEST_CASE("data: the loader batch transform runs on the worker and its exceptions reach next()") {
  const Dataset ds = indexed_dataset(30);
  Loader loader(ds, 8, false, 0);
  int calls = 0;  // touched only by the worker; read after next() has synchronised with it
  loader.set_batch_transform([&calls](Tensor& x, Tensor& y) {
    ++calls;
    if (y.to_vector_i32()[0] == 16) throw Error("transform: batch starting at image 16 refused");
    x = to_channels(to_grayscale(x), 3);  // any replacement of x is what next() returns
  });
  loader.start_epoch(0);
  Tensor x, y;
  REQUIRE(loader.next(x, y));
  CHECK(x.shape() == Shape{8, 3, 4, 5});
  CHECK(testing::equal(x, to_channels(to_grayscale(to_float(ds.pixels.slice(0, 8))), 3)));
  REQUIRE(loader.next(x, y));
  check_error([&] { loader.next(x, y); }, {"image 16 refused"});
  REQUIRE(loader.next(x, y));  // the epoch goes on after a failed batch
  CHECK(y.to_vector_i32() == std::vector<int32_t>{24, 25, 26, 27, 28, 29});
  CHECK_FALSE(loader.next(x, y));
  CHECK(calls == 4);
  check_error([&] { loader.set_batch_transform({}); }, {"before the first start_epoch"});
}

TEST_CASE("data: loader argument errors") {
  const Dataset ds = indexed_dataset(10);
  check_error([&] { Loader l(ds, 0, true, 1); }, {"indexed", "batch size"});
  check_error([&] { Loader l(ds, 4, true, 1, {0.5f}, {0.5f}); }, {"indexed", "3 channels"});
  check_error([&] { Loader l(ds, 4, true, 1, {0.5f, 0.5f, 0.5f}, {0.5f, 0.f, 0.5f}); }, {"std[1]"});
  Loader l(ds, 4, true, 1);
  Tensor x, y;
  check_error([&] { l.next(x, y); }, {"start_epoch first"});
  Dataset bad = ds;
  bad.labels = Tensor::from_vector_i32({10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 10});
  check_error([&] { Loader l2(bad, 4, true, 1); }, {"indexed", "label 10", "image 9"});
}
