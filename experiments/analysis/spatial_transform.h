// experiments/analysis/spatial_transform.h — the image transformations g of the equivariance
// study (Lenc & Vedaldi; ../shared/science/lenc-vedaldi-equivariance.md §1-§3) and their
// feature-side counterpart P_g.
//
// Convention: [gx](u) = x(g⁻¹u). Image coordinates are (x = column, y = row, y down), and g
// acts about the image centre ((W−1)/2, (H−1)/2). A rotation by θ is counter-clockwise as
// displayed: for θ = 90° output row i, column j = input row j, column W−1−i (torch.rot90,
// the engine's rot90). In centred coordinates g⁻¹(u) = R(θ)·u / s with R(θ) = [[cos, −sin],
// [sin, cos]] and s the scale. Flips, rot90 and rot180 are exact index maps; any other angle or
// scale samples bilinearly with zero fill (on the preprocessed tensor).
//
// P_g maps a layer's sites through its receptive-field geometry: output site s reads the
// feature at p⁻¹(g⁻¹(p(s))), p mapping a site to its receptive-field centre (Eq. 5), bilinear
// with MatConvNet's conventions (zero outside), channels never mixed. Where the centres are
// symmetric about the image centre (vgg_small at 28/32, VGG16 at 224, Caffe AlexNet at 227)
// flips and rot90 land exactly on sites and P_g is a permutation; where they are not
// (torchvision AlexNet at 224: centres 3..219, a quarter conv1 cell off) P_g interpolates,
// and `exact` mode refuses it by name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace ml::analysis {

struct Transform {
  std::string name = "identity";  // hflip, vflip, rot90, rot180, rot270, or rot<deg>_scale<s>
  enum class Kind { Identity, HFlip, VFlip, Rot90, Rot180, Rot270, Affine } kind = Kind::Identity;
  double angle_deg = 0.0;         // Affine: rotation, counter-clockwise as displayed
  double scale = 1.0;             // Affine: > 1 enlarges
  // g⁻¹ applied to a centred point (x, y).
  void inverse(double x, double y, double& gx, double& gy) const;
  Transform inverse_transform() const;  // g⁻¹ as a Transform
};

// "hflip", "vflip", "rot90", "rot180", "rot270", "rot<deg>" (e.g. rot45), "scale<s>" (e.g. scale0.7071),
// "rot<deg>_scale<s>". Errors name the string.
Transform parse_transform(const std::string& name);

// g applied to images (N, C, H, W): exact index maps for flips and quarter turns (rot90 and
// rot270 need a square image), bilinear with zero fill otherwise. Not differentiable (images are data).
Tensor transform_images(const Tensor& x, const Transform& g);

// Receptive-field geometry of one layer's sites: the centre of site i along an axis is
// offset + stride·i (in input pixels), for `size` sites.
struct SiteGeometry {
  double offset = 0.0, stride = 1.0;
  int64_t height = 0, width = 0;
};
// The geometry of the output of `module` (a dotted name inside nested Sequentials) for an
// input of image_size x image_size, from the Conv2d / pooling modules on the way.
SiteGeometry site_geometry(nn::Module& net, const std::string& module, int64_t image_size);

// P_g for one layer as a (sites, sites) sampling matrix S: (P_g φ)[c] = S · φ[c] (flattened
// sites). Each row holds at most 4 bilinear weights. `exact`: refuse (naming the layer and the
// offending site) unless every row is a single weight of 1 — a permutation or zero fill.
Tensor pg_matrix(const SiteGeometry& geo, const Transform& g, int64_t image_size, bool exact = false,
                 const std::string& layer = "");
// P_g φ for φ (N, C, H, W) through S: a matmul, so it is differentiable (backward = Sᵀ, the
// transposed scatter-add) and runs on whatever device φ and S live on.
Tensor apply_pg(const Tensor& phi, const Tensor& S);

}  // namespace ml::analysis
