// deepz/grid.hpp -- wavelength bins from pixel centres.
//
// A grid of M increasing pixel centres w[0..M-1] defines M bins whose edges
// lie half-way between neighbouring centres; the outer edges mirror the first
// and last half-widths (the SpectRes convention):
//   edge[0] = w[0] - (w[1] - w[0]) / 2,  edge[i] = (w[i-1] + w[i]) / 2,
//   edge[M] = w[M-1] + (w[M-1] - w[M-2]) / 2.
// A one-pixel grid has no width and is refused by the Python layer.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DEEPZ_HD __host__ __device__ __forceinline__
#else
#define DEEPZ_HD inline
#endif

namespace deepz {

// Edge i (0 <= i <= m) of the bins of the m >= 2 centres in w.
DEEPZ_HD double bin_edge(const double* w, std::int64_t m, std::int64_t i) {
  if (i == 0) return w[0] - 0.5 * (w[1] - w[0]);
  if (i == m) return w[m - 1] + 0.5 * (w[m - 1] - w[m - 2]);
  return 0.5 * (w[i - 1] + w[i]);
}

// Fill edges[0..m] (m + 1 values) for the m >= 2 centres in w.
inline void bin_edges(const double* w, std::int64_t m, double* edges) {
  edges[0] = w[0] - 0.5 * (w[1] - w[0]);
  for (std::int64_t i = 1; i < m; ++i) edges[i] = 0.5 * (w[i - 1] + w[i]);
  edges[m] = w[m - 1] + 0.5 * (w[m - 1] - w[m - 2]);
}

}  // namespace deepz
