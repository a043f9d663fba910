// deepz/cuda/add_noise.cuh -- launcher of the CUDA add_noise kernel (plain C++).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deepz::cuda {

// noisy, ivar (n, m) from flux (n, m) with sigma (srows, scols), srows in {1, n},
// scols in {1, m} (broadcast); spectrum s draws the noise of global index
// offset + s. kind: 0 gaussian, 1 poisson. The bits of deepz::add_noise_rows.
// Asynchronous.
template <class T>
void launch_add_noise(const T* flux, std::int64_t n, std::int64_t m, const T* sigma,
                      std::int64_t srows, std::int64_t scols, std::uint64_t seed,
                      std::uint64_t offset, int kind, T* noisy, T* ivar, cudaStream_t stream);

}  // namespace deepz::cuda
