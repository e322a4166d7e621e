// engine/data/pad.h and composite.h: the constant border of the 32-px Fashion-MNIST net, and the
// composites the encoding study's stimuli are made of (encoding study §6).
#include "engine/data/composite.h"
#include "engine/data/pad.h"
#include "tests/testing.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

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

TEST_CASE("with_composites: a seeded share of the images becomes the item on a background in a gray aperture") {
  // Items: an opaque 8 x 8 square (255) in a transparent 28 x 28 frame (0). Canvas: the items
  // padded by 2 to 32 px, as train --pad 2 --composites does.
  const int64_t N = 400, S = 32;
  Dataset items = numbered_set(N, 1, 28, 28);
  uint8_t* ip = items.pixels.data_u8();
  for (int64_t i = 0; i < N * 28 * 28; ++i) {
    const int64_t r = (i / 28) % 28, c = i % 28;
    ip[i] = (r >= 10 && r < 18 && c >= 10 && c < 18) ? 255 : 0;
  }
  const Dataset canvas = pad_images(items, 2, 0);
  const Dataset a = with_composites(items, canvas, 0.5, 11), b = with_composites(items, canvas, 0.5, 11),
                other = with_composites(items, canvas, 0.5, 12);
  const auto bytes = [](const Dataset& d) { return std::vector<uint8_t>(d.pixels.data_u8(), d.pixels.data_u8() + d.pixels.numel()); };
  CHECK(bytes(a) == bytes(b));  // seeded
  CHECK(bytes(a) != bytes(other));
  CHECK(a.labels.to_vector_i32() == canvas.labels.to_vector_i32());
  const uint8_t *pa = a.pixels.data_u8(), *pc = canvas.pixels.data_u8();
  int64_t chosen = 0, corner_not_gray = 0, no_item = 0;
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t *x = pa + n * S * S, *y = pc + n * S * S;
    if (std::equal(x, x + S * S, y)) continue;
    ++chosen;
    // Outside the aperture (the corners) the composite is the blank gray, 0.5 -> 128.
    corner_not_gray += x[0] != 128 || x[S - 1] != 128 || x[(S - 1) * S] != 128 || x[S * S - 1] != 128;
    // The opaque square (scaled to 35-70 % of 32 px, so >= 3.2 px a side) shows as white pixels.
    no_item += std::count(x, x + S * S, uint8_t{255}) < 4;
  }
  // Binomial(400, 0.5): 200 +- 10, held to +- 5 sd.
  CHECK(std::abs(chosen - 200) <= 50);
  CHECK(corner_not_gray == 0);
  CHECK(no_item == 0);
  const Dataset all = with_composites(items, canvas, 1.0, 11);
  int64_t unchanged = 0;
  for (int64_t n = 0; n < N; ++n)
    unchanged += std::equal(all.pixels.data_u8() + n * S * S, all.pixels.data_u8() + (n + 1) * S * S, pc + n * S * S);
  CHECK(unchanged == 0);
  CHECK(with_composites(items, canvas, 0.0, 11).pixels.data_u8() == canvas.pixels.data_u8());
}

TEST_CASE("with_composites: a share outside 0..1, colour sets and mismatched sets are named") {
  const Dataset items = numbered_set(4, 1, 28, 28), canvas = pad_images(items, 2, 0);
  CHECK_THROWS_WITH_AS(with_composites(items, canvas, -0.1, 0), doctest::Contains("share must be in [0, 1], got -0.1"), Error);
  CHECK_THROWS_WITH_AS(with_composites(items, canvas, 1.5, 0), doctest::Contains("got 1.5"), Error);
  const Dataset rgb = numbered_set(4, 3, 28, 28);
  CHECK_THROWS_WITH_AS(with_composites(rgb, pad_images(rgb, 2, 0), 0.5, 0), doctest::Contains("one-channel"), Error);
  CHECK_THROWS_WITH_AS(with_composites(numbered_set(5, 1, 28, 28), canvas, 0.5, 0), doctest::Contains("has 5 images"), Error);
}
