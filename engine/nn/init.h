// engine/nn/init.h — weight initialisers, in place, from a seeded Generator.
// Fans follow PyTorch: for a weight (out, in, kh, kw) fan_in = in*kh*kw, fan_out = out*kh*kw;
// for (out, in) fan_in = in, fan_out = out.
#pragma once
#include "engine/generator.h"
#include "engine/tensor.h"

namespace ml::nn::init {

struct Fans {
  int64_t in, out;
};
Fans fans(const Tensor& w);

// He et al. 2015: std = gain / sqrt(fan), gain = sqrt(2 / (1 + a^2)) (a = leaky slope; 0 for ReLU).
void kaiming_uniform_(Tensor& w, Generator& gen, float a = 0.f, bool fan_in_mode = true);
void kaiming_normal_(Tensor& w, Generator& gen, float a = 0.f, bool fan_in_mode = true);
// Glorot & Bengio 2010: std = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_uniform_(Tensor& w, Generator& gen, float gain = 1.f);
void xavier_normal_(Tensor& w, Generator& gen, float gain = 1.f);
// LeCun: zero-mean Gaussian with variance 1/fan_in — the "untrained network" of the
// mirror-symmetry study (SCIENCE.md), used there for weights and biases alike. For a bias,
// pass the fan_in of its layer.
void lecun_normal_(Tensor& w, Generator& gen);
void lecun_normal_(Tensor& t, Generator& gen, int64_t fan_in);
void uniform_(Tensor& t, Generator& gen, float lo, float hi);
void normal_(Tensor& t, Generator& gen, float mean, float std);
void constant_(Tensor& t, float value);

}  // namespace ml::nn::init
