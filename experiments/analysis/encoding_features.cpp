#include "experiments/analysis/encoding_features.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/data/image_folder.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ml::analysis {

int64_t reduction_factor(int64_t c, int64_t h, int64_t w, int64_t max_features) {
  ML_CHECK(max_features > 0, "encoding features: max_features must be > 0, got ", max_features);
  const double raw = static_cast<double>(c) * h * w;
  int64_t d = 1;
  while (raw / static_cast<double>(d * d) > static_cast<double>(max_features)) ++d;
  return d;
}

int64_t reduced_size(const Shape& s, int64_t max_features) {
  if (s.size() == 1) return s[0];
  ML_CHECK(s.size() == 3, "encoding features: per-image shape must be {C, H, W} or {U}, got ", shape_str(s));
  const int64_t d = reduction_factor(s[0], s[1], s[2], max_features);
  return s[0] * ((s[1] + d - 1) / d) * ((s[2] + d - 1) / d);
}

namespace {

// Reflect border without repeating the edge (scipy's 'mirror', numpy's 'reflect').
int64_t reflect(int64_t i, int64_t n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

inline float signed_log1p(float x) { return x >= 0 ? std::log1p(x) : -std::log1p(-x); }

}  // namespace

Tensor reduce_layer(const Tensor& act_in, int64_t max_features) {
  ML_CHECK(act_in.dtype() == DType::F32 && (act_in.dim() == 2 || act_in.dim() == 4),
           "encoding features: activations must be float32 (B, C, H, W) or (B, U), got ", act_in.str());
  const Tensor act = act_in.to(Device::CPU);  // tensors are contiguous (DESIGN.md)
  const int64_t B = act.size(0);
  if (act.dim() == 2) {
    Tensor out = act.clone();
    float* o = out.data();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = signed_log1p(o[i]);
    return out;
  }
  const int64_t C = act.size(1), H = act.size(2), W = act.size(3);
  const int64_t d = reduction_factor(C, H, W, max_features);
  const int64_t Ho = (H + d - 1) / d, Wo = (W + d - 1) / d;
  // Gaussian taps, σ = 0.35 d, radius ceil(3σ), normalised to sum 1; d = 1: the identity.
  const double sigma = 0.35 * static_cast<double>(d);
  const int64_t rad = d == 1 ? 0 : static_cast<int64_t>(std::ceil(3 * sigma));
  std::vector<double> g(static_cast<size_t>(2 * rad + 1));
  double gs = 0;
  for (int64_t k = -rad; k <= rad; ++k) gs += g[static_cast<size_t>(k + rad)] = std::exp(-0.5 * k * k / (sigma * sigma));
  for (double& v : g) v /= gs;
  Tensor out = Tensor::empty({B, C * Ho * Wo});
  const float* x = act.data();
  float* o = out.data();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const float* xc = x + (b * C + c) * H * W;
      // Rows first at the kept rows only, then columns at the kept columns: (Ho, W) scratch.
      std::vector<double> rows(static_cast<size_t>(Ho * W));
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < W; ++j) {
          double s = 0;
          for (int64_t k = -rad; k <= rad; ++k) s += g[static_cast<size_t>(k + rad)] * xc[reflect(i * d + k, H) * W + j];
          rows[static_cast<size_t>(i * W + j)] = s;
        }
      float* oc = o + b * C * Ho * Wo + c * Ho * Wo;
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double s = 0;
          for (int64_t k = -rad; k <= rad; ++k) s += g[static_cast<size_t>(k + rad)] * rows[static_cast<size_t>(i * W + reflect(j * d + k, W))];
          oc[i * Wo + j] = signed_log1p(static_cast<float>(s));
        }
    }
  return out;
}

std::vector<Eigen::MatrixXf> encoding_features(AnalysisNet& net, const Tensor& images,
                                               const std::vector<std::string>& layers, int64_t batch,
                                               int64_t max_features) {
  ML_CHECK(batch > 0, "encoding features: batch must be > 0");
  const int64_t N = images.size(0);
  std::vector<Eigen::MatrixXf> out(layers.size());
  for (int64_t i0 = 0; i0 < N; i0 += batch) {
    const int64_t i1 = std::min(N, i0 + batch);
    const auto acts = layer_outputs(net, images.slice(i0, i1), layers);
    for (size_t l = 0; l < layers.size(); ++l) {
      const Tensor f = reduce_layer(acts[l], max_features);
      const int64_t k = f.size(1);
      if (i0 == 0) out[l].resize(N, k);
      out[l].middleRows(i0, i1 - i0) =
          Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(f.data(), i1 - i0, k);
    }
  }
  return out;
}

void write_encoding_features(AnalysisNet& net, const std::vector<std::string>& files,
                             const std::vector<std::string>& layers, const std::string& dir, int64_t batch,
                             int64_t max_features, bool progress) {
  const auto N = static_cast<int64_t>(files.size());
  ML_CHECK(N > 0, "extract_features: no images");
  ML_CHECK(batch > 0, "extract_features: --batch must be > 0, got ", batch);
  const std::vector<Shape> shapes = layer_shapes(net, layers);
  fs::create_directories(dir);
  std::vector<std::unique_ptr<NpyWriter>> writers;
  json j;
  j["network"] = net.description;
  j["images"] = N;
  j["max_features"] = max_features;
  j["reduction"] = "per-channel Gaussian blur sigma = 0.35 d, stride d from index 0, reflect border; sign(x) log(1+|x|)";
  for (size_t l = 0; l < layers.size(); ++l) {
    const int64_t kept = reduced_size(shapes[l], max_features);
    const int64_t d = shapes[l].size() == 3 ? reduction_factor(shapes[l][0], shapes[l][1], shapes[l][2], max_features) : 1;
    writers.push_back(std::make_unique<NpyWriter>((fs::path(dir) / (layers[l] + ".npy")).string(), DType::F32, Shape{N, kept}));
    j["layers"].push_back({{"name", layers[l]}, {"file", layers[l] + ".npy"}, {"raw_shape", shapes[l]}, {"d", d},
                           {"features", kept}});
  }
  const int64_t C = net.model.in_channels, S = net.model.image_size;
  for (int64_t i0 = 0; i0 < N; i0 += batch) {
    const int64_t i1 = std::min(N, i0 + batch);
    const std::vector<std::string> batch_files(files.begin() + i0, files.begin() + i1);
    const auto acts = layer_outputs(net, load_images(batch_files, C, S, S), layers);
    for (size_t l = 0; l < layers.size(); ++l) writers[l]->append(reduce_layer(acts[l], max_features));
    if (progress) std::fprintf(stderr, "\rextract_features: %lld/%lld images", static_cast<long long>(i1), static_cast<long long>(N));
  }
  if (progress) std::fprintf(stderr, "\n");
  for (auto& w : writers) w->finish();
  write_text_atomic((fs::path(dir) / "features.json").string(), j.dump(1) + "\n");
}

}  // namespace ml::analysis
