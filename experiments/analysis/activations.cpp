#include "experiments/analysis/activations.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/data/image_folder.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "engine/ops.h"

namespace ml::analysis {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// torchvision's ImageNet statistics, which its exported weights (AlexNet, VGG16, ResNet-50,
// ConvNeXt-Tiny, ViT-B/16) expect.
const Normalization kImageNet{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, "imagenet"};
// VGG-Face's input (vgg-face.mat, meta.normalization): 255 x image minus the average face
// colour (129.1863, 104.7624, 93.5940) RGB, i.e. (x - avg/255) / (1/255) on [0, 1] images. The
// converted weights carry it in their metadata; this default serves the untrained net.
const Normalization kVggFace{{129.1863f / 255.f, 104.7624f / 255.f, 93.5940f / 255.f},
                             {1.f / 255.f, 1.f / 255.f, 1.f / 255.f}, "vggface"};

json parse_json(const std::string& text, const std::string& what) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ML_CHECK(!j.is_discarded(), what, " is not valid JSON");
  return j;
}

// Bounds on what metadata may ask for: far above any net of these studies, far below sizes
// whose layers could not be allocated.
constexpr int64_t kMaxClasses = 100000, kMaxChannels = 64, kMaxImageSize = 4096, kMaxNormChannels = 64;

// An array of finite numbers, checked element by element (json's get<> would throw its own
// type_error, which names neither the file nor the field).
std::vector<float> float_list(const json& j, const std::string& source, const char* field) {
  ML_CHECK(j.is_array(), source, ": normalisation '", field, "' must be an array of numbers");
  ML_CHECK(!j.empty() && j.size() <= static_cast<size_t>(kMaxNormChannels), source, ": normalisation '", field,
           "' must have 1 to ", kMaxNormChannels, " entries, has ", j.size());
  std::vector<float> out;
  for (const auto& v : j) {
    ML_CHECK(v.is_number(), source, ": normalisation '", field, "' holds a non-number");
    const double d = v.get<double>();
    ML_CHECK(std::isfinite(d) && std::fabs(d) <= 1e30, source, ": normalisation '", field, "' holds ", d,
             ", not a finite float");
    out.push_back(static_cast<float>(d));
  }
  return out;
}

Normalization normalization_from_json(const json& j, const std::string& source) {
  ML_CHECK(j.is_object() && j.contains("mean") && j.contains("std"), source,
           ": the normalisation needs arrays 'mean' and 'std'");
  Normalization n{float_list(j["mean"], source, "mean"), float_list(j["std"], source, "std"), source};
  ML_CHECK(n.mean.size() == n.std.size(), source, ": 'mean' and 'std' must have the same length");
  for (float s : n.std) ML_CHECK(s > 0, source, ": every std must be > 0");
  return n;
}

// An optional integer field in [1, max]; 0 when absent.
int64_t size_field(const json& j, const char* field, int64_t max, const std::string& where) {
  if (!j.contains(field)) return 0;
  const json& v = j[field];
  ML_CHECK(v.is_number_integer(), where, ": '", field, "' must be an integer, got ", v.dump());
  ML_CHECK(v.is_number_unsigned() && v.get<uint64_t>() >= 1 && v.get<uint64_t>() <= static_cast<uint64_t>(max), where,
           ": '", field, "' must be in [1, ", max, "], got ", v.dump());
  return v.get<int64_t>();
}

}  // namespace

NetMetadata parse_net_metadata(const std::string& text, const std::string& file) {
  const std::string where = "'" + file + "' metadata 'model'";
  const json j = parse_json(text, where);
  ML_CHECK(j.is_object(), where, " must be a JSON object");
  NetMetadata m;
  if (j.contains("name")) {
    ML_CHECK(j["name"].is_string(), where, ": 'name' must be a string");
    m.name = j["name"].get<std::string>();
  }
  m.num_classes = size_field(j, "num_classes", kMaxClasses, where);
  m.in_channels = size_field(j, "in_channels", kMaxChannels, where);
  m.image_size = size_field(j, "image_size", kMaxImageSize, where);
  if (j.contains("normalization")) {
    m.has_normalization = true;
    m.normalization = normalization_from_json(j["normalization"], file);
  }
  return m;
}

