// engine/device.h — memory and streams per device. The CPU side is 64-byte aligned
// malloc; the CUDA side (engine/cuda/, built with MIRRORLAB_CUDA) is a caching allocator
// and one stream per device. "No device" (no GPU, or a driver too old for the runtime)
// is an answer, never an error: cuda_available() is then false.
#pragma once
#include <cstddef>
#include <cstdint>
#include "kernels/common.h"

namespace ml {

// True when this build has the CUDA backend and a usable GPU is present.
bool cuda_available();
// One line saying why CUDA is not available ("built without CUDA", "no CUDA device: ...").
const char* cuda_unavailable_reason();

void* device_alloc(size_t bytes, Device d);
void device_free(void* p, size_t bytes, Device d);
// Copies between any two devices; synchronous with respect to the host.
void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
// The stream kernels on this device run on (null for the CPU).
Stream device_stream(Device d);
// Waits for all work queued on the device.
void device_synchronize(Device d);

#if MIRRORLAB_CUDA
// Implemented in engine/cuda/ (the CUDA build only).
namespace cuda {
bool available(const char** reason);
void* alloc(size_t bytes);
void free(void* p, size_t bytes);
void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes);
Stream stream();
void synchronize();
}  // namespace cuda
#endif

}  // namespace ml
