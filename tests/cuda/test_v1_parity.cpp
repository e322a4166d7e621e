// tests/cuda/test_v1_parity.cpp — the V1 model of Ecker et al. 2019 (models/v1_model.h) runs on
// CUDA and gives the CPU's numbers: the rotation-equivariant core (weights assembled from the
// Hermite coefficients by matmul, reshape, narrow and cat each forward, then conv2d), batch norm in
// training mode, softplus, the factorised readout, the Poisson loss and the three regularisers;
// their gradients with respect to every parameter; and a few Adam steps. The same for the CNN
// control. Study code has no kernels of its own (issue 21: "where the engine's CUDA path exists it
// must also run there"), so this checks that every op it is made of has its CUDA path and that the
// autograd plumbing between them works on the device.
//
// Small so that it runs in the interpret mode in seconds: the ci preset's core (K 9 then 3, 4
// features x 8 rotations), 12 x 12 images, batch 4, 10 neurons.
//
// Tolerances. Rates and loss: |cuda - cpu| <= 1e-4 relative (forward rounding only, ~1e-7 per op
// over some twenty ops whose sums run in other orders: the conv parity tests bound a conv output at
// ~1e-6 relative; the factor left covers cuBLAS's order in the readout GEMM and CUDA's expf /
// log1pf against kernels/cpu/fast_math.h, both within a few ulps). Gradients: per parameter tensor,
// |g_cuda - g_cpu| / |g_cpu| <= 1e-4 (2-norms; the backward sums of a conv weight gradient run over
// 4 x 144 positions in another order, ~1e-6 relative). A loss or gradient that is wrong on one
// device (a missing term, a transposed mask, a rotation in the other sense) is off by O(1).
// Measured in the interpret mode: see the MESSAGE at the end of each case.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "models/v1_model.h"
#include "tests/cuda_skip.h"
#include "tests/testing.h"

using namespace ml;

namespace {

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

models::V1Model make(const std::string& kind, int64_t H, int64_t N) {
  models::V1ModelOptions o;
  o.core.kind = kind;
  o.core.kernels = {9, 3};
  o.core.features = kind == "equivariant" ? std::vector<int64_t>{4, 4} : std::vector<int64_t>{32, 32};
  o.core.rotations = 8;
  o.height = o.width = H;
  o.neurons = N;
  o.smooth = 0.01f, o.sparse = 0.01f, o.readout = 0.015f;
  Generator gen(5);
  return models::V1Model(o, std::vector<float>(static_cast<size_t>(N), 0.7f), gen);
}

void check_v1_on_cuda(const std::string& kind) {
  constexpr int64_t B = 4, H = 12, N = 10;
  constexpr int kSteps = 3;
  models::V1Model model[2] = {make(kind, H, N), make(kind, H, N)};
  model[1].to(Device::CUDA);
  for (auto& m : model) m.train();
  optim::Adam opt_cpu(model[0].parameters(), 0.005f), opt_gpu(model[1].parameters(), 0.005f);
  optim::Adam* opt[2] = {&opt_cpu, &opt_gpu};

  Generator data(17);
  double worst_rate = 0, worst_loss = 0, worst_grad = 0;
  for (int step = 0; step < kSteps; ++step) {
    const Tensor x = testing::rand({B, 1, H, H}, data, -1.f, 1.f);
    std::vector<float> counts(static_cast<size_t>(B * N));
    for (auto& c : counts) c = static_cast<float>(data.next_below(4));  // spike counts 0..3
    const Tensor y = Tensor::from_vector({B, N}, counts);
    model[1].load_state_dict(model[0].state_dict());  // the CPU's weights and BN statistics
    std::vector<float> rate[2], total[2];
    std::vector<std::vector<float>> grad[2];
    for (int d = 0; d < 2; ++d) {
      const Device dev = d ? Device::CUDA : Device::CPU;
      opt[d]->zero_grad();
      const Tensor r = model[d](x.to(dev));
      const Tensor loss = add(models::v1_poisson_loss(r, y.to(dev)), model[d].regularizer());
      loss.backward();
      rate[d] = r.to(Device::CPU).to_vector();
      total[d] = loss.to(Device::CPU).to_vector();
      for (const auto& [name, p] : model[d].named_parameters()) grad[d].push_back(p.grad().to(Device::CPU).to_vector());
      opt[d]->step();
    }
    INFO(kind, " step ", step, ": cpu loss ", total[0][0], ", cuda loss ", total[1][0]);
    const double dr = rel_l2(rate[1], rate[0]);
    const double dl = std::fabs(total[1][0] - total[0][0]) / std::max(1.0, std::fabs(static_cast<double>(total[0][0])));
    CHECK(std::isfinite(total[1][0]));
    CHECK(dr <= 1e-4);
    CHECK(dl <= 1e-4);
    worst_rate = std::max(worst_rate, dr), worst_loss = std::max(worst_loss, dl);
    const auto names = model[0].named_parameters();
    REQUIRE(grad[0].size() == names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      const double g = rel_l2(grad[1][i], grad[0][i]);
      double norm = 0;
      for (float v : grad[0][i]) norm += static_cast<double>(v) * v;
      CHECK_MESSAGE(norm > 0, names[i].first, ": zero gradient on the CPU (the check would be empty)");
      CHECK_MESSAGE(g <= 1e-4, kind, " step ", step, " ", names[i].first, ": gradient |cuda - cpu| / |cpu| = ", g);
      worst_grad = std::max(worst_grad, g);
    }
  }
  // Adam steps on both devices from the same state (the CPU's weights loaded before each step, each
  // device's own moments): after the last step the weights still agree.
  const auto p0 = model[0].named_parameters(), p1 = model[1].named_parameters();
  double worst_weight = 0;
  for (size_t i = 0; i < p0.size(); ++i)
    worst_weight = std::max(worst_weight, rel_l2(p1[i].second.to(Device::CPU).to_vector(), p0[i].second.to_vector()));
  CHECK(worst_weight <= 1e-4);
  MESSAGE("v1 ", kind, ", ", kSteps, " steps: largest relative differences cuda vs cpu: rates ", worst_rate, ", loss ",
          worst_loss, ", gradients ", worst_grad, ", weights after Adam ", worst_weight, " (bounds 1e-4)");
}

}  // namespace

TEST_CASE("cuda v1: the rotation-equivariant model's rates, loss, gradients and Adam steps match the CPU") {
  ML_REQUIRE_CUDA();
  check_v1_on_cuda("equivariant");
}

TEST_CASE("cuda v1: the CNN control's rates, loss, gradients and Adam steps match the CPU") {
  ML_REQUIRE_CUDA();
  check_v1_on_cuda("cnn");
}
