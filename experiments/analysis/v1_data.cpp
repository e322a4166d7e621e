// experiments/analysis/v1_data.cpp — see the header.
#include "experiments/analysis/v1_data.h"

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"

namespace ml::analysis {

void validate_responses(const Tensor& r, const std::string& file) {
  ML_CHECK(r.dtype() == DType::F32, file, ": responses must be float32, got ", r.str());
  const float* p = r.data();
  for (int64_t i = 0; i < r.numel(); ++i) {
    ML_CHECK(std::isfinite(p[i]), file, ": response element ", i, " is ", p[i],
             "; responses must be finite (NaN/Inf found)");
    ML_CHECK(p[i] >= 0.f, file, ": response element ", i, " is ", p[i],
             " < 0; the Poisson loss needs non-negative responses (set negatives to 0 when converting)");
  }
}

V1Dataset make_v1_dataset(const Tensor& train_images, const Tensor& train_responses, const Tensor& val_images,
                          const Tensor& val_responses, const Tensor& test_images, const Tensor& test_responses,
                          bool normalise, const std::string& where) {
  auto img3 = [&](const Tensor& t, const char* name) {
    ML_CHECK(t.defined() && t.dim() == 3 && t.dtype() == DType::F32 && t.size(0) >= 1, where, ": ", name, " ",
             t.defined() ? t.str() : std::string("undefined"), " must be float32 (n, H, W)");
    const float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i)
      ML_CHECK(std::isfinite(p[i]), where, ": ", name, " element ", i, " is not finite");
  };
  img3(train_images, "images_train");
  img3(val_images, "images_val");
  img3(test_images, "images_test");
  const int64_t H = train_images.size(1), W = train_images.size(2);
  for (const Tensor* t : {&val_images, &test_images})
    ML_CHECK(t->size(1) == H && t->size(2) == W, where, ": image sizes differ: train ", shape_str(train_images.shape()),
             " vs ", shape_str(t->shape()));
  ML_CHECK(train_responses.defined() && train_responses.dim() == 2, where, ": responses_train must be (n, N)");
  const int64_t N = train_responses.size(1);
  ML_CHECK(train_responses.size(0) == train_images.size(0), where, ": ", train_images.size(0), " training images but ",
           train_responses.size(0), " training response rows (responses_train ", shape_str(train_responses.shape()), ")");
  ML_CHECK(val_responses.defined() && val_responses.dim() == 2 && val_responses.size(1) == N, where,
           ": responses_val must be (m, ", N, ")");
  ML_CHECK(val_responses.size(0) == val_images.size(0), where, ": ", val_images.size(0), " validation images but ",
           val_responses.size(0), " validation response rows");
  ML_CHECK(test_responses.defined() && test_responses.dim() == 3 && test_responses.size(2) == N, where,
           ": responses_test must be (repeats, t, ", N, ")");
  ML_CHECK(test_responses.size(1) == test_images.size(0), where, ": ", test_images.size(0), " test images but ",
           test_responses.size(1), " test images in responses_test ", shape_str(test_responses.shape()));
  ML_CHECK(test_responses.size(0) >= 2, where, ": responses_test has ", test_responses.size(0),
           " repeat(s); the oracle and FEVE need >= 2");
  validate_responses(train_responses, where + "/responses_train");
  validate_responses(val_responses, where + "/responses_val");
  validate_responses(test_responses, where + "/responses_test");

  V1Dataset d;
  d.dir = where;
  d.height = H, d.width = W, d.neurons = N;
  d.response_scale.assign(static_cast<size_t>(N), 1.f);
  if (normalise) {
    double s = 0, ss = 0;
    const float* p = train_images.data();
    const int64_t n = train_images.numel();
    for (int64_t i = 0; i < n; ++i) s += p[i], ss += static_cast<double>(p[i]) * p[i];
    d.pixel_mean = s / static_cast<double>(n);
    d.pixel_sd = std::sqrt(std::max(ss / static_cast<double>(n) - d.pixel_mean * d.pixel_mean, 1e-12));
    // Per-neuron training SD; a neuron below 1 % of the mean SD keeps scale 1.
    const int64_t T = train_responses.size(0);
    std::vector<double> sd(static_cast<size_t>(N));
    const float* r = train_responses.data();
    double mean_sd = 0;
    for (int64_t j = 0; j < N; ++j) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < T; ++i) m += r[i * N + j];
      m /= static_cast<double>(T);
      for (int64_t i = 0; i < T; ++i) v += (r[i * N + j] - m) * (r[i * N + j] - m);
      sd[static_cast<size_t>(j)] = std::sqrt(v / static_cast<double>(T));
      mean_sd += sd[static_cast<size_t>(j)] / static_cast<double>(N);
    }
    for (int64_t j = 0; j < N; ++j)
      if (sd[static_cast<size_t>(j)] >= 0.01 * mean_sd && sd[static_cast<size_t>(j)] > 0)
        d.response_scale[static_cast<size_t>(j)] = static_cast<float>(sd[static_cast<size_t>(j)]);
  }
  auto images = [&](const Tensor& t) {
    std::vector<float> v = t.to_vector();
    for (auto& x : v) x = static_cast<float>((x - d.pixel_mean) / d.pixel_sd);
    return Tensor::from_vector({t.size(0), 1, H, W}, v);
  };
  auto scaled = [&](const Tensor& t) {
    std::vector<float> v = t.to_vector();
    for (size_t i = 0; i < v.size(); ++i) v[i] /= d.response_scale[i % static_cast<size_t>(N)];
    return v;
  };
  d.train_images = images(train_images);
  d.val_images = images(val_images);
  d.test_images = images(test_images);
  d.train_responses = Tensor::from_vector(train_responses.shape(), scaled(train_responses));
  d.val_responses = Tensor::from_vector(val_responses.shape(), scaled(val_responses));
  d.test.repeats = test_responses.size(0), d.test.images = test_responses.size(1), d.test.neurons = N;
  d.test.values = scaled(test_responses);
  return d;
}

V1Dataset load_v1_dataset(const std::string& dir, bool normalise) {
  namespace fs = std::filesystem;
  const fs::path root(dir), mpath = root / "manifest.json";
  ML_CHECK(fs::exists(mpath), "load_v1_dataset: ", mpath.string(), " not found (a V1 dataset folder holds manifest.json and NPY arrays)");
  const auto bytes = read_file(mpath.string());
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const std::exception& e) {
    throw Error(detail::cat(mpath.string(), ": not valid JSON: ", e.what()));
  }
  ML_CHECK(m.contains("files") && m["files"].is_object(), mpath.string(), ": no \"files\" object");
  auto load = [&](const char* key) {
    ML_CHECK(m["files"].contains(key) && m["files"][key].is_string(), mpath.string(), ": files.", key, " is missing");
    return load_npy((root / m["files"][key].get<std::string>()).string());
  };
  return make_v1_dataset(load("images_train"), load("responses_train"), load("images_val"), load("responses_val"),
                         load("images_test"), load("responses_test"), normalise, dir);
}

}  // namespace ml::analysis
