#include "engine/data/transforms.h"

#include <algorithm>
#include <cstring>

#include "engine/ops.h"

namespace ml {

namespace {

void check_images(const char* op, const Tensor& x, DType dtype) {
  ML_CHECK(x.defined(), op, ": undefined tensor");
  ML_CHECK(x.dtype() == dtype && x.dim() == 4 && x.device() == Device::CPU, op, ": expected ", dtype_name(dtype),
           " (N, C, H, W) on the CPU, got ", x.str());
}

void check_mean_std(const char* op, int64_t C, const std::vector<float>& mean, const std::vector<float>& std) {
  ML_CHECK(static_cast<int64_t>(mean.size()) == C && static_cast<int64_t>(std.size()) == C, op, ": mean and std need ",
           C, " entries (one per channel), got ", mean.size(), " and ", std.size());
  for (size_t c = 0; c < std.size(); ++c)
    ML_CHECK(std[c] > 0, op, ": std[", c, "] = ", std[c], " must be positive");
}

}  // namespace

Tensor to_float(const Tensor& pixels) {
  check_images("to_float", pixels, DType::U8);
  Tensor y = Tensor::empty(pixels.shape(), DType::F32);
  const int64_t C = pixels.size(1), HW = pixels.size(2) * pixels.size(3);
  for (int64_t n = 0; n < pixels.size(0); ++n)
    pixels_to_normalized(y.data() + n * C * HW, pixels.data_u8() + n * C * HW, C, HW, {}, {});
  return y;
}

void pixels_to_normalized(float* y, const uint8_t* x, int64_t C, int64_t HW, const std::vector<float>& mean,
                          const std::vector<float>& std) {
  const bool norm = !mean.empty();
  if (norm) check_mean_std("pixels_to_normalized", C, mean, std);
  for (int64_t c = 0; c < C; ++c) {
    const uint8_t* xs = x + c * HW;
    float* ys = y + c * HW;
    if (!norm) {
      for (int64_t i = 0; i < HW; ++i) ys[i] = static_cast<float>(xs[i]) / 255.f;
    } else {
      // Two roundings, as ToTensor then Normalize: v = p/255, then (v - m)/s.
      const float m = mean[c], s = std[c];
      for (int64_t i = 0; i < HW; ++i) ys[i] = (static_cast<float>(xs[i]) / 255.f - m) / s;
    }
  }
}

Tensor normalize(const Tensor& x, const std::vector<float>& mean, const std::vector<float>& std) {
  check_images("normalize", x, DType::F32);
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  check_mean_std("normalize", C, mean, std);
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* xs = x.data();
  float* ys = y.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float m = mean[c], s = std[c];
      const int64_t at = (n * C + c) * HW;
      for (int64_t i = 0; i < HW; ++i) ys[at + i] = (xs[at + i] - m) / s;
    }
  return y;
}

Tensor to_grayscale(const Tensor& x) {
  check_images("to_grayscale", x, DType::F32);
  ML_CHECK(x.size(1) == 3, "to_grayscale: expected 3 channels (RGB), got ", x.str());
  const int64_t N = x.size(0), HW = x.size(2) * x.size(3);
  Tensor y = Tensor::empty({N, 1, x.size(2), x.size(3)}, DType::F32);
  const float* xs = x.data();
  float* ys = y.data();
  for (int64_t n = 0; n < N; ++n) {
    const float* r = xs + n * 3 * HW;
    const float* g = r + HW;
    const float* b = g + HW;
    for (int64_t i = 0; i < HW; ++i) ys[n * HW + i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
  }
  return y;
}

Tensor gray_to_rgb(const Tensor& x) {
  check_images("gray_to_rgb", x, DType::F32);
  ML_CHECK(x.size(1) == 1, "gray_to_rgb: expected 1 channel, got ", x.str());
  const int64_t N = x.size(0), HW = x.size(2) * x.size(3);
  Tensor y = Tensor::empty({N, 3, x.size(2), x.size(3)}, DType::F32);
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < 3; ++c)
      std::memcpy(y.data() + (n * 3 + c) * HW, x.data() + n * HW, static_cast<size_t>(HW) * sizeof(float));
  return y;
}

Tensor to_channels(const Tensor& x, int64_t channels) {
  check_images("to_channels", x, DType::F32);
  ML_CHECK(channels == 1 || channels == 3, "to_channels: channels must be 1 or 3, got ", channels);
  ML_CHECK(x.size(1) == 1 || x.size(1) == 3, "to_channels: input must have 1 or 3 channels, got ", x.str());
  if (x.size(1) == channels) return x;
  return channels == 1 ? to_grayscale(x) : gray_to_rgb(x);
}

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_images("resize_bilinear", x, DType::F32);
  ML_CHECK(out_h > 0 && out_w > 0, "resize_bilinear: output size must be positive, got ", out_h, "x", out_w);
  const int64_t P = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  ML_CHECK(H > 0 && W > 0, "resize_bilinear: empty images ", x.str());
  // One axis' source taps: index of the near and far neighbour and the far one's weight.
  struct Tap {
    int64_t i0, i1;
    float l1;
  };
  auto taps = [](int64_t in, int64_t out) {
    std::vector<Tap> t(static_cast<size_t>(out));
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int64_t o = 0; o < out; ++o) {
      const float src = std::max(scale * (static_cast<float>(o) + 0.5f) - 0.5f, 0.f);
      const auto i0 = std::min(static_cast<int64_t>(src), in - 1);
      const int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
      t[static_cast<size_t>(o)] = {i0, i1, src - static_cast<float>(i0)};
    }
    return t;
  };
  const auto th = taps(H, out_h), tw = taps(W, out_w);
  Tensor y = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, DType::F32);
  const float* xs = x.data();
  float* ys = y.data();
  for (int64_t p = 0; p < P; ++p) {
    const float* plane = xs + p * H * W;
    float* out = ys + p * out_h * out_w;
    for (int64_t i = 0; i < out_h; ++i) {
      const Tap a = th[static_cast<size_t>(i)];
      const float* r0 = plane + a.i0 * W;
      const float* r1 = plane + a.i1 * W;
      for (int64_t j = 0; j < out_w; ++j) {
        const Tap b = tw[static_cast<size_t>(j)];
        const float top = (1.f - b.l1) * r0[b.i0] + b.l1 * r0[b.i1];
        const float bottom = (1.f - b.l1) * r1[b.i0] + b.l1 * r1[b.i1];
        out[i * out_w + j] = (1.f - a.l1) * top + a.l1 * bottom;
      }
    }
  }
  return y;
}

Tensor hflip_images(const Tensor& x) {
  check_images("hflip_images", x, DType::F32);
  return hflip(x.detach());
}

}  // namespace ml
