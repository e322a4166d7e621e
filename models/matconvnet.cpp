#include "models/matconvnet.h"

#include <matio.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/io/matio_handles.h"
#include "engine/io/safetensors.h"

namespace ml::models {

namespace {

using io::MatFile;
using io::MatVar;

// What the converter expects, for the errors: the VGG16 sequence in MatConvNet's names.
const char* kExpected =
    "a MatConvNet simplenn VGG16: conv1_1 relu1_1 conv1_2 relu1_2 pool1 | conv2_1..2 (+relu) pool2 | "
    "conv3_1..3 (+relu) pool3 | conv4_1..3 (+relu) pool4 | conv5_1..3 (+relu) pool5 | fc6 relu6 fc7 relu7 fc8 "
    "[softmax], dropout layers allowed after relu6/relu7; 3x3 convs with pad 1 stride 1, 2x2 max pools with "
    "stride 2, fc6 a conv covering pool5's map, fc7/fc8 1x1 convs; filters single H x W x in x out";

size_t numel(const matvar_t* v) {
  size_t n = 1;
  for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
  return n;
}

const char* class_name(matio_classes c) {
  switch (c) {
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_CHAR: return "char";
    case MAT_C_SINGLE: return "single";
    case MAT_C_DOUBLE: return "double";
    default: return "another class";
  }
}

// A struct's field (element 0), or nullptr when absent or empty (a struct array's layers share
// one set of fields; a relu's `weights` or `pad` is then [] / {}). Owned by the struct.
matvar_t* field(const matvar_t* s, const char* name) {
  if (s == nullptr || s->class_type != MAT_C_STRUCT || numel(s) < 1) return nullptr;
  matvar_t* f = Mat_VarGetStructFieldByName(const_cast<matvar_t*>(s), name, 0);
  return f != nullptr && numel(f) > 0 ? f : nullptr;
}

std::string text(const matvar_t* v) {
  if (v == nullptr || v->class_type != MAT_C_CHAR || v->data == nullptr) return "";
  const size_t n = numel(v);
  std::string s;
  if (v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16) {
    const auto* p = static_cast<const uint16_t*>(v->data);
    for (size_t i = 0; i < n; ++i) s += static_cast<char>(p[i] < 128 ? p[i] : '?');
  } else {
    const auto* p = static_cast<const char*>(v->data);
    s.assign(p, n);
  }
  return s;
}

// Real numbers of any numeric class, in MATLAB's (column-major) order.
std::vector<double> numbers(const matvar_t* v, const std::string& what) {
  ML_CHECK(v != nullptr, what, " is missing");
  ML_CHECK(v->data != nullptr && !v->isComplex, what, " has no real numeric data");
  const size_t n = numel(v);
  std::vector<double> out(n);
  auto copy = [&](auto* p) {
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i]);
  };
  switch (v->class_type) {
    case MAT_C_SINGLE: copy(static_cast<const float*>(v->data)); break;
    case MAT_C_DOUBLE: copy(static_cast<const double*>(v->data)); break;
    case MAT_C_UINT8: copy(static_cast<const uint8_t*>(v->data)); break;
    case MAT_C_INT32: copy(static_cast<const int32_t*>(v->data)); break;
    default: ML_CHECK(false, what, " must be single or double, is ", class_name(v->class_type));
  }
  return out;
}

struct Layer {
  std::string name, type, method;
  const matvar_t* filters = nullptr;
  const matvar_t* biases = nullptr;
  std::vector<double> pad, stride, pool;
};

Layer read_layer(const matvar_t* cell, size_t i, const std::string& where) {
  const matvar_t* s = cell;
  ML_CHECK(s != nullptr && s->class_type == MAT_C_STRUCT, where, ": layers{", i + 1, "} is a ",
           s ? class_name(s->class_type) : "missing value", ", not a layer struct; expected ", kExpected);
  Layer l;
  l.name = text(field(s, "name"));
  l.type = text(field(s, "type"));
  l.method = text(field(s, "method"));
  if (const matvar_t* w = field(s, "weights")) {
    ML_CHECK(w->class_type == MAT_C_CELL && numel(w) == 2, where, ": layer '", l.name,
             "' weights must be a 1x2 cell {filters, biases}, is a ", class_name(w->class_type), " ", io::mat_dims(w));
    l.filters = Mat_VarGetCell(const_cast<matvar_t*>(w), 0);
    l.biases = Mat_VarGetCell(const_cast<matvar_t*>(w), 1);
  } else {  // MatConvNet before 1.0-beta: separate fields
    l.filters = field(s, "filters");
    l.biases = field(s, "biases");
  }
  if (const matvar_t* p = field(s, "pad")) l.pad = numbers(p, where + ": layer '" + l.name + "' pad");
  if (const matvar_t* p = field(s, "stride")) l.stride = numbers(p, where + ": layer '" + l.name + "' stride");
  if (const matvar_t* p = field(s, "pool")) l.pool = numbers(p, where + ": layer '" + l.name + "' pool");
  return l;
}

