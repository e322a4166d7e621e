// tools/render/asymmetry.h — controlled symmetry breaking (beyond the paper): a continuous
// deformation of the object's +x side, so that A = 0 leaves a symmetric object exactly
// symmetric and the asymmetry grows smoothly with A.
//
// For a vertex with x > 0 (object coordinates; the +x side is the image's right at yaw 0):
//   x' = (1 + A) x          (the +x half is stretched sideways)
//   y' = y + kAsymmetryShear * A * x   (and sheared upwards with distance from the plane)
// Vertices with x <= 0 stay. The map is continuous at x = 0 (both pieces are the identity
// there), so the surface does not tear; normals move by the inverse transpose of the
// piece's Jacobian. Applied to the normalised mesh, after which the mesh is normalised again
// (mesh_set.cpp), so the deformed object still fits the frame.
#pragma once
#include "tools/render/mesh.h"

namespace ml::render {

constexpr double kAsymmetryShear = 0.5;

// A >= 0 (the error names the value); A = 0 returns the mesh unchanged, bit for bit.
Mesh with_asymmetry(const Mesh& m, double A);

}  // namespace ml::render
