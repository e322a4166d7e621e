// engine/ops/rise_masks.cpp — RISE's masks and its response-weighted mask sum as ops on any
// device (kernels/rise_masks.h), so the mirror study's importance maps never send a mask
// through the host (experiments/analysis/rise.cpp).
#include "kernels/rise_masks.h"

#include "engine/ops/rise_masks.h"

#include "engine/ops/common.h"

namespace ml {

Tensor rise_mask_batch(const RiseMaskSpec& spec, int64_t first, int64_t count, Device device) {
  const char* op = "rise_mask_batch";
  ML_CHECK(spec.grid >= 1, op, ": grid must be >= 1, got ", spec.grid);
  ML_CHECK(spec.h >= 1 && spec.w >= 1, op, ": image size must be positive, got ", spec.h, " x ", spec.w);
  ML_CHECK(spec.grid <= spec.h && spec.grid <= spec.w, op, ": grid ", spec.grid, " is larger than the image (",
           spec.h, " x ", spec.w, ")");
  // The draw of one mask takes s² counters and two (more only on a 2^-64-rare rejection).
  ML_CHECK(static_cast<uint64_t>(spec.grid * spec.grid) + 64 <= spec.counters_per_mask, op, ": grid ", spec.grid,
           " needs more than ", spec.counters_per_mask, " counters per mask");
  ML_CHECK(spec.keep > 0.0 && spec.keep < 1.0, op, ": keep must be in (0, 1), got ", spec.keep);
  ML_CHECK(first >= 0 && count >= 0, op, ": masks [", first, ", ", first, " + ", count, ") is not a valid range");
  kernels::RiseMaskParams p;
  p.grid = spec.grid;
  p.h = spec.h;
  p.w = spec.w;
  p.cell_h = (spec.h + spec.grid - 1) / spec.grid;
  p.cell_w = (spec.w + spec.grid - 1) / spec.grid;
  p.up_h = (spec.grid + 1) * p.cell_h;
  p.up_w = (spec.grid + 1) * p.cell_w;
  p.keep = spec.keep;
  p.nearest = spec.nearest;
  p.seed = spec.seed;
  p.counters_per_mask = spec.counters_per_mask;
  Tensor masks = Tensor::empty({count, 1, spec.h, spec.w}, DType::F32, device);
  if (count == 0) return masks;
  Tensor grids = Tensor::empty({count, spec.grid, spec.grid}, DType::F32, device);
  Tensor shifts = Tensor::empty({count, 2}, DType::I32, device);
  dispatch(device, [&](auto D) {
    kernels::rise_grid_draw<D>(grids.data(), shifts.data_i32(), p, first, count, device_stream(D));
    kernels::rise_upsample_crop<D>(masks.data(), grids.data(), shifts.data_i32(), p, count, device_stream(D));
  });
  return masks;
}

void rise_accumulate(Tensor& sum, Tensor& comp, const Tensor& masks, const Tensor& weights) {
  const char* op = "rise_accumulate";
  detail::check_f32(op, sum, "sum");
  detail::check_f32(op, comp, "comp");
  detail::check_f32(op, masks, "masks");
  detail::check_f32(op, weights, "weights");
  detail::check_dim(op, sum, "sum", 2);
  detail::check_dim(op, weights, "weights", 2);
  ML_CHECK(masks.dim() >= 1, op, ": masks must have a batch dimension, got ", masks.str());
  const int64_t B = masks.size(0), U = sum.size(0), n = sum.size(1);
  ML_CHECK(comp.shape() == sum.shape(), op, ": comp ", comp.str(), " must have sum's shape ", sum.str());
  ML_CHECK(weights.size(0) == B && weights.size(1) == U, op, ": weights ", weights.str(), " must be (", B, ", ", U,
           ") for masks ", masks.str(), " and sum ", sum.str());
  ML_CHECK(B == 0 || masks.numel() / B == n, op, ": masks ", masks.str(), " must have ", n,
           " elements per mask (sum ", sum.str(), ")");
  const Device dev = common_device(op, {&sum, &comp, &masks, &weights});
  dispatch(dev, [&](auto D) {
    kernels::rise_accumulate<D>(sum.data(), comp.data(), masks.data(), weights.data(), B, n, U, device_stream(D));
  });
}

}  // namespace ml
