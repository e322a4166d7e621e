#include "engine/data/mirror.h"

#include <algorithm>
#include <cstring>

namespace ml {

namespace {

void flip_image(uint8_t* dst, const uint8_t* src, int64_t planes_rows, int64_t W) {
  for (int64_t r = 0; r < planes_rows; ++r) std::reverse_copy(src + r * W, src + (r + 1) * W, dst + r * W);
}

// The shared body of sym and asym: flip a seeded half of the images; relabel if asked.
Dataset mirror(const Dataset& ds, Generator& gen, bool relabel, std::vector<uint8_t>* flipped) {
  validate(ds);
  const int64_t N = ds.size(), C = ds.channels(), H = ds.height(), W = ds.width();
  const int64_t image = C * H * W;
  Dataset out;
  out.pixels = Tensor::empty(ds.pixels.shape(), DType::U8);
  out.labels = Tensor::empty({N}, DType::I32);
  out.num_classes = relabel ? 2 * ds.num_classes : ds.num_classes;
  out.name = ds.name + (relabel ? "-asym" : "-sym");
  if (flipped) flipped->assign(static_cast<size_t>(N), 0);
  const uint8_t* src = ds.pixels.data_u8();
  uint8_t* dst = out.pixels.data_u8();
  const int32_t* ys = ds.labels.data_i32();
  int32_t* yd = out.labels.data_i32();
  for (int64_t i = 0; i < N; ++i) {
    const bool flip = gen.next_uniform() < 0.5;
    if (flip) {
      flip_image(dst + i * image, src + i * image, C * H, W);
    } else {
      std::memcpy(dst + i * image, src + i * image, static_cast<size_t>(image));
    }
    yd[i] = ys[i] + (flip && relabel ? static_cast<int32_t>(ds.num_classes) : 0);
    if (flipped) (*flipped)[static_cast<size_t>(i)] = flip;
  }
  return out;
}

}  // namespace

Dataset make_sym(const Dataset& ds, Generator& gen, std::vector<uint8_t>* flipped) {
  return mirror(ds, gen, false, flipped);
}

Dataset make_asym(const Dataset& ds, Generator& gen, std::vector<uint8_t>* flipped) {
  return mirror(ds, gen, true, flipped);
}

Tensor hflip_pixels(const Tensor& pixels) {
  ML_CHECK(pixels.defined() && pixels.dtype() == DType::U8 && pixels.dim() == 4 && pixels.device() == Device::CPU,
           "hflip_pixels: expected uint8 (N, C, H, W) on the CPU, got ", pixels.defined() ? pixels.str() : "undefined");
  Tensor out = Tensor::empty(pixels.shape(), DType::U8);
  if (out.numel() > 0) flip_image(out.data_u8(), pixels.data_u8(), pixels.size(0) * pixels.size(1) * pixels.size(2),
                                  pixels.size(3));
  return out;
}

}  // namespace ml
