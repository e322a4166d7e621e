// The families without a useful mirror plane: fruit and flower. Their irregularity is
// seeded and substantial — bumps in random directions, different radii in x and z, tilts
// about axes that are neither x nor z, jittered petals — so views differ from each other
// (the object is not a solid of revolution about the yaw axis) and no plane maps view j onto
// view 8-j.
#include "tools/render/family_parts.h"

namespace ml::render::detail {

namespace {

// A random orientation far from the axes: a tilt by `tilt_deg` about a horizontal axis at a
// random azimuth, then a random turn about y.
Mat3 random_tilt(Rng& r, double tilt_lo, double tilt_hi) {
  const double azimuth = r.u(0.0, 360.0);
  const Vec3 axis = rotation_y(azimuth) * Vec3::UnitX();
  const Mat3 tilt = Eigen::AngleAxisd(r.u(tilt_lo, tilt_hi) * kPi / 180.0, axis).toRotationMatrix();
  return tilt * rotation_y(r.u(0.0, 360.0));
}

// A banana-like curved tube: frustum segments along an arc, thickest in the middle.
Mesh banana(Rng& r, double skin) {
  const double R = r.u(0.8, 1.1), span = r.u(100.0, 140.0) * kPi / 180.0, thick = r.u(0.16, 0.22);
  const int segments = 8;
  Mesh m;
  Vec3 prev;
  double prev_r = 0.0;
  for (int i = 0; i <= segments; ++i) {
    const double t = static_cast<double>(i) / segments, a = -span / 2 + span * t;
    const Vec3 p(R * std::sin(a), -R * std::cos(a), 0.0);
    const double rad = thick * (0.25 + 0.75 * std::sin(kPi * t));  // tapering ends
    if (i > 0) append(m, frustum(prev, p, prev_r, rad, skin, 16));
    if (i > 0 && i < segments) append(m, ellipsoid(Vec3::Constant(rad), at(p), skin, 16));  // smooth joints
    prev = p;
    prev_r = rad;
  }
  append(m, frustum(prev, prev + Vec3(0.08, 0.1, 0.0), prev_r, prev_r * 0.7, 0.3, 12));  // stalk
  return m;
}

}  // namespace

Mesh build_fruit(Rng& r) {
  const double skin = r.u(0.65, 0.95);
  enum Kind { kRound, kPear, kLong, kBanana };
  const int kind = r.between(kRound, kBanana);
  if (kind == kBanana) return transformed(banana(r, skin), at(Vec3::Zero(), random_tilt(r, 10.0, 40.0)));
  Vec3 radii(r.u(0.75, 1.15), r.u(0.8, 1.2), r.u(0.75, 1.15));
  struct Bump {
    Vec3 dir;
    double amp, width;
  };
  std::vector<Bump> bumps;
  const int nb = r.between(3, 6);
  for (int i = 0; i < nb; ++i) bumps.push_back({r.direction(), r.u(-0.15, 0.3), r.u(0.3, 0.7)});
  if (kind == kLong) {  // lemon-like: long along x with pointed tips (the tilt turns x anywhere)
    radii.x() *= r.u(1.4, 1.8);
    for (double side : {-1.0, 1.0}) bumps.push_back({Vec3(side, 0.0, 0.0), r.u(0.1, 0.25), 0.25});
  }
  const double pear = kind == kPear ? r.u(0.25, 0.4) : 0.0;  // narrower towards the top
  const double dimple = r.u(0.0, 0.15);                        // an apple's hollow at the stem
  auto surface = [&](const Vec3& d) -> Vec3 {
    double s = 1.0 - pear * std::max(0.0, d.y()) - dimple * std::exp(-(1.0 - d.y()) / 0.02);
    for (const auto& b : bumps) s += b.amp * std::exp(-(1.0 - d.dot(b.dir)) / (b.width * b.width));
    s = std::max(s, 0.4);  // overlapping hollows must not turn the surface inside out
    return Vec3(radii.x() * d.x(), radii.y() * d.y(), radii.z() * d.z()) * s;
  };
  Mesh m = deformed_sphere(surface, skin, 48);
  // Stem leaning in a random direction, and maybe a leaf beside it.
  const Vec3 top = surface(Vec3::UnitY()) * 0.95;
  const Vec3 tip = top + Vec3(r.u(-0.12, 0.12), r.u(0.2, 0.35), r.u(-0.12, 0.12));
  append(m, frustum(top, tip, 0.05, 0.035, 0.3, 12));
  if (r.chance(0.6)) {
    const Mat3 leaf = rotation_y(r.u(0.0, 360.0)) * rotation_z(r.u(10.0, 40.0));
    append(m, ellipsoid(Vec3(r.u(0.25, 0.35), 0.025, r.u(0.1, 0.14)), hinged(tip, leaf, Vec3(0.25, 0.0, 0.0)),
                        r.u(0.3, 0.5), 24));
  }
  return transformed(m, at(Vec3::Zero(), random_tilt(r, 10.0, 35.0)));
}

Mesh build_flower(Rng& r) {
  const double green = r.u(0.45, 0.65);
  // Stem: a bent polyline from the ground to the head.
  std::vector<Vec3> stem = {Vec3(0.0, -1.0, 0.0)};
  const double stem_len = r.u(0.8, 1.1);
  for (int i = 1; i <= 3; ++i)
    stem.push_back(Vec3(r.u(-0.12, 0.12), -1.0 + stem_len * i / 3, r.u(-0.12, 0.12)));
  Mesh m;
  for (size_t i = 0; i + 1 < stem.size(); ++i) {
    append(m, frustum(stem[i], stem[i + 1], 0.045, 0.04, green, 12));
    append(m, ellipsoid(Vec3::Constant(0.045), at(stem[i + 1]), green, 12));  // smooth joints
  }
  const int leaves = r.between(1, 2);
  for (int i = 0; i < leaves; ++i) {
    const Vec3 at_stem = stem[1] + (stem[2] - stem[1]) * r.u(0.0, 1.0);
    const Mat3 leaf = rotation_y(r.u(0.0, 360.0)) * rotation_z(r.u(15.0, 45.0));
    append(m, ellipsoid(Vec3(r.u(0.22, 0.32), 0.025, r.u(0.08, 0.12)), hinged(at_stem, leaf, Vec3(0.22, 0.0, 0.0)), green,
                        24));
  }
  // Head, built facing up (+y) and then tilted: a centre disc and a ring of petals, each
  // with its own length, width, azimuth and cup angle.
  Mesh head;
  const double rc = r.u(0.15, 0.22);
  append(head, ellipsoid(Vec3(rc, rc * 0.45, rc), at(Vec3::Zero()), r.u(0.2, 0.45), 24));
  const int petals = r.between(5, 9);
  const double petal_len = r.u(0.35, 0.55), petal_w = r.u(0.1, 0.17), cup = r.u(5.0, 35.0);
  const double petal_albedo = r.u(0.7, 0.95);
  for (int i = 0; i < petals; ++i) {
    const double az = 360.0 * i / petals + r.u(-10.0, 10.0);
    const double len = petal_len * r.u(0.8, 1.2);
    const Mat3 rot = rotation_y(az) * rotation_z(cup + r.u(-8.0, 8.0));
    append(head, ellipsoid(Vec3(len / 2, 0.03, petal_w * r.u(0.8, 1.2)),
                           hinged(Vec3::Zero(), rot, Vec3(rc * 0.8 + len / 2, 0.0, 0.0)), petal_albedo, 24));
  }
  append(m, transformed(head, at(stem.back() + Vec3(0.0, 0.03, 0.0), random_tilt(r, 25.0, 60.0))));
  return m;
}

}  // namespace ml::render::detail