bool all_equal(const std::vector<double>& v, double x) {
  for (double d : v)
    if (d != x) return false;
  return true;
}

// A conv layer's filters (H, W, I, O) in MATLAB order -> (O, I, H, W) C order; MATLAB drops
// trailing singleton dimensions (an fc layer with one output is H x W x I).
Tensor conv_weight(const Layer& l, int64_t& H, int64_t& W, int64_t& I, int64_t& O, const std::string& where) {
  const std::string what = where + ": layer '" + l.name + "' filters";
  ML_CHECK(l.filters != nullptr, what, " are missing (a conv layer needs weights = {filters, biases})");
  ML_CHECK(l.filters->rank >= 2 && l.filters->rank <= 4, what, " must be H x W x in x out, are ", io::mat_dims(l.filters));
  int64_t d[4] = {1, 1, 1, 1};
  for (int k = 0; k < l.filters->rank; ++k) d[k] = static_cast<int64_t>(l.filters->dims[k]);
  H = d[0], W = d[1], I = d[2], O = d[3];
  const std::vector<double> f = numbers(l.filters, what);
  const std::vector<double> b = numbers(l.biases, where + ": layer '" + l.name + "' biases");
  ML_CHECK(static_cast<int64_t>(b.size()) == O, where, ": layer '", l.name, "' has ", b.size(), " biases for ", O,
           " filters");
  Tensor w = Tensor::empty({O, I, H, W});
  float* p = w.data();
  // MatConvNet's vl_nnconv is a correlation over (y, x) = (first, second) MATLAB index, like
  // PyTorch's conv2d: no flip, only the transposition of the storage order.
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          p[((o * I + i) * H + y) * W + x] = static_cast<float>(f[static_cast<size_t>(y + H * (x + W * (i + I * o)))]);
  return w;
}

Tensor bias_of(const Layer& l, const std::string& where) {
  const std::vector<double> b = numbers(l.biases, where + ": layer '" + l.name + "' biases");
  std::vector<float> v(b.begin(), b.end());
  return Tensor::from_vector({static_cast<int64_t>(v.size())}, v);
}

std::string sequence(const std::vector<Layer>& ls) {
  std::string s;
  for (const auto& l : ls) s += (s.empty() ? "" : " ") + l.name + "(" + l.type + ")";
  return s;
}

}  // namespace

