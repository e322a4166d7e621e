// The two-plane families: car and boat. Exactly symmetric about x = 0 (as in
// families_one_plane.cpp) and roughly symmetric front-back: the big parts are placed
// symmetrically in z, while the cabin's position and the lights differ a little between
// front and back, as on real cars and boats.
#include "tools/render/family_parts.h"

namespace ml::render::detail {

Mesh build_car(Rng& r) {
  const double L = r.u(0.9, 1.15), W = r.u(0.4, 0.48), wr = r.u(0.16, 0.22), ch = r.u(0.12, 0.17);
  const double paint = r.u(0.6, 0.9);
  const double body_y = wr * 0.6 + ch;  // the body's centre, a little clearance under it
  Mesh m = box(Vec3(W, ch, L), at(Vec3(0.0, body_y, 0.0)), paint);
  // Cabin with a dark window band around it.
  const double cw = W * r.u(0.78, 0.9), hc = r.u(0.12, 0.18), lc = L * r.u(0.4, 0.6);
  const Vec3 cabin(0.0, body_y + ch + hc, L * r.u(-0.15, 0.05));
  append(m, box(Vec3(cw, hc, lc), at(cabin), paint));
  append(m, box(Vec3(cw + 0.006, hc * 0.5, lc + 0.006), at(cabin + Vec3(0.0, hc * 0.15, 0.0)), 0.15));
  // Bumpers, front and back.
  for (double z : {-1.0, 1.0})
    append(m, box(Vec3(W * 0.95, 0.045, 0.04), at(Vec3(0.0, wr * 0.6 + 0.06, z * (L + 0.02))), 0.6));
  Mesh side;
  const double wheel_z = L * r.u(0.55, 0.7);
  for (double z : {-wheel_z, wheel_z})
    append(side, frustum(Vec3(W - 0.1, wr, z), Vec3(W + 0.03, wr, z), wr, wr, 0.12, 24));
  // Headlights bright, tail lights dark: the front-back plane is only approximate.
  append(side, ellipsoid(Vec3(0.07, 0.04, 0.02), at(Vec3(W * 0.65, body_y + ch * 0.3, L)), 1.0, 16));
  append(side, ellipsoid(Vec3(0.07, 0.035, 0.02), at(Vec3(W * 0.65, body_y + ch * 0.3, -L)), 0.3, 16));
  append(m, with_mirror(side));
  return m;
}

Mesh build_boat(Rng& r) {
  const double L = r.u(1.0, 1.3), B = r.u(0.28, 0.38), depth = r.u(0.22, 0.32);
  // Double-ended hull: the lower half of an ellipsoid, closed by a flat deck at y = 0.
  Mesh m = ellipsoid(Vec3(B, depth, L), at(Vec3::Zero()), r.u(0.6, 0.9), 40, kPi / 2, kPi);
  const double hc = r.u(0.1, 0.18), cz = L * r.u(-0.25, 0.15), cl = L * r.u(0.2, 0.35);
  const double cw = B * r.u(0.55, 0.75);
  append(m, box(Vec3(cw, hc, cl), at(Vec3(0.0, hc, cz)), r.u(0.55, 0.95)));
  append(m, box(Vec3(cw + 0.005, hc * 0.3, cl + 0.005), at(Vec3(0.0, hc * 1.2, cz)), 0.15));
  if (r.chance(0.6)) {  // mast, maybe with a sail (a thin panel on the plane)
    const double mh = r.u(0.8, 1.2), mz = cz + cl + r.u(0.05, 0.2);
    append(m, frustum(Vec3(0.0, 0.0, mz), Vec3(0.0, mh, mz), 0.025, 0.015, 0.5, 12));
    if (r.chance(0.7)) {
      const double sh = mh * r.u(0.55, 0.8), sl = r.u(0.3, 0.55);
      append(m, box(Vec3(0.008, sh / 2, sl / 2), at(Vec3(0.0, mh - sh / 2 - 0.05, mz - sl / 2 - 0.03)), 0.95));
    }
  } else {  // a funnel on the cabin
    const double fr = r.u(0.05, 0.08);
    append(m, frustum(Vec3(0.0, hc, cz), Vec3(0.0, 2 * hc + r.u(0.12, 0.25), cz - 0.03), fr, fr * 0.9, 0.3, 16));
  }
  return m;
}

}  // namespace ml::render::detail
