#include "tools/render/mesh.h"

#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace ml::render {

namespace {

constexpr double kPi = std::numbers::pi;

double negated(double v) { return v == 0.0 ? 0.0 : -v; }  // no -0.0 in the tables

// cos/sin of 2 pi k / n for k < n (n a multiple of 4). Only the first quadrant is computed;
// the rest is filled by reflection, so entry n/2 - k is exactly (-cos, sin) of entry k
// (mirror x -> -x) and entry n - k is exactly (cos, -sin) (mirror z -> -z).
std::vector<std::array<double, 2>> ring_table(int n) {
  std::vector<std::array<double, 2>> t(static_cast<size_t>(n));
  const int q = n / 4;
  for (int k = 0; k <= q; ++k) {
    double c = std::cos(2.0 * kPi * k / n), s = std::sin(2.0 * kPi * k / n);
    if (k == 0) c = 1.0, s = 0.0;
    if (k == q) c = 0.0, s = 1.0;
    t[static_cast<size_t>(k)] = {c, s};
    t[static_cast<size_t>(n / 2 - k)] = {negated(c), s};
    t[static_cast<size_t>((n / 2 + k) % n)] = {negated(c), negated(s)};
    t[static_cast<size_t>((n - k) % n)] = {c, negated(s)};
  }
  return t;
}

int32_t add_vertex(Mesh& m, const Vec3& p, const Vec3& n) {
  m.positions.push_back(p);
  m.normals.push_back(n);
  return static_cast<int32_t>(m.positions.size() - 1);
}

// Adds triangle (a, b, c), swapping b and c if its geometric normal points against its
// corners' normals, so that every triangle winds counter-clockwise seen from outside. The
// mirror image of a triangle gets the mirrored decision, so symmetry is kept.
void add_triangle(Mesh& m, int32_t a, int32_t b, int32_t c, double albedo) {
  const auto& P = m.positions;
  const auto& N = m.normals;
  const Vec3 g = (P[b] - P[a]).cross(P[c] - P[a]);
  if (g.dot(N[a] + N[b] + N[c]) < 0.0) std::swap(b, c);
  m.triangles.push_back({a, b, c});
  m.albedo.push_back(static_cast<float>(albedo));
}

// A planar quad (corners in cyclic order) as four triangles about its centre. The centre is
// summed along the diagonals, which every symmetry of the quad maps onto diagonals, so a
// quad that is its own mirror image gets its centre exactly on the mirror plane.
void add_quad(Mesh& m, const std::array<Vec3, 4>& p, const std::array<Vec3, 4>& n, double albedo) {
  const Vec3 pc = ((p[0] + p[2]) + (p[1] + p[3])) * 0.25;
  const Vec3 nc = ((n[0] + n[2]) + (n[1] + n[3])).normalized();
  std::array<int32_t, 4> id{};
  for (int i = 0; i < 4; ++i) id[i] = add_vertex(m, p[i], n[i]);
  const int32_t c = add_vertex(m, pc, nc);
  for (int i = 0; i < 4; ++i) add_triangle(m, id[i], id[(i + 1) % 4], c, albedo);
}

// A fan closing ring `ring` (points in order) about `centre`, all with the flat normal n.
void add_cap(Mesh& m, const std::vector<Vec3>& ring, const Vec3& centre, const Vec3& n, double albedo) {
  const int32_t c = add_vertex(m, centre, n);
  std::vector<int32_t> id;
  for (const Vec3& p : ring) id.push_back(add_vertex(m, p, n));
  for (size_t k = 0; k < id.size(); ++k) add_triangle(m, c, id[k], id[(k + 1) % id.size()], albedo);
}

// A UV-parameterised surface: latitudes theta_j (j = 0..steps) from theta0 to theta1, ring
// points k = 0..n-1 at azimuth phi_k measured from local +x towards +z. point(st, ct, c, s)
// gives the position and reference normal at sin/cos theta and cos/sin phi. A pole
// (theta 0 or pi) is one vertex. Returns the mesh and its first and last ring's indices.
//
// Quad q between azimuths q and q+1 is split along (j,q)-(j+1,q+1) when cos phi >= 0 on it
// (q < n/4 or q >= 3n/4) and along the other diagonal otherwise: the x-mirror maps quad q
// onto quad n/2-1-q and the first diagonal onto the second, so the triangulation of a
// surface symmetric about x = 0 is symmetric too.
struct UvGrid {
  std::vector<int32_t> first_ring, last_ring;
};
template <class PointFn>
UvGrid uv_surface(Mesh& m, int n, double theta0, double theta1, double albedo, PointFn point) {
  const auto table = ring_table(n);
  const int steps = n / 2;
  std::vector<std::vector<int32_t>> rings;
  for (int j = 0; j <= steps; ++j) {
    const double th = theta0 + (theta1 - theta0) * j / steps;
    const bool pole = (j == 0 && theta0 == 0.0) || (j == steps && theta1 == kPi);
    const double st = pole ? 0.0 : std::sin(th), ct = pole ? (j == 0 ? 1.0 : -1.0) : std::cos(th);
    std::vector<int32_t> ring;
    for (int k = 0; k < (pole ? 1 : n); ++k) {
      const auto [p, nrm] = point(st, ct, table[static_cast<size_t>(k)][0], table[static_cast<size_t>(k)][1]);
      ring.push_back(add_vertex(m, p, nrm));
    }
    rings.push_back(std::move(ring));
  }
  for (int j = 0; j < steps; ++j) {
    const auto& A = rings[static_cast<size_t>(j)];
    const auto& B = rings[static_cast<size_t>(j + 1)];
    for (int q = 0; q < n; ++q) {
      const int q1 = (q + 1) % n;
      if (A.size() == 1) {
        add_triangle(m, A[0], B[q], B[q1], albedo);
      } else if (B.size() == 1) {
        add_triangle(m, A[q], B[0], A[q1], albedo);
      } else if (q < n / 4 || q >= 3 * n / 4) {
        add_triangle(m, A[q], B[q], B[q1], albedo);
        add_triangle(m, A[q], B[q1], A[q1], albedo);
      } else {
        add_triangle(m, A[q], B[q], A[q1], albedo);
        add_triangle(m, A[q1], B[q], B[q1], albedo);
      }
    }
  }
  return {rings.front(), rings.back()};
}

void check_segments(int segments, const char* what) {
  ML_CHECK(segments >= 8 && segments % 4 == 0, what, ": segments must be a multiple of 4 and >= 8, got ", segments);
}

}  // namespace

