// deepz/cuda/resample.cuh -- launcher of the CUDA resample kernel (plain C++).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deepz::cuda {

// out (n, p) (and out_ivar with ivar; both null otherwise) from flux (n, m) on
// wave (wave_rows, m) to new_wave (new_rows, p), rows 1 (shared) or n, both
// grids increasing: the bits of deepz's CPU resample. plan: 5 p doubles of
// scratch, used when both grids are shared (one plan per output pixel, built
// by a first kernel). Asynchronous.
template <class T>
void launch_resample(const double* wave, std::int64_t wave_rows, const T* flux, const T* ivar,
                     std::int64_t n, std::int64_t m, const double* new_wave, std::int64_t new_rows,
                     std::int64_t p, bool linear, T fill, T* out, T* out_ivar, double* plan,
                     cudaStream_t stream);

}  // namespace deepz::cuda
