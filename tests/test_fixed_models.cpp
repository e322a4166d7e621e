// HMAX and HOG as the analysis programs build them (experiments/fixed_models.h, --model hmax |
// hog): every bad input of issue 17 stops before any output with an error that names the option
// or file and the sizes — images smaller than the largest filter or one HOG block, a prototype file
// whose shapes do not match the bands, an orientation count of 0 (the non-square rot90 case is
// in test_hog.cpp: the programs' images are square).
#include <string>

#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "experiments/fixed_models.h"
#include "tests/testing.h"

using namespace ml;

namespace {

analysis::NetSpec spec_for(const std::string& model, int64_t image_size = 0) {
  analysis::NetSpec s;
  s.model = model;
  s.image_size = image_size;
  return s;
}

}  // namespace

TEST_CASE("fixed models: the programs' bad input names the option or file and the sizes") {
  experiments::FixedModelOptions f;
  // HOG: orientation count 0, cell 0, images smaller than one block, 2 channels.
  f.hog.orientations = 0;
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hog"), f),
                       doctest::Contains("orientation count (--hog-orientations) must be >= 1, got 0"), Error);
  f.hog.orientations = 8;
  f.hog.cell_size = 0;
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hog"), f),
                       doctest::Contains("cell size (--hog-cell) must be >= 1 px, got 0"), Error);
  f.hog.cell_size = 8;
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hog", 12), f),
                       doctest::Contains("--image-size 12 is smaller than one 2 x 2 block of 8-px cells (16 px)"), Error);
  f.hog_variant = "dalal_triggs";
  f.hog.block_size = 4;
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hog", 24), f),
                       doctest::Contains("--image-size 24 is smaller than one 4 x 4 block of 8-px cells (32 px)"), Error);
  f.hog_variant = "hog3";
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hog"), f), doctest::Contains("unknown variant 'hog3'"), Error);
  f.hog_variant = "uoctti";
  analysis::NetSpec two = spec_for("hog");
  two.in_channels = 2;
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(two, f), doctest::Contains("--in-channels must be 1 (gray) or 3 (colour), got 2"), Error);
  CHECK(experiments::load_fixed_model(spec_for("hog", 16), f).model.image_size == 16);  // one block exactly

  // HMAX: images smaller than the largest S1 filter; prototype files that do not fit.
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hmax", 36), f),
                       doctest::Contains("--image-size 36 is smaller than the largest S1 filter (37 x 37)"), Error);
  testing::TempDir dir("fixed_models");
  const std::string bad = (dir.path / "protos.safetensors").string();
  f.hmax_prototypes = bad;
  save_safetensors(bad, {{"prototypes.4", Tensor::zeros({2, 3, 4, 4})}});  // 3 orientations, not 4
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hmax", 64), f),
                       doctest::Contains(("'" + bad + "' tensor 'prototypes.4' is float32 (2, 3, 4, 4)").c_str()),
                       Error);
  // 16-px prototypes (made for 227-px images) against 40-px images: C1 bands of 10 px at most.
  save_safetensors(bad, {{"prototypes.16", Tensor::zeros({2, 4, 16, 16})}});
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hmax", 40), f),
                       doctest::Contains("has 16-px prototypes, larger than every C1 band map (10 px at most for 40-px images)"),
                       Error);
  CHECK(experiments::load_fixed_model(spec_for("hmax", 227), f).model.layers.size() == 5);  // the same file fits at 227
  f.hmax_sample = "manifest.csv";
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(spec_for("hmax", 64), f),
                       doctest::Contains("give --hmax-prototypes or --hmax-sample, not both"), Error);
  f.hmax_sample.clear();
  analysis::NetSpec colour = spec_for("hmax", 64);
  colour.in_channels = 3;
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(colour, f), doctest::Contains("--model hmax takes gray images"), Error);
  analysis::NetSpec weights = spec_for("hmax", 64);
  weights.weights = "w.safetensors";
  CHECK_THROWS_WITH_AS(experiments::load_fixed_model(weights, f), doctest::Contains("takes no --weights or --untrained"), Error);
  // --device cuda where no GPU answers: an error, not a silent CPU run.
  if (!cuda_available()) {
    analysis::NetSpec gpu = spec_for("hog");
    gpu.device = "cuda";
    CHECK_THROWS_WITH_AS(experiments::load_fixed_model(gpu, f), doctest::Contains("--device cuda: "), Error);
  }
}
