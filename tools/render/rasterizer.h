// tools/render/rasterizer.h — a z-buffered, supersampled triangle rasteriser that renders
// one gray view of a mesh, built so that the scene is exactly mirror-symmetric.
//
// View convention (the study's 9 views, SCIENCE.md "Stimulus set"):
//   yaw theta in degrees, -90, -67.5, ..., +90. The object is turned about its vertical
//   (y) axis by theta; camera and light stay fixed. At 0 the object's front (+z) faces the
//   camera. At -90 the front points to the image's LEFT (left profile), at +90 to the
//   right: the rotation R_y(theta) maps +z to (sin theta, 0, cos theta) and image x grows
//   with world x. For an object symmetric about its x = 0 plane (the plane through the
//   vertical axis and the frontal viewing direction), view theta is the exact mirror image
//   of view -theta, so view j and view 8-j (0-based) are mirror images.
//
// Scene: a pinhole camera looking at the origin from `distance` along +z, raised by
// `elevation_deg` (it looks slightly down, so that wings, seats and decks are seen; the
// elevation is a rotation about x and keeps the mirror symmetry). Principal point at the
// image centre (W/2, H/2), pixel centres at i + 0.5. The mesh must be normalised (mesh.h:
// inside the unit sphere). The focal length is set per exemplar, not per view: so that the
// object's largest projection over all yaws (`extent`, from frame_extent) fills `fill` of the
// half-frame — the object keeps one size across views and never leaves the frame.
// Shading: albedo * (ambient + diffuse * max(0, n . l)) with a directional light l, fixed
// relative to the camera, that has no left-right component (l.x = 0), interpolated (Phong)
// normals, and two-sided
// lighting (a normal facing away from the camera is turned towards it, so open meshes and
// inconsistently wound OBJ files render sensibly). No shadows, gray only.
//
// Why the rendering is mirror-exact: coverage is decided in integer arithmetic. Vertices are
// projected in double and snapped to a fixed-point grid of 1/(2*S*K) pixel (S samples per
// pixel side, K = 32) with symmetric rounding, and sample positions are odd multiples of
// K on that grid, measured from the vertical centre line. Mirroring the scene negates
// every x coordinate exactly, so each edge function (an exact int64) changes sign only, and
// the inside test, the barycentric weights and hence the depth of a sample are identical at
// the mirrored sample. The depth is summed in a fixed order of the sorted terms, and depth
// ties are broken by the smaller shade, so the z-buffer's winner does not depend on the
// triangle or vertex order. The interpolated normal's components are summed in an order
// fixed by their values (magnitudes for x, which the mirror negates), and a pixel sums its
// samples in mirror pairs (a, S-1-a). What remains is a tie of two opposite-signed terms of
// equal magnitude in that sort: measure-zero, and a few ulps where it happens. Measured: all
// 175 one- and two-plane exemplars at 28 px, yaws +-22.5..90, bit-identical mirror pairs.
#pragma once
#include <string>
#include <vector>

#include "tools/render/mesh.h"

namespace ml::render {

struct Camera {
  double distance = 4.0;       // from the camera to the origin, in units of the bounding sphere's radius
  double elevation_deg = 15.0; // the camera's height above the object's horizontal plane, in degrees
  double fill = 0.9;           // the object's largest projection, as a fraction of half the frame
  // max |x| / depth and |y| / depth of the mesh over all yaws (frame_extent); 0 = that of the
  // bounding sphere, tan(asin(1 / distance)).
  double extent = 0.0;
};

struct Light {
  Vec3 to_light = Vec3(0.0, 0.6, 1.0).normalized();  // camera coordinates: from above-front; x must be 0
  double ambient = 0.4;
  double diffuse = 0.6;
};

struct RenderOptions {
  int size = 227;       // images are size x size pixels, size >= 8
  int supersample = 4;  // S: S x S samples per pixel (1..15)
  Camera camera;
  Light light;
};

// One rendered view; row-major, row 0 at the top, size*size entries each.
struct Rendering {
  int size = 0;
  int supersample = 1;          // S: coverage values are multiples of 1 / S^2
  std::vector<float> shade;     // the object's mean shade over the pixel's covered samples; 0 where none
  std::vector<float> coverage;  // covered samples / S^2, in [0, 1]
};

// The largest |x| / depth or |y| / depth of the mesh's vertices in camera coordinates over yaws
// -180..180 in steps of 1.5 degrees (which include the study's 9 views).
double frame_extent(const Mesh& mesh, const Camera& camera);

// Checks the options (size, supersample, light.x == 0, ...); errors name the option.
void validate(const RenderOptions& o);

// The mesh turned by yaw_deg about y and rendered. The mesh must be normalised (mesh.h).
Rendering render(const Mesh& mesh, double yaw_deg, const RenderOptions& o);

// The gray picture: coverage * shade + (1 - coverage) * background.
std::vector<float> composite(const Rendering& r, double background);

}  // namespace ml::render
