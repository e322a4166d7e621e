// engine/ops/dropout.cpp — inverted dropout (Srivastava et al. 2014, scaled at training time
// as PyTorch does): y = x * mask, mask[i] = 1/(1-p) with probability 1-p, else 0. The mask
// is a Philox draw (kernels/random.h) at the generator's current offset, so a run is
// reproducible from its seed, on the CPU and the GPU alike.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"
#include "kernels/random.h"

namespace ml {

namespace {

// y = a * b elementwise over n contiguous floats (no broadcasting).
void multiply(Tensor& y, const Tensor& a, const Tensor& b) {
  kernels::BroadcastParams bp{};
  for (int d = 0; d < kernels::kMaxDims; ++d) {
    bp.out_shape[d] = 1;
    bp.a_stride[d] = bp.b_stride[d] = 0;
  }
  bp.out_shape[kernels::kMaxDims - 1] = a.numel();
  bp.a_stride[kernels::kMaxDims - 1] = bp.b_stride[kernels::kMaxDims - 1] = 1;
  bp.numel = a.numel();
  bp.same_shape = true;
  dispatch(y.device(), [&](auto D) {
    kernels::binary_forward<D>(y.data(), a.data(), b.data(), bp, kernels::BinaryOp::Mul, device_stream(D));
  });
}

}  // namespace

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
  ML_CHECK(x.defined(), "dropout: the input is undefined");
  ML_CHECK(p >= 0.f && p < 1.f, "dropout: probability p must be in [0, 1), got ", p, " (input ", x.str(), ")");
  if (!training || p == 0.f) return x;
  ML_CHECK(x.dtype() == DType::F32, "dropout: input ", x.str(), " must be float32");
  const Device dev = x.device();
  const int64_t n = x.numel();
  Tensor mask = Tensor::empty(x.shape(), DType::F32, dev);
  // Reserve n counters: the next draw from `gen` starts after this mask.
  const uint64_t offset = gen.advance(n);
  dispatch(dev, [&](auto D) { kernels::dropout_mask<D>(mask.data(), n, p, gen.seed(), offset, device_stream(D)); });
  Tensor y = Tensor::empty(x.shape(), DType::F32, dev);
  multiply(y, x, mask);
  return record(y, "dropout", {x}, [mask](const Tensor& gy) {
    Tensor gx = Tensor::empty(gy.shape(), DType::F32, gy.device());
    multiply(gx, gy, mask);  // dy/dx = mask: the same elements are dropped and scaled
    return std::vector<Tensor>{gx};
  });
}

}  // namespace ml
