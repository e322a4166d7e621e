#include "engine/nn/init.h"

#include <cmath>

#include "engine/autograd.h"

namespace ml::nn::init {

Fans fans(const Tensor& w) {
  ML_CHECK(w.dim() >= 2, "init: fan_in/fan_out need a weight of at least 2 dimensions, got ", w.str());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

void uniform_(Tensor& t, Generator& gen, float lo, float hi) {
  NoGradGuard ng;
  t.copy_(Tensor::uniform(t.shape(), lo, hi, gen, t.device()));
}

void normal_(Tensor& t, Generator& gen, float mean, float std) {
  NoGradGuard ng;
  t.copy_(Tensor::normal(t.shape(), mean, std, gen, t.device()));
}

void constant_(Tensor& t, float value) {
  NoGradGuard ng;
  t.fill_(value);
}

static float kaiming_std(const Tensor& w, float a, bool fan_in_mode) {
  const Fans f = fans(w);
  const float gain = std::sqrt(2.f / (1.f + a * a));
  return gain / std::sqrt(static_cast<float>(fan_in_mode ? f.in : f.out));
}

void kaiming_uniform_(Tensor& w, Generator& gen, float a, bool fan_in_mode) {
  const float bound = std::sqrt(3.f) * kaiming_std(w, a, fan_in_mode);  // U(-b, b) has std b/sqrt(3)
  uniform_(w, gen, -bound, bound);
}

void kaiming_normal_(Tensor& w, Generator& gen, float a, bool fan_in_mode) {
  normal_(w, gen, 0.f, kaiming_std(w, a, fan_in_mode));
}

void xavier_uniform_(Tensor& w, Generator& gen, float gain) {
  const Fans f = fans(w);
  const float bound = gain * std::sqrt(6.f / static_cast<float>(f.in + f.out));
  uniform_(w, gen, -bound, bound);
}

void xavier_normal_(Tensor& w, Generator& gen, float gain) {
  const Fans f = fans(w);
  normal_(w, gen, 0.f, gain * std::sqrt(2.f / static_cast<float>(f.in + f.out)));
}

void lecun_normal_(Tensor& w, Generator& gen) { lecun_normal_(w, gen, fans(w).in); }

void lecun_normal_(Tensor& t, Generator& gen, int64_t fan_in) {
  ML_CHECK(fan_in > 0, "lecun_normal_: fan_in must be positive, got ", fan_in);
  normal_(t, gen, 0.f, 1.f / std::sqrt(static_cast<float>(fan_in)));
}

}  // namespace ml::nn::init
