// engine/data/pad.h: the constant border of the 32-px Fashion-MNIST net (encoding study §6).
#include "engine/data/pad.h"
#include "tests/testing.h"

using namespace ml;

namespace {

// N images of C planes, H x W, pixel values 1 + (i * 7) % 250: never 0 and never 255, so a pad
// value of 0 or 255 cannot be mistaken for content.
Dataset numbered_set(int64_t N, int64_t C, int64_t H, int64_t W) {
  Dataset d;
  d.pixels = Tensor::empty({N, C, H, W}, DType::U8);
  d.labels = Tensor::empty({N}, DType::I32);
  d.num_classes = 3;
  d.name = "numbered";
  uint8_t* p = d.pixels.data_u8();
  for (int64_t i = 0; i < N * C * H * W; ++i) p[i] = static_cast<uint8_t>(1 + (i * 7) % 250);
  for (int64_t n = 0; n < N; ++n) d.labels.data_i32()[n] = static_cast<int32_t>(n % 3);
  return d;
}

}  // namespace

TEST_CASE("pad_images: the original in the centre, the pad value outside, labels kept") {
  const int64_t N = 3, C = 2, H = 5, W = 4;
  const Dataset d = numbered_set(N, C, H, W);
  for (const int64_t pad : {1, 2}) {
    for (const int64_t value : {0, 255}) {
      INFO("pad ", pad, " value ", value);
      const Dataset o = pad_images(d, pad, value);
      REQUIRE(o.pixels.shape() == Shape{N, C, H + 2 * pad, W + 2 * pad});
      CHECK(o.num_classes == d.num_classes);
      const int64_t Ho = H + 2 * pad, Wo = W + 2 * pad;
      const uint8_t* a = d.pixels.data_u8();
      const uint8_t* b = o.pixels.data_u8();
      int64_t wrong = 0;
      for (int64_t p = 0; p < N * C; ++p)
        for (int64_t r = 0; r < Ho; ++r)
          for (int64_t c = 0; c < Wo; ++c) {
            const bool inside = r >= pad && r < pad + H && c >= pad && c < pad + W;
            const int want = inside ? a[(p * H + r - pad) * W + c - pad] : static_cast<int>(value);
            wrong += b[(p * Ho + r) * Wo + c] != want;
          }
      CHECK(wrong == 0);
      for (int64_t n = 0; n < N; ++n) CHECK(o.labels.data_i32()[n] == d.labels.data_i32()[n]);
    }
  }
  // pad 0 is the set itself.
  CHECK(pad_images(d, 0, 0).pixels.data_u8() == d.pixels.data_u8());
}

TEST_CASE("pad_images: a negative or huge pad and a value outside 0..255 are named") {
  const Dataset d = numbered_set(1, 1, 2, 2);
  CHECK_THROWS_WITH_AS(pad_images(d, -1, 0), doctest::Contains("pad must be in [0, 256] pixels, got -1"), Error);
  CHECK_THROWS_WITH_AS(pad_images(d, 257, 0), doctest::Contains("got 257"), Error);
  CHECK_THROWS_WITH_AS(pad_images(d, 2, 256), doctest::Contains("pad value must be a pixel value in [0, 255], got 256"), Error);
  CHECK_THROWS_WITH_AS(pad_images(d, 2, -3), doctest::Contains("got -3"), Error);
}