MatConvNetVgg16 read_matconvnet_vgg16(const std::string& path) {
  ML_CHECK(std::filesystem::is_regular_file(path), "read_matconvnet_vgg16: missing file '", path, "'");
  const std::string where = "'" + path + "'";
  MatFile mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  ML_CHECK(mat != nullptr, where, " is not a readable MATLAB .mat file; expected ", kExpected);

  // The network's fields are the file's variables, or the fields of one variable `net`.
  MatVar net_var(Mat_VarRead(mat.get(), "net"));
  MatVar layers_var, meta_var, norm_var;
  const matvar_t* layers = nullptr;
  const matvar_t* meta = nullptr;
  const matvar_t* norm_top = nullptr;
  if (net_var && net_var->class_type == MAT_C_STRUCT) {
    layers = field(net_var.get(), "layers");
    meta = field(net_var.get(), "meta");
    norm_top = field(net_var.get(), "normalization");
  } else {
    layers_var.reset(Mat_VarRead(mat.get(), "layers"));
    meta_var.reset(Mat_VarRead(mat.get(), "meta"));
    norm_var.reset(Mat_VarRead(mat.get(), "normalization"));
    layers = layers_var.get();
    meta = meta_var.get();
    norm_top = norm_var.get();
  }
  if (layers == nullptr || layers->class_type != MAT_C_CELL) {
    std::ostringstream os;
    os << where << " is not a MatConvNet network: it has no cell array 'layers' (nor a struct 'net' with one); "
       << "its variables are:";
    Mat_Rewind(mat.get());
    while (matvar_t* v = Mat_VarReadNextInfo(mat.get())) {
      os << " " << (v->name ? v->name : "?") << " (" << class_name(v->class_type) << " " << io::mat_dims(v) << ")";
      Mat_VarFree(v);
    }
    os << "; expected " << kExpected;
    throw Error(os.str());
  }

  std::vector<Layer> ls;
  for (size_t i = 0; i < numel(layers); ++i) {
    Layer l = read_layer(Mat_VarGetCell(const_cast<matvar_t*>(layers), static_cast<int>(i)), i, where);
    if (l.type == "dropout" || l.type == "softmax" || l.type == "softmaxloss") continue;  // identity at inference
    ls.push_back(std::move(l));
  }
  auto wrong = [&](const std::string& what) {
    return Error(where + ": not the VGG16 architecture: " + what + "; expected " + kExpected +
                "; the file holds (without dropout/softmax): " + sequence(ls));
  };

  MatConvNetVgg16 out;
  const int convs_per_block[5] = {2, 2, 3, 3, 3};
  size_t k = 0;
  int64_t in = 3;
  int feature_index = 0;  // torchvision's features.N
  auto next = [&](const char* type) -> const Layer& {
    if (k >= ls.size()) throw wrong("the file ends after " + std::to_string(k) + " layers, where a '" + type + "' was due");
    if (ls[k].type != type)
      throw wrong("layer " + std::to_string(k + 1) + " '" + ls[k].name + "' is a '" + ls[k].type + "', where a '" + type +
            "' was due");
    return ls[k++];
  };
  for (int b = 0; b < 5; ++b) {
    for (int c = 0; c < convs_per_block[b]; ++c) {
      const Layer& l = next("conv");
      int64_t H, W, I, O;
      Tensor w = conv_weight(l, H, W, I, O, where);
      if (H != 3 || W != 3) throw wrong("'" + l.name + "' has " + std::to_string(H) + "x" + std::to_string(W) + " filters, not 3x3");
      if (I != in) throw wrong("'" + l.name + "' takes " + std::to_string(I) + " channels, the previous layer gives " + std::to_string(in));
      if (!all_equal(l.pad, 1) || !all_equal(l.stride, 1)) throw wrong("'" + l.name + "' must have pad 1 and stride 1");
      if (c == 0) out.widths.block[b] = O;
      else if (O != out.widths.block[b]) throw wrong("'" + l.name + "' has " + std::to_string(O) + " filters, its block " + std::to_string(out.widths.block[b]));
      out.state.emplace_back("features." + std::to_string(feature_index) + ".weight", w);
      out.state.emplace_back("features." + std::to_string(feature_index) + ".bias", bias_of(l, where));
      next("relu");
      feature_index += 2;
      in = O;
    }
    const Layer& p = next("pool");
    if (p.method != "max" || !all_equal(p.pool, 2) || !all_equal(p.stride, 2) || !all_equal(p.pad, 0))
      throw wrong("'" + p.name + "' must be a 2x2 max pool with stride 2 and no padding");
    ++feature_index;
  }
  // fc6: a conv over pool5's whole map -> Linear on the (C, H, W)-flattened map, which is how
  // torchvision's classifier.0 sees avgpool's output.
  const int classifier_index[3] = {0, 3, 6};
  for (int f = 0; f < 3; ++f) {
    const Layer& l = next("conv");
    int64_t H, W, I, O;
    Tensor w = conv_weight(l, H, W, I, O, where);
    if (H != W) throw wrong("'" + l.name + "' has non-square " + std::to_string(H) + "x" + std::to_string(W) + " filters");
    if (f == 0) out.widths.pool = H;
    else if (H != 1) throw wrong("'" + l.name + "' must have 1x1 filters");
    if (I != in) throw wrong("'" + l.name + "' takes " + std::to_string(I) + " channels, the previous layer gives " + std::to_string(in));
    if (!all_equal(l.pad, 0) || !all_equal(l.stride, 1)) throw wrong("'" + l.name + "' must have pad 0 and stride 1");
    if (f == 1 && O != out.widths.fc) throw wrong("'" + l.name + "' has " + std::to_string(O) + " outputs, fc6 " + std::to_string(out.widths.fc));
    if (f == 0) out.widths.fc = O;
    if (f == 2) out.num_classes = O;
    const std::string name = "classifier." + std::to_string(classifier_index[f]);
    out.state.emplace_back(name + ".weight", w.reshape({O, I * H * W}));  // (O, I, H, W) -> (O, I*H*W)
    out.state.emplace_back(name + ".bias", bias_of(l, where));
    if (f < 2) next("relu");
    in = O;
  }
  if (k != ls.size()) throw wrong("layers after fc8: '" + ls[k].name + "' (" + ls[k].type + ")");

  // The normalisation: meta.normalization (1.0-beta) or a top-level normalization (older files).
  const matvar_t* norm = field(meta, "normalization");
  if (norm == nullptr) norm = norm_top;
  ML_CHECK(norm != nullptr && norm->class_type == MAT_C_STRUCT, where,
           " has no normalisation (meta.normalization or normalization, with averageImage and imageSize)");
  const matvar_t* avg = field(norm, "averageImage");
  const std::vector<double> a = numbers(avg, where + ": normalization.averageImage");
  if (a.size() == 3) {
    out.average_image = {static_cast<float>(a[0]), static_cast<float>(a[1]), static_cast<float>(a[2])};
    out.average_image_note = "averageImage (per channel)";
  } else {
    // A full H x W x 3 average image: its per-channel mean (the engine normalises per channel).
    ML_CHECK(avg->rank == 3 && avg->dims[2] == 3, where, ": normalization.averageImage must be 3 values or H x W x 3, is ",
             io::mat_dims(avg));
    const size_t plane = avg->dims[0] * avg->dims[1];
    for (size_t c = 0; c < 3; ++c) {
      double s = 0;
      for (size_t i = 0; i < plane; ++i) s += a[c * plane + i];
      out.average_image.push_back(static_cast<float>(s / static_cast<double>(plane)));
    }
    out.average_image_note = "per-channel mean of the " + io::mat_dims(avg) + " averageImage";
  }
  for (float v : out.average_image)
    ML_CHECK(std::isfinite(v), where, ": normalization.averageImage holds a non-finite value");
  if (const matvar_t* size = field(norm, "imageSize")) {
    const std::vector<double> s = numbers(size, where + ": normalization.imageSize");
    ML_CHECK(s.size() >= 2 && s[0] == s[1] && s[0] >= 1 && s[0] <= 4096, where,
             ": normalization.imageSize must start with two equal sizes in [1, 4096]");
    ML_CHECK(s.size() < 3 || s[2] == 3, where, ": normalization.imageSize says ", s[2], " channels, VGG16 takes 3");
    out.image_size = static_cast<int64_t>(s[0]);
  }
  return out;
}

