// deepz/cuda/line_search.cuh -- launcher of the CUDA line_search kernel (plain C++).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "deepz/line_search.hpp"

namespace deepz::cuda {

// deepz::line_search_spectrum() for each of the n spectra of flux (n, m) (ivar
// the same shape, or nullptr), on the grid wave (wave_rows, m), wave_rows 1
// (shared) or n; z0 (n,); the line tables rest, strength, sign, order
// (n_lines,), order being the search order (strongest first). scratch holds
// `workers` slices of line_search_scratch_size(m, n_lines) doubles: `workers`
// threads run, each through spectra worker, worker + workers, ...
// Outputs: out_z, out_found, out_quality (n,); out_wave, out_snr (n, n_lines).
// Asynchronous.
template <class T>
void launch_line_search(const double* wave, std::int64_t wave_rows, const T* flux, const T* ivar,
                        std::int64_t n, std::int64_t m, const double* z0, const double* rest,
                        const double* strength, const double* sign, const std::int64_t* order,
                        std::int64_t n_lines, const LineSearchParams& params, double* scratch,
                        std::int64_t workers, T* out_z, T* out_wave, T* out_snr,
                        std::int64_t* out_found, T* out_quality, cudaStream_t stream);

}  // namespace deepz::cuda
