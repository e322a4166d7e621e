// tools/hog_reference.cpp — models/hog.h beside its outside references (issue 17), on the same
// float images: seeded uniform noise, seeded 8-bit noise, and rendered stimuli (PNG paths given
// on the command line), gray and colour.
//   UoCTTI   vs VLFeat's vl_hog (Debian libvlfeat-dev 0.9.21, linked here), value for value, for
//            n = 9 and 8, hard and bilinear orientations; prints the largest |difference|.
//   Dalal–Triggs: writes the images and our features as NPY files into OUT for
//            tools/hog_skimage_compare.py, which runs scikit-image's hog on the same arrays.
// Built and run by tools/hog_reference.sh (VLFeat is a reference only; nothing else links it).
// Usage: hog_reference OUT [image.png ...]
#include <vl/hog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/data/image_folder.h"
#include "engine/generator.h"
#include "engine/io/npy.h"
#include "engine/ops.h"
#include "models/hog.h"

using namespace ml;

namespace {

// VLFeat's features for one image (C, H, W): (D, R, Q), the same layout as ours.
std::vector<float> vlfeat_uoctti(const float* img, int64_t C, int64_t H, int64_t W, const models::HogOptions& o) {
  VlHog* h = vl_hog_new(VlHogVariantUoctti, static_cast<vl_size>(o.orientations), VL_FALSE);
  vl_hog_set_use_bilinear_orientation_assignments(h, o.bilinear_orientations ? VL_TRUE : VL_FALSE);
  vl_hog_put_image(h, img, static_cast<vl_size>(W), static_cast<vl_size>(H), static_cast<vl_size>(C),
                   static_cast<vl_size>(o.cell_size));
  std::vector<float> out(vl_hog_get_width(h) * vl_hog_get_height(h) * vl_hog_get_dimension(h));
  vl_hog_extract(h, out.data());
  vl_hog_delete(h);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hog_reference OUT [image.png ...]\n");
    return 2;
  }
  try {
    const std::string out = argv[1];
    std::filesystem::create_directories(out);
    const int64_t S = 224;
    Generator g(17);
    // The image sets: name -> (N, C, S, S).
    std::vector<std::pair<std::string, Tensor>> sets;
    for (int64_t C : {1, 3}) {
      const std::string c = C == 1 ? "gray" : "colour";
      sets.emplace_back("noise_" + c, Tensor::uniform({4, C, S, S}, 0.f, 1.f, g));
      std::vector<float> v(static_cast<size_t>(4 * C * S * S));
      for (float& x : v) x = static_cast<float>(g.next_below(256)) / 255.f;
      sets.emplace_back("noise8bit_" + c, Tensor::from_vector({4, C, S, S}, v));
      if (argc > 2) sets.emplace_back("rendered_" + c, load_images(std::vector<std::string>(argv + 2, argv + argc), C, S, S));
    }
    double worst_all = 0;
    for (const auto& [name, x] : sets) {
      const int64_t N = x.size(0), C = x.size(1);
      for (int64_t n : {9, 8})
        for (bool bil : {false, true}) {
          models::HogOptions o;
          o.orientations = n;
          o.bilinear_orientations = bil;
          const auto ours = models::hog(x, o).to_vector();
          const int64_t per = static_cast<int64_t>(ours.size()) / N;
          double worst = 0;
          int64_t differ = 0;
          for (int64_t i = 0; i < N; ++i) {
            const auto ref = vlfeat_uoctti(x.data() + i * C * S * S, C, S, S, o);
            if (static_cast<int64_t>(ref.size()) != per) throw std::runtime_error("VLFeat's feature size differs from ours");
            for (int64_t k = 0; k < per; ++k) {
              const double d = std::fabs(static_cast<double>(ours[static_cast<size_t>(i * per + k)]) - ref[static_cast<size_t>(k)]);
              worst = std::max(worst, d);
              differ += d > 0;
            }
          }
          worst_all = std::max(worst_all, worst);
          std::printf("uoctti vs vl_hog  %-18s n=%d %-8s  %lld values, max |diff| %.3g, %lld not bit-equal\n", name.c_str(),
                      static_cast<int>(n), bil ? "bilinear" : "hard", static_cast<long long>(N * per), worst,
                      static_cast<long long>(differ));
        }
      models::HogOptions dt;
      dt.variant = models::HogVariant::DalalTriggs;
      save_npy(out + "/" + name + "_images.npy", x);
      save_npy(out + "/" + name + "_dalal_triggs.npy", models::hog(x, dt));
    }
    std::printf("uoctti vs vl_hog: largest |diff| over every set %.3g\n", worst_all);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hog_reference: %s\n", e.what());
    return 1;
  }
  return 0;
}
