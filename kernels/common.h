// kernels/common.h — what every kernel family shares: the device tag, the stream,
// and the small index types. Kernels are pure compute on raw pointers: no tensors,
// no autograd, no allocation policy (DESIGN.md, "Layers and folders").
//
// Each family header (conv2d.h, pool.h, ...) declares its kernels ONCE, as function
// templates on Device:
//     template <Device D> void relu_forward(float* y, const float* x, int64_t n, Stream s);
// kernels/cpu/<family>.cpp defines the Device::CPU specialisation (the reference),
// kernels/cuda/<family>.cu the Device::CUDA one. Same signature on both devices, so a
// parity test is a loop over families and the engine's dispatch is one line.
#pragma once
#include <cstdint>

namespace ml {

enum class Device : int { CPU = 0, CUDA = 1 };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// A CUDA stream handle (cudaStream_t) carried as an opaque pointer so that headers
// stay free of CUDA includes; CPU kernels ignore it.
struct Stream {
  void* handle = nullptr;
};

}  // namespace ml
