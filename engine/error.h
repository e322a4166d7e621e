// engine/error.h — one exception type; every message names the op, file or argument
// and what was wrong with it (DESIGN.md, "Errors").
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ml {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace ml

// ML_CHECK(cond, "conv2d: ", "input ", shape_str(s), " must be 4-D")
#define ML_CHECK(cond, ...)                                 \
  do {                                                      \
    if (!(cond)) throw ::ml::Error(::ml::detail::cat(__VA_ARGS__)); \
  } while (0)
