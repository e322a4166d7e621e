// tools/render/obj.h — user meshes in Wavefront OBJ (read by tinyobjloader).
#pragma once
#include <string>

#include "tools/render/mesh.h"

namespace ml::render {

// Every face of every shape in `path`, triangulated, in the file's own units (normalise
// before rendering: mesh.h). The file's vertex normals are used where every corner of a face
// has one; other faces get their flat face normal (their own corner vertices), so a file
// without normals renders faceted rather than wrongly smoothed. Materials are ignored: one
// albedo for the whole mesh. Errors (missing or unparsable file, no faces, indices out of
// range, non-finite coordinates) name the file.
// Materials (mtllib) are never read: a mesh file must not make the loader open other files
// (a "mtllib /dev/zero" would read forever).
Mesh load_obj(const std::string& path, double albedo = 0.8);

// The same for a file already in memory; `name` stands for the file in errors. load_obj is
// read_file + this, so the fuzz target (tests/fuzz) exercises exactly the programs' loader.
Mesh load_obj_text(const std::string& text, const std::string& name, double albedo = 0.8);

}  // namespace ml::render
