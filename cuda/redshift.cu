// deepz/cuda/redshift.cu -- the CUDA twin of deepz::redshift_batch().
//
// One block per sample (grid-stride over samples), one thread per observed bin
// (pixel index fastest across the threads of a warp: the writes of out and the
// reads of the template and of the edges are coalesced). Thread 0 computes the
// sample's setup once (1/(1+z), the scale factor, the covered bins and the rest
// pixels at their ends: deepz::redshift_pixel_setup) into shared memory; each
// thread then finds its bin's first rest pixel by galloping from a guess
// interpolated between those ends (O(1) on linear and log-linear grids alike)
// and sums it with deepz::redshift_general_bin, the function the CPU sweep
// calls. Results equal the CPU's general sweep bit for bit (--fmad=false;
// nothing but +, -, *, / and comparisons) and its log-lambda sweep to the
// rounding the CPU tests allow between its two sweeps (<= 1e-14 relative).
#include <limits>

#include "deepz/redshift.hpp"
#include "launch.hpp"
#include "redshift.cuh"

namespace deepz::cuda {

namespace {

template <class T>
__global__ void redshift_kernel(const T* __restrict__ templates, std::int64_t k, std::int64_t r,
                                const double* __restrict__ er,
                                const std::int64_t* __restrict__ index,
                                const double* __restrict__ z, std::int64_t n,
                                const double* __restrict__ eo, std::int64_t p, int mode,
                                double fill, T* __restrict__ out) {
  __shared__ RedshiftPixelSetup shared_setup;
  __shared__ std::int64_t shared_t;
  for (std::int64_t s = blockIdx.x; s < n; s += gridDim.x) {
    if (threadIdx.x == 0) {
      shared_t = index[s];
      shared_setup = redshift_pixel_setup(er, r, eo, p, 1.0 + z[s], mode);
    }
    __syncthreads();
    const std::int64_t t = shared_t;
    const RedshiftPixelSetup setup = shared_setup;
    T* o = out + s * p;
    if (t < 0 || t >= k) {
      for (std::int64_t j = threadIdx.x; j < p; j += blockDim.x)
        o[j] = std::numeric_limits<T>::quiet_NaN();
    } else {
      const T* tp = templates + t * r;
      for (std::int64_t j = threadIdx.x; j < p; j += blockDim.x)
        o[j] = redshift_pixel(tp, er, r, eo, setup, j, fill);
    }
    __syncthreads();  // everyone has read the setup before thread 0 overwrites it
  }
}

}  // namespace

template <class T>
void launch_redshift(const T* templates, std::int64_t k, std::int64_t r, const double* er,
                     const std::int64_t* index, const double* z, std::int64_t n, const double* eo,
                     std::int64_t p, int mode, double fill, T* out, cudaStream_t stream) {
  if (n <= 0 || p <= 0) return;
  // Threads: one per observed bin, a whole number of warps, at most kBlock.
  const int threads = static_cast<int>(std::min<std::int64_t>(kBlock, (p + 31) / 32 * 32));
  const int grid = grid_size(n, 1);
  redshift_kernel<T>
      <<<grid, threads, 0, stream>>>(templates, k, r, er, index, z, n, eo, p, mode, fill, out);
  check_launch("redshift_kernel", stream);
}

template void launch_redshift<float>(const float*, std::int64_t, std::int64_t, const double*,
                                     const std::int64_t*, const double*, std::int64_t,
                                     const double*, std::int64_t, int, double, float*,
                                     cudaStream_t);
template void launch_redshift<double>(const double*, std::int64_t, std::int64_t, const double*,
                                      const std::int64_t*, const double*, std::int64_t,
                                      const double*, std::int64_t, int, double, double*,
                                      cudaStream_t);

}  // namespace deepz::cuda
