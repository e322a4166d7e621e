#pragma once
// Owning handles for libmatio's file and variable, and a variable's dims for error messages:
// one definition for every MATLAB .mat reader (SVHN in engine/data, MatConvNet networks in
// models/, vim-1 responses in the encoding study).
#include <matio.h>

#include <memory>
#include <string>

namespace ml::io {

struct MatCloser {
  void operator()(mat_t* m) const { Mat_Close(m); }
};
struct MatVarFreer {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using MatFile = std::unique_ptr<mat_t, MatCloser>;
using MatVar = std::unique_ptr<matvar_t, MatVarFreer>;

// "32x32x3x73257": the variable's dims as MATLAB prints them.
inline std::string mat_dims(const matvar_t* v) {
  std::string s;
  for (int d = 0; d < v->rank; ++d) {
    if (d) s += 'x';
    s += std::to_string(v->dims[d]);
  }
  return s;
}

}  // namespace ml::io
