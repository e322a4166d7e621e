// engine/ops/reduce.cpp — sums and means over dimensions; sum_to / expand, the pair that
// makes broadcasting differentiable (each is the other's adjoint).
#include "kernels/reduce.h"

#include <algorithm>

#include "engine/ops/common.h"

namespace ml {

namespace {

// Pads `shape` on the left to kMaxDims and marks the dimensions to reduce.
kernels::ReduceParams reduce_params(const Shape& shape, const std::vector<bool>& reduce) {
  kernels::ReduceParams p{};
  const int pad = kernels::kMaxDims - static_cast<int>(shape.size());
  for (int d = 0; d < kernels::kMaxDims; ++d) {
    p.shape[d] = d >= pad ? shape[static_cast<size_t>(d - pad)] : 1;
    p.reduce[d] = d >= pad && reduce[static_cast<size_t>(d - pad)];
  }
  return p;
}

// The raw reduction: x summed over `reduce` dims, keeping them as size 1.
Tensor sum_keep(const Tensor& x, const std::vector<bool>& reduce) {
  Shape out = x.shape();
  for (size_t d = 0; d < out.size(); ++d)
    if (reduce[d]) out[d] = 1;
  Tensor y = Tensor::empty(out, DType::F32, x.device());
  if (y.numel() == 0) return y;
  if (x.numel() == 0) return y.fill_(0.f);
  const auto p = reduce_params(x.shape(), reduce);
  dispatch(x.device(), [&](auto D) { kernels::sum_reduce<D>(y.data(), x.data(), p, device_stream(D)); });
  return y;
}

// The raw expansion of `x` (same rank as `shape`, dims equal or 1) to `shape`.
Tensor expand_same_rank(const Tensor& x, const Shape& shape) {
  std::vector<bool> reduce(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) reduce[d] = x.shape()[d] != shape[d];
  Tensor y = Tensor::empty(shape, DType::F32, x.device());
  if (y.numel() == 0) return y;
  const auto p = reduce_params(shape, reduce);
  dispatch(x.device(), [&](auto D) { kernels::expand<D>(y.data(), x.data(), p, device_stream(D)); });
  return y;
}

std::vector<bool> dims_mask(const char* op, const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<bool> reduce(static_cast<size_t>(x.dim()), false);
  for (int64_t d : dims) {
    const int64_t w = detail::wrap_dim(op, d, x.dim());
    ML_CHECK(!reduce[static_cast<size_t>(w)], op, ": dimension ", d, " listed twice");
    reduce[static_cast<size_t>(w)] = true;
  }
  return reduce;
}

Tensor sum_impl(const char* op, const Tensor& x, const std::vector<bool>& reduce, bool keepdim) {
  detail::check_f32(op, x, "input");
  Tensor y = sum_keep(x, reduce);
  Shape keep_shape = y.shape();
  if (!keepdim) {
    Shape out;
    for (size_t d = 0; d < reduce.size(); ++d)
      if (!reduce[d]) out.push_back(x.shape()[d]);
    y = y.reshape(out);
  }
  const Shape x_shape = x.shape();
  return record(y, op, {x}, [x_shape, keep_shape](const Tensor& g) {
    return std::vector<Tensor>{expand_same_rank(g.reshape(keep_shape), x_shape)};
  });
}

int64_t reduced_count(const Tensor& x, const std::vector<bool>& reduce) {
  int64_t n = 1;
  for (size_t d = 0; d < reduce.size(); ++d)
    if (reduce[d]) n *= x.shape()[d];
  return n;
}

}  // namespace

Tensor sum(const Tensor& x) {
  detail::check_f32("sum", x, "input");
  return sum_impl("sum", x, std::vector<bool>(static_cast<size_t>(x.dim()), true), false);
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_f32("sum", x, "input");
  return sum_impl("sum", x, dims_mask("sum", x, dims), keepdim);
}

Tensor mean(const Tensor& x) {
  detail::check_f32("mean", x, "input");
  ML_CHECK(x.numel() > 0, "mean: the input ", x.str(), " is empty");
  return mul(sum(x), 1.f / static_cast<float>(x.numel()));
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_f32("mean", x, "input");
  const auto reduce = dims_mask("mean", x, dims);
  const int64_t n = reduced_count(x, reduce);
  ML_CHECK(n > 0, "mean: reducing an empty dimension of ", x.str());
  return mul(sum_impl("mean", x, reduce, keepdim), 1.f / static_cast<float>(n));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  detail::check_f32("sum_to", x, "input");
  if (x.shape() == shape) return x;
  ML_CHECK(shape.size() <= x.shape().size(), "sum_to: cannot sum ", shape_str(x.shape()), " to the larger rank ",
           shape_str(shape));
  const size_t lead = x.shape().size() - shape.size();
  std::vector<bool> reduce(x.shape().size(), false);
  for (size_t d = 0; d < x.shape().size(); ++d) {
    if (d < lead) {
      reduce[d] = true;
      continue;
    }
    const int64_t target = shape[d - lead];
    ML_CHECK(target == x.shape()[d] || target == 1, "sum_to: cannot sum ", shape_str(x.shape()), " to ",
             shape_str(shape));
    reduce[d] = target == 1 && x.shape()[d] != 1;
  }
  return sum_impl("sum_to", x, reduce, true).reshape(shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_f32("expand", x, "input");
  if (x.shape() == shape) return x;
  ML_CHECK(x.shape().size() <= shape.size(), "expand: cannot expand ", shape_str(x.shape()), " to the smaller rank ",
           shape_str(shape));
  Shape padded(shape.size() - x.shape().size(), 1);
  padded.insert(padded.end(), x.shape().begin(), x.shape().end());
  for (size_t d = 0; d < shape.size(); ++d)
    ML_CHECK(padded[d] == shape[d] || padded[d] == 1, "expand: cannot expand ", shape_str(x.shape()), " to ",
             shape_str(shape));
  const Tensor xp = x.reshape(padded);
  Tensor y = expand_same_rank(xp.detach(), shape);
  const Shape x_shape = x.shape();
  return record(y, "expand", {x}, [x_shape](const Tensor& g) { return std::vector<Tensor>{sum_to(g, x_shape)}; });
}

Tensor argmax(const Tensor& x) {
  detail::check_f32("argmax", x, "input");
  detail::check_dim("argmax", x, "input", 2);
  ML_CHECK(x.size(1) > 0, "argmax: no columns in ", x.str());
  Tensor idx = Tensor::empty({x.size(0)}, DType::I32, x.device());
  dispatch(x.device(), [&](auto D) {
    kernels::argmax_rows<D>(idx.data_i32(), x.data(), x.size(0), x.size(1), device_stream(D));
  });
  return idx;
}

}  // namespace ml
