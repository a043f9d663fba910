// deepz/cuda/scale.cuh -- launcher of the demo kernel (host declarations only:
// included by scale.cu, where it is defined, and by bind_scale.cpp, compiled by
// the C++ compiler). Every kernel <k> has the same trio:
//   <k>.cuh        the launcher's declaration, plain C++ (no __global__, no pybind11)
//   <k>.cu         the __global__ kernel(s) and the launcher, explicitly instantiated
//                  for float and double; the per-pixel math comes from
//                  cpp/include/deepz/<k>.hpp (DEEPZ_HD functions)
//   bind_<k>.cpp   register_<k>(m): reads the arrays, checks them, Launch, launcher
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deepz::cuda {

// x[i] *= factor for the n elements of the device array x, on `stream`
// (asynchronous: returns once the kernel is queued). Throws std::runtime_error
// naming the kernel if the launch fails.
template <class T>
void launch_scale(T* x, std::int64_t n, T factor, cudaStream_t stream);

}  // namespace deepz::cuda
