#include "tools/render/asymmetry.h"

#include <Eigen/LU>

#include <cmath>

#include "engine/error.h"

namespace ml::render {

Mesh with_asymmetry(const Mesh& m, double A) {
  ML_CHECK(std::isfinite(A) && A >= 0.0, "asymmetry: A must be a finite number >= 0, got ", A);
  if (A == 0.0) return m;
  Mat3 J = Mat3::Identity();  // the Jacobian of the x > 0 piece
  J(0, 0) = 1.0 + A;
  J(1, 0) = kAsymmetryShear * A;
  const Mat3 normal_map = J.inverse().transpose();
  Mesh out = m;
  for (size_t i = 0; i < out.positions.size(); ++i) {
    if (m.positions[i].x() <= 0.0) continue;
    out.positions[i] = J * m.positions[i];
    out.normals[i] = (normal_map * m.normals[i]).normalized();
  }
  return out;
}

}  // namespace ml::render
