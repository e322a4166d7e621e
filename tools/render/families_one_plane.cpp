// The one-plane families: face, chair, airplane, animal, tool. Each is exactly symmetric
// about x = 0: parts on the plane are centred on it with placements that commute with the
// x-mirror (no rotation, rotations about x, shears within y-z), parts off it are built on
// the +x side and added with with_mirror. Units: about 2 across; normalised later.
#include "tools/render/family_parts.h"

namespace ml::render::detail {

Mesh build_face(Rng& r) {
  const Vec3 head_r(r.u(0.70, 0.80), r.u(0.95, 1.08), r.u(0.80, 0.92));
  const double skin = r.u(0.8, 0.95);
  Mesh m = ellipsoid(head_r, at(Vec3::Zero()), skin, 40);
  const Vec3 jaw_c(0.0, -head_r.y() * 0.52, head_r.z() * 0.22);
  const Vec3 jaw_r(head_r.x() * r.u(0.55, 0.75), head_r.y() * 0.42, head_r.z() * 0.62);
  append(m, ellipsoid(jaw_r, at(jaw_c), skin, 32));
  // The face's front surface: the head's or the jaw's, whichever is further forward.
  auto front = [&](double x, double y) {
    return std::max(front_z(Vec3::Zero(), head_r, x, y), front_z(jaw_c, jaw_r, x, y));
  };
  // Nose: an ellipsoid along y, its lower end tilted forward (a rotation about x).
  const double nose_y = r.u(-0.22, -0.10);
  append(m, ellipsoid(Vec3(r.u(0.09, 0.13), r.u(0.20, 0.28), r.u(0.15, 0.22)),
                      at(Vec3(0.0, nose_y, front(0.0, nose_y) - 0.04), rotation_x(r.u(-28.0, -12.0))), skin, 24));
  // Mouth: a dark flattened ellipsoid.
  const double mouth_y = -head_r.y() * r.u(0.44, 0.54);
  append(m, ellipsoid(Vec3(r.u(0.15, 0.24), 0.045, 0.06), at(Vec3(0.0, mouth_y, front(0.0, mouth_y) - 0.02)),
                      r.u(0.35, 0.5), 24));
  // Paired features on the +x side, then mirrored: eye (dark socket), brow, ear.
  Mesh side;
  const double eye_x = head_r.x() * r.u(0.33, 0.42), eye_y = r.u(0.06, 0.18);
  append(side, ellipsoid(Vec3(r.u(0.11, 0.15), r.u(0.06, 0.08), 0.06),
                         at(Vec3(eye_x, eye_y, front(eye_x, eye_y) - 0.035)), r.u(0.15, 0.3), 24));
  const double brow_y = eye_y + r.u(0.12, 0.17);
  append(side, ellipsoid(Vec3(r.u(0.15, 0.2), 0.045, 0.07),
                         at(Vec3(eye_x, brow_y, front(eye_x, brow_y) - 0.02), rotation_z(r.u(-12.0, 8.0))),
                         r.u(0.3, 0.5), 24));
  append(side, ellipsoid(Vec3(0.07, r.u(0.16, 0.22), r.u(0.11, 0.15)),
                         at(Vec3(head_r.x() * 0.96, eye_y - 0.12, -0.05)), skin * 0.95, 24));
  append(m, with_mirror(side));
  // Hair: a cap over the top, tilted back so that it reaches lower behind. It is larger than
  // the head by more than the tilt can bring the two surfaces together (radii differ by
  // < 0.3, tilt <= 15 deg: < 0.08), so the hairline is the cap's smooth edge, not a jagged
  // intersection.
  if (r.chance(0.7)) {
    const Vec3 hair_r = head_r + Vec3::Constant(0.09);
    append(m, ellipsoid(hair_r, at(Vec3::Zero(), rotation_x(-r.u(5.0, 15.0))), r.u(0.25, 0.6), 40, 0.0,
                        r.u(0.85, 1.2)));
  }
  // Neck.
  append(m, frustum(Vec3(0.0, -head_r.y() * 0.6, -0.15), Vec3(0.0, -head_r.y() * 1.3, -0.2), head_r.x() * 0.45,
                    head_r.x() * 0.5, skin, 24));
  return m;
}

Mesh build_chair(Rng& r) {
  const double w = r.u(0.42, 0.56), d = r.u(0.40, 0.52), h = r.u(0.42, 0.56), t = r.u(0.035, 0.06);
  const double wood = r.u(0.6, 0.9), lw = r.u(0.03, 0.05);
  Mesh m = box(Vec3(w, t, d), at(Vec3(0.0, h, 0.0)), r.chance(0.5) ? wood : r.u(0.3, 0.9));
  Mesh side;
  const bool round_legs = r.chance(0.5);
  const double splay = r.u(0.0, 0.06);  // feet further out than the top
  for (double z : {d - lw, -d + lw}) {
    const Vec3 top(w - lw, h - t, z), foot(w - lw + splay, 0.0, z + (z > 0 ? splay : -splay));
    if (round_legs) {
      append(side, frustum(top, foot, lw, lw * 0.8, wood, 16));
    } else {
      const Vec3 mid = (top + foot) * 0.5, axis = (top - foot).normalized();
      // A box whose local y runs along the leg: columns (x', axis, z') of an orthonormal frame.
      const Vec3 zx = Vec3::UnitZ().cross(axis).normalized();
      Mat3 frame;
      frame << zx, axis, zx.cross(axis);
      append(side, box(Vec3(lw, (top - foot).norm() / 2, lw), at(mid, frame), wood));
    }
  }
  // Backrest, hinged at the seat's back edge and tilted back.
  const double bh = r.u(0.45, 0.8);
  const Mat3 tilt = rotation_x(-r.u(4.0, 16.0));
  const Vec3 pivot(0.0, h, -d + t);
  if (r.chance(0.5)) {
    append(m, box(Vec3(w, bh / 2, t), hinged(pivot, tilt, Vec3(0.0, bh / 2, 0.0)), wood));
  } else {
    // Two posts, a top rail and slats in between.
    append(side, box(Vec3(lw, bh / 2, lw), hinged(pivot, tilt, Vec3(w - lw, bh / 2, 0.0)), wood));
    append(m, box(Vec3(w, r.u(0.05, 0.09), t), hinged(pivot, tilt, Vec3(0.0, bh - 0.06, 0.0)), wood));
    const int slats = r.between(1, 4);
    const double inner = w - 2 * lw;
    for (int i = 0; i < slats; ++i) {
      // Slat centres symmetric about 0: x_i = inner * (2i + 1 - slats) / (slats + 1).
      const double x = inner * (2.0 * i + 1.0 - slats) / (slats + 1.0);
      if (x > 0.0) {
        append(side, box(Vec3(0.025, bh / 2, t * 0.6), hinged(pivot, tilt, Vec3(x, bh / 2, 0.0)), wood));
      } else if (x == 0.0) {
        append(m, box(Vec3(0.025, bh / 2, t * 0.6), hinged(pivot, tilt, Vec3(0.0, bh / 2, 0.0)), wood));
      }
    }
  }
  if (r.chance(0.4)) {  // armrests: a support and a rest on each side
    const double ah = r.u(0.18, 0.28);
    append(side, box(Vec3(0.03, ah / 2, 0.03), at(Vec3(w - 0.03, h + ah / 2, d * 0.6)), wood));
    append(side, box(Vec3(0.04, 0.025, d * 0.8), at(Vec3(w - 0.03, h + ah, -0.05)), wood));
  }
  append(m, with_mirror(side));
  return m;
}

Mesh build_airplane(Rng& r) {
  const double L = r.u(1.0, 1.25), rad = r.u(0.12, 0.18), body = r.u(0.7, 0.92);
  Mesh m = ellipsoid(Vec3(rad, rad * r.u(1.0, 1.15), L), at(Vec3::Zero()), body, 32);
  // Cockpit windows: a dark patch on the nose.
  append(m, ellipsoid(Vec3(rad * 0.6, rad * 0.35, rad * 1.1), at(Vec3(0.0, rad * 0.55, L * 0.72)), 0.2, 24));
  Mesh side;
  // A swept, raised wing from x = 0 to x = span: a box sheared back (z decreases with x),
  // then turned up about z by the dihedral.
  auto wing = [&](double span, double chord, double thick, double sweep_deg, double dihedral_deg, const Vec3& root) {
    Mat3 shear = Mat3::Identity();
    shear(2, 0) = -std::tan(sweep_deg * kPi / 180.0);
    const Mat3 lin = rotation_z(dihedral_deg) * shear;
    return box(Vec3(span / 2, thick, chord / 2), Placement{lin, root + lin * Vec3(span / 2, 0.0, 0.0)}, body);
  };
  const double span = r.u(0.9, 1.25), chord = r.u(0.22, 0.34), sweep = r.u(0.0, 32.0);
  const double wing_y = rad * r.u(-0.6, 0.3), wing_z = r.u(-0.1, 0.15);
  append(side, wing(span, chord, 0.035, sweep, r.u(0.0, 8.0), Vec3(0.0, wing_y, wing_z)));
  append(side, wing(span * r.u(0.3, 0.42), chord * 0.65, 0.025, sweep + 5.0, r.u(0.0, 6.0),
                    Vec3(0.0, rad * 0.2, -L * 0.85)));
  if (r.chance(0.6)) {  // engines under the wings
    const double er = r.u(0.055, 0.085), ex = span * r.u(0.3, 0.45);
    const double ez = wing_z - ex * std::tan(sweep * kPi / 180.0) + chord * 0.3;
    append(side, frustum(Vec3(ex, wing_y - er - 0.02, ez + 0.2), Vec3(ex, wing_y - er - 0.02, ez - 0.15), er,
                         er * 0.8, 0.55, 16));
  }
  append(m, with_mirror(side));
  // Fin: a thin box on the plane, sheared back with height (a y -> z shear commutes with the mirror).
  const double fin_h = r.u(0.35, 0.5), fin_c = chord * r.u(0.7, 1.0);
  Mat3 fin_shear = Mat3::Identity();
  fin_shear(2, 1) = -std::tan(r.u(25.0, 45.0) * kPi / 180.0);
  const Vec3 fin_root(0.0, rad * 0.5, -L * 0.8);
  append(m, box(Vec3(0.03, fin_h / 2, fin_c / 2), Placement{fin_shear, fin_root + fin_shear * Vec3(0, fin_h / 2, 0)},
                body));
  return m;
}

Mesh build_animal(Rng& r) {
  const double bl = r.u(0.55, 0.8), bw = r.u(0.2, 0.3), bh = r.u(0.2, 0.3);
  const double ll = r.u(0.4, 0.8), lr = r.u(0.05, 0.08), fur = r.u(0.55, 0.9);
  const double by = ll + bh * 0.7;
  Mesh m = ellipsoid(Vec3(bw, bh, bl), at(Vec3(0.0, by, 0.0)), fur, 32);
  // Head up and ahead of the body, joined by a neck.
  const double hw = r.u(0.12, 0.17), hy = by + r.u(0.25, 0.6), hz = bl + r.u(0.0, 0.25);
  append(m, frustum(Vec3(0.0, by + bh * 0.2, bl * 0.7), Vec3(0.0, hy, hz), bw * 0.5, hw * 0.8, fur, 16));
  append(m, ellipsoid(Vec3(hw, hw * 1.05, hw * 1.3), at(Vec3(0.0, hy, hz)), fur, 32));
  append(m, ellipsoid(Vec3(hw * 0.6, hw * 0.55, hw * r.u(0.8, 1.3)),
                      at(Vec3(0.0, hy - hw * 0.3, hz + hw * 1.1), rotation_x(r.u(-15.0, 5.0))), fur, 24));
  // Tail, rising or hanging.
  const double tl = r.u(0.2, 0.5);
  append(m, frustum(Vec3(0.0, by + bh * 0.3, -bl * 0.9), Vec3(0.0, by + r.u(-0.3, 0.35), -bl - tl), 0.045, 0.02, fur,
                    12));
  Mesh side;
  for (double z : {bl * 0.62, -bl * 0.62})
    append(side, frustum(Vec3(bw * 0.6, by - bh * 0.3, z), Vec3(bw * 0.6, 0.0, z + r.u(-0.04, 0.04)), lr, lr * 0.75,
                         fur, 16));
  append(side, ellipsoid(Vec3(0.03, r.u(0.06, 0.14), 0.05),
                         at(Vec3(hw * 0.6, hy + hw * 0.9, hz - hw * 0.3), rotation_z(-r.u(10.0, 35.0))), fur, 16));
  append(side, ellipsoid(Vec3::Constant(hw * 0.17), at(Vec3(hw * 0.55, hy + hw * 0.25, hz + hw * 0.95)), 0.12, 16));
  append(m, with_mirror(side));
  return m;
}

Mesh build_tool(Rng& r) {
  const double wood = r.u(0.55, 0.8), metal = r.u(0.8, 0.95);
  const int kind = r.between(0, 2);
  if (kind == 0) {  // hammer: striking face forward (+z), claw curving down at the back
    const double hy = r.u(0.5, 0.65), hr = r.u(0.07, 0.1);
    Mesh m = frustum(Vec3(0.0, -1.0, 0.0), Vec3(0.0, hy, 0.0), 0.055, 0.045, wood, 16);
    append(m, box(Vec3(hr * 0.9, hr * 1.2, 0.1), at(Vec3(0.0, hy, 0.0)), metal));
    append(m, frustum(Vec3(0.0, hy, 0.0), Vec3(0.0, hy, r.u(0.25, 0.38)), hr, hr * r.u(0.95, 1.15), metal, 24));
    const double cl = r.u(0.25, 0.38);
    append(m, box(Vec3(hr * 0.55, hr * 0.6, cl / 2),
                  hinged(Vec3(0.0, hy, 0.0), rotation_x(-r.u(12.0, 30.0)), Vec3(0.0, 0.0, -cl / 2)), metal));
    return m;
  }
  if (kind == 1) {  // axe: head running forward into a tall blade, short poll behind
    const double hy = r.u(0.45, 0.6), hl = r.u(0.12, 0.2);
    Mesh m = frustum(Vec3(0.0, -1.0, 0.0), Vec3(0.0, hy + 0.1, 0.0), 0.05, 0.045, wood, 16);
    append(m, box(Vec3(0.045, 0.09, hl), at(Vec3(0.0, hy, hl - 0.05)), metal));
    append(m, ellipsoid(Vec3(0.025, r.u(0.18, 0.3), r.u(0.08, 0.14)), at(Vec3(0.0, hy, 2 * hl - 0.02)), metal, 32));
    append(m, box(Vec3(0.05, 0.06, 0.06), at(Vec3(0.0, hy, -0.09)), metal));
    return m;
  }
  // Open-end wrench, flat in the y-z plane: shaft, a jaw head at the top turned forward by
  // the jaw angle (so it is not front-back symmetric), a ring end at the bottom.
  const double th = r.u(0.05, 0.08), sl = r.u(0.65, 0.85);
  Mesh m = box(Vec3(th, sl, r.u(0.07, 0.1)), at(Vec3::Zero()), metal);
  const Vec3 top(0.0, sl + 0.08, 0.0);
  const Mat3 jaw = rotation_x(r.u(10.0, 25.0));
  const double jr = r.u(0.17, 0.23);
  append(m, ellipsoid(Vec3(th, jr, jr), at(top), metal, 24));
  for (double z : {-1.0, 1.0})
    append(m, box(Vec3(th, 0.1, 0.045), hinged(top, jaw, Vec3(0.0, jr * 0.8, z * jr * 0.65)), metal));
  append(m, ellipsoid(Vec3(th, jr * 0.85, jr * 0.85), at(Vec3(0.0, -sl - 0.05, 0.0)), metal, 24));
  return m;
}

}  // namespace ml::render::detail
