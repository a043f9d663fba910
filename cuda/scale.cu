// deepz/cuda/scale.cu -- the demo kernel: multiply a device array in place.
// It exists to exercise the plumbing end to end (array -> Launch -> kernel ->
// error check) and to show the pattern the real kernels copy.
#include "launch.hpp"
#include "scale.cuh"

namespace deepz::cuda {

namespace {

template <class T>
__global__ void scale_kernel(T* __restrict__ x, std::int64_t n, T factor) {
  for (std::int64_t i = thread_index(); i < n; i += grid_stride()) x[i] *= factor;
}

}  // namespace

template <class T>
void launch_scale(T* x, std::int64_t n, T factor, cudaStream_t stream) {
  if (n == 0) return;
  const int grid = grid_size(n, kBlock);
  scale_kernel<T><<<grid, kBlock, 0, stream>>>(x, n, factor);
  check_launch("scale_kernel", stream);
}

template void launch_scale<float>(float*, std::int64_t, float, cudaStream_t);
template void launch_scale<double>(double*, std::int64_t, double, cudaStream_t);

}  // namespace deepz::cuda