Normalization read_normalization(const std::string& path) {
  ML_CHECK(fs::is_regular_file(path), "--normalization: missing file '", path, "'");
  if (fs::path(path).extension() == ".json") {
    const auto bytes = read_file(path);
    const json j = parse_json(std::string(bytes.begin(), bytes.end()), "'" + path + "'");
    ML_CHECK(j.is_object() && j.contains("normalization"), "--normalization: '", path,
             "' has no 'normalization' entry");
    return normalization_from_json(j["normalization"], path);
  }
  const SafetensorsFile f = load_safetensors(path);
  const auto it = f.metadata.find("model");
  ML_CHECK(it != f.metadata.end(), "--normalization: '", path, "' has no 'model' metadata with a normalisation");
  const NetMetadata m = parse_net_metadata(it->second, path);
  ML_CHECK(m.has_normalization, "--normalization: '", path, "' metadata has no normalisation");
  return m.normalization;
}

AnalysisNet load_analysis_net(const NetSpec& spec) {
  ML_CHECK(spec.untrained != !spec.weights.empty(), "give either --weights FILE or --untrained (exactly one)");
  ML_CHECK(spec.device == "cpu" || spec.device == "cuda", "--device: '", spec.device, "' is neither cpu nor cuda");
  AnalysisNet net;
  net.device = spec.device == "cuda" ? Device::CUDA : Device::CPU;
  if (net.device == Device::CUDA) ML_CHECK(cuda_available(), "--device cuda: ", cuda_unavailable_reason());

  models::ModelOptions mo;
  mo.seed = spec.seed;
  mo.untrained = spec.untrained;
  std::string name = spec.model;
  NetMetadata meta;  // the training run's "model" metadata, when the weights carry it
  std::string epoch;
  SafetensorsFile weights;  // read once: its metadata says which net to build
  if (!spec.weights.empty()) {
    weights = load_safetensors(spec.weights);
    if (const auto it = weights.metadata.find("model"); it != weights.metadata.end())
      meta = parse_net_metadata(it->second, spec.weights);
    if (const auto it = weights.metadata.find("epoch"); it != weights.metadata.end()) epoch = it->second;
  }
  if (name.empty()) name = meta.name;
  mo.num_classes = meta.num_classes;
  mo.in_channels = meta.in_channels;
  mo.image_size = meta.image_size;
  ML_CHECK(!name.empty(), "--model is required (", spec.weights.empty() ? "an untrained net" : "'" + spec.weights + "'",
           " does not name its model)");
  if (spec.num_classes) mo.num_classes = spec.num_classes;
  if (spec.in_channels) mo.in_channels = spec.in_channels;
  if (spec.image_size) mo.image_size = spec.image_size;
  net.model = models::make_model(name, mo);
  if (!spec.weights.empty()) models::load_weights(*net.model.net, weights, spec.weights);
  net.model.net->eval();
  net.model.net->to(net.device);

  // Normalisation: as the net was trained, unless told otherwise.
  const std::string& nz = spec.normalization;
  if (nz == "none") {
    net.norm = {std::vector<float>(1, 0.f), std::vector<float>(1, 1.f), "none"};
  } else if (nz == "imagenet") {
    net.norm = kImageNet;
  } else if (nz == "vggface") {
    net.norm = kVggFace;
  } else if (!nz.empty()) {
    net.norm = read_normalization(nz);
  } else if (meta.has_normalization) {
    net.norm = meta.normalization;
  } else if (name == "vggface") {
    net.norm = kVggFace;
  } else if (name.rfind("alexnet", 0) == 0 || name == "vgg16" || name == "resnet50" || name == "convnext_tiny" ||
             name == "vit_b_16") {
    net.norm = kImageNet;
  } else {
    net.norm = {std::vector<float>(1, 0.f), std::vector<float>(1, 1.f), "none"};
  }
  if (net.norm.mean.size() == 1 && net.model.in_channels > 1) {
    net.norm.mean.assign(static_cast<size_t>(net.model.in_channels), net.norm.mean[0]);
    net.norm.std.assign(static_cast<size_t>(net.model.in_channels), net.norm.std[0]);
  }
  ML_CHECK(static_cast<int64_t>(net.norm.mean.size()) == net.model.in_channels, "normalisation from ",
           net.norm.source, " has ", net.norm.mean.size(), " channels, the model takes ", net.model.in_channels);

  net.description = name + (spec.untrained ? " untrained (N(0, 1/fan_in), seed " + std::to_string(spec.seed) + ")"
                                           : " from " + spec.weights + (epoch.empty() ? "" : " (epoch " + epoch + ")")) +
                    ", normalisation " + net.norm.source;
  return net;
}