void check_vggface(const MatConvNetVgg16& net, const std::string& path) {
  const Vgg16Widths want;
  std::ostringstream os;
  for (int b = 0; b < 5; ++b)
    if (net.widths.block[b] != want.block[b])
      os << " block " << b + 1 << " has " << net.widths.block[b] << " channels (VGG-Face: " << want.block[b] << ");";
  if (net.widths.fc != want.fc) os << " fc6/fc7 have " << net.widths.fc << " units (VGG-Face: 4096);";
  if (net.widths.pool != want.pool) os << " fc6 covers " << net.widths.pool << "x" << net.widths.pool << " (VGG-Face: 7x7);";
  if (net.num_classes != 2622) os << " fc8 has " << net.num_classes << " outputs (VGG-Face: 2622 identities);";
  if (net.image_size != 0 && net.image_size != 224) os << " imageSize is " << net.image_size << " (VGG-Face: 224);";
  const std::string d = os.str();
  ML_CHECK(d.empty(), "'", path, "' is a VGG16 but not VGG-Face:", d);
}

void write_matconvnet_weights(const MatConvNetVgg16& net, const std::string& model_name, const std::string& out,
                              const std::string& source) {
  nlohmann::json norm;
  std::vector<float> mean, stdv;
  for (float a : net.average_image) {
    mean.push_back(a / 255.f);
    stdv.push_back(1.f / 255.f);
  }
  nlohmann::json model = {{"name", model_name},
                          {"num_classes", net.num_classes},
                          {"normalization", {{"mean", mean}, {"std", stdv}}}};
  model["image_size"] = net.image_size ? net.image_size : 32 * net.widths.pool;
  const std::map<std::string, std::string> meta = {
      {"model", model.dump()},
      {"source", source},
      {"normalization_note", "MatConvNet input = 255 x image - averageImage (" + net.average_image_note + ")"}};
  save_safetensors(out, net.state, meta);
}

}  // namespace ml::models
