// deepz/cuda/add_noise.cu -- the CUDA twin of deepz::add_noise_rows().
//
// The noise of a pixel is a pure function of (seed, global spectrum index,
// pixel): every thread draws its own Philox counters, so the result does not
// depend on the launch configuration, and the arithmetic is deepz's own
// polynomials with IEEE operations that are never fused (add_noise.hpp maps them
// to the __f*_rn / __d*_rn intrinsics under nvcc): the CPU's bits.
//
// - Gaussian: one thread per block of 4 pixels of a spectrum (one Philox
//   draw, two Box-Muller pairs: deepz::gaussian_noise_block), flat over the
//   (spectrum, block) pairs, so the threads of a warp cover 128 consecutive
//   pixels: 16-byte chunks per thread, coalesced by the L1.
// - Poisson: one thread per pixel (deepz::poisson_noise_pixel), each with its
//   own stream of Philox draws; threads of a warp diverge in the rejection
//   loop (PTRS accepts > 90 % at the first attempt).
#include "deepz/add_noise.hpp"
#include "launch.hpp"
#include "add_noise.cuh"

namespace deepz::cuda {

namespace {

template <class T>
__global__ void gaussian_noise_kernel(const T* __restrict__ flux, std::int64_t n, std::int64_t m,
                                      const T* __restrict__ sigma, std::int64_t srows,
                                      std::int64_t scols, std::uint64_t seed, std::uint64_t offset,
                                      T* __restrict__ noisy, T* __restrict__ ivar) {
  const std::int64_t blocks = (m + 3) / 4;
  const std::int64_t total = n * blocks;
  const std::int64_t step = scols > 1 ? 1 : 0;
  for (std::int64_t i = thread_index(); i < total; i += grid_stride()) {
    const std::int64_t s = i / blocks, b = i - s * blocks;
    const T* sig = sigma + (srows > 1 ? s * scols : 0);
    gaussian_noise_block<T>(flux + s * m, sig, step, m, seed,
                            offset + static_cast<std::uint64_t>(s), b, noisy + s * m, ivar + s * m);
  }
}

template <class T>
__global__ void poisson_noise_kernel(const T* __restrict__ flux, std::int64_t n, std::int64_t m,
                                     const T* __restrict__ sigma, std::int64_t srows,
                                     std::int64_t scols, std::uint64_t seed, std::uint64_t offset,
                                     T* __restrict__ noisy, T* __restrict__ ivar) {
  const std::int64_t total = n * m;
  for (std::int64_t i = thread_index(); i < total; i += grid_stride()) {
    const std::int64_t s = i / m, p = i - s * m;
    const T sg = sigma[(srows > 1 ? s * scols : 0) + (scols > 1 ? p : 0)];
    poisson_noise_pixel<T>(flux[i], sg, seed, offset + static_cast<std::uint64_t>(s), p, noisy + i,
                           ivar + i);
  }
}

}  // namespace

template <class T>
void launch_add_noise(const T* flux, std::int64_t n, std::int64_t m, const T* sigma,
                      std::int64_t srows, std::int64_t scols, std::uint64_t seed,
                      std::uint64_t offset, int kind, T* noisy, T* ivar, cudaStream_t stream) {
  if (n <= 0 || m <= 0) return;
  if (kind == 0) {
    const int grid = grid_size(n * ((m + 3) / 4), kBlock);
    gaussian_noise_kernel<T>
        <<<grid, kBlock, 0, stream>>>(flux, n, m, sigma, srows, scols, seed, offset, noisy, ivar);
    check_launch("gaussian_noise_kernel", stream);
  } else {
    const int grid = grid_size(n * m, kBlock);
    poisson_noise_kernel<T>
        <<<grid, kBlock, 0, stream>>>(flux, n, m, sigma, srows, scols, seed, offset, noisy, ivar);
    check_launch("poisson_noise_kernel", stream);
  }
}

template void launch_add_noise<float>(const float*, std::int64_t, std::int64_t, const float*,
                                      std::int64_t, std::int64_t, std::uint64_t, std::uint64_t, int,
                                      float*, float*, cudaStream_t);
template void launch_add_noise<double>(const double*, std::int64_t, std::int64_t, const double*,
                                       std::int64_t, std::int64_t, std::uint64_t, std::uint64_t,
                                       int, double*, double*, cudaStream_t);

}  // namespace deepz::cuda
