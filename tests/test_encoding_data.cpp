// The encoding study's real-data readers (experiments/analysis/encoding_data.h) on small files
// the test writes in the published layout: a MATLAB v7.3 (HDF5) EstimatedResponses.mat as CRCNS
// vim-1 ships it, written through matio's HDF5 backend.
#include <doctest/doctest.h>

#include <matio.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include <stb_image_write.h>

#include "engine/error.h"
#include "engine/io/npy.h"
#include "experiments/analysis/encoding_data.h"

using namespace ml;
using namespace ml::analysis;
namespace fs = std::filesystem;

namespace {

struct Var {
  std::string name;
  size_t rows, cols;
  std::vector<float> data;  // column-major, MATLAB's order
};

void write_mat73(const std::string& path, const std::vector<Var>& vars) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT73);
  REQUIRE(mat != nullptr);
  for (const Var& v : vars) {
    size_t dims[2] = {v.rows, v.cols};
    matvar_t* mv = Mat_VarCreate(v.name.c_str(), MAT_C_SINGLE, MAT_T_SINGLE, 2, dims,
                                 const_cast<float*>(v.data.data()), MAT_F_DONT_COPY_DATA);
    REQUIRE(mv != nullptr);
    REQUIRE(Mat_VarWrite(mat, mv, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(mv);
  }
  Mat_Close(mat);
}

// Response of voxel v to image i: distinct, exactly representable values.
float resp(int64_t v, int64_t i, int64_t base) { return static_cast<float>(base + v * 10000 + i) * 0.25f; }

// The published layout for V voxels: voxels x images matrices (or their transposes).
std::vector<Var> vim1_vars(const std::vector<float>& roi, bool transposed, int subject = 1) {
  const size_t V = roi.size();
  auto matrix = [&](const std::string& name, size_t images, int64_t base) {
    Var m{name, transposed ? images : V, transposed ? V : images, std::vector<float>(V * images)};
    for (size_t v = 0; v < V; ++v)
      for (size_t i = 0; i < images; ++i)
        m.data[transposed ? v * images + i : i * V + v] = resp(static_cast<int64_t>(v), static_cast<int64_t>(i), base);
    return m;
  };
  std::string s = "S";  // (not "S" + to_string: GCC 12 bug 105329 warns on it)
  s += std::to_string(subject);
  std::vector<float> idx(V);
  for (size_t v = 0; v < V; ++v) idx[v] = static_cast<float>(100 + 7 * v);
  return {matrix("dataTrn" + s, 1750, 0), matrix("dataVal" + s, 120, 5000), Var{"roi" + s, V, 1, roi},
          Var{"voxIdx" + s, V, 1, idx}};
}

}  // namespace

TEST_CASE("read_vim1: a v7.3 EstimatedResponses.mat in the published layout, NaN voxels dropped and counted") {
  const fs::path dir = fs::temp_directory_path() / "ml_test_vim1";
  fs::create_directories(dir);
  const std::vector<float> roi{1, 2, 0, 7, 3, 6};
  for (bool transposed : {false, true}) {
    INFO("transposed ", transposed);
    std::vector<Var> vars = vim1_vars(roi, transposed);
    // Voxel 2: a NaN training response; voxel 4: a NaN validation response.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    auto set = [&](Var& m, size_t v, size_t i, size_t images) {
      m.data[transposed ? v * images + i : i * roi.size() + v] = nan;
    };
    set(vars[0], 2, 17, 1750);
    set(vars[1], 4, 3, 120);
    const std::string path = (dir / "EstimatedResponses.mat").string();
    write_mat73(path, vars);
    // It is an HDF5 file (v7.3): the HDF5 signature sits after MATLAB's 512-byte header.
    std::ifstream f(path, std::ios::binary);
    char sig[8];
    f.seekg(512);
    f.read(sig, 8);
    CHECK(std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0);

    const Vim1Data d = read_vim1(path, 1);
    CHECK(d.voxels_in_file == 6);
    CHECK(d.dropped_nan == 2);
    REQUIRE(d.train.rows() == 1750);
    REQUIRE(d.train.cols() == 4);
    REQUIRE(d.val.rows() == 120);
    CHECK(d.roi == std::vector<int>{1, 2, 7, 6});
    CHECK(d.voxel_index == std::vector<int64_t>{100, 107, 121, 135});
    const std::vector<int64_t> kept{0, 1, 3, 5};
    bool same = true;
    for (int64_t k = 0; k < 4; ++k) {
      for (int64_t i = 0; i < 1750; ++i) same = same && d.train(i, k) == resp(kept[static_cast<size_t>(k)], i, 0);
      for (int64_t i = 0; i < 120; ++i) same = same && d.val(i, k) == resp(kept[static_cast<size_t>(k)], i, 5000);
    }
    CHECK(same);
    CHECK(d.train.allFinite());
    CHECK(vim1_roi_names()[static_cast<size_t>(d.roi[2])] == "LatOcc");
  }
}

