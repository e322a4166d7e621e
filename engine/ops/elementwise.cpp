// engine/ops/elementwise.cpp — pointwise functions and broadcasting arithmetic.
#include "kernels/elementwise.h"

#include "engine/ops/common.h"

namespace ml {

using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

Tensor unary(const Tensor& x, UnaryOp op, float alpha) {
  const char* name = kernels::unary_op_name(op);
  detail::check_f32(name, x, "input");
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  dispatch(x.device(), [&](auto D) {
    kernels::unary_forward<D>(y.data(), x.data(), x.numel(), op, alpha, device_stream(D));
  });
  const Tensor xs = x.detach(), ys = y.detach();
  return record(y, name, {x}, [xs, ys, op, alpha](const Tensor& g) {
    Tensor gx = Tensor::empty(xs.shape(), DType::F32, xs.device());
    dispatch(xs.device(), [&](auto D) {
      kernels::unary_backward<D>(gx.data(), g.data(), xs.data(), ys.data(), xs.numel(), op, alpha, device_stream(D));
    });
    return std::vector<Tensor>{gx};
  });
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

// numpy broadcasting: align on the right; each pair of dimensions equal or one of them 1.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    ML_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

kernels::BroadcastParams broadcast_params(const Shape& out, const Shape& a, const Shape& b) {
  kernels::BroadcastParams p{};
  const int pad = kernels::kMaxDims - static_cast<int>(out.size());
  auto strides = [&](const Shape& s, int64_t* st) {
    const int offset = kernels::kMaxDims - static_cast<int>(s.size());
    int64_t stride = 1;
    for (int d = kernels::kMaxDims - 1; d >= 0; --d) {
      const int64_t dim = d >= offset ? s[static_cast<size_t>(d - offset)] : 1;
      const int64_t out_dim = d >= pad ? out[static_cast<size_t>(d - pad)] : 1;
      st[d] = (dim == 1 && out_dim != 1) ? 0 : stride;
      stride *= dim;
    }
  };
  for (int d = 0; d < kernels::kMaxDims; ++d) p.out_shape[d] = d >= pad ? out[static_cast<size_t>(d - pad)] : 1;
  strides(a, p.a_stride);
  strides(b, p.b_stride);
  p.numel = shape_numel(out);
  p.same_shape = a == out && b == out;
  return p;
}

Tensor binary_raw(const Tensor& a, const Tensor& b, BinaryOp op) {
  const char* name = binary_name(op);
  detail::check_f32(name, a, "a");
  detail::check_f32(name, b, "b");
  const Device dev = common_device(name, {&a, &b});
  const Shape out = broadcast_shape(name, a.shape(), b.shape());
  Tensor y = Tensor::empty(out, DType::F32, dev);
  const auto p = broadcast_params(out, a.shape(), b.shape());
  dispatch(dev, [&](auto D) { kernels::binary_forward<D>(y.data(), a.data(), b.data(), p, op, device_stream(D)); });
  return y;
}

Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) {
  Tensor y = binary_raw(a, b, op);
  const Tensor as = a.detach(), bs = b.detach(), ys = y.detach();
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(y, binary_name(op), {a, b}, [as, bs, ys, op, ga, gb](const Tensor& g) {
    Tensor da, db;
    switch (op) {
      case BinaryOp::Add:
        if (ga) da = sum_to(g, as.shape());
        if (gb) db = sum_to(g, bs.shape());
        break;
      case BinaryOp::Sub:
        if (ga) da = sum_to(g, as.shape());
        if (gb) db = sum_to(neg(g), bs.shape());
        break;
      case BinaryOp::Mul:
        if (ga) da = sum_to(binary_raw(g, bs, BinaryOp::Mul), as.shape());
        if (gb) db = sum_to(binary_raw(g, as, BinaryOp::Mul), bs.shape());
        break;
      case BinaryOp::Div:  // y = a/b: dy/da = 1/b, dy/db = -y/b
        if (ga) da = sum_to(binary_raw(g, bs, BinaryOp::Div), as.shape());
        if (gb) db = sum_to(neg(binary_raw(binary_raw(g, ys, BinaryOp::Mul), bs, BinaryOp::Div)), bs.shape());
        break;
    }
    return std::vector<Tensor>{da, db};
  });
}

}  // namespace

Tensor relu(const Tensor& x) { return unary(x, UnaryOp::Relu, 0.f); }
Tensor elu(const Tensor& x, float alpha) { return unary(x, UnaryOp::Elu, alpha); }
Tensor sigmoid(const Tensor& x) { return unary(x, UnaryOp::Sigmoid, 0.f); }
Tensor tanh(const Tensor& x) { return unary(x, UnaryOp::Tanh, 0.f); }
Tensor softplus(const Tensor& x, float beta) {
  ML_CHECK(beta > 0.f, "softplus: beta must be positive, got ", beta);
  return unary(x, UnaryOp::Softplus, beta);
}
Tensor exp(const Tensor& x) { return unary(x, UnaryOp::Exp, 0.f); }
Tensor log(const Tensor& x) { return unary(x, UnaryOp::Log, 0.f); }
Tensor log1p(const Tensor& x) { return unary(x, UnaryOp::Log1p, 0.f); }
Tensor abs(const Tensor& x) { return unary(x, UnaryOp::Abs, 0.f); }
Tensor square(const Tensor& x) { return unary(x, UnaryOp::Square, 0.f); }
Tensor sqrt(const Tensor& x) { return unary(x, UnaryOp::Sqrt, 0.f); }
Tensor pow(const Tensor& x, float exponent) { return unary(x, UnaryOp::Pow, exponent); }
Tensor neg(const Tensor& x) { return unary(x, UnaryOp::Neg, 0.f); }
Tensor gelu(const Tensor& x) { return unary(x, UnaryOp::Gelu, 0.f); }

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Add); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Sub); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Mul); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Div); }
Tensor add(const Tensor& a, float b) { return unary(a, UnaryOp::AddScalar, b); }
Tensor sub(const Tensor& a, float b) { return unary(a, UnaryOp::AddScalar, -b); }
Tensor mul(const Tensor& a, float b) { return unary(a, UnaryOp::Scale, b); }
Tensor div(const Tensor& a, float b) {
  ML_CHECK(b != 0.f, "div: division of ", a.str(), " by the scalar 0");
  return unary(a, UnaryOp::Scale, 1.f / b);
}
Tensor rsub(float a, const Tensor& b) { return add(neg(b), a); }

}  // namespace ml
