// engine/ops/common.h — argument checks shared by the op files.
#pragma once
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/ops.h"

namespace ml::detail {

inline void check_f32(const char* op, const Tensor& t, const char* arg) {
  ML_CHECK(t.defined(), op, ": argument '", arg, "' is undefined");
  ML_CHECK(t.dtype() == DType::F32, op, ": argument '", arg, "' must be float32, got ", t.str());
}

inline void check_dim(const char* op, const Tensor& t, const char* arg, int64_t dims) {
  ML_CHECK(t.dim() == dims, op, ": argument '", arg, "' must be ", dims, "-D, got ", t.str());
}

// Wraps a possibly negative dimension index.
inline int64_t wrap_dim(const char* op, int64_t d, int64_t ndim) {
  ML_CHECK(d >= -ndim && d < ndim, op, ": dimension ", d, " out of range for a ", ndim, "-D tensor");
  return d < 0 ? d + ndim : d;
}

}  // namespace ml::detail