namespace {
// A MATLAB v5 file (as CRCNS ships Stimuli.mat) of one N x H x H array per name, column-major.
template <typename T>
void write_stimuli_v5(const std::string& path, const std::vector<std::pair<std::string, std::vector<size_t>>>& shapes,
                      const std::vector<std::vector<T>>& data, matio_classes cls, matio_types type) {
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  REQUIRE(mat != nullptr);
  for (size_t k = 0; k < shapes.size(); ++k) {
    std::vector<size_t> dims = shapes[k].second;
    matvar_t* mv = Mat_VarCreate(shapes[k].first.c_str(), cls, type, static_cast<int>(dims.size()), dims.data(),
                                 const_cast<T*>(data[k].data()), MAT_F_DONT_COPY_DATA);
    REQUIRE(mv != nullptr);
    REQUIRE(Mat_VarWrite(mat, mv, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(mv);
  }
  Mat_Close(mat);
}
// Pixel (image i, row r, column c) of a test stimulus set: distinct per position, in [-0.5, 0.5].
float pixel(size_t i, size_t r, size_t c, size_t base) { return static_cast<float>((base + i * 97 + r * 13 + c * 7) % 1000) / 1000.f - 0.5f; }
}  // namespace

TEST_CASE("read_vim1_stimuli: Stimuli.mat in the published layout (images x rows x columns), value ranges, named errors") {
  const fs::path dir = fs::temp_directory_path() / "ml_test_vim1_stimuli";
  fs::create_directories(dir);
  const size_t H = 6;
  auto make = [&](size_t N, size_t base) {
    std::vector<float> v(N * H * H);
    for (size_t c = 0; c < H; ++c)
      for (size_t r = 0; r < H; ++r)
        for (size_t i = 0; i < N; ++i) v[i + N * (r + H * c)] = pixel(i, r, c, base);
    return v;
  };
  const std::string path = (dir / "Stimuli.mat").string();
  write_stimuli_v5<float>(path, {{"stimTrn", {1750, H, H}}, {"stimVal", {120, H, H}}}, {make(1750, 0), make(120, 500)},
                          MAT_C_SINGLE, MAT_T_SINGLE);
  const Vim1Stimuli st = read_vim1_stimuli(path);
  REQUIRE(st.train.shape() == Shape{1750, 1, 6, 6});
  REQUIRE(st.val.shape() == Shape{120, 1, 6, 6});
  CHECK(st.range_rule.find("+0.5") != std::string::npos);  // values in [-0.5, 0.5] are shifted
  bool same = true;
  for (size_t i = 0; i < 1750; ++i)
    for (size_t r = 0; r < H; ++r)
      for (size_t c = 0; c < H; ++c) same = same && st.train.data()[(i * H + r) * H + c] == pixel(i, r, c, 0) + 0.5f;
  for (size_t i = 0; i < 120; ++i)
    for (size_t r = 0; r < H; ++r)
      for (size_t c = 0; c < H; ++c) same = same && st.val.data()[(i * H + r) * H + c] == pixel(i, r, c, 500) + 0.5f;
  CHECK(same);  // a row/column swap or a row-major read fails here
  // uint8 files are divided by 255.
  std::vector<uint8_t> t8(1750 * H * H), v8(120 * H * H);
  for (size_t k = 0; k < t8.size(); ++k) t8[k] = static_cast<uint8_t>(k % 256);
  for (size_t k = 0; k < v8.size(); ++k) v8[k] = 255;
  write_stimuli_v5<uint8_t>(path, {{"stimTrn", {1750, H, H}}, {"stimVal", {120, H, H}}}, {t8, v8}, MAT_C_UINT8, MAT_T_UINT8);
  const Vim1Stimuli s8 = read_vim1_stimuli(path);
  // (image 0, row 0, column 1) is MATLAB element 0 + 1750 (0 + 6 * 1); (image 0, row 1, column 0) is 1750.
  CHECK(s8.train.data()[1] == doctest::Approx(t8[1750 * 6] / 255.0));
  CHECK(s8.train.data()[6] == doctest::Approx(t8[1750] / 255.0));
  CHECK(s8.val.data()[5] == doctest::Approx(1.0));
  // Out-of-range values, wrong dims and a missing variable are named.
  std::vector<float> big = make(1750, 0);
  big[3] = 300.f;
  write_stimuli_v5<float>(path, {{"stimTrn", {1750, H, H}}, {"stimVal", {120, H, H}}}, {big, make(120, 0)}, MAT_C_SINGLE, MAT_T_SINGLE);
  CHECK_THROWS_WITH_AS(read_vim1_stimuli(path), doctest::Contains("pixel values span [-0.5, 300]"), Error);
  write_stimuli_v5<float>(path, {{"stimTrn", {1700, H, H}}, {"stimVal", {120, H, H}}}, {make(1700, 0), make(120, 0)}, MAT_C_SINGLE,
                          MAT_T_SINGLE);
  CHECK_THROWS_WITH_AS(read_vim1_stimuli(path), doctest::Contains("'stimTrn' must be a real 1750 x H x H array"), Error);
  write_stimuli_v5<float>(path, {{"stimTrn", {1750, H, H}}}, {make(1750, 0)}, MAT_C_SINGLE, MAT_T_SINGLE);
  CHECK_THROWS_WITH_AS(read_vim1_stimuli(path), doctest::Contains("no readable variable 'stimVal'"), Error);
  CHECK_THROWS_WITH_AS(read_vim1_stimuli((dir / "none.mat").string()), doctest::Contains("missing file"), Error);
  fs::remove_all(dir);
}

TEST_CASE("read_vim1: bad files are named errors") {
  const fs::path dir = fs::temp_directory_path() / "ml_test_vim1_bad";
  fs::create_directories(dir);
  const std::string path = (dir / "EstimatedResponses.mat").string();
  std::vector<Var> vars = vim1_vars({1, 2, 9}, false);  // ROI code 9 does not exist
  write_mat73(path, vars);
  CHECK_THROWS_WITH_AS(read_vim1(path, 1), doctest::Contains("'roiS1' voxel 2 has code 9"), Error);
  CHECK_THROWS_WITH_AS(read_vim1(path, 2), doctest::Contains("no readable variable 'roiS2'"), Error);
  CHECK_THROWS_WITH_AS(read_vim1(path, 3), doctest::Contains("--subject must be 1 or 2"), Error);
  vars = vim1_vars({1, 2, 3}, false);
  vars.erase(vars.begin() + 1);  // no validation responses
  write_mat73(path, vars);
  CHECK_THROWS_WITH_AS(read_vim1(path, 1), doctest::Contains("no readable variable 'dataValS1'"), Error);
  vars = vim1_vars({1, 2, 3}, false);
  vars[0].cols = 1749;  // one training image short
  vars[0].data.resize(3 * 1749);
  write_mat73(path, vars);
  CHECK_THROWS_WITH_AS(read_vim1(path, 1), doctest::Contains("'dataTrnS1' must be 3x1750"), Error);
  CHECK_THROWS_WITH_AS(read_vim1((dir / "absent.mat").string(), 1), doctest::Contains("missing file"), Error);
}

TEST_CASE("read_npy_responses: NPY responses with a manifest, NaN voxels dropped and counted, bad manifests named") {
  const fs::path dir = fs::temp_directory_path() / "ml_test_npy_responses";
  fs::create_directories(dir);
  // 5 images x 4 voxels; voxel 1 has a NaN.
  std::vector<float> r(20);
  for (int i = 0; i < 5; ++i)
    for (int v = 0; v < 4; ++v) r[static_cast<size_t>(i * 4 + v)] = static_cast<float>(10 * i + v);
  r[2 * 4 + 1] = std::numeric_limits<float>::quiet_NaN();
  save_npy((dir / "r.npy").string(), Tensor::from_vector({5, 4}, r));
  auto manifest = [&](const std::string& text) {
    std::ofstream((dir / "manifest.json").string()) << text;
    return (dir / "manifest.json").string();
  };
  const NpyResponses d =
      read_npy_responses(manifest(R"({"responses": "r.npy", "groups": [0, 0, 1, 1, 2], "roi": ["V1", "V2", "V4", "LO"]})"));
  CHECK(d.voxels_in_file == 4);
  CHECK(d.dropped_nan == 1);
  CHECK(d.kept == std::vector<int64_t>{0, 2, 3});
  CHECK(d.roi == std::vector<std::string>{"V1", "V4", "LO"});
  CHECK(d.groups == std::vector<int64_t>{0, 0, 1, 1, 2});
  REQUIRE(d.responses.rows() == 5);
  REQUIRE(d.responses.cols() == 3);
  CHECK(d.responses(4, 2) == 43.f);
  CHECK(d.responses(2, 1) == 22.f);
  CHECK_THROWS_WITH_AS(read_npy_responses(manifest(R"({"responses": "r.npy", "groups": [0, 0, 1, 1]})")),
                       doctest::Contains("4 group labels for the 5 images"), Error);
  CHECK_THROWS_WITH_AS(read_npy_responses(manifest(R"({"responses": "r.npy"})")), doctest::Contains("\"groups\""), Error);
  CHECK_THROWS_WITH_AS(read_npy_responses(manifest(R"({"responses": "absent.npy", "groups": [0]})")),
                       doctest::Contains("absent.npy"), Error);
  CHECK_THROWS_WITH_AS(read_npy_responses(manifest("{not json")), doctest::Contains("is not JSON"), Error);
}

TEST_CASE("read_category_folders: Haxby-style face and house folders, in name order") {
  const fs::path dir = fs::temp_directory_path() / "ml_test_haxby";
  fs::remove_all(dir);
  fs::create_directories(dir / "face");
  fs::create_directories(dir / "house");
  const unsigned char px[4] = {128, 128, 128, 128};
  for (const char* f : {"face/f2.png", "face/f1.png", "house/h1.jpg", "house/notes.txt"}) {
    const std::string path = (dir / f).string();
    if (path.ends_with(".png")) REQUIRE(stbi_write_png(path.c_str(), 2, 2, 1, px, 2) != 0);
    else if (path.ends_with(".jpg")) REQUIRE(stbi_write_jpg(path.c_str(), 2, 2, 1, px, 90) != 0);
    else std::ofstream(path) << "not an image";
  }
  const CategoryImages c = read_category_folders(dir.string(), {"face", "house"});
  REQUIRE(c.files.size() == 3);
  CHECK(fs::path(c.files[0]).filename() == "f1.png");
  CHECK(fs::path(c.files[1]).filename() == "f2.png");
  CHECK(fs::path(c.files[2]).filename() == "h1.jpg");
  CHECK(c.category == std::vector<int>{0, 0, 1});
  CHECK_THROWS_WITH_AS(read_category_folders(dir.string(), {"face", "place"}), doctest::Contains("no folder 'place'"),
                       Error);
  fs::create_directories(dir / "empty");
  CHECK_THROWS_WITH_AS(read_category_folders(dir.string(), {"empty"}), doctest::Contains("holds no .png/.jpg"), Error);
}
