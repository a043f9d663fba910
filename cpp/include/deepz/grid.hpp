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

// First j in [0, n) with pred(j) true (n when none), for a predicate that is
// false ... false true ... true, found by galloping out from the guess g and
// bisecting: O(log |answer - g|) calls of pred, so O(1) for a good guess. Any
// g gives the same answer. (The CUDA kernels' search for "the input pixel of
// this output pixel", where the CPU kernels sweep.)
template <class Pred>
DEEPZ_HD std::int64_t first_true_near(std::int64_t n, Pred pred, std::int64_t g) {
  g = g < 0 ? 0 : (g > n ? n : g);
  std::int64_t lo, hi;      // the answer lies in [lo, hi]
  if (g < n && !pred(g)) {  // above g
    lo = g + 1;
    for (std::int64_t step = 1;; step *= 2) {
      const std::int64_t probe = lo + step - 1;
      if (probe >= n) {
        hi = n;
        break;
      }
      if (pred(probe)) {
        hi = probe;
        break;
      }
      lo = probe + 1;
    }
  } else {  // at or below g
    hi = g;
    for (std::int64_t step = 1;; step *= 2) {
      const std::int64_t probe = hi - step;
      if (probe < 0) {
        lo = 0;
        break;
      }
      if (!pred(probe)) {
        lo = probe + 1;
        break;
      }
      hi = probe;
    }
  }
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (pred(mid))
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// Fill edges[0..m] (m + 1 values) for the m >= 2 centres in w.
inline void bin_edges(const double* w, std::int64_t m, double* edges) {
  edges[0] = w[0] - 0.5 * (w[1] - w[0]);
  for (std::int64_t i = 1; i < m; ++i) edges[i] = 0.5 * (w[i - 1] + w[i]);
  edges[m] = w[m - 1] + 0.5 * (w[m - 1] - w[m - 2]);
}

}  // namespace deepz
