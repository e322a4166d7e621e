// tests/fuzz/make_seeds.cc — fuzz_seeds OUT_DIR: writes a small corpus of valid inputs per
// target, OUT_DIR/<target>/<name>, made by the project's own writers where it has one
// (save_npy, save_safetensors, render::manifest_csv) and in the layout targets.h describes.
// Generated rather than committed, so the seeds follow the writers when the formats change.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "tests/fuzz/targets.h"
#include "tools/render/manifest.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

fs::path out;

void put(const std::string& target, const std::string& name, const Bytes& bytes) {
  fs::create_directories(out / target);
  ml::fuzz::write_bytes((out / target / name).string(), bytes.data(), bytes.size());
}
void put(const std::string& target, const std::string& name, const std::string& text) {
  put(target, name, Bytes(text.begin(), text.end()));
}
// A file written by a project writer into the scratch folder, then copied into the corpus.
template <class W>
void put_written(const std::string& target, const std::string& name, W&& write) {
  const std::string tmp = ml::fuzz::scratch_dir() + "/" + name;
  write(tmp);
  put(target, name, ml::read_file(tmp));
}

void be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

Bytes gzip(const Bytes& in) {
  const std::string tmp = ml::fuzz::scratch_dir() + "/gz";
  gzFile g = gzopen(tmp.c_str(), "wb");
  gzwrite(g, in.data(), static_cast<unsigned>(in.size()));
  gzclose(g);
  return ml::read_file(tmp);
}

