// deepz/parallel.hpp -- split a batch of spectra across threads.
//
// Kernels are pure functions of one spectrum; this header runs such a function
// over a batch. The split is static and contiguous, so the result never depends
// on the thread count (every spectrum is computed by exactly the same code).
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace deepz {

// Call fn(begin, end) on disjoint contiguous ranges covering [0, n), using at
// most `threads` threads (the calling thread included). Small batches run
// inline. fn must not throw.
template <class Fn>
void parallel_for(std::int64_t n, int threads, Fn&& fn) {
  if (n <= 0) return;
  std::int64_t t = std::max<std::int64_t>(1, std::min<std::int64_t>(threads, n));
  if (t == 1) {
    fn(std::int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(t - 1));
  const std::int64_t chunk = n / t, extra = n % t;
  std::int64_t begin = 0;
  std::int64_t first_end = chunk + (extra > 0 ? 1 : 0);
  begin = first_end;
  for (std::int64_t k = 1; k < t; ++k) {
    const std::int64_t len = chunk + (k < extra ? 1 : 0);
    const std::int64_t b = begin, e = begin + len;
    pool.emplace_back([&fn, b, e] { fn(b, e); });
    begin = e;
  }
  fn(std::int64_t{0}, first_end);
  for (auto& th : pool) th.join();
}

}  // namespace deepz
