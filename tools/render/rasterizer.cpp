#include "tools/render/rasterizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "engine/error.h"

namespace ml::render {

namespace {

constexpr int64_t kSubUnits = 32;  // K: fixed-point units per half sample spacing

// a + b + c independent of the order the three come in: ascending values are summed, so a
// permutation of the vertices (the mirrored triangle winds the other way) gives the same bits.
double sum_sorted(double a, double b, double c) {
  if (a > b) std::swap(a, b);
  if (b > c) std::swap(b, c);
  if (a > b) std::swap(a, b);
  return (a + b) + c;
}
// The same for a component that the mirror negates (x): ordering by magnitude makes the sum
// of the negated terms exactly the negated sum.
double sum_by_magnitude(double a, double b, double c) {
  auto less = [](double u, double v) { return std::fabs(u) < std::fabs(v); };
  if (less(b, a)) std::swap(a, b);
  if (less(c, b)) std::swap(b, c);
  if (less(b, a)) std::swap(a, b);
  return (a + b) + c;
}

struct ProjectedVertex {
  int64_t X, Y;   // fixed-point image position, origin at the image centre, y up
  double inv_d;   // 1 / depth (depth along the viewing axis)
  Vec3 normal;    // turned with the object
};

}  // namespace

void validate(const RenderOptions& o) {
  ML_CHECK(o.size >= 8 && o.size <= 8192, "render: size must be in [8, 8192], got ", o.size);
  ML_CHECK(o.supersample >= 1 && o.supersample <= 15, "render: supersample must be in [1, 15], got ", o.supersample);
  ML_CHECK(o.camera.distance > 1.0, "render: camera distance must exceed the bounding sphere's radius 1, got ",
           o.camera.distance);
  ML_CHECK(o.camera.fill > 0.0 && o.camera.fill <= 1.0, "render: camera fill must be in (0, 1], got ", o.camera.fill);
  ML_CHECK(std::fabs(o.camera.elevation_deg) < 90.0, "render: camera elevation must be in (-90, 90) degrees, got ",
           o.camera.elevation_deg);
  ML_CHECK(o.camera.extent >= 0.0, "render: camera extent must be >= 0 (0: the bounding sphere's), got ",
           o.camera.extent);
  ML_CHECK(o.light.to_light.x() == 0.0 && std::fabs(o.light.to_light.norm() - 1.0) < 1e-12,
           "render: the light direction must be a unit vector with x = 0 (a left-right component breaks the "
           "scene's mirror symmetry), got (",
           o.light.to_light.transpose(), ")");
  ML_CHECK(o.light.ambient >= 0.0 && o.light.diffuse >= 0.0 && o.light.ambient + o.light.diffuse <= 1.0,
           "render: need ambient, diffuse >= 0 and ambient + diffuse <= 1, got ", o.light.ambient, ", ",
           o.light.diffuse);
}

namespace {

// Object -> camera coordinates: yaw about y, then the camera's elevation (a rotation about x
// that brings the top towards the camera). cos/sin are taken from |theta| with the sign put
// on sin, so +theta and -theta use bit-identical magnitudes and the x-mirror commutes exactly.
struct ViewTransform {
  double cy, sy, ce, se;
  ViewTransform(double yaw_deg, double elevation_deg) {
    const double th = std::fabs(yaw_deg) * std::numbers::pi / 180.0, el = elevation_deg * std::numbers::pi / 180.0;
    cy = std::cos(th);
    sy = yaw_deg < 0.0 ? -std::sin(th) : std::sin(th);
    ce = std::cos(el);
    se = std::sin(el);
  }
  Vec3 operator()(const Vec3& v) const {
    const double x = cy * v.x() + sy * v.z(), z = cy * v.z() - sy * v.x();
    return Vec3(x, ce * v.y() - se * z, se * v.y() + ce * z);
  }
};

}  // namespace

double frame_extent(const Mesh& mesh, const Camera& camera) {
  double extent = 0.0;
  for (int k = -120; k <= 120; ++k) {
    const ViewTransform turn(1.5 * k, camera.elevation_deg);
    for (const Vec3& v : mesh.positions) {
      const Vec3 p = turn(v);
      const double d = camera.distance - p.z();
      ML_CHECK(d > 0.0, "frame_extent: a vertex lies behind the camera; normalise the mesh first");
      extent = std::max({extent, std::fabs(p.x()) / d, std::fabs(p.y()) / d});
    }
  }
  return extent;
}

Rendering render(const Mesh& mesh, double yaw_deg, const RenderOptions& o) {
  validate(o);
  validate(mesh, "render");
  const int64_t S = o.supersample;
  const int64_t N = int64_t{o.size} * S;       // samples per image side
  const double unit = 2.0 * S * kSubUnits;      // fixed-point units per pixel
  const double D = o.camera.distance;
  // Pixels per unit of x/depth, so that the extent fills `fill` of the half-frame (for the
  // bounding sphere: the half-angle of its tangent cone is asin(1/D)).
  const double extent = o.camera.extent > 0.0 ? o.camera.extent : std::tan(std::asin(1.0 / D));
  const double f = o.camera.fill * (o.size / 2.0) / extent;
  const ViewTransform turn(yaw_deg, o.camera.elevation_deg);

  std::vector<ProjectedVertex> pv(mesh.positions.size());
  for (size_t i = 0; i < pv.size(); ++i) {
    const Vec3 p = turn(mesh.positions[i]);
    ML_CHECK(p.norm() <= 1.0 + 1e-9, "render: vertex ", i, " lies outside the unit sphere (",
             mesh.positions[i].transpose(), "); normalise the mesh first");
    const double d = D - p.z();
    // llround rounds halves away from zero, so a mirrored vertex snaps to the negated point.
    pv[i] = {std::llround(f * p.x() / d * unit), std::llround(f * p.y() / d * unit), 1.0 / d,
             turn(mesh.normals[i])};
  }

  // Per-sample z-buffer (1/depth, 0 = empty) and shade, row-major, row 0 at the top. The
  // buffers are kept between calls: allocating 13 MB afresh for each 227-px view spent a
  // quarter of the time in page faults.
  thread_local std::vector<double> inv_depth, shade;
  inv_depth.assign(static_cast<size_t>(N * N), 0.0);
  shade.assign(static_cast<size_t>(N * N), 0.0);
  const Vec3 L = o.light.to_light;
  auto sample_x = [&](int64_t sx) { return kSubUnits * (2 * sx + 1 - N); };  // odd multiples of K
  auto sample_y = [&](int64_t sy) { return kSubUnits * (N - 2 * sy - 1); };

  for (size_t t = 0; t < mesh.triangles.size(); ++t) {
    const auto& tri = mesh.triangles[t];
    const ProjectedVertex& v0 = pv[tri[0]];
    const ProjectedVertex& v1 = pv[tri[1]];
    const ProjectedVertex& v2 = pv[tri[2]];
    int64_t area = (v1.X - v0.X) * (v2.Y - v0.Y) - (v1.Y - v0.Y) * (v2.X - v0.X);
    if (area == 0) continue;  // seen edge-on
    const int64_t sign = area > 0 ? 1 : -1;
    area *= sign;
    // Sample index range of the bounding box (conservative; the inside test is exact).
    const int64_t xmin = std::min({v0.X, v1.X, v2.X}), xmax = std::max({v0.X, v1.X, v2.X});
    const int64_t ymin = std::min({v0.Y, v1.Y, v2.Y}), ymax = std::max({v0.Y, v1.Y, v2.Y});
    const auto to_index = [&](double v) { return static_cast<int64_t>(std::floor(v)); };
    const int64_t sx0 = std::max<int64_t>(0, to_index((double(xmin) / kSubUnits + N - 1) / 2.0));
    const int64_t sx1 = std::min<int64_t>(N - 1, to_index((double(xmax) / kSubUnits + N - 1) / 2.0) + 1);
    const int64_t sy0 = std::max<int64_t>(0, to_index((N - 1 - double(ymax) / kSubUnits) / 2.0));
    const int64_t sy1 = std::min<int64_t>(N - 1, to_index((N - 1 - double(ymin) / kSubUnits) / 2.0) + 1);
    if (sx0 > sx1 || sy0 > sy1) continue;

    // Edge function of the edge opposite vertex i, E_i(P), signed so the inside is >= 0;
    // E_0 + E_1 + E_2 = area, and E_i / area is vertex i's barycentric weight.
    struct Edge {
      int64_t ax, ay, bx, by;
      int64_t at(int64_t px, int64_t py) const { return (bx - ax) * (py - ay) - (by - ay) * (px - ax); }
    };
    const Edge e[3] = {{v1.X, v1.Y, v2.X, v2.Y}, {v2.X, v2.Y, v0.X, v0.Y}, {v0.X, v0.Y, v1.X, v1.Y}};
    const double albedo = mesh.albedo[t];
    const double inv_area = 1.0 / static_cast<double>(area);
    for (int64_t sy = sy0; sy <= sy1; ++sy) {
      const int64_t py = sample_y(sy);
      // Along a row E changes by a constant per sample: step = -(by - ay) * 2K.
      int64_t E[3], step[3];
      for (int i = 0; i < 3; ++i) {
        E[i] = sign * e[i].at(sample_x(sx0), py);
        step[i] = -sign * (e[i].by - e[i].ay) * 2 * kSubUnits;
      }
      for (int64_t sx = sx0; sx <= sx1; ++sx, E[0] += step[0], E[1] += step[1], E[2] += step[2]) {
        if (E[0] < 0 || E[1] < 0 || E[2] < 0) continue;  // edges inclusive on both sides
        const double b0 = E[0] * inv_area, b1 = E[1] * inv_area, b2 = E[2] * inv_area;
        const double w0 = b0 * v0.inv_d, w1 = b1 * v1.inv_d, w2 = b2 * v2.inv_d;
        const double inv_d = sum_sorted(w0, w1, w2);  // 1/depth is linear in screen space
        const size_t k = static_cast<size_t>(sy * N + sx);
        if (inv_d < inv_depth[k]) continue;
        // Perspective-correct normal (weights w_i), summed order-independently.
        Vec3 n(sum_by_magnitude(w0 * v0.normal.x(), w1 * v1.normal.x(), w2 * v2.normal.x()),
               sum_sorted(w0 * v0.normal.y(), w1 * v1.normal.y(), w2 * v2.normal.y()),
               sum_sorted(w0 * v0.normal.z(), w1 * v1.normal.z(), w2 * v2.normal.z()));
        n /= n.norm();
        // Two-sided: turn the normal towards the camera. The point in camera-aligned
        // coordinates is (x, y, -d); the direction to the camera is (-x, -y, d).
        const double d = 1.0 / inv_d;
        const Vec3 to_camera(-(sample_x(sx) / unit) * d / f, -(py / unit) * d / f, d);
        if (n.dot(to_camera) < 0.0) n = -n;
        const double value = albedo * (o.light.ambient + o.light.diffuse * std::max(0.0, n.dot(L)));
        // Nearer wins; an exact depth tie goes to the darker shade, whatever the order.
        if (inv_d > inv_depth[k] || value < shade[k]) {
          inv_depth[k] = inv_d;
          shade[k] = value;
        }
      }
    }
  }

  // Pixels: coverage = covered samples / S^2, shade = their mean. Samples are summed in
  // pairs (a, S-1-a) across each row, so the mirrored pixel sums the same pairs: exact.
  Rendering r;
  r.size = o.size;
  r.supersample = o.supersample;
  const size_t P = static_cast<size_t>(o.size) * o.size;
  r.shade.assign(P, 0.f);
  r.coverage.assign(P, 0.f);
  for (int64_t py = 0; py < o.size; ++py) {
    for (int64_t px = 0; px < o.size; ++px) {
      double sum = 0.0;
      int64_t covered = 0;
      for (int64_t a = 0; a < S; ++a) {
        const size_t row = static_cast<size_t>((py * S + a) * N + px * S);
        for (int64_t b = 0; b < (S + 1) / 2; ++b) {
          const size_t k0 = row + static_cast<size_t>(b), k1 = row + static_cast<size_t>(S - 1 - b);
          double pair = inv_depth[k0] > 0.0 ? shade[k0] : 0.0;
          covered += inv_depth[k0] > 0.0;
          if (k1 != k0) {
            pair += inv_depth[k1] > 0.0 ? shade[k1] : 0.0;
            covered += inv_depth[k1] > 0.0;
          }
          sum += pair;
        }
      }
      const size_t p = static_cast<size_t>(py * o.size + px);
      r.coverage[p] = static_cast<float>(static_cast<double>(covered) / static_cast<double>(S * S));
      r.shade[p] = covered > 0 ? static_cast<float>(sum / static_cast<double>(covered)) : 0.f;
    }
  }
  return r;
}

std::vector<float> composite(const Rendering& r, double background) {
  std::vector<float> out(r.shade.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(r.coverage[i] * static_cast<double>(r.shade[i]) +
                                (1.0 - r.coverage[i]) * background);
  return out;
}

}  // namespace ml::render
