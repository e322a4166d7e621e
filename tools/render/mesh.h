// tools/render/mesh.h — triangle meshes for the stimulus renderer: primitives, affine
// placement, mirroring, merging and normalisation.
//
// Object coordinates: y is up (the yaw axis), +z is the object's front (it faces the camera
// at yaw 0), x is left-right. A mirror-symmetric object is symmetric about its x = 0 plane.
//
// Exact mirror symmetry. The renderer promises that a mesh symmetric about x = 0 gives, at
// yaw -theta, the exact mirror image of its rendering at +theta. That needs the mesh to be
// symmetric *as a set of triangles with bit-identical coordinates*, not just approximately,
// so the primitives here are built to be exactly symmetric under every mirror of their own
// parameterisation:
//   - rings of points come from one cos/sin table filled by reflection (ring_table), so the
//     point at angle pi - phi has exactly the negated cosine;
//   - a quad straddling a mirror plane is either split into four triangles about its centre
//     (boxes, frustum sides; the centre is summed along diagonals, which every symmetry of
//     a quad maps to diagonals) or, on ellipsoids, split along the diagonal that the mirror
//     of the other half uses (uv_surface in mesh.cpp);
//   - a part off the plane is built on one side and copied with mirrored_x, which negates x
//     exactly.
// A primitive centred on x = 0 is symmetric when its placement commutes with the x-mirror
// (no rotation, or a rotation about the x axis, or any matrix whose x row and column are
// (s, 0, 0)). is_mirror_symmetric checks the result exactly.
#pragma once
#include <Eigen/Core>
#include <Eigen/Geometry>  // cross products

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ml::render {

using Vec3 = Eigen::Vector3d;
using Mat3 = Eigen::Matrix3d;

struct Mesh {
  std::vector<Vec3> positions;
  std::vector<Vec3> normals;                     // one unit normal per position (smooth shading)
  std::vector<std::array<int32_t, 3>> triangles; // counter-clockwise seen from outside
  std::vector<float> albedo;                     // one reflectance per triangle, in (0, 1]

  size_t num_triangles() const { return triangles.size(); }
  bool empty() const { return triangles.empty(); }
};

// An affine map p -> linear * p + offset.
struct Placement {
  Mat3 linear = Mat3::Identity();
  Vec3 offset = Vec3::Zero();
};
Placement at(const Vec3& offset, const Mat3& linear = Mat3::Identity());

// Right-handed rotations by `deg` degrees about the x, y and z axes.
Mat3 rotation_x(double deg);
Mat3 rotation_y(double deg);
Mat3 rotation_z(double deg);

// ---- primitives (albedo: the surface's reflectance, the same for all its triangles) ----

// Ellipsoid with semi-axes `radii` (local x, y, z), placed by `where`. Latitude theta runs
// from the local +y pole (0) to the -y pole (pi); [theta0, theta1] keeps a band of it and
// closes an open end with a flat cap (theta0 = pi/2, theta1 = pi gives a lower half, e.g. a
// hull). `segments` (a multiple of 4, >= 8) points per ring, segments/2 latitude steps.
Mesh ellipsoid(const Vec3& radii, const Placement& where, double albedo, int segments = 32,
               double theta0 = 0.0, double theta1 = 3.141592653589793);

// Box with half-sizes `half` (local x, y, z), placed by `where`. Each face is four
// triangles about its centre.
Mesh box(const Vec3& half, const Placement& where, double albedo);

// Capped frustum from point a (radius ra) to point b (radius rb); rb = 0 gives a cone,
// ra = rb a cylinder. An axis perpendicular to x keeps the ring symmetric about x = 0.
Mesh frustum(const Vec3& a, const Vec3& b, double ra, double rb, double albedo, int segments = 16);

// A closed star-shaped surface: each point of a UV sphere's unit direction d is moved to
// surface(d); normals are recomputed from the faces (area-weighted). For irregular shapes
// (fruit).
Mesh deformed_sphere(const std::function<Vec3(const Vec3&)>& surface, double albedo, int segments = 48);

// ---- operations ----

Mesh transformed(const Mesh& m, const Placement& where);  // normals by the inverse transpose
Mesh mirrored_x(const Mesh& m);                           // x -> -x, winding kept outward
void append(Mesh& dst, const Mesh& src);
// A part built on one side of x = 0 together with its mirror image.
Mesh with_mirror(const Mesh& one_side);

// Centred on its bounding box's centre and scaled so that every vertex lies within the unit
// sphere about the origin, with one vertex on it. The renderer frames that sphere, so an
// object keeps one size at every yaw. Errors (empty mesh, all points equal) name `what`.
Mesh normalized(const Mesh& m, const std::string& what);

// Exact check: the multiset of triangles (positions, normals and albedo of their corners)
// equals that of the x-mirrored mesh, bit for bit.
bool is_mirror_symmetric(const Mesh& m);

// Throws ml::Error naming `what` for an empty mesh, indices out of range, non-finite values,
// albedo outside (0, 1] or a zero normal.
void validate(const Mesh& m, const std::string& what);

}  // namespace ml::render
