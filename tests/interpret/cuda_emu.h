// tests/interpret/cuda_emu.h — the device side of the interpret mode: what a .cu file of
// kernels/cuda/ needs from CUDA C++ (threadIdx/blockIdx/blockDim/gridDim, __global__,
// __device__, static shared memory, __syncthreads, __syncthreads_or, __shfl_xor_sync, __ldg,
// __umulhi, __fmaf_rn, vector types, the launch), as plain host C++. The .cu files are compiled
// by g++ with -x c++ against it (tests/interpret/CMakeLists.txt); the shim <cuda_runtime.h> in
// tests/interpret/include/ includes this header, so the kernel sources are the ones nvcc builds.
//
// Execution model (tests/interpret/emu.cc). A launch runs synchronously, at the launch, one
// block at a time. Every CUDA thread of the block is a ucontext fiber with a small stack; the
// fibers run round-robin, each until it reaches a barrier, a shuffle or its end. Then:
//   - a shuffle completes when every lane its mask names has reached the same shuffle (same
//     source line, same mask); a lane of the mask that has exited, waits at a barrier or does
//     not exist is an error ("shuffle with missing lanes");
//   - a barrier completes when every thread of the block waits at the same __syncthreads (or
//     __syncthreads_or) call; threads at different barriers, or a thread that exited while
//     others wait, are an error ("barrier divergence").
// Errors, and launch configurations over the device limits (1024 threads per block, grid
// dimensions, 48 KiB of shared memory per block), throw std::runtime_error naming the kernel,
// the launch's file:line, the block and the threads.
//
// ML_INTERP_REVERSE=1 runs the blocks of a grid, and the threads of a block between two
// barriers, in reverse order. A kernel whose result depends on the order (a read of shared or
// global memory another thread writes without a barrier in between) then gives a different
// answer: cheap race detection. Shared memory (ML_SHARED) is filled with 0xFF bytes (NaN) at
// the start of every block, so a read of shared memory no thread of the block wrote shows.
//
// What this cannot see (kernels/cuda/README.md lists the device checks that remain): the
// memory model (a missing __threadfence, a race between blocks that run one at a time here,
// warp-synchronous code that relies on lockstep without a shuffle or barrier), the device's
// math library (expf etc. come from glibc: ulp-level differences from the GPU are invisible),
// and anything about speed.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- vector types and built-in variables' types ----------------------------------------------

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

// ---- qualifiers ----------------------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
// GCC's attribute, not alignas: it may stand after `static` (ML_SHARED below).
#define __align__(n) __attribute__((aligned(n)))
// Declarations written with a bare __shared__ still compile (one static per kernel, blocks run
// one at a time); ML_SHARED below also counts and poisons them.
#define __shared__ static

namespace mlemu {

// ---- the running thread ------------------------------------------------------------------------

struct ThreadIds {
  uint3 tid;
};
extern ThreadIds* g_cur;  // the CUDA thread now running (a fiber); null outside a kernel
extern uint3 g_block_idx;
extern dim3 g_block_dim, g_grid_dim;

// Each fiber calls these; they suspend it until the block (barrier) or the warp (shuffle)
// is complete. `site` identifies the call for the divergence checks.
void barrier(const std::source_location& site);
int barrier_or(int pred, const std::source_location& site);
void shuffle(unsigned mask, int lane_mask, int width, void* value, size_t bytes, const std::source_location& site);
// First reach per block: counts the bytes against the 48 KiB limit and fills them with 0xFF.
void shared_region(void* p, size_t bytes, const char* name);

// ---- launches -------------------------------------------------------------------------------------

using Body = void (*)(void*);
// Checks the configuration against the device limits, then runs every block; throws
// std::runtime_error naming `kernel`, file and line on any error.
void run_kernel(const char* kernel, const char* file, int line, dim3 grid, dim3 block, size_t dynamic_smem,
                Body body, void* ctx);

// The kernel is called through a generic lambda, so its template arguments are deduced from
// the launch's arguments as nvcc deduces them at a <<<...>>> call. The arguments are decayed
// copies made once at the launch; every thread then receives its own copy of each (parameters
// are by value).
template <class Call>
struct Launch {
  Call call;
  const char* name;
  const char* file;
  int line;
  dim3 grid, block;
  size_t smem;

  template <class... A>
  void operator()(A&&... a) const {
    struct Ctx {
      Call call;
      std::tuple<std::decay_t<A>...> args;
    } ctx{call, std::tuple<std::decay_t<A>...>(std::forward<A>(a)...)};
    run_kernel(name, file, line, grid, block, smem,
               [](void* c) {
                 auto* x = static_cast<Ctx*>(c);
                 std::apply(x->call, x->args);
               },
               &ctx);
  }
};

template <class Call>
Launch<Call> launch(Call call, const char* name, const char* file, int line, dim3 grid, dim3 block, size_t smem,
                    const void* /*stream: work is done when the launch returns*/) {
  return Launch<Call>{call, name, file, line, grid, block, smem};
}

}  // namespace mlemu

#define threadIdx (::mlemu::g_cur->tid)
#define blockIdx (::mlemu::g_block_idx)
#define blockDim (::mlemu::g_block_dim)
#define gridDim (::mlemu::g_grid_dim)
constexpr int warpSize = 32;

// ML_LAUNCH(grid, block, shared bytes, stream, kernel)(args...): the launch every kernel file
// writes; kernels/cuda/common.cuh defines it as kernel<<<grid, block, shared, stream>>> for nvcc.
#define ML_LAUNCH(grid, block, smem, stream, ...)                                                    \
  ::mlemu::launch([](auto... ml_args_) { __VA_ARGS__(ml_args_...); }, #__VA_ARGS__, __FILE__, __LINE__, (grid), \
                  (block), (smem), (stream))

// ML_SHARED(type, name, dims): a static __shared__ array; here a static that is counted
// against the block's shared-memory limit and poisoned at the start of every block.
#define ML_SHARED(type, name, ...)  \
  static type name __VA_ARGS__;     \
  ::mlemu::shared_region(&(name), sizeof(name), #name)

// ---- intrinsics ------------------------------------------------------------------------------------

inline void __syncthreads(const std::source_location site = std::source_location::current()) {
  ::mlemu::barrier(site);
}
inline int __syncthreads_or(int pred, const std::source_location site = std::source_location::current()) {
  return ::mlemu::barrier_or(pred, site);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                         const std::source_location site = std::source_location::current()) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16, "__shfl_xor_sync: value type");
  ::mlemu::shuffle(mask, lane_mask, width, &var, sizeof(T), site);
  return var;
}
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
// CUDA declares the classification functions in the global namespace.
using std::isfinite;
using std::isinf;
using std::isnan;

// CUDA's device min/max overloads (math_functions.h), same-type ones: the kernels call them
// unqualified with matching argument types.
#define ML_EMU_MINMAX(T)                        \
  inline T min(T a, T b) { return b < a ? b : a; } \
  inline T max(T a, T b) { return a < b ? b : a; }
ML_EMU_MINMAX(int)
ML_EMU_MINMAX(unsigned)
ML_EMU_MINMAX(long)
ML_EMU_MINMAX(unsigned long)
ML_EMU_MINMAX(long long)
ML_EMU_MINMAX(unsigned long long)
#undef ML_EMU_MINMAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  std::memcpy(&v, &f, sizeof v);
  return v;
}
