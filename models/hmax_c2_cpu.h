// models/hmax_c2_cpu.h — HMAX's C2 straight from the C1 bands on the host, the S2 maps never
// stored. A profile of 16 demo images to C2 with 1,000 prototypes (one thread, perf) put the S2
// GEMM at 19% of the time but the elementwise passes over the S2 maps around it (the ||x||^2
// box sums, the bias add, relu, exp, the max-pool over positions, their allocations and page
// faults) at about 25%: the S2 maps of one 227-px image are 2.4 M floats x 1,000 prototypes'
// worth of passes. Here each (image, band, prototype size) is one GEMM of its im2col rows
// (positions, 4 n^2) against the prototypes (4 n^2, K) in row chunks that stay in cache, and the
// min of d^2 = ||x||^2 - 2 x.p + ||p||^2 over the chunk's positions is taken as the chunk is
// produced. exp is monotone, so max over positions of exp(-d^2 / 2 sigma^2) is exp of the min.
// Used when only c2 is asked for (models/hmax.cpp); the s2 layer keeps the engine-op form.
#pragma once
#include <cstdint>
#include <vector>

namespace ml::models {

struct HmaxC2Band {
  const float* c1 = nullptr;  // image i's (4, L, L) C1 maps of one band at c1 + i * image_stride
  int64_t L = 0, image_stride = 0;
};

struct HmaxC2Size {
  const float* w = nullptr;   // (K, 4 n n) prototypes, -2 p (the GEMM's right-hand side)
  const float* pp = nullptr;  // (K) ||p||^2
  int64_t n = 0, K = 0;
};

// out (B, sum_i K_i): per image and prototype, max over bands (where the prototype fits,
// L >= n) and positions of exp(-relu(d^2) / (2 sigma^2)), or -min relu(d^2) for sigma 0.
// Threads (OpenMP) over images x bands x sizes, largest tasks first.
void hmax_c2_cpu(const std::vector<HmaxC2Band>& bands, const std::vector<HmaxC2Size>& sizes, int64_t B, float sigma,
                 float* out);

}  // namespace ml::models