Placement at(const Vec3& offset, const Mat3& linear) { return Placement{linear, offset}; }

Mat3 rotation_x(double deg) { return Eigen::AngleAxisd(deg * kPi / 180.0, Vec3::UnitX()).toRotationMatrix(); }
Mat3 rotation_y(double deg) { return Eigen::AngleAxisd(deg * kPi / 180.0, Vec3::UnitY()).toRotationMatrix(); }
Mat3 rotation_z(double deg) { return Eigen::AngleAxisd(deg * kPi / 180.0, Vec3::UnitZ()).toRotationMatrix(); }

Mesh ellipsoid(const Vec3& radii, const Placement& where, double albedo, int segments, double theta0,
               double theta1) {
  check_segments(segments, "ellipsoid");
  ML_CHECK(radii.minCoeff() > 0.0, "ellipsoid: radii must be positive, got (", radii.transpose(), ")");
  ML_CHECK(0.0 <= theta0 && theta0 < theta1 && theta1 <= kPi, "ellipsoid: need 0 <= theta0 < theta1 <= pi, got ",
           theta0, ", ", theta1);
  Mesh m;
  const auto point = [&](double st, double ct, double c, double s) {
    const Vec3 p(radii.x() * (st * c), radii.y() * ct, radii.z() * (st * s));
    const Vec3 n(st * c / radii.x(), ct / radii.y(), st * s / radii.z());  // gradient of the implicit form
    return std::pair<Vec3, Vec3>{p, n.normalized()};
  };
  const UvGrid g = uv_surface(m, segments, theta0, theta1, albedo, point);
  auto close = [&](const std::vector<int32_t>& ring, double theta, double side) {
    if (ring.size() == 1) return;  // a pole
    std::vector<Vec3> pts;
    for (int32_t i : ring) pts.push_back(m.positions[i]);
    add_cap(m, pts, Vec3(0.0, radii.y() * std::cos(theta), 0.0), Vec3(0.0, side, 0.0), albedo);
  };
  close(g.first_ring, theta0, 1.0);
  close(g.last_ring, theta1, -1.0);
  return transformed(m, where);
}

