#include "engine/data/pad.h"

#include <cstring>

#include "engine/error.h"

namespace ml {

Dataset pad_images(const Dataset& ds, int64_t pad, int64_t value) {
  // 256 px a side is far above any set these studies train on and keeps (H + 2 pad)^2 small.
  ML_CHECK(pad >= 0 && pad <= 256, "pad_images: pad must be in [0, 256] pixels, got ", pad);
  ML_CHECK(value >= 0 && value <= 255, "pad_images: pad value must be a pixel value in [0, 255], got ", value);
  validate(ds);
  if (pad == 0) return ds;
  const int64_t N = ds.size(), C = ds.channels(), H = ds.height(), W = ds.width();
  const int64_t Ho = H + 2 * pad, Wo = W + 2 * pad;
  Dataset out;
  out.pixels = Tensor::empty({N, C, Ho, Wo}, DType::U8);
  out.labels = ds.labels;
  out.num_classes = ds.num_classes;
  out.name = ds.name + "-pad" + std::to_string(pad);
  const uint8_t* src = ds.pixels.data_u8();
  uint8_t* dst = out.pixels.data_u8();
  std::memset(dst, static_cast<int>(value), static_cast<size_t>(N * C * Ho * Wo));
  for (int64_t p = 0; p < N * C; ++p)
    for (int64_t r = 0; r < H; ++r)
      std::memcpy(dst + (p * Ho + r + pad) * Wo + pad, src + (p * H + r) * W, static_cast<size_t>(W));
  return out;
}

}  // namespace ml
