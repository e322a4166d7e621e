#include "engine/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/random.h"

namespace ml {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::I32: return "int32";
    case DType::U8: return "uint8";
  }
  return "?";
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ")";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Storage::Storage(size_t nbytes, Device dev) : bytes(nbytes), device(dev) { data = device_alloc(nbytes, dev); }
Storage::~Storage() { device_free(data, bytes, device); }

Device common_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) {
      first = t;
      continue;
    }
    ML_CHECK(t->device() == first->device(), op, ": tensors on different devices (", first->str(), " and ", t->str(),
             "); move them with .to() first");
  }
  ML_CHECK(first, op, ": no defined tensor argument");
  return first->device();
}

// ---- creation --------------------------------------------------------------------------

static void check_shape(const Shape& shape, const char* what) {
  ML_CHECK(static_cast<int>(shape.size()) <= kMaxTensorDims, what, ": shape ", shape_str(shape), " has more than ",
           kMaxTensorDims, " dimensions");
  for (auto d : shape) ML_CHECK(d >= 0, what, ": negative dimension in shape ", shape_str(shape));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  check_shape(shape, "Tensor::empty");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (dtype == DType::F32) {
    t.fill_(0.f);
  } else if (dtype == DType::I32) {
    dispatch(device, [&](auto D) { kernels::fill_i32<D>(t.data_i32(), t.numel(), 0, device_stream(D)); });
  } else {
    ML_CHECK(device == Device::CPU, "Tensor::zeros: uint8 tensors live on the CPU");
    std::memset(t.raw(), 0, t.nbytes());
  }
  return t;
}

Tensor Tensor::ones(const Shape& shape, Device device) { return full(shape, 1.f, device); }

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::arange(int64_t n, float start, float step, Device device) {
  Tensor t = empty({n}, DType::F32, device);
  dispatch(device, [&](auto D) { kernels::arange<D>(t.data(), n, start, step, device_stream(D)); });
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device) {
  ML_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector: ", values.size(),
           " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::F32, device);
  device_copy(t.raw(), device, values.data(), Device::CPU, t.nbytes());
  return t;
}

Tensor Tensor::from_vector_i32(const Shape& shape, const std::vector<int32_t>& values, Device device) {
  ML_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "Tensor::from_vector_i32: ", values.size(),
           " values for shape ", shape_str(shape));
  Tensor t = empty(shape, DType::I32, device);
  device_copy(t.raw(), device, values.data(), Device::CPU, t.nbytes());
  return t;
}

Tensor Tensor::uniform(const Shape& shape, float lo, float hi, Generator& gen, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  const uint64_t offset = gen.advance(t.numel());
  dispatch(device, [&](auto D) { kernels::uniform<D>(t.data(), t.numel(), lo, hi, gen.seed(), offset, device_stream(D)); });
  return t;
}

Tensor Tensor::normal(const Shape& shape, float mean, float std, Generator& gen, Device device) {
  Tensor t = empty(shape, DType::F32, device);
  const uint64_t offset = gen.advance(t.numel());
  dispatch(device, [&](auto D) { kernels::normal<D>(t.data(), t.numel(), mean, std, gen.seed(), offset, device_stream(D)); });
  return t;
}

// ---- properties ------------------------------------------------------------------------

void Tensor::check_defined(const char* what) const {
  ML_CHECK(impl_ != nullptr, what, ": the tensor is undefined");
}

const Shape& Tensor::shape() const {
  check_defined("Tensor::shape");
  return impl_->shape;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  ML_CHECK(d >= -n && d < n, "Tensor::size: dimension ", d, " out of range for shape ", shape_str(shape()));
  return shape()[static_cast<size_t>(d < 0 ? d + n : d)];
}

DType Tensor::dtype() const {
  check_defined("Tensor::dtype");
  return impl_->dtype;
}

Device Tensor::device() const {
  check_defined("Tensor::device");
  return impl_->storage->device;
}

std::string Tensor::str() const {
  if (!impl_) return "undefined tensor";
  std::string s = detail::cat(dtype_name(dtype()), " ", shape_str(shape()), " on ", device_name(device()));
  if (!impl_->name.empty()) s = "'" + impl_->name + "' " + s;
  return s;
}

void* Tensor::raw() {
  check_defined("Tensor::raw");
  return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(dtype_size(impl_->dtype));
}
const void* Tensor::raw() const { return const_cast<Tensor*>(this)->raw(); }

float* Tensor::data() {
  ML_CHECK(dtype() == DType::F32, "expected a float32 tensor, got ", str());
  return static_cast<float*>(raw());
}
const float* Tensor::data() const { return const_cast<Tensor*>(this)->data(); }
int32_t* Tensor::data_i32() {
  ML_CHECK(dtype() == DType::I32, "expected an int32 tensor, got ", str());
  return static_cast<int32_t*>(raw());
}
const int32_t* Tensor::data_i32() const { return const_cast<Tensor*>(this)->data_i32(); }
uint8_t* Tensor::data_u8() {
  ML_CHECK(dtype() == DType::U8, "expected a uint8 tensor, got ", str());
  return static_cast<uint8_t*>(raw());
}
const uint8_t* Tensor::data_u8() const { return const_cast<Tensor*>(this)->data_u8(); }

// ---- views and copies ------------------------------------------------------------------

