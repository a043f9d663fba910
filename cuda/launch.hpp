// deepz/cuda/launch.hpp -- the launch pattern every deepz kernel follows.
//
// Include only from .cu files. Kernels are written with grid-stride loops, so
// any grid size is correct and the grid is sized for the GPU, not for the data:
//
//   // one thread per element (flat arrays)
//   template <class T>
//   __global__ void scale_kernel(T* __restrict__ x, std::int64_t n, T factor) {
//     for (std::int64_t i = deepz::cuda::thread_index(); i < n; i += deepz::cuda::grid_stride())
//       x[i] *= factor;
//   }
//
//   // one block per spectrum, threads across its pixels (batched (N, M) arrays)
//   for (std::int64_t s = blockIdx.x; s < n_spectra; s += gridDim.x)
//     for (std::int64_t j = threadIdx.x; j < m; j += blockDim.x) ...
//
// and launched on the caller's stream, then checked, in a host launcher:
//
//   if (n == 0) return;                               // a zero-size grid is an error
//   const int grid = deepz::cuda::grid_size(n, deepz::cuda::kBlock);
//   scale_kernel<T><<<grid, deepz::cuda::kBlock, 0, stream>>>(x, n, factor);
//   deepz::cuda::check_launch("scale_kernel", stream);
//
// Indices are std::int64_t: batches of 10^8 spectra overflow 32 bits.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "check.hpp"

namespace deepz::cuda {

// Threads per block of the element-wise kernels: a multiple of the warp size
// that keeps every SM busy on the architectures we build for (sm_80, sm_90).
constexpr int kBlock = 256;

// Blocks in flight per SM we aim for (a few waves of the resident maximum).
constexpr int kBlocksPerSM = 32;

// Grid size for `work_items` independent items handed out `per_block` to a
// block: enough blocks to fill the current device, no more (the grid-stride
// loop covers the rest). work_items must be > 0.
inline int grid_size(std::int64_t work_items, int per_block = kBlock) {
  int device = 0;
  int sms = 0;
  DEEPZ_CUDA_CHECK(cudaGetDevice(&device), "grid_size");
  DEEPZ_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
                   "grid_size");
  const std::int64_t needed = (work_items + per_block - 1) / per_block;
  const std::int64_t cap = static_cast<std::int64_t>(std::max(sms, 1)) * kBlocksPerSM;
  return static_cast<int>(std::max<std::int64_t>(1, std::min(needed, cap)));
}

#if defined(__CUDACC__)
// Global index of this thread and the stride of a grid-stride loop, in 64 bits.
__device__ __forceinline__ std::int64_t thread_index() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t grid_stride() {
  return static_cast<std::int64_t>(gridDim.x) * blockDim.x;
}
#endif

}  // namespace deepz::cuda