// mode byte, 2-byte images length, images, labels (targets.h).
Bytes idx_input(uint8_t mode, const Bytes& images, const Bytes& labels) {
  Bytes b{mode, static_cast<uint8_t>(images.size() & 0xff), static_cast<uint8_t>(images.size() >> 8)};
  b.insert(b.end(), images.begin(), images.end());
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR\n");
    return 2;
  }
  out = argv[1];
  using ml::Tensor, ml::DType;

  // NPY: each dtype, 0-d to 5-d, an empty array, a header long enough for format v2.0.
  ml::Generator gen(1);
  put_written("npy", "f32_2x3.npy", [&](const std::string& p) { ml::save_npy(p, Tensor::uniform({2, 3}, 0, 1, gen)); });
  put_written("npy", "i32_4.npy", [&](const std::string& p) {
    ml::save_npy(p, Tensor::from_vector_i32({4}, {1, -2, 3, 1 << 30}));
  });
  put_written("npy", "u8_2x2x2.npy",
              [&](const std::string& p) { ml::save_npy(p, Tensor::zeros({2, 2, 2}, DType::U8)); });
  put_written("npy", "f32_scalar.npy", [&](const std::string& p) { ml::save_npy(p, Tensor::zeros({}, DType::F32)); });
  put_written("npy", "f32_0x3.npy", [&](const std::string& p) { ml::save_npy(p, Tensor::zeros({0, 3}, DType::F32)); });
  put_written("npy", "f32_5d.npy",
              [&](const std::string& p) { ml::save_npy(p, Tensor::zeros({1, 2, 1, 2, 1}, DType::F32)); });
  {
    // numpy's own v1.0 header with a Python-2 long and double quotes, as old files have.
    std::string dict = "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L, 1L), }";
    dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
    dict += '\n';
    Bytes b{0x93, 'N', 'U', 'M', 'P', 'Y', 3, 0};
    const uint32_t len = static_cast<uint32_t>(dict.size() + 2);  // v3.0: a 4-byte length
    dict.append(2, ' ');
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(len >> (8 * i)));
    b.insert(b.end(), dict.begin(), dict.end());
    b.resize(b.size() + 8, 0);
    put("npy", "v3_long.npy", b);
  }

  // safetensors: several dtypes, an empty tensor, the metadata train writes.
  const std::string model_meta =
      R"({"image_size":28,"in_channels":1,"name":"vgg_small","normalization":{"mean":[0.286],"std":[0.353]},"num_classes":10})";
  put_written("safetensors", "weights.safetensors", [&](const std::string& p) {
    ml::save_safetensors(p,
                         {{"conv.weight", Tensor::uniform({2, 1, 3, 3}, -1, 1, gen)},
                          {"conv.bias", Tensor::zeros({2})},
                          {"steps", Tensor::zeros({1}, DType::I32)},
                          {"empty", Tensor::zeros({0}, DType::U8)}},
                         {{"model", model_meta}, {"epoch", "3"}});
  });
  put_written("safetensors", "bare.safetensors",
              [&](const std::string& p) { ml::save_safetensors(p, {{"x", Tensor::zeros({3}, DType::F32)}}); });

  // IDX: 3 images of 2x2 and their labels, raw, gzip'd by the target, gzip'd in the input.
  Bytes images, labels;
  be32(images, 0x00000803);
  for (uint32_t v : {3u, 2u, 2u}) be32(images, v);
  for (int i = 0; i < 12; ++i) images.push_back(static_cast<uint8_t>(i * 20));
  be32(labels, 0x00000801);
  be32(labels, 3);
  for (uint8_t l : {0, 9, 4}) labels.push_back(l);
  put("idx", "raw", idx_input(0, images, labels));
  put("idx", "gzip_by_target", idx_input(1, images, labels));
  const Bytes gz_images = gzip(images);
  put("idx", "gzip_in_input", idx_input(0, gz_images, gzip(labels)));

  // CIFAR-10: two records in one batch, and one record in each of two batches.
  Bytes records;
  for (uint8_t label : {3, 7}) {
    records.push_back(label);
    for (int i = 0; i < 3072; ++i) records.push_back(static_cast<uint8_t>(i * 7 + label));
  }
  Bytes one = {255};
  one.insert(one.end(), records.begin(), records.end());
  put("cifar10", "one_batch", one);
  Bytes two = {128};  // cuts the 6146 bytes at 6146 * 128 / 255 = 3085: not on a record edge
  two.insert(two.end(), records.begin(), records.end());
  put("cifar10", "two_batches_cut", two);
  Bytes halves = {127};  // 6146 * 127 / 255 = 3060: also off; the fuzzer finds the edge itself
  halves.insert(halves.end(), records.begin(), records.end());
  put("cifar10", "two_batches", halves);

  // Manifests, written by the renderer's own writer.
  std::vector<ml::render::ManifestRow> rows;
  for (const char* cat : {"face", "car"})
    for (int64_t ex = 0; ex < 2; ++ex)
      for (double v : {-45.0, 0.0, 45.0})
        rows.push_back({ml::render::image_name(cat, ex, v), cat == std::string("face") ? 0 : 1, cat, ex, v});
  const std::string manifest = ml::render::manifest_csv(rows);
  const std::string stimuli =
      R"({"categories": [{"name": "face", "symmetry": "one_plane"}, {"name": "car", "symmetry": "none"}]})";
  put("stimulus_manifest", "manifest.csv", manifest);
  put("stimulus_manifest", "manifest_with_json", manifest + std::string(1, '\0') + stimuli);
  put("render_manifest", "manifest.csv", manifest);
  put("csv", "manifest.csv", manifest);
  put("csv", "quoted.csv", "file,label\r\n\"a, b.png\",1\r\n\"say \"\"hi\"\".png\",2\r\n\n\"multi\nline.png\",0\r\n");

  // OBJ: a tetrahedron with and without normals, a quad, a polygon, negative indices.
  put("obj", "tetra.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n");
  put("obj", "normals.obj",
      "o tri\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nvt 0 0\nf 1/1/1 2/1/1 3/1/1\ng second\nf -3//1 -2//1 -1//1\n");
  put("obj", "quad_poly.obj",
      "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0.5 1.5 0\nf 1 2 3 4\nf 1 2 3 5 4\nl 1 2\np 3\n");

  // Weights metadata as train writes it, and a train final.json.
  put("net_metadata", "model.json", model_meta);
  put("net_metadata", "final.json",
      R"({"test_accuracy": 0.9, "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}})");
  put("net_metadata", "alexnet.json", R"({"name": "alexnet", "num_classes": 1000})");
  std::printf("fuzz_seeds: wrote the seed corpora under %s\n", out.c_str());
  return 0;
}
