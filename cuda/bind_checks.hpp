// deepz/cuda/bind_checks.hpp -- the shape and dtype checks the kernel bindings share.
//
// The Python layer (deepz.kernels) has validated everything already; the
// bindings re-check cheaply, from the arrays' metadata only (no CUDA call), so
// that a direct call of deepz._cuda with a wrong array is an error, never an
// out-of-bounds access. Messages name the argument, the expectation and what
// was given (ValueError for shapes, TypeError for dtypes).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "array.hpp"

namespace deepz::cuda {

inline std::string shape_str(const std::vector<std::int64_t>& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// a.shape == expected, else ValueError "<name>: expected shape (..), got (..)".
inline void require_shape(const DeviceArray& a, std::initializer_list<std::int64_t> expected) {
  const std::vector<std::int64_t> want(expected);
  if (a.shape != want)
    throw pybind11::value_error(a.name + ": expected shape " + shape_str(want) + ", got " +
                                shape_str(a.shape));
}

// The dtype is exactly T, else TypeError "<name>: expected <what>, got <dtype>".
template <class T>
void require_dtype(const DeviceArray& a, const char* what) {
  if (!a.is<T>())
    throw pybind11::type_error(a.name + ": expected " + what + ", got " + a.dtype_name());
}

// An input: C-contiguous, dtype T.
template <class T>
void require_input(const DeviceArray& a, const char* what) {
  require_c_contiguous(a);
  require_dtype<T>(a, what);
}

// An output: C-contiguous, writable, dtype T.
template <class T>
void require_output(const DeviceArray& a, const char* what) {
  require_c_contiguous(a);
  require_writable(a);
  require_dtype<T>(a, what);
}

}  // namespace deepz::cuda
