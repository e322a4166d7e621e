#include "experiments/analysis/encoding_data.h"

#include <matio.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/io/matio_handles.h"
#include "engine/io/npy.h"

namespace ml::analysis {

namespace {

using io::MatFile;
using io::MatVar;

// A real numeric 2-D variable as doubles, column-major (MATLAB's order), with its two dims.
struct Matrix2 {
  std::vector<double> v;
  int64_t rows = 0, cols = 0;
  double at(int64_t r, int64_t c) const { return v[static_cast<size_t>(c * rows + r)]; }
};

Matrix2 read_matrix(mat_t* mat, const std::string& name, const std::string& path) {
  MatVar var(Mat_VarRead(mat, name.c_str()));
  ML_CHECK(var != nullptr, "read_vim1: '", path, "' has no readable variable '", name, "'");
  ML_CHECK(var->data != nullptr && !var->isComplex && var->rank == 2, "read_vim1: '", path, "' variable '", name,
           "' must be a real 2-D matrix, got rank ", var->rank);
  Matrix2 m;
  m.rows = static_cast<int64_t>(var->dims[0]);
  m.cols = static_cast<int64_t>(var->dims[1]);
  const size_t n = static_cast<size_t>(m.rows * m.cols);
  m.v.resize(n);
  auto copy = [&](const auto* p) {
    for (size_t i = 0; i < n; ++i) m.v[i] = static_cast<double>(p[i]);
  };
  switch (var->class_type) {
    case MAT_C_DOUBLE: copy(static_cast<const double*>(var->data)); break;
    case MAT_C_SINGLE: copy(static_cast<const float*>(var->data)); break;
    case MAT_C_INT32: copy(static_cast<const int32_t*>(var->data)); break;
    case MAT_C_UINT32: copy(static_cast<const uint32_t*>(var->data)); break;
    case MAT_C_INT16: copy(static_cast<const int16_t*>(var->data)); break;
    case MAT_C_UINT16: copy(static_cast<const uint16_t*>(var->data)); break;
    case MAT_C_INT8: copy(static_cast<const int8_t*>(var->data)); break;
    case MAT_C_UINT8: copy(static_cast<const uint8_t*>(var->data)); break;
    default:
      throw Error(detail::cat("read_vim1: '", path, "' variable '", name, "' has an unsupported class (matio class ",
                              static_cast<int>(var->class_type), ")"));
  }
  return m;
}

}  // namespace

const std::vector<std::string>& vim1_roi_names() {
  static const std::vector<std::string> names{"other", "V1", "V2", "V3", "V3A", "V3B", "V4", "LatOcc"};
  return names;
}

Vim1Data read_vim1(const std::string& path, int subject) {
  ML_CHECK(subject == 1 || subject == 2, "read_vim1: --subject must be 1 or 2, got ", subject);
  ML_CHECK(std::filesystem::is_regular_file(path), "read_vim1: missing file '", path, "'");
  MatFile mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  ML_CHECK(mat != nullptr, "read_vim1: '", path, "' is not a readable MATLAB .mat file (v7.3 needs matio with HDF5)");
  std::string s = "S";  // (not "S" + to_string: GCC 12 bug 105329 warns on it)
  s += std::to_string(subject);
  const Matrix2 roi = read_matrix(mat.get(), "roi" + s, path);
  ML_CHECK(roi.rows == 1 || roi.cols == 1, "read_vim1: '", path, "' variable 'roi", s, "' must be a vector, got ",
           roi.rows, "x", roi.cols);
  const int64_t V = roi.rows * roi.cols;
  const Matrix2 idx = read_matrix(mat.get(), "voxIdx" + s, path);
  ML_CHECK(idx.rows * idx.cols == V, "read_vim1: '", path, "' variable 'voxIdx", s, "' has ", idx.rows * idx.cols,
           " entries for ", V, " voxels (roi", s, ")");
  // (images, V) from a voxels x images matrix or its transpose.
  auto responses = [&](const std::string& name, int64_t images) {
    const Matrix2 m = read_matrix(mat.get(), name, path);
    const bool voxels_rows = m.rows == V && m.cols == images, voxels_cols = m.cols == V && m.rows == images;
    ML_CHECK(voxels_rows || voxels_cols, "read_vim1: '", path, "' variable '", name, "' must be ", V, "x", images,
             " (voxels x images) or its transpose, got ", m.rows, "x", m.cols);
    Eigen::MatrixXd out(images, V);
    for (int64_t i = 0; i < images; ++i)
      for (int64_t v = 0; v < V; ++v) out(i, v) = voxels_rows ? m.at(v, i) : m.at(i, v);
    return out;
  };
  const Eigen::MatrixXd trn = responses("dataTrn" + s, 1750), val = responses("dataVal" + s, 120);
  for (int64_t v = 0; v < V; ++v) {
    const double c = roi.v[static_cast<size_t>(v)];
    ML_CHECK(c == std::floor(c) && c >= 0 && c <= 7, "read_vim1: '", path, "' variable 'roi", s, "' voxel ", v,
             " has code ", c, ", not one of 0..7");
  }
  Vim1Data d;
  d.voxels_in_file = V;
  std::vector<int64_t> keep;
  for (int64_t v = 0; v < V; ++v) {
    if (!trn.col(v).allFinite() || !val.col(v).allFinite()) {
      ++d.dropped_nan;
      continue;
    }
    keep.push_back(v);
  }
  const auto K = static_cast<int64_t>(keep.size());
  d.train.resize(1750, K);
  d.val.resize(120, K);
  for (int64_t k = 0; k < K; ++k) {
    const int64_t v = keep[static_cast<size_t>(k)];
    d.train.col(k) = trn.col(v).cast<float>();
    d.val.col(k) = val.col(v).cast<float>();
    d.roi.push_back(static_cast<int>(roi.v[static_cast<size_t>(v)]));
    d.voxel_index.push_back(static_cast<int64_t>(idx.v[static_cast<size_t>(v)]));
  }
  return d;
}

Vim1Stimuli read_vim1_stimuli(const std::string& path) {
  ML_CHECK(std::filesystem::is_regular_file(path), "read_vim1_stimuli: missing file '", path, "'");
  MatFile mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  ML_CHECK(mat != nullptr, "read_vim1_stimuli: '", path, "' is not a readable MATLAB .mat file");
  Vim1Stimuli st;
  st.min = INFINITY, st.max = -INFINITY;
  bool u8 = true;
  // (N, 1, H, W) from an images x rows x columns MATLAB array (column-major: image i, row r,
  // column c at i + N (r + H c)).
  auto read = [&](const char* name, int64_t images) {
    MatVar var(Mat_VarRead(mat.get(), name));
    ML_CHECK(var != nullptr, "read_vim1_stimuli: '", path, "' has no readable variable '", name, "'");
    ML_CHECK(var->data != nullptr && !var->isComplex && var->rank == 3 && static_cast<int64_t>(var->dims[0]) == images &&
                 var->dims[1] >= 2 && var->dims[1] == var->dims[2],
             "read_vim1_stimuli: '", path, "' variable '", name, "' must be a real ", images,
             " x H x H array (images x rows x columns), got ", io::mat_dims(var.get()));
    const int64_t N = images, H = static_cast<int64_t>(var->dims[1]), W = static_cast<int64_t>(var->dims[2]);
    Tensor t = Tensor::empty({N, 1, H, W});
    float* o = t.data();
    auto copy = [&](const auto* p) {
      for (int64_t c = 0; c < W; ++c)
        for (int64_t r = 0; r < H; ++r)
          for (int64_t i = 0; i < N; ++i) {
            const double x = static_cast<double>(p[i + N * (r + H * c)]);
            ML_CHECK(std::isfinite(x), "read_vim1_stimuli: '", path, "' variable '", name, "' image ", i,
                     " holds a non-finite pixel");
            st.min = std::min(st.min, x), st.max = std::max(st.max, x);
            o[(i * H + r) * W + c] = static_cast<float>(x);
          }
    };
    switch (var->class_type) {
      case MAT_C_DOUBLE: copy(static_cast<const double*>(var->data)), u8 = false; break;
      case MAT_C_SINGLE: copy(static_cast<const float*>(var->data)), u8 = false; break;
      case MAT_C_UINT8: copy(static_cast<const uint8_t*>(var->data)); break;
      default:
        throw Error(detail::cat("read_vim1_stimuli: '", path, "' variable '", name,
                                "' must be uint8, single or double (matio class ", static_cast<int>(var->class_type), ")"));
    }
    return t;
  };
  st.train = read("stimTrn", 1750);
  st.val = read("stimVal", 120);
  ML_CHECK(st.train.size(2) == st.val.size(2), "read_vim1_stimuli: '", path, "' stimTrn is ", st.train.size(2),
           " px, stimVal ", st.val.size(2), " px");
  double scale = 1, shift = 0;
  if (u8) {
    scale = 1.0 / 255, st.range_rule = "uint8 / 255";
  } else if (st.min >= 0 && st.max <= 1) {
    st.range_rule = "kept (values in [0, 1])";
  } else if (st.min >= -0.5 && st.max <= 0.5) {
    shift = 0.5, st.range_rule = "+0.5 (values in [-0.5, 0.5])";
  } else if (st.min >= 0 && st.max <= 255) {
    scale = 1.0 / 255, st.range_rule = "/ 255 (values in [0, 255])";
  } else {
    throw Error(detail::cat("read_vim1_stimuli: '", path, "' pixel values span [", st.min, ", ", st.max,
                            "]: not [0, 1], [-0.5, 0.5] or [0, 255]; convert the images to [0, 1] and pass --images"));
  }
  for (Tensor* t : {&st.train, &st.val}) {
    float* p = t->data();
    for (int64_t k = 0; k < t->numel(); ++k) p[k] = static_cast<float>((p[k] + shift) * scale);
  }
  return st;
}

NpyResponses read_npy_responses(const std::string& manifest) {
  namespace fs = std::filesystem;
  ML_CHECK(fs::is_regular_file(manifest), "read_npy_responses: missing manifest '", manifest, "'");
  nlohmann::json m;
  try {
    std::ifstream in(manifest);
    m = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(detail::cat("read_npy_responses: '", manifest, "' is not JSON: ", e.what()));
  }
  ML_CHECK(m.is_object() && m.contains("responses") && m["responses"].is_string(), "read_npy_responses: '", manifest,
           "' needs a \"responses\" file name");
  ML_CHECK(m.contains("groups") && m["groups"].is_array(), "read_npy_responses: '", manifest,
           "' needs \"groups\": one fold label per image");
  const fs::path base = fs::path(manifest).parent_path();
  const std::string rpath = (base / m["responses"].get<std::string>()).string();
  const Tensor r = load_npy(rpath);
  ML_CHECK(r.dim() == 2 && r.dtype() == DType::F32, "read_npy_responses: '", rpath,
           "' must be a float32 (images, voxels) array, got ", r.str());
  const int64_t n = r.size(0), V = r.size(1);
  NpyResponses d;
  d.voxels_in_file = V;
  for (const auto& g : m["groups"]) {
    ML_CHECK(g.is_number_integer(), "read_npy_responses: '", manifest, "' \"groups\" holds a non-integer: ", g.dump());
    d.groups.push_back(g.get<int64_t>());
  }
  ML_CHECK(static_cast<int64_t>(d.groups.size()) == n, "read_npy_responses: '", manifest, "' has ", d.groups.size(),
           " group labels for the ", n, " images (rows) of '", rpath, "'");
  std::vector<std::string> roi(static_cast<size_t>(V));
  if (m.contains("roi")) {
    ML_CHECK(m["roi"].is_array() && static_cast<int64_t>(m["roi"].size()) == V, "read_npy_responses: '", manifest,
             "' \"roi\" must list one name per voxel (", V, ")");
    for (int64_t v = 0; v < V; ++v) {
      const auto& e = m["roi"][static_cast<size_t>(v)];
      roi[static_cast<size_t>(v)] = e.is_string() ? e.get<std::string>() : e.dump();
    }
  }
  Tensor vr;
  int64_t R = 0, nv = 0;
  if (m.contains("val_responses")) {
    ML_CHECK(m["val_responses"].is_string(), "read_npy_responses: '", manifest, "' \"val_responses\" must be a file name");
    const std::string vpath = (base / m["val_responses"].get<std::string>()).string();
    vr = load_npy(vpath);
    ML_CHECK(vr.dim() == 2 && vr.dtype() == DType::F32 && vr.size(1) == V, "read_npy_responses: '", vpath,
             "' must be a float32 (repeats x images, ", V, " voxels) array, got ", vr.str());
    R = m.contains("val_repeats") ? m["val_repeats"].get<int64_t>() : 1;
    ML_CHECK(R >= 1 && vr.size(0) % R == 0 && vr.size(0) / R >= 2, "read_npy_responses: '", vpath, "' has ", vr.size(0),
             " rows: not a whole number (>= 2) of images for \"val_repeats\" ", R);
    nv = vr.size(0) / R;
  }
  const float* p = r.data();
  const float* q = R ? vr.data() : nullptr;
  for (int64_t v = 0; v < V; ++v) {
    bool finite = true;
    for (int64_t i = 0; i < n && finite; ++i) finite = std::isfinite(p[i * V + v]);
    for (int64_t i = 0; i < R * nv && finite; ++i) finite = std::isfinite(q[i * V + v]);
    if (finite)
      d.kept.push_back(v);
    else
      ++d.dropped_nan;
  }
  d.responses.resize(n, static_cast<int64_t>(d.kept.size()));
  for (size_t k = 0; k < d.kept.size(); ++k) {
    for (int64_t i = 0; i < n; ++i) d.responses(i, static_cast<int64_t>(k)) = p[i * V + d.kept[k]];
    d.roi.push_back(roi[static_cast<size_t>(d.kept[k])]);
  }
  if (R) {
    d.val_repeats = R;
    d.val = Eigen::MatrixXf::Zero(nv, static_cast<int64_t>(d.kept.size()));
    for (size_t k = 0; k < d.kept.size(); ++k)
      for (int64_t rep = 0; rep < R; ++rep)
        for (int64_t i = 0; i < nv; ++i)
          d.val(i, static_cast<int64_t>(k)) += q[(rep * nv + i) * V + d.kept[k]] / static_cast<float>(R);
  }
  return d;
}

CategoryImages read_category_folders(const std::string& dir, const std::vector<std::string>& categories) {
  namespace fs = std::filesystem;
  ML_CHECK(!categories.empty(), "read_category_folders: no categories");
  ML_CHECK(fs::is_directory(dir), "read_category_folders: '", dir, "' is not a folder");
  CategoryImages out;
  for (size_t c = 0; c < categories.size(); ++c) {
    const fs::path sub = fs::path(dir) / categories[c];
    ML_CHECK(fs::is_directory(sub), "read_category_folders: '", dir, "' has no folder '", categories[c], "'");
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(sub)) {
      if (!e.is_regular_file()) continue;
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(e.path().string());
    }
    ML_CHECK(!files.empty(), "read_category_folders: '", sub.string(), "' holds no .png/.jpg images");
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      out.files.push_back(f);
      out.category.push_back(static_cast<int>(c));
    }
  }
  return out;
}

}  // namespace ml::analysis
