// deepz/cuda/grid.cuh -- bin edges from pixel centres on the device (launcher
// declaration; plain C++). The edges are those of deepz::bin_edge()
// (cpp/include/deepz/grid.hpp), the same bits as the CPU's bin_edges().
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace deepz::cuda {

// edges (rows, m + 1) from the centres w (rows, m), m >= 2, each row on its own;
// on `stream`, asynchronous.
void launch_bin_edges(const double* w, std::int64_t rows, std::int64_t m, double* edges,
                      cudaStream_t stream);

}  // namespace deepz::cuda
