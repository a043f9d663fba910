// deepz/cuda/redshift.cuh -- launcher of the CUDA redshift kernel (plain C++).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deepz::cuda {

// out (n, p) = templates (k, r) [index[s]] placed at z[s] on the observed grid,
// as deepz::redshift_one() does; er (r + 1,) and eo (p + 1,) are the bin edges
// (see launch_bin_edges). mode: 0 none, 1 flambda, 2 fnu. An index outside
// [0, k) gives a row of NaN (the Python layer refuses it first). Asynchronous.
template <class T>
void launch_redshift(const T* templates, std::int64_t k, std::int64_t r, const double* er,
                     const std::int64_t* index, const double* z, std::int64_t n, const double* eo,
                     std::int64_t p, int mode, double fill, T* out, cudaStream_t stream);

}  // namespace deepz::cuda
