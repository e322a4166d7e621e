// tests/cuda/test_rise_parity.cpp — RISE's masks and weighted mask sum (engine/ops.h,
// rise_mask_batch and rise_accumulate; kernels/rise_masks.h) on CUDA against the CPU
// reference. Both devices run the same per-element functions (kernels/rise_masks_impl.h):
// integer Philox arithmetic, an exact double comparison, explicit fused multiply-adds and IEEE
// + and −, so masks and sums must agree bit for bit (kExact in test_parity.cpp's terms), and
// the masks drawn on the GPU are the CPU's whatever the batch they are drawn in.
#include <doctest/doctest.h>

#include <vector>

#include "engine/ops.h"
#include "engine/ops/rise_masks.h"
#include "tests/cuda_skip.h"

#if MIRRORLAB_CUDA

using namespace ml;

TEST_CASE("cuda parity: RISE masks and the weighted mask sum are bit-exact") {
  ML_REQUIRE_CUDA();
  struct Case {
    int64_t grid, h, w;
    double keep;
    bool nearest;
  };
  for (const Case& c : {Case{7, 29, 23, 0.3, false}, Case{8, 28, 28, 0.5, false}, Case{1, 5, 9, 0.5, false},
                        Case{5, 32, 17, 0.7, true}}) {
    RiseMaskSpec spec;
    spec.grid = c.grid;
    spec.h = c.h;
    spec.w = c.w;
    spec.keep = c.keep;
    spec.nearest = c.nearest;
    spec.seed = 31;
    INFO("grid ", c.grid, " image ", c.h, " x ", c.w, " nearest ", c.nearest);
    const Tensor cpu = rise_mask_batch(spec, 5, 37, Device::CPU);
    const Tensor gpu = rise_mask_batch(spec, 5, 37, Device::CUDA);
    CHECK(gpu.to(Device::CPU).to_vector() == cpu.to_vector());
    // Masks 20..41 drawn on their own are the same masks.
    const Tensor tail = rise_mask_batch(spec, 20, 22, Device::CUDA).to(Device::CPU);
    const auto all = cpu.to_vector(), part = tail.to_vector();
    CHECK(std::vector<float>(all.begin() + 15 * c.h * c.w, all.end()) == part);

    // The weighted sum of these masks, in two calls on the GPU and one on the CPU.
    Generator gen(8);
    const int64_t U = 3, n = c.h * c.w;
    const Tensor weights = Tensor::uniform({37, U}, -2.f, 3.f, gen);
    Tensor sc = Tensor::zeros({U, n}), cc = Tensor::zeros({U, n});
    rise_accumulate(sc, cc, cpu, weights);
    Tensor sg = Tensor::zeros({U, n}, DType::F32, Device::CUDA), cg = Tensor::zeros({U, n}, DType::F32, Device::CUDA);
    const Tensor wg = weights.to(Device::CUDA);
    rise_accumulate(sg, cg, narrow(gpu, 0, 0, 11), narrow(wg, 0, 0, 11));
    rise_accumulate(sg, cg, narrow(gpu, 0, 11, 26), narrow(wg, 0, 11, 26));
    CHECK(sg.to(Device::CPU).to_vector() == sc.to_vector());
    CHECK(cg.to(Device::CPU).to_vector() == cc.to_vector());
  }
}

#endif  // MIRRORLAB_CUDA
