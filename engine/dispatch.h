// engine/dispatch.h — picks a kernel's device from its tensors'. Ops call
//   dispatch(x.device(), [&](auto D) { kernels::relu_forward<D>(...); });
// D is std::integral_constant<Device, ...>, so the kernel is chosen at compile time; a build
// without CUDA never instantiates the CUDA branch and says so if asked for it.
#pragma once
#include <type_traits>

#include "engine/device.h"
#include "engine/tensor.h"

namespace ml {

using CpuTag = std::integral_constant<Device, Device::CPU>;
using CudaTag = std::integral_constant<Device, Device::CUDA>;

template <class F>
void dispatch(Device d, F&& f) {
  if (d == Device::CPU) {
    f(CpuTag{});
    return;
  }
#if MIRRORLAB_CUDA
  f(CudaTag{});
#else
  throw Error(cuda_unavailable_reason());
#endif
}

// All tensors on one device; returns it. `op` names the op in the error.
Device common_device(const char* op, std::initializer_list<const Tensor*> ts);

}  // namespace ml
