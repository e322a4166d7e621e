// tests/layer_norm_reference.h — layer norm in double, the reference the fused CPU kernels are
// checked against (tests/test_linear_fused.cpp, tests/test_attention_fused.cpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace ml::testing {

// Normalises each row of x (rows, cols) to zero mean and unit variance (biased, as the op),
// then applies the affine (w, b) per column. Two passes (the mean, then the centred variance)
// so that a row offset large against its spread does not cancel the variance.
inline std::vector<double> layer_norm_reference(std::vector<double> x, int64_t rows, int64_t cols,
                                                const std::vector<float>& w, const std::vector<float>& b, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    double* row = x.data() + r * cols;
    double mean = 0.0, var = 0.0;
    for (int64_t c = 0; c < cols; ++c) mean += row[c];
    mean /= static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) var += (row[c] - mean) * (row[c] - mean);
    var /= static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c)
      row[c] = (row[c] - mean) / std::sqrt(var + eps) * w[static_cast<size_t>(c)] + b[static_cast<size_t>(c)];
  }
  return x;
}

}  // namespace ml::testing