Mesh box(const Vec3& half, const Placement& where, double albedo) {
  ML_CHECK(half.minCoeff() > 0.0, "box: half-sizes must be positive, got (", half.transpose(), ")");
  Mesh m;
  // Each face: its axis a and sign; its corners run around it in the other two axes.
  for (int a = 0; a < 3; ++a) {
    for (double side : {-1.0, 1.0}) {
      const int u = (a + 1) % 3, v = (a + 2) % 3;
      std::array<Vec3, 4> p, n;
      const double su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
      for (int i = 0; i < 4; ++i) {
        p[i][a] = side * half[a];
        p[i][u] = su[i] * half[u];
        p[i][v] = sv[i] * half[v];
        n[i] = Vec3::Zero();
        n[i][a] = side;
      }
      add_quad(m, p, n, albedo);
    }
  }
  return transformed(m, where);
}

Mesh frustum(const Vec3& a, const Vec3& b, double ra, double rb, double albedo, int segments) {
  check_segments(segments, "frustum");
  const double len = (b - a).norm();
  ML_CHECK(len > 0.0, "frustum: the two end points coincide at (", a.transpose(), ")");
  ML_CHECK(ra >= 0.0 && rb >= 0.0 && ra + rb > 0.0, "frustum: radii must be >= 0 and not both 0, got ", ra, ", ",
           rb);
  const Vec3 w = (b - a) / len;
  // u is x itself whenever the axis is perpendicular to x (then v has no x component and
  // the rings are exactly symmetric about the plane through the axis).
  const Vec3 ref = std::fabs(w.x()) < 0.9 ? Vec3::UnitX() : Vec3::UnitY();
  const Vec3 u = (ref - ref.dot(w) * w).normalized();
  const Vec3 v = w.cross(u);
  const auto table = ring_table(segments);
  Mesh m;
  std::vector<Vec3> ring_a, ring_b, radial;
  for (const auto& [c, s] : table) {
    const Vec3 r = c * u + s * v;
    radial.push_back(r);
    ring_a.push_back(a + ra * r);
    ring_b.push_back(b + rb * r);
  }
  for (size_t k = 0; k < table.size(); ++k) {
    const size_t k1 = (k + 1) % table.size();
    // The side's outward normal leans along the axis by the radius change per length.
    auto side_normal = [&](size_t i) { return (len * radial[i] + (ra - rb) * w).normalized(); };
    add_quad(m, {ring_a[k], ring_a[k1], ring_b[k1], ring_b[k]},
             {side_normal(k), side_normal(k1), side_normal(k1), side_normal(k)}, albedo);
  }
  if (ra > 0.0) add_cap(m, ring_a, a, -w, albedo);
  if (rb > 0.0) add_cap(m, ring_b, b, w, albedo);
  return m;
}

Mesh deformed_sphere(const std::function<Vec3(const Vec3&)>& surface, double albedo, int segments) {
  check_segments(segments, "deformed_sphere");
  Mesh m;
  const auto point = [&](double st, double ct, double c, double s) {
    const Vec3 d(st * c, ct, st * s);
    return std::pair<Vec3, Vec3>{surface(d), d};  // d orients the triangles (star-shaped)
  };
  uv_surface(m, segments, 0.0, kPi, albedo, point);
  // Smooth normals: the area-weighted sum of the faces around each vertex.
  std::vector<Vec3> acc(m.positions.size(), Vec3::Zero());
  for (const auto& t : m.triangles) {
    const Vec3 g = (m.positions[t[1]] - m.positions[t[0]]).cross(m.positions[t[2]] - m.positions[t[0]]);
    for (int32_t i : t) acc[i] += g;
  }
  for (size_t i = 0; i < acc.size(); ++i) m.normals[i] = acc[i].norm() > 0.0 ? acc[i].normalized() : m.normals[i];
  return m;
}

Mesh transformed(const Mesh& m, const Placement& where) {
  const Mat3 normal_map = where.linear.inverse().transpose();
  Mesh out = m;
  for (auto& p : out.positions) p = where.linear * p + where.offset;
  for (auto& n : out.normals) n = (normal_map * n).normalized();
  if (where.linear.determinant() < 0.0)
    for (auto& t : out.triangles) std::swap(t[1], t[2]);
  return out;
}

