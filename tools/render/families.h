// tools/render/families.h — the nine procedural object families of the stimulus set
// (Farzmahdi et al. 2024 used 9 categories x 25 exemplars; we generate look-alikes from
// primitives with seeded random proportions).
//
// Symmetry classes (what the analyses pool by):
//   one_plane   face, chair, airplane, animal, tool — exactly symmetric about x = 0 only
//   two_planes  car, boat — exactly symmetric about x = 0 and roughly about z = 0 (front-back)
//   none        fruit, flower — irregular (seeded bumps, leaves, petal jitter, tilts), so no
//               plane maps view j onto view 8-j, yet not rotationally symmetric about the yaw
//               axis either (their views differ).
// "Exactly" is bit for bit (mesh.h explains how); tests/test_render.cpp checks every exemplar.
// Objects stand upright (y up) with their front towards +z.
//
// Determinism: exemplar e of family F with seed s is built from its own ml::Generator seeded
// by exemplar_seed(s, F, e) — a hash of the three — so it does not depend on which other
// families or how many exemplars are asked for.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tools/render/mesh.h"

namespace ml::render {

struct FamilyInfo {
  std::string name;
  std::string symmetry;  // "one_plane", "two_planes" or "none"
  std::string looks_like;
};

// The nine families in the study's order: face, chair, airplane, animal, tool, car, boat,
// fruit, flower.
const std::vector<FamilyInfo>& families();

// The family called `name`; the error names the bad name and lists the valid ones.
const FamilyInfo& family(const std::string& name);

uint64_t exemplar_seed(uint64_t seed, const std::string& family, int exemplar);

// Exemplar `exemplar` (>= 0) of family `name`, in the family's own units (not normalised).
Mesh make_exemplar(const std::string& name, uint64_t seed, int exemplar);

}  // namespace ml::render
