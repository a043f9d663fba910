// deepz/cuda/merge_bins.cu -- the CUDA twin of deepz::merge_rows().
//
// One thread per output pixel (flat over spectra x output pixels, output
// index fastest: the writes are coalesced, and the k-pixel reads of a warp
// cover one contiguous span), each calling deepz::merge_group(), the per-group
// function whose values the CPU's staged loops reproduce bit for bit (sums in
// double, in pixel order; a masked pixel adds nothing).
#include "deepz/merge_bins.hpp"
#include "launch.hpp"
#include "merge_bins.cuh"

namespace deepz::cuda {

namespace {

template <class T>
__global__ void merge_bins_kernel(const T* __restrict__ flux, const T* __restrict__ ivar,
                                  std::int64_t n, std::int64_t m, std::int64_t k, bool mean,
                                  T* __restrict__ flux_out, T* __restrict__ ivar_out) {
  const std::int64_t m_out = m / k;
  const std::int64_t total = n * m_out;
  for (std::int64_t i = thread_index(); i < total; i += grid_stride()) {
    const std::int64_t s = i / m_out, o = i - s * m_out;
    const std::int64_t first = s * m + o * k;
    merge_group<T>(flux + first, ivar != nullptr ? ivar + first : nullptr, k, mean, flux_out + i,
                   ivar_out != nullptr ? ivar_out + i : nullptr);
  }
}

}  // namespace

template <class T>
void launch_merge_bins(const T* flux, const T* ivar, std::int64_t n, std::int64_t m, std::int64_t k,
                       bool mean, T* flux_out, T* ivar_out, cudaStream_t stream) {
  if (n <= 0 || k <= 0 || m / k <= 0) return;
  const int grid = grid_size(n * (m / k), kBlock);
  merge_bins_kernel<T><<<grid, kBlock, 0, stream>>>(flux, ivar, n, m, k, mean, flux_out, ivar_out);
  check_launch("merge_bins_kernel", stream);
}

template void launch_merge_bins<float>(const float*, const float*, std::int64_t, std::int64_t,
                                       std::int64_t, bool, float*, float*, cudaStream_t);
template void launch_merge_bins<double>(const double*, const double*, std::int64_t, std::int64_t,
                                        std::int64_t, bool, double*, double*, cudaStream_t);

}  // namespace deepz::cuda