Mesh mirrored_x(const Mesh& m) {
  Mesh out = m;
  for (auto& p : out.positions) p.x() = -p.x();
  for (auto& n : out.normals) n.x() = -n.x();
  for (auto& t : out.triangles) std::swap(t[1], t[2]);  // a reflection reverses the winding
  return out;
}

void append(Mesh& dst, const Mesh& src) {
  const auto base = static_cast<int32_t>(dst.positions.size());
  dst.positions.insert(dst.positions.end(), src.positions.begin(), src.positions.end());
  dst.normals.insert(dst.normals.end(), src.normals.begin(), src.normals.end());
  for (const auto& t : src.triangles) dst.triangles.push_back({t[0] + base, t[1] + base, t[2] + base});
  dst.albedo.insert(dst.albedo.end(), src.albedo.begin(), src.albedo.end());
}

Mesh with_mirror(const Mesh& one_side) {
  Mesh out = one_side;
  append(out, mirrored_x(one_side));
  return out;
}

Mesh normalized(const Mesh& m, const std::string& what) {
  validate(m, what);
  Vec3 lo = m.positions[0], hi = m.positions[0];
  for (const auto& p : m.positions) {
    lo = lo.cwiseMin(p);
    hi = hi.cwiseMax(p);
  }
  // For a mesh symmetric about x = 0, hi.x = -lo.x exactly, so the centre's x is exactly 0.
  const Vec3 centre = (lo + hi) * 0.5;
  double radius = 0.0;
  for (const auto& p : m.positions) radius = std::max(radius, (p - centre).norm());
  ML_CHECK(radius > 0.0, what, ": all vertices coincide; cannot normalise the mesh");
  Mesh out = m;
  const double scale = 1.0 / radius;
  for (auto& p : out.positions) p = (p - centre) * scale;
  return out;
}

bool is_mirror_symmetric(const Mesh& m) {
  // A triangle's key: its three corners (position, normal) sorted, then its albedo.
  using Key = std::array<double, 19>;
  auto keys = [&](bool mirror) {
    std::vector<Key> out;
    out.reserve(m.triangles.size());
    const double sx = mirror ? -1.0 : 1.0;
    for (size_t t = 0; t < m.triangles.size(); ++t) {
      std::array<std::array<double, 6>, 3> c{};
      for (int i = 0; i < 3; ++i) {
        const Vec3& p = m.positions[m.triangles[t][i]];
        const Vec3& n = m.normals[m.triangles[t][i]];
        c[i] = {sx * p.x(), p.y(), p.z(), sx * n.x(), n.y(), n.z()};
      }
      std::sort(c.begin(), c.end());
      Key k{};
      for (int i = 0; i < 3; ++i) std::copy(c[i].begin(), c[i].end(), k.begin() + 6 * i);
      k[18] = m.albedo[t];
      out.push_back(k);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  return keys(false) == keys(true);
}

void validate(const Mesh& m, const std::string& what) {
  ML_CHECK(!m.triangles.empty(), what, ": the mesh has no triangles");
  ML_CHECK(m.normals.size() == m.positions.size(), what, ": ", m.normals.size(), " normals for ", m.positions.size(),
           " vertices");
  ML_CHECK(m.albedo.size() == m.triangles.size(), what, ": ", m.albedo.size(), " albedos for ", m.triangles.size(),
           " triangles");
  const auto nv = static_cast<int64_t>(m.positions.size());
  for (size_t t = 0; t < m.triangles.size(); ++t) {
    for (int32_t i : m.triangles[t])
      ML_CHECK(i >= 0 && i < nv, what, ": triangle ", t, " refers to vertex ", i, " of ", nv);
    ML_CHECK(m.albedo[t] > 0.f && m.albedo[t] <= 1.f, what, ": triangle ", t, " has albedo ", m.albedo[t],
             " outside (0, 1]");
  }
  for (size_t i = 0; i < m.positions.size(); ++i) {
    ML_CHECK(m.positions[i].allFinite(), what, ": vertex ", i, " is not finite");
    ML_CHECK(m.normals[i].allFinite() && m.normals[i].norm() > 0.0, what, ": vertex ", i, " has no normal");
  }
}

}  // namespace ml::render
