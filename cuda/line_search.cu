// deepz/cuda/line_search.cu -- the CUDA twin of the line_search kernel.
//
// The greedy search is sequential within a spectrum (lines in order, each
// anchored on those found before it; a sort for each window's MAD), so a
// thread runs one spectrum at a time through deepz::line_search_spectrum(),
// the very function the CPU threads call: the results are the CPU's bit for
// bit (double arithmetic, only +, -, *, /, sqrt, fabs and comparisons, all
// correctly rounded with --fmad=false). A pool of `workers` threads (sized by
// the caller so that their scratch fits in memory) walks the batch with a
// stride of `workers`; each owns one scratch slice (window values for the
// MAD, found lines), which stays in L1/L2 for the usual windows of a few
// hundred pixels. Reads of flux are per-thread streams (not coalesced across
// a warp); the kernel is latency-bound, not bandwidth-bound.
#include "launch.hpp"
#include "line_search.cuh"

namespace deepz::cuda {

namespace {

// Threads per block: small, as the threads of a warp diverge.
constexpr int kLineSearchBlock = 64;

template <class T>
__global__ void line_search_kernel(
    const double* __restrict__ wave, std::int64_t wave_rows, const T* __restrict__ flux,
    const T* __restrict__ ivar, std::int64_t n, std::int64_t m, const double* __restrict__ z0,
    const double* __restrict__ rest, const double* __restrict__ strength,
    const double* __restrict__ sign, const std::int64_t* __restrict__ order, std::int64_t n_lines,
    LineSearchParams params, double* __restrict__ scratch, std::int64_t workers,
    T* __restrict__ out_z, T* __restrict__ out_wave, T* __restrict__ out_snr,
    std::int64_t* __restrict__ out_found, T* __restrict__ out_quality) {
  const std::int64_t worker = thread_index();
  if (worker >= workers) return;
  double* my_scratch = scratch + worker * line_search_scratch_size(m, n_lines);
  const std::int64_t wave_stride = wave_rows == 1 ? 0 : m;
  for (std::int64_t s = worker; s < n; s += workers) {
    line_search_spectrum<T>(
        wave + s * wave_stride, flux + s * m, ivar != nullptr ? ivar + s * m : nullptr, m, z0[s],
        rest, strength, sign, order, n_lines, params, my_scratch, out_z + s, out_wave + s * n_lines,
        out_snr + s * n_lines, out_found + s, out_quality + s);
  }
}

}  // namespace

template <class T>
void launch_line_search(const double* wave, std::int64_t wave_rows, const T* flux, const T* ivar,
                        std::int64_t n, std::int64_t m, const double* z0, const double* rest,
                        const double* strength, const double* sign, const std::int64_t* order,
                        std::int64_t n_lines, const LineSearchParams& params, double* scratch,
                        std::int64_t workers, T* out_z, T* out_wave, T* out_snr,
                        std::int64_t* out_found, T* out_quality, cudaStream_t stream) {
  if (n <= 0 || workers <= 0) return;
  const std::int64_t blocks = (workers + kLineSearchBlock - 1) / kLineSearchBlock;
  line_search_kernel<T><<<static_cast<unsigned>(blocks), kLineSearchBlock, 0, stream>>>(
      wave, wave_rows, flux, ivar, n, m, z0, rest, strength, sign, order, n_lines, params, scratch,
      workers, out_z, out_wave, out_snr, out_found, out_quality);
  check_launch("line_search_kernel", stream);
}

#define DEEPZ_INSTANTIATE(T)                                                                    \
  template void launch_line_search<T>(const double*, std::int64_t, const T*, const T*,          \
                                      std::int64_t, std::int64_t, const double*, const double*, \
                                      const double*, const double*, const std::int64_t*,        \
                                      std::int64_t, const LineSearchParams&, double*,           \
                                      std::int64_t, T*, T*, T*, std::int64_t*, T*, cudaStream_t);
DEEPZ_INSTANTIATE(float)
DEEPZ_INSTANTIATE(double)
#undef DEEPZ_INSTANTIATE

}  // namespace deepz::cuda
