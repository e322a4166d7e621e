// engine/tensor.h — N-d tensors (up to 5-D), float32 or int32 (uint8 for image files),
// contiguous row-major (NCHW for images), stored on one device.
//
// A Tensor is a shared handle: copies share the same TensorImpl. Views (reshape, slicing
// along the first dimension, detach) share the Storage and differ in offset/shape. Anything
// that reorders memory is a kernel (DESIGN.md), so every tensor is contiguous.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/generator.h"
#include "kernels/common.h"

namespace ml {

enum class DType : int { F32 = 0, I32 = 1, U8 = 2 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);

using Shape = std::vector<int64_t>;
constexpr int kMaxTensorDims = 5;
std::string shape_str(const Shape& s);  // "(2, 3, 4)"
int64_t shape_numel(const Shape& s);

// One allocation on one device; freed when the last view goes.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Node;
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::F32;
  // autograd (engine/autograd.h)
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor; null for leaves
  std::string name;                  // optional, for error messages (parameter names)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation (values are written on the target device) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor ones(const Shape& shape, Device device = Device::CPU);
  static Tensor full(const Shape& shape, float value, Device device = Device::CPU);
  static Tensor arange(int64_t n, float start = 0.f, float step = 1.f, Device device = Device::CPU);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values, Device device = Device::CPU);
  static Tensor from_vector_i32(const Shape& shape, const std::vector<int32_t>& values,
                                Device device = Device::CPU);
  static Tensor uniform(const Shape& shape, float lo, float hi, Generator& gen, Device device = Device::CPU);
  static Tensor normal(const Shape& shape, float mean, float std, Generator& gen, Device device = Device::CPU);

  // ---- properties ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  std::string str() const;  // "float32 (2, 3) on cpu" for messages

  // ---- raw data (checked dtype) ----
  float* data();
  const float* data() const;
  int32_t* data_i32();
  const int32_t* data_i32() const;
  uint8_t* data_u8();
  const uint8_t* data_u8() const;
  void* raw();
  const void* raw() const;

  // ---- views and copies ----
  Tensor reshape(const Shape& shape) const;  // one -1 allowed; a view; differentiable
  Tensor slice(int64_t start, int64_t end) const;  // rows [start, end) of dim 0; a view; differentiable
  Tensor clone() const;                      // a copy; differentiable
  Tensor detach() const;                     // same storage, outside the graph
  Tensor to(Device device) const;            // a copy on `device` (itself if already there); differentiable
  Tensor to_f32() const;                     // int32/uint8 -> float32 copy; not differentiable
  Tensor& fill_(float value);                // in place; not allowed on a tensor that needs grad
  Tensor& copy_(const Tensor& src);          // in place, same shape and dtype; any devices
  std::vector<float> to_vector() const;      // host copy
  std::vector<int32_t> to_vector_i32() const;
  float item() const;                        // the one value of a 1-element tensor

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves
  Tensor grad() const;                     // undefined until a backward reaches this leaf
  void set_grad(const Tensor& g);
  void zero_grad();                        // drops the gradient (set_to_none, as PyTorch 2)
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  // Backpropagates from this tensor: from a scalar with gradient 1, or with `grad_output`
  // of this tensor's shape. Frees the graph it walked.
  void backward() const;
  void backward(const Tensor& grad_output) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  void check_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace ml
