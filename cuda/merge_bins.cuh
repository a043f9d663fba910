// deepz/cuda/merge_bins.cuh -- launcher of the CUDA merge_bins kernel (plain C++).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deepz::cuda {

// flux_out (n, m / k) (and ivar_out, when ivar is given; both null otherwise)
// from flux (n, m): k adjacent pixels to one, as deepz::merge_rows. Asynchronous.
template <class T>
void launch_merge_bins(const T* flux, const T* ivar, std::int64_t n, std::int64_t m, std::int64_t k,
                       bool mean, T* flux_out, T* ivar_out, cudaStream_t stream);

}  // namespace deepz::cuda
