// engine/ops/shape.cpp — flatten, concatenation, splitting and narrowing along a dimension.
// For contiguous tensors all of them are one pitched 2-D copy: along dimension d a tensor is
// `outer` = prod(shape[:d]) rows, each holding shape[d] * inner contiguous elements.
#include "kernels/elementwise.h"

#include "engine/ops/common.h"

namespace ml {

namespace {

struct Rows {
  int64_t outer, inner;  // rows before dim, elements after dim
};

Rows rows_of(const Shape& s, int64_t dim) {
  Rows r{1, 1};
  for (int64_t d = 0; d < dim; ++d) r.outer *= s[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(dim) + 1; d < s.size(); ++d) r.inner *= s[d];
  return r;
}

// dst[:, dst_start : dst_start + len] = src[:, src_start : src_start + len] along `dim`.
void copy_block(Tensor& dst, int64_t dst_start, const Tensor& src, int64_t src_start, int64_t len, int64_t dim) {
  const Rows r = rows_of(dst.shape(), dim);
  const int64_t es = static_cast<int64_t>(dtype_size(dst.dtype()));
  const int64_t dst_pitch = dst.shape()[static_cast<size_t>(dim)] * r.inner * es;
  const int64_t src_pitch = src.shape()[static_cast<size_t>(dim)] * r.inner * es;
  const int64_t row_bytes = len * r.inner * es;
  if (r.outer == 0 || row_bytes == 0) return;
  char* d = static_cast<char*>(dst.raw()) + dst_start * r.inner * es;
  const char* s = static_cast<const char*>(src.raw()) + src_start * r.inner * es;
  dispatch(dst.device(), [&](auto D) {
    kernels::copy2d<D>(d, dst_pitch, s, src_pitch, r.outer, row_bytes, device_stream(D));
  });
}

}  // namespace

Tensor flatten(const Tensor& x, int64_t start_dim) {
  ML_CHECK(x.defined(), "flatten: the input is undefined");
  const int64_t sd = detail::wrap_dim("flatten", start_dim, x.dim());
  Shape out(x.shape().begin(), x.shape().begin() + sd);
  int64_t rest = 1;
  for (int64_t d = sd; d < x.dim(); ++d) rest *= x.shape()[static_cast<size_t>(d)];
  out.push_back(rest);
  return x.reshape(out);
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  ML_CHECK(!xs.empty(), "cat: no tensors given");
  const Tensor& first = xs[0];
  ML_CHECK(first.defined(), "cat: tensor 0 is undefined");
  const int64_t d = detail::wrap_dim("cat", dim, first.dim());
  Shape out = first.shape();
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    ML_CHECK(t.defined() && t.dim() == first.dim() && t.dtype() == first.dtype() && t.device() == first.device(),
             "cat: tensor ", i, " (", t.str(), ") does not match tensor 0 (", first.str(), ")");
    for (int64_t k = 0; k < first.dim(); ++k)
      ML_CHECK(k == d || t.shape()[static_cast<size_t>(k)] == first.shape()[static_cast<size_t>(k)], "cat: tensor ",
               i, " has shape ", shape_str(t.shape()), ", tensor 0 ", shape_str(first.shape()),
               "; they may differ only in dimension ", d);
    total += t.shape()[static_cast<size_t>(d)];
  }
  out[static_cast<size_t>(d)] = total;
  Tensor y = Tensor::empty(out, first.dtype(), first.device());
  std::vector<int64_t> sizes;
  int64_t at = 0;
  for (const Tensor& t : xs) {
    const int64_t len = t.shape()[static_cast<size_t>(d)];
    copy_block(y, at, t, 0, len, d);
    sizes.push_back(len);
    at += len;
  }
  return record(y, "cat", xs, [sizes, d](const Tensor& g) { return split(g, sizes, d); });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  ML_CHECK(x.defined(), "narrow: the input is undefined");
  const int64_t d = detail::wrap_dim("narrow", dim, x.dim());
  const int64_t n = x.shape()[static_cast<size_t>(d)];
  ML_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: [", start, ", ", start + length,
           ") out of range for dimension ", d, " of ", shape_str(x.shape()));
  Shape out = x.shape();
  out[static_cast<size_t>(d)] = length;
  Tensor y = Tensor::empty(out, x.dtype(), x.device());
  copy_block(y, 0, x, start, length, d);
  const Shape x_shape = x.shape();
  return record(y, "narrow", {x}, [x_shape, d, start, length](const Tensor& g) {
    Tensor gx = Tensor::zeros(x_shape, DType::F32, g.device());
    copy_block(gx, start, g, 0, length, d);
    return std::vector<Tensor>{gx};
  });
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  ML_CHECK(x.defined(), "split: the input is undefined");
  const int64_t d = detail::wrap_dim("split", dim, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    ML_CHECK(s >= 0, "split: negative size ", s);
    total += s;
  }
  ML_CHECK(total == x.shape()[static_cast<size_t>(d)], "split: sizes add up to ", total, " but dimension ", d,
           " of ", shape_str(x.shape()), " has ", x.shape()[static_cast<size_t>(d)]);
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, d, at, s));
    at += s;
  }
  return out;
}

}  // namespace ml
