// tests/cuda/test_train_parity.cpp — training on CUDA follows training on the CPU: the same
// vgg_small (same seed: same initial weights and dropout masks), the same batches, 20 SGD steps
// with momentum on each device; the losses must match step for step. This exercises every
// kernel of a real training step together (conv forward and both backwards, batch norm in
// training mode, max-pool, ReLU, dropout, linear through the GEMM, cross-entropy, the SGD
// update kernel) and the autograd plumbing between them on the device.
//
// Small so that it runs in the interpret mode in seconds: batch 4 of 1 x 28 x 28 (the
// Fashion-MNIST shape of the study), 10 classes.
//
// Tolerance. The two devices differ per step only by float rounding (sums in other orders:
// the conv parity tests bound that by ~1e-7 relative per output), and training carries those
// differences forward: after k steps the weights differ by about (1 + lr * L)^k times the per-step
// rounding, L the loss's curvature. With lr 0.01, momentum 0.9 and 20 steps the amplification
// stays far below 1e3, so the losses agree to ~1e-4 relative at the end; the bound,
// |cuda - cpu| <= 2e-4 * max(1, |cpu|) at every step, is > 100 times the rounding estimate at
// step 0 and still 1000 times below what a wrong kernel does (a wrong gradient of one layer, or
// a dropout mask drawn differently, moves the loss by > 1e-2 within a few steps).
// The loss must also fall (the net learns the batches), so a run where nothing trains
// (zero gradients on both devices) cannot pass.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "models/model.h"
#include "tests/cuda_skip.h"
#include "tests/testing.h"

using namespace ml;

TEST_CASE("cuda training: 20 SGD steps of vgg_small give the CPU's losses") {
  ML_REQUIRE_CUDA();
  constexpr int kSteps = 20;
  constexpr int64_t kBatch = 4, kSize = 28, kClasses = 10;
  models::ModelOptions o;
  o.seed = 31;
  o.in_channels = 1;
  o.image_size = kSize;
  o.num_classes = kClasses;
  models::Model net[2] = {models::make_model("vgg_small", o), models::make_model("vgg_small", o)};
  net[1].net->to(Device::CUDA);
  for (auto& m : net) m.net->train();
  optim::SGD opt_cpu(net[0].net->parameters(), 0.01f, 0.9f, 5e-4f);
  optim::SGD opt_gpu(net[1].net->parameters(), 0.01f, 0.9f, 5e-4f);
  optim::SGD* opt[2] = {&opt_cpu, &opt_gpu};

  // Four fixed batches, cycled: class c brightens row band c, so the net has something to learn.
  Generator data(32);
  std::vector<Tensor> xs, ys;
  for (int b = 0; b < 4; ++b) {
    std::vector<int32_t> labels(static_cast<size_t>(kBatch));
    std::vector<float> img = testing::rand({kBatch, 1, kSize, kSize}, data, 0.f, 0.5f).to_vector();
    for (int64_t n = 0; n < kBatch; ++n) {
      const int32_t c = static_cast<int32_t>(data.next_below(kClasses));
      labels[static_cast<size_t>(n)] = c;
      for (int64_t r = 2 * c + 2; r < 2 * c + 5; ++r)
        for (int64_t k = 0; k < kSize; ++k) img[static_cast<size_t>((n * kSize + r) * kSize + k)] += 1.f;
    }
    xs.push_back(Tensor::from_vector({kBatch, 1, kSize, kSize}, img));
    ys.push_back(Tensor::from_vector_i32({kBatch}, labels));
  }

  std::vector<double> loss[2];
  for (int step = 0; step < kSteps; ++step) {
    for (int d = 0; d < 2; ++d) {
      const Device dev = d ? Device::CUDA : Device::CPU;
      opt[d]->zero_grad();
      const Tensor l = cross_entropy((*net[d].net)(xs[step % 4].to(dev)), ys[step % 4].to(dev));
      l.backward();
      opt[d]->step();
      loss[d].push_back(l.to(Device::CPU).item());
    }
    const double cpu = loss[0].back(), gpu = loss[1].back();
    INFO("step ", step, ": cpu loss ", cpu, ", cuda loss ", gpu);
    CHECK(std::isfinite(gpu));
    CHECK(std::fabs(gpu - cpu) <= 2e-4 * std::max(1.0, std::fabs(cpu)));
  }
  // Learnt: the last cycle of four batches has a lower mean loss than the first.
  const double first = (loss[0][0] + loss[0][1] + loss[0][2] + loss[0][3]) / 4;
  const double last = (loss[0][kSteps - 1] + loss[0][kSteps - 2] + loss[0][kSteps - 3] + loss[0][kSteps - 4]) / 4;
  INFO("mean loss of the first four steps ", first, ", of the last four ", last);
  CHECK(last < 0.8 * first);
  MESSAGE("vgg_small, 20 steps: cpu loss ", loss[0].front(), " -> ", loss[0].back(), ", cuda ", loss[1].front(),
          " -> ", loss[1].back());
}
