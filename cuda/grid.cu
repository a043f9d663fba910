// deepz/cuda/grid.cu -- bin edges from pixel centres: one thread per edge.
#include "deepz/grid.hpp"
#include "grid.cuh"
#include "launch.hpp"

namespace deepz::cuda {

namespace {

__global__ void bin_edges_kernel(const double* __restrict__ w, std::int64_t rows, std::int64_t m,
                                 double* __restrict__ edges) {
  const std::int64_t per_row = m + 1;
  const std::int64_t total = rows * per_row;
  for (std::int64_t i = thread_index(); i < total; i += grid_stride()) {
    const std::int64_t row = i / per_row, e = i - row * per_row;
    edges[i] = deepz::bin_edge(w + row * m, m, e);
  }
}

}  // namespace

void launch_bin_edges(const double* w, std::int64_t rows, std::int64_t m, double* edges,
                      cudaStream_t stream) {
  if (rows <= 0 || m < 2) return;
  const int grid = grid_size(rows * (m + 1), kBlock);
  bin_edges_kernel<<<grid, kBlock, 0, stream>>>(w, rows, m, edges);
  check_launch("bin_edges_kernel", stream);
}

}  // namespace deepz::cuda