static Tensor view_of(const Tensor& x, const Shape& shape, int64_t extra_offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->offset = x.impl()->offset + extra_offset;
  impl->shape = shape;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined("reshape");
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      ML_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      ML_CHECK(out[i] >= 0, "reshape: invalid dimension in ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    ML_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape ", shape_str(this->shape()), " to ",
             shape_str(shape));
    out[static_cast<size_t>(infer)] = numel() / known;
  }
  ML_CHECK(shape_numel(out) == numel(), "reshape: cannot reshape ", shape_str(this->shape()), " (", numel(),
           " elements) to ", shape_str(shape));
  check_shape(out, "reshape");
  const Shape in_shape = this->shape();
  return record(view_of(*this, out, 0), "reshape", {*this},
                [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
}

Tensor Tensor::slice(int64_t start, int64_t end) const {
  check_defined("slice");
  ML_CHECK(dim() >= 1, "slice: a 0-d tensor has no rows");
  const int64_t n = shape()[0];
  ML_CHECK(0 <= start && start <= end && end <= n, "slice: rows [", start, ", ", end, ") out of range for shape ",
           shape_str(shape()));
  Shape out = shape();
  out[0] = end - start;
  const int64_t row = n ? numel() / n : 0;
  const Shape in_shape = shape();
  return record(view_of(*this, out, start * row), "slice", {*this},
                [in_shape, start, end](const Tensor& g) {
                  // The gradient of a row block is zero outside it.
                  Tensor gx = Tensor::zeros(in_shape, DType::F32, g.device());
                  gx.slice(start, end).copy_(g);
                  return std::vector<Tensor>{gx};
                });
}

Tensor Tensor::detach() const {
  check_defined("detach");
  return view_of(*this, shape(), 0);
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_defined("copy_");
  ML_CHECK(src.shape() == shape() && src.dtype() == dtype(), "copy_: source ", src.str(), " does not match ", str());
  ML_CHECK(!(GradMode::enabled() && requires_grad()), "copy_: in-place write to ", str(),
           " which requires grad; do it under NoGradGuard");
  device_copy(raw(), device(), src.raw(), src.device(), nbytes());
  return *this;
}

Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor out = empty(shape(), dtype(), device());
  device_copy(out.raw(), device(), raw(), device(), nbytes());
  return record(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(Device d) const {
  check_defined("to");
  if (d == device()) return *this;
  Tensor out = empty(shape(), dtype(), d);
  device_copy(out.raw(), d, raw(), device(), nbytes());
  const Device from = device();
  return record(out, "to", {*this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

Tensor Tensor::to_f32() const {
  check_defined("to_f32");
  if (dtype() == DType::F32) return detach().clone();
  Tensor out = empty(shape(), DType::F32, device());
  if (dtype() == DType::I32) {
    dispatch(device(), [&](auto D) { kernels::cast_i32_to_f32<D>(out.data(), data_i32(), numel(), device_stream(D)); });
  } else {
    ML_CHECK(device() == Device::CPU, "to_f32: uint8 tensors are converted on the CPU");
    const uint8_t* s = data_u8();
    float* o = out.data();
    for (int64_t i = 0; i < numel(); ++i) o[i] = s[i];
  }
  return out;
}

Tensor& Tensor::fill_(float value) {
  check_defined("fill_");
  ML_CHECK(!(GradMode::enabled() && requires_grad()), "fill_: in-place write to ", str(),
           " which requires grad; do it under NoGradGuard");
  dispatch(device(), [&](auto D) { kernels::fill<D>(data(), numel(), value, device_stream(D)); });
  return *this;
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> v(static_cast<size_t>(numel()));
  ML_CHECK(dtype() == DType::F32, "to_vector: expected float32, got ", str());
  device_copy(v.data(), Device::CPU, raw(), device(), nbytes());
  return v;
}

std::vector<int32_t> Tensor::to_vector_i32() const {
  std::vector<int32_t> v(static_cast<size_t>(numel()));
  ML_CHECK(dtype() == DType::I32, "to_vector_i32: expected int32, got ", str());
  device_copy(v.data(), Device::CPU, raw(), device(), nbytes());
  return v;
}

float Tensor::item() const {
  ML_CHECK(numel() == 1, "item: tensor ", str(), " has ", numel(), " elements, not 1");
  return to_vector()[0];
}

// ---- autograd --------------------------------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  check_defined("requires_grad_");
  ML_CHECK(is_leaf(), "requires_grad_: ", str(), " is not a leaf (it was computed by '", impl_->grad_fn->name,
           "'); detach() it first");
  ML_CHECK(!on || dtype() == DType::F32, "requires_grad_: only float32 tensors can require grad, got ", str());
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  check_defined("grad");
  return impl_->grad ? Tensor(impl_->grad) : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  check_defined("set_grad");
  ML_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient ", g.str(), " for ", str());
  impl_->grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::zero_grad() {
  check_defined("zero_grad");
  impl_->grad.reset();
}

bool Tensor::is_leaf() const { return !impl_ || !impl_->grad_fn; }

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  check_defined("grad_fn");
  return impl_->grad_fn;
}

void Tensor::backward() const {
  ML_CHECK(numel() == 1, "backward: called without grad_output on ", str(),
           "; only a one-element (scalar) tensor has an implicit gradient");
  run_backward(*this, Tensor::ones(shape(), device()));
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

}  // namespace ml
