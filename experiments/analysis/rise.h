// experiments/analysis/rise.h — RISE importance maps (Petsiuk et al. 2018) as the mirror study
// uses them for Figure 5 (../shared/science/farzmahdi2024-more.md §3, §7).
//
// N random binary grids (s x s, each cell kept with probability p) are upsampled to
// (s+1)·ceil(H/s) pixels and cropped at a random offset to H x W; each masked image fades to
// the background gray, x_m = g + m ⊙ (x − g) (not to black). The explained score is one or
// more units of one layer, pre-ReLU by default; the map of unit u is
//   map_u = (1/N) Σ_i m_i · score_u(x_{m_i})       (no division by p, as the released code)
// then, as pinned, its spatial mean is subtracted and it is restricted to the object mask
// dilated by a radius-5 disc.
//
// Every mask is drawn from its own counter range of the seeded generator (mask i uses
// counters [i·2^20, ...)), so the mask set does not depend on the batch size, and the maps are
// identical whether the masks go through the network in one batch or many. The masks, the
// masked batches and the weighted mask sum are engine ops (rise_mask_batch, rise_accumulate)
// on the device the network runs on: no mask goes through the host.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/ops/rise_masks.h"
#include "engine/tensor.h"
#include "experiments/analysis/activations.h"

namespace ml::analysis {

struct RiseOptions {
  int64_t masks = 5000;         // N
  int64_t grid = 8;             // s: the random grid is s x s
  double keep = 0.5;            // p: probability that a grid cell is kept
  bool binary = false;          // rise_binary: nearest upsampling (masks stay 0/1)
  uint64_t seed = 0;            // the mask set's seed
  int64_t batch = 250;          // masked images per forward pass
  float gray = 128.f / 255.f;   // g: the background the masked pixels fade to
  bool post_relu = false;       // explain the layer's analysed (post-ReLU) output instead
};

// Checks the options against an image of h x w pixels; names the offending argument.
void check_rise_options(const RiseOptions& o, int64_t h, int64_t w);

// The engine op's description of the mask set (engine/ops.h, rise_mask_batch); checks o.
RiseMaskSpec rise_mask_spec(const RiseOptions& o, int64_t h, int64_t w);
// Masks [first, first + count) of the set: (count, 1, h, w) float32 on `device`, values in
// [0, 1], drawn there by the engine op (no host round trip).
Tensor rise_masks(const RiseOptions& o, int64_t h, int64_t w, int64_t first, int64_t count,
                  Device device = Device::CPU);

// A network read out at one layer for RISE: the module whose output is explained (the layer's
// pre-ReLU module unless post_relu), and a forward that stops there when the path to it runs
// through Sequential containers (the rest of the network is never evaluated).
class RiseTarget {
 public:
  RiseTarget(AnalysisNet& net, const std::string& layer, bool post_relu);
  // images (B, C, S, S) in [0, 1] -> scores (B, units) on the CPU, units = the flattened output.
  Tensor scores(const Tensor& images);
  // The same scores left on the network's device.
  Tensor scores_on_device(const Tensor& images);
  // Scores of images already normalised as the net expects ((x − mean_c) / std_c), on the device.
  Tensor scores_normalized_on_device(const Tensor& normalized);
  // The per-channel mean and std of the net's input normalisation, (1, C, 1, 1) on its device.
  Tensor norm_mean() const;
  Tensor norm_std() const;
  Device device() const { return net_.device; }
  int64_t units() const { return units_; }
  const std::string& module() const { return module_; }

 private:
  AnalysisNet& net_;
  std::string module_;
  bool apply_relu_ = false;
  int64_t units_ = 0;
};

// The object's foreground: pixels whose value differs from the background gray by more than
// half a gray level in any channel. image (C, H, W) -> (H*W) 0/1.
std::vector<uint8_t> foreground_mask(const Tensor& image, float gray);
// mask (H*W) dilated by a disc of the given radius (offsets with dx² + dy² <= r²).
std::vector<uint8_t> dilate_disc(const std::vector<uint8_t>& mask, int64_t h, int64_t w, int64_t radius);

// Raw RISE maps of one image (C, H, W): (groups.size(), H, W), map g = (1/N) Σ_i m_i·s_g(x_i)
// where s_g is the sum of the scores of the units in groups[g] (one unit, or the ~200 units
// whose maps Figure 5D sums: the map is linear in the score, so their sum costs one map).
// All groups come out of the same forwards.
Tensor rise_group_maps(RiseTarget& target, const Tensor& image, const std::vector<std::vector<int64_t>>& groups,
                       const RiseOptions& o, bool progress = false);
// One map per unit.
Tensor rise_maps(RiseTarget& target, const Tensor& image, const std::vector<int64_t>& units, const RiseOptions& o,
                 bool progress = false);

// The pinned post-processing of one raw map (H, W): minus its spatial mean, times `region`
// (the dilated object mask, H*W 0/1).
Tensor postprocess_map(const Tensor& raw, const std::vector<uint8_t>& region);

}  // namespace ml::analysis