std::vector<std::string> resolve_layers(const models::Model& m, const std::vector<std::string>& requested) {
  if (requested.empty()) {
    std::vector<std::string> all;
    for (const auto& l : m.layers) all.push_back(l.name);
    return all;
  }
  for (const auto& r : requested) m.layer(r);  // throws, listing the valid names
  return requested;
}

std::vector<Tensor> layer_outputs(AnalysisNet& net, const Tensor& images, const std::vector<std::string>& layers) {
  const models::Model& m = net.model;
  ML_CHECK(images.dtype() == DType::F32 && images.dim() == 4 && images.size(1) == m.in_channels &&
               images.size(2) == m.image_size && images.size(3) == m.image_size,
           m.name, ": images must be float32 (B, ", m.in_channels, ", ", m.image_size, ", ", m.image_size, "), got ",
           images.str());
  NoGradGuard ng;
  // (x - mean[c]) / std[c], broadcast over (B, C, H, W).
  const int64_t C = m.in_channels;
  const Tensor mean = Tensor::from_vector({1, C, 1, 1}, net.norm.mean, net.device);
  const Tensor stdv = Tensor::from_vector({1, C, 1, 1}, net.norm.std, net.device);
  const Tensor x = div(sub(images.to(net.device), mean), stdv);

  std::vector<std::string> modules;
  for (const auto& name : layers) modules.push_back(m.layer(name).module);
  nn::ActivationCapture capture(*m.net, modules);
  (*m.net)(x);
  std::vector<Tensor> out;
  for (size_t i = 0; i < layers.size(); ++i) {
    Tensor a = capture[modules[i]];
    if (m.layer(layers[i]).relu) a = relu(a);
    out.push_back(a.to(Device::CPU).clone());
  }
  return out;
}

std::vector<Shape> layer_shapes(AnalysisNet& net, const std::vector<std::string>& layers) {
  const int64_t S = net.model.image_size;
  const auto outs = layer_outputs(net, Tensor::zeros({1, net.model.in_channels, S, S}), layers);
  std::vector<Shape> shapes;
  for (const Tensor& o : outs) shapes.emplace_back(o.shape().begin() + 1, o.shape().end());
  return shapes;
}

void write_activations(AnalysisNet& net, const std::vector<std::string>& files, const std::vector<std::string>& layers,
                       const std::string& dir, int64_t batch, bool progress) {
  const auto N = static_cast<int64_t>(files.size());
  ML_CHECK(N > 0, "extract_activations: no images");
  ML_CHECK(batch > 0, "extract_activations: --batch must be > 0, got ", batch);
  const std::vector<Shape> shapes = layer_shapes(net, layers);
  fs::create_directories(dir);
  std::vector<std::unique_ptr<NpyWriter>> writers;
  json j;
  j["network"] = net.description;
  j["images"] = N;
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t U = shape_numel(shapes[l]);
    writers.push_back(std::make_unique<NpyWriter>((fs::path(dir) / (layers[l] + ".npy")).string(), DType::F32, Shape{N, U}));
    j["layers"].push_back({{"name", layers[l]}, {"file", layers[l] + ".npy"}, {"shape", shapes[l]}, {"units", U}});
  }
  const int64_t C = net.model.in_channels, S = net.model.image_size;
  for (int64_t i0 = 0; i0 < N; i0 += batch) {
    const int64_t i1 = std::min(N, i0 + batch);
    const std::vector<std::string> batch_files(files.begin() + i0, files.begin() + i1);
    const auto acts = layer_outputs(net, load_images(batch_files, C, S, S), layers);
    for (size_t l = 0; l < layers.size(); ++l) writers[l]->append(acts[l].reshape({i1 - i0, -1}));
    if (progress) std::fprintf(stderr, "\rextract_activations: %lld/%lld images", static_cast<long long>(i1), static_cast<long long>(N));
  }
  if (progress) std::fprintf(stderr, "\n");
  for (auto& w : writers) w->finish();
  const std::string text = j.dump(1) + "\n";
  write_text_atomic((fs::path(dir) / "layers.json").string(), text);
}

Tensor noise_images(int64_t n, int64_t channels, int64_t size, Generator& gen) {
  return Tensor::uniform({n, channels, size, size}, 0.f, 1.f, gen);
}

}  // namespace ml::analysis
