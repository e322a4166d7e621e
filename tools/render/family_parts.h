// tools/render/family_parts.h — what the family builders share (internal to tools/render):
// the seeded draws and one builder per family.
#pragma once

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/generator.h"
#include "tools/render/mesh.h"

namespace ml::render::detail {

constexpr double kPi = std::numbers::pi;

// Seeded draws for one exemplar (ml::Generator: Philox, no global state).
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  double u(double lo, double hi) { return lo + (hi - lo) * g_.next_uniform(); }  // uniform in [lo, hi)
  bool chance(double p) { return g_.next_uniform() < p; }
  int between(int lo, int hi) { return lo + static_cast<int>(g_.next_below(hi - lo + 1)); }  // inclusive
  Vec3 direction() {  // uniform on the unit sphere
    const double z = u(-1.0, 1.0), phi = u(0.0, 2.0 * kPi), r = std::sqrt(1.0 - z * z);
    return Vec3(r * std::cos(phi), z, r * std::sin(phi));
  }

 private:
  Generator g_;
};

// z of the front (+z) surface of an axis-aligned ellipsoid (centre c, radii r) at (x, y);
// the centre's z where (x, y) misses it. Used to seat features on a head or body.
inline double front_z(const Vec3& c, const Vec3& r, double x, double y) {
  const double q = 1.0 - std::pow((x - c.x()) / r.x(), 2) - std::pow((y - c.y()) / r.y(), 2);
  return c.z() + r.z() * std::sqrt(std::max(0.0, q));
}

// A placement rotating by `linear` about `pivot` and then moving the local point `local` there:
// where a part hinged at `pivot` ends up.
inline Placement hinged(const Vec3& pivot, const Mat3& linear, const Vec3& local) {
  return Placement{linear, pivot + linear * local};
}

Mesh build_face(Rng& r);
Mesh build_chair(Rng& r);
Mesh build_airplane(Rng& r);
Mesh build_animal(Rng& r);
Mesh build_tool(Rng& r);
Mesh build_car(Rng& r);
Mesh build_boat(Rng& r);
Mesh build_fruit(Rng& r);
Mesh build_flower(Rng& r);

}  // namespace ml::render::detail
