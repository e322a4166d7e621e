// The training driver: determinism, exact resume, and the files of a run folder.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/io/safetensors.h"
#include "experiments/analysis/activations.h"
#include "experiments/training/train.h"
#include "tests/testing.h"

using namespace ml;
using namespace ml::testing;
namespace fs = std::filesystem;

namespace {

void put_be32(std::ofstream& f, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  f.write(reinterpret_cast<const char*>(b), 4);
}

// A small Fashion-MNIST-shaped set in the real IDX format (uncompressed bytes under the .gz
// names: the reader detects gzip by its magic number, not by the name). Class c is a bar at
// row 2 + 2c, so a net can learn it.
void write_idx_set(const fs::path& dir, const std::string& prefix, int n, uint64_t seed) {
  Generator g(seed);
  std::ofstream im(dir / (prefix + "-images-idx3-ubyte.gz"), std::ios::binary);
  std::ofstream lb(dir / (prefix + "-labels-idx1-ubyte.gz"), std::ios::binary);
  put_be32(im, 0x803);
  put_be32(im, static_cast<uint32_t>(n));
  put_be32(im, 28);
  put_be32(im, 28);
  put_be32(lb, 0x801);
  put_be32(lb, static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    const int c = static_cast<int>(g.next_below(10));
    for (int r = 0; r < 28; ++r)
      for (int k = 0; k < 28; ++k) {
        const int v = (r == 2 + 2 * c ? 200 : 0) + static_cast<int>(g.next_below(50));
        im.put(static_cast<char>(v));
      }
    lb.put(static_cast<char>(c));
  }
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// log.csv without its last column (wall-clock seconds, which no run can reproduce).
std::string log_without_seconds(const fs::path& dir) {
  std::stringstream in(read_text(dir / "log.csv")), out;
  std::string line;
  while (std::getline(in, line)) out << line.substr(0, line.rfind(',')) << '\n';
  return out.str();
}

experiments::TrainConfig tiny_config(const fs::path& data, const fs::path& out) {
  experiments::TrainConfig c;
  c.data_dir = data.string();
  c.out = out.string();
  c.batch_size = 32;
  c.epochs = 2;
  c.seed = 7;
  c.optimizer = "sgd";
  c.lr = 0.05f;
  c.lr_step = 1;  // the schedule must resume too
  c.lr_gamma = 0.5f;
  c.progress = false;
  return c;
}

void check_same_weights(const fs::path& a, const fs::path& b) {
  const auto fa = load_safetensors((a / "checkpoint.safetensors").string());
  const auto fb = load_safetensors((b / "checkpoint.safetensors").string());
  REQUIRE(fa.items.size() == fb.items.size());
  for (size_t i = 0; i < fa.items.size(); ++i) {
    INFO(fa.items[i].first);
    CHECK(fa.items[i].first == fb.items[i].first);
    CHECK(testing::equal(fa.items[i].second, fb.items[i].second));
  }
}

}  // namespace

TEST_CASE("train: same seed gives the same log and weights, and 1 epoch + resume = 2 epochs exactly") {
  TempDir tmp("train");
  write_idx_set(tmp.path, "train", 320, 1);
  write_idx_set(tmp.path, "t10k", 64, 2);
  for (const char* variant : {"none", "asym"}) {
    INFO(variant);
    auto run = [&](const std::string& name, int64_t epochs, bool resume) {
      auto c = tiny_config(tmp.path, tmp.path / name);
      c.variant = variant;
      c.epochs = epochs;
      c.resume = resume;
      return experiments::train(c);
    };
    const auto a = run(std::string("a_") + variant, 2, false);
    run(std::string("b_") + variant, 2, false);
    run(std::string("c_") + variant, 1, false);
    const auto c = run(std::string("c_") + variant, 2, true);
    const fs::path A = tmp.path / (std::string("a_") + variant), B = tmp.path / (std::string("b_") + variant),
                   C = tmp.path / (std::string("c_") + variant);
    CHECK(log_without_seconds(A) == log_without_seconds(B));
    check_same_weights(A, B);
    CHECK(log_without_seconds(A) == log_without_seconds(C));
    check_same_weights(A, C);
    CHECK(a.test_acc == c.test_acc);
    for (const char* f : {"log.csv", "checkpoint.safetensors", "best.safetensors", "final.json"})
      CHECK(fs::exists(A / f));
    const std::string final_json = read_text(A / "final.json");
    CHECK(final_json.find("\"source_revision\"") != std::string::npos);
    CHECK(final_json.find("\"test_accuracy\"") != std::string::npos);
    // The learning rate halves every epoch (lr_step 1): epoch 2 runs at 0.025.
    CHECK(read_text(A / "log.csv").find(",0.0250000004,") != std::string::npos);
  }
}

TEST_CASE("train: the tiny set is learnt, and bad options are named") {
  TempDir tmp("train_learn");
  write_idx_set(tmp.path, "train", 640, 3);
  write_idx_set(tmp.path, "t10k", 128, 4);
  auto c = tiny_config(tmp.path, tmp.path / "run");
  c.optimizer = "adam";
  c.lr = 2e-3f;
  c.lr_step = 0;
  c.epochs = 3;
  const auto r = experiments::train(c);
  CHECK(r.test_acc > 0.9);  // chance is 0.1
  c.optimizer = "rmsprop";
  CHECK_THROWS_WITH_AS(experiments::train(c), doctest::Contains("--optimizer: unknown optimizer 'rmsprop'"), Error);
  c.optimizer = "sgd";
  c.dataset = "cifar10";
  c.data_dir = (tmp.path / "nowhere").string();
  CHECK_THROWS_WITH_AS(experiments::train(c), doctest::Contains("nowhere"), Error);
  c.dataset = "fashion-mnist";
  c.data_dir = tmp.path.string();
  c.resume = true;
  c.out = (tmp.path / "fresh").string();
  CHECK_THROWS_WITH_AS(experiments::train(c), doctest::Contains("--resume: no checkpoint"), Error);
}

TEST_CASE("train: the sym and asym label sets are the paper's, on the train and the test set") {
  // SCIENCE.md: each image (train and test) is flipped horizontally with probability 0.5; sym
  // keeps the label, asym maps label c to c + 10. Checked image by image against the
  // unmodified set, with the mirror image written out by a loop here: an image of random
  // pixels is never its own mirror, so "flipped" is decided by the pixels alone.
  TempDir tmp("train_variants");
  write_idx_set(tmp.path, "train", 300, 5);
  write_idx_set(tmp.path, "t10k", 200, 6);
  experiments::TrainConfig c = tiny_config(tmp.path, tmp.path / "unused");
  c.variant = "none";
  const experiments::Datasets plain = experiments::load_datasets(c);
  for (const char* variant : {"sym", "asym"}) {
    INFO(variant);
    c.variant = variant;
    const experiments::Datasets d = experiments::load_datasets(c);
    const bool asym = std::string(variant) == "asym";
    for (int which = 0; which < 2; ++which) {
      const Dataset& orig = which ? plain.test : plain.train;
      const Dataset& var = which ? d.test : d.train;
      CHECK(var.num_classes == (asym ? 20 : 10));
      REQUIRE(var.pixels.shape() == orig.pixels.shape());
      const int64_t N = orig.size();
      const uint8_t *p = orig.pixels.data_u8(), *q = var.pixels.data_u8();
      const auto y0 = orig.labels.to_vector_i32(), y = var.labels.to_vector_i32();
      int64_t flipped = 0;
      for (int64_t i = 0; i < N; ++i) {
        bool same = true, mirrored = true;
        for (int64_t r = 0; r < 28; ++r)
          for (int64_t k = 0; k < 28; ++k) {
            const uint8_t v = q[i * 784 + r * 28 + k];
            same = same && v == p[i * 784 + r * 28 + k];
            mirrored = mirrored && v == p[i * 784 + r * 28 + (27 - k)];
          }
        CAPTURE(i);
        REQUIRE(same != mirrored);  // exactly one of the two
        flipped += mirrored;
        CHECK(y[static_cast<size_t>(i)] == y0[static_cast<size_t>(i)] + (asym && mirrored ? 10 : 0));
      }
      // Binomial(N, 0.5): 5 sd either side of N/2.
      CHECK(std::abs(2 * flipped - N) < 5 * std::sqrt(static_cast<double>(N)));
    }
  }
}

TEST_CASE("train: --pad 2 makes 32-px Fashion-MNIST, recorded in the weights, and bad pads are named") {
  // The encoding study's 32-px net (eickenberg2017-encoding.md §6): every image of both sets is
  // the original in its centre and the pad value outside; the weights' "model" metadata says
  // 32 px and the pad, so an analysis program builds the net at 32 px from the file alone.
  TempDir tmp("train_pad");
  write_idx_set(tmp.path, "train", 96, 8);
  write_idx_set(tmp.path, "t10k", 40, 9);
  experiments::TrainConfig c = tiny_config(tmp.path, tmp.path / "run");
  const experiments::Datasets plain = experiments::load_datasets(c);
  c.pad = 2;
  c.pad_value = 255;  // the set's pixels are < 250, so the border cannot pass as content
  const experiments::Datasets padded = experiments::load_datasets(c);
  for (int which = 0; which < 2; ++which) {
    const Dataset& a = which ? plain.test : plain.train;
    const Dataset& b = which ? padded.test : padded.train;
    REQUIRE(b.pixels.shape() == Shape{a.size(), 1, 32, 32});
    int64_t wrong = 0;
    for (int64_t i = 0; i < a.size(); ++i)
      for (int64_t r = 0; r < 32; ++r)
        for (int64_t k = 0; k < 32; ++k) {
          const bool inside = r >= 2 && r < 30 && k >= 2 && k < 30;
          const int want = inside ? a.pixels.data_u8()[i * 784 + (r - 2) * 28 + k - 2] : 255;
          wrong += b.pixels.data_u8()[i * 1024 + r * 32 + k] != want;
        }
    CHECK(wrong == 0);
    CHECK(b.labels.to_vector_i32() == a.labels.to_vector_i32());
  }
  c.pad_value = 0;
  c.epochs = 1;
  c.max_batches = 2;
  experiments::train(c);
  const auto f = load_safetensors((tmp.path / "run" / "final.safetensors").string());
  const std::string model = f.metadata.at("model");
  CHECK(model.find("\"pad\":2") != std::string::npos);
  CHECK(model.find("\"pad_value\":0") != std::string::npos);
  const analysis::NetMetadata meta = analysis::parse_net_metadata(model, "final.safetensors");
  CHECK(meta.image_size == 32);
  analysis::NetSpec spec;
  spec.weights = (tmp.path / "run" / "final.safetensors").string();
  CHECK(analysis::load_analysis_net(spec).model.image_size == 32);
  c.pad = -1;
  CHECK_THROWS_WITH_AS(experiments::load_datasets(c), doctest::Contains("--pad must be in [0, 256] pixels, got -1"), Error);
  c.pad = 2;
  c.pad_value = 300;
  CHECK_THROWS_WITH_AS(experiments::load_datasets(c), doctest::Contains("--pad-value must be a pixel value in [0, 255], got 300"), Error);
}
