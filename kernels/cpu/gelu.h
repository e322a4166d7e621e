// kernels/cpu/gelu.h — the exact GELU's value on the CPU, x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)),
// shared by the pointwise kernel (kernels/cpu/elementwise.cpp) and the linear layer's fused GELU
// epilogue (kernels/cpu/gemm.cpp), so that the two give the same bits.
#pragma once

namespace ml::kernels {

// erf(z) as the odd rational z P(z^2) / Q(z^2) on [-4, 4] (beyond, erf is +-1 to float precision):
// the approximation Eigen's and XLA's vectorised erf use, evaluated here in double. std::erf is a
// scalar call the compiler cannot vectorise (GELU's 116 M calls per ViT-B/16 forward at batch 16
// were a scalar loop); these are multiply-adds, a division and a clamp, which vectorise. In
// double its error is below 1e-7 absolute (the float evaluation of the same rational reached
// 4.5e-7 near |z| = 4, beyond what tests/test_transformer_ops.cpp allows GELU).
inline double erf_rational(double z) {
  const double x = z < -4.0 ? -4.0 : (z > 4.0 ? 4.0 : z);
  const double x2 = x * x;
  double p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
  p = x2 * p + -2.10102402082508e-06;
  p = x2 * p + -5.69250639462346e-05;
  p = x2 * p + -7.34990630326855e-04;
  p = x2 * p + -2.95459980854025e-03;
  p = x2 * p + -1.60960333262415e-02;
  double q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04;
  q = x2 * q + -1.68282697438203e-03;
  q = x2 * q + -7.37332916720468e-03;
  q = x2 * q + -1.42647390514189e-02;
  return x * p / q;
}

// GELU(x), evaluated in double (see erf_rational).
inline float gelu_value(float x) {
  const double xd = x;
  return static_cast<float>(0.5 * xd * (1.0 + erf_rational(xd * 0.70710678118654752)));
}

}  // namespace ml::kernels
