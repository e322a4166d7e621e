#include "tools/render/families.h"

#include "engine/error.h"
#include "tools/render/family_parts.h"

namespace ml::render {

namespace {

using Builder = Mesh (*)(detail::Rng&);

struct Entry {
  FamilyInfo info;
  Builder build;
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = {
      {{"face", "one_plane", "head with chin, nose, eyes, brows, ears, mouth, maybe hair, and a neck"},
       detail::build_face},
      {{"chair", "one_plane", "seat on four legs, backrest (panel or slats), maybe armrests"}, detail::build_chair},
      {{"airplane", "one_plane", "fuselage, swept wings, tailplane, fin, maybe engines"}, detail::build_airplane},
      {{"animal", "one_plane", "four-legged: body, legs, neck, head with snout, ears and eyes, tail"},
       detail::build_animal},
      {{"tool", "one_plane", "hammer, axe or open-end wrench; handle vertical, working end forward"},
       detail::build_tool},
      {{"car", "two_planes", "body, cabin with a window band, four wheels, bumpers, lights"}, detail::build_car},
      {{"boat", "two_planes", "double-ended hull, cabin, mast with sail or a funnel"}, detail::build_boat},
      {{"fruit", "none", "lumpy anisotropic body with seeded bumps, tilted, stem and maybe a leaf"},
       detail::build_fruit},
      {{"flower", "none", "bent stem, leaves, tilted head with jittered petals"}, detail::build_flower},
  };
  return entries;
}

const Entry& entry(const std::string& name) {
  for (const auto& e : registry())
    if (e.info.name == name) return e;
  std::string valid;
  for (const auto& e : registry()) valid += (valid.empty() ? "" : ", ") + e.info.name;
  throw Error("unknown family '" + name + "' (valid: " + valid + ")");
}

// SplitMix64's finaliser: a well-mixed 64-bit hash step.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

const std::vector<FamilyInfo>& families() {
  static const std::vector<FamilyInfo> infos = [] {
    std::vector<FamilyInfo> v;
    for (const auto& e : registry()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

const FamilyInfo& family(const std::string& name) { return entry(name).info; }

uint64_t exemplar_seed(uint64_t seed, const std::string& family, int exemplar) {
  uint64_t name_hash = 0xCBF29CE484222325ULL;  // FNV-1a of the name
  for (unsigned char ch : family) name_hash = (name_hash ^ ch) * 0x100000001B3ULL;
  return mix(mix(mix(seed) ^ name_hash) ^ static_cast<uint64_t>(exemplar));
}

Mesh make_exemplar(const std::string& name, uint64_t seed, int exemplar) {
  const Entry& e = entry(name);
  ML_CHECK(exemplar >= 0, "make_exemplar: exemplar must be >= 0, got ", exemplar, " (family '", name, "')");
  detail::Rng rng(exemplar_seed(seed, name, exemplar));
  Mesh m = e.build(rng);
  validate(m, "family '" + name + "' exemplar " + std::to_string(exemplar));
  return m;
}

}  // namespace ml::render
