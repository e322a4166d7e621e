#include "tools/render/obj.h"

#include <tiny_obj_loader.h>

#include <filesystem>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace ml::render {

Mesh load_obj(const std::string& path, double albedo) {
  ML_CHECK(std::filesystem::is_regular_file(path), "load_obj: missing file '", path, "'");
  const std::vector<uint8_t> bytes = read_file(path);
  return load_obj_text(std::string(bytes.begin(), bytes.end()), path, albedo);
}

Mesh load_obj_text(const std::string& text, const std::string& path, double albedo) {
  tinyobj::ObjReaderConfig config;
  config.triangulate = true;
  config.vertex_color = false;
  tinyobj::ObjReader reader;
  // From a string with an empty material text: materials are not used, and ParseFromFile
  // opens whatever file an 'mtllib' line names, relative to the OBJ's folder (a path up to
  // /dev/zero would be read until memory runs out).
  ML_CHECK(reader.ParseFromString(text, "", config), "load_obj: cannot read '", path, "': ", reader.Error());
  const tinyobj::attrib_t& attrib = reader.GetAttrib();
  const auto nv = static_cast<int64_t>(attrib.vertices.size() / 3);
  const auto nn = static_cast<int64_t>(attrib.normals.size() / 3);
  auto vertex = [&](const tinyobj::index_t& ix, size_t face) {
    ML_CHECK(ix.vertex_index >= 0 && ix.vertex_index < nv, "load_obj: '", path, "' face ", face,
             " refers to vertex ", ix.vertex_index + 1, " of ", nv);
    const auto* p = &attrib.vertices[static_cast<size_t>(3 * ix.vertex_index)];
    const Vec3 v(p[0], p[1], p[2]);
    ML_CHECK(v.allFinite(), "load_obj: '", path, "' vertex ", ix.vertex_index + 1, " is not finite");
    return v;
  };
  Mesh m;
  size_t face = 0;
  for (const tinyobj::shape_t& shape : reader.GetShapes()) {
    const auto& ids = shape.mesh.indices;
    // Each face's corners start where the previous face's end: faces need not all have 3
    // (tinyobjloader leaves a polygon it cannot triangulate as it is).
    size_t first = 0;
    for (size_t f = 0; f < shape.mesh.num_face_vertices.size(); ++f, ++face) {
      const size_t corners = shape.mesh.num_face_vertices[f];
      first += corners;
      ML_CHECK(first <= ids.size(), "load_obj: '", path, "' face ", face, " has corners past the index list");
      if (corners != 3) continue;  // a point or line element
      const tinyobj::index_t c[3] = {ids[first - 3], ids[first - 2], ids[first - 1]};
      const Vec3 p[3] = {vertex(c[0], face), vertex(c[1], face), vertex(c[2], face)};
      const Vec3 flat = (p[1] - p[0]).cross(p[2] - p[0]);
      if (!(flat.norm() > 0.0)) continue;  // degenerate face: nothing to draw
      bool has_normals = true;
      Vec3 n[3];
      for (int i = 0; i < 3; ++i) {
        const int k = c[i].normal_index;
        if (k < 0 || k >= nn) {
          has_normals = false;
          break;
        }
        n[i] = Vec3(attrib.normals[3 * k], attrib.normals[3 * k + 1], attrib.normals[3 * k + 2]);
        has_normals = has_normals && n[i].allFinite() && n[i].norm() > 0.0;
      }
      const auto base = static_cast<int32_t>(m.positions.size());
      for (int i = 0; i < 3; ++i) {
        m.positions.push_back(p[i]);
        m.normals.push_back(has_normals ? n[i].normalized() : flat.normalized());
      }
      m.triangles.push_back({base, base + 1, base + 2});
      m.albedo.push_back(static_cast<float>(albedo));
    }
  }
  ML_CHECK(!m.triangles.empty(), "load_obj: '", path, "' has no triangles (faces with 3 or more corners)");
  return m;
}

}  // namespace ml::render
