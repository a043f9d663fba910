// deepz/cuda/check.hpp -- turn a cudaError_t into a C++ exception (Python RuntimeError).
//
// Host-only, free of pybind11: usable from the .cu launchers and the .cpp bindings.
// pybind11 translates std::runtime_error into RuntimeError, so every CUDA
// failure reaches Python as a RuntimeError whose message names the operation
// (the kernel, or the runtime call and its argument) and the CUDA error.
//
//   DEEPZ_CUDA_CHECK(cudaMemsetAsync(p, 0, n, s), "resample");   // a runtime call
//   deepz::cuda::check_launch("resample_kernel", stream);          // right after <<<...>>>
//
// Kernel launches are asynchronous: check_launch catches bad launch
// configurations (and a missing kernel image for the GPU) at once; a fault
// *inside* the kernel (illegal address, ...) surfaces at the next synchronising
// call. Set DEEPZ_CUDA_SYNC=1 in the environment to synchronise the stream
// after every launch, so that such a fault is reported against the kernel that
// caused it (slow; for debugging and compute-sanitizer runs).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace deepz::cuda {

// "<what> failed: cudaErrorX: <description>".
[[noreturn]] inline void throw_cuda_error(cudaError_t err, const std::string& what) {
  std::string msg =
      "deepz._cuda: " + what + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  if (err == cudaErrorNoKernelImageForDevice || err == cudaErrorUnsupportedPtxVersion)
    msg +=
        " (deepz._cuda holds no code this GPU can run: see deepz.info() for the compiled "
        "architectures and rebuild with -DCMAKE_CUDA_ARCHITECTURES=<this GPU's, e.g. 89>)";
  throw std::runtime_error(msg);
}

inline void check(cudaError_t err, const std::string& what) {
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the (non-sticky) error so later calls start clean
    throw_cuda_error(err, what);
  }
}

// True when DEEPZ_CUDA_SYNC is set to a non-empty value other than "0" (read once).
inline bool sync_after_launch() {
  static const bool on = [] {
    const char* v = std::getenv("DEEPZ_CUDA_SYNC");
    return v != nullptr && v[0] != '\0' && !(v[0] == '0' && v[1] == '\0');
  }();
  return on;
}

// Call right after a kernel launch: reports launch errors naming the kernel,
// and with DEEPZ_CUDA_SYNC=1 also the errors raised while it ran.
inline void check_launch(const char* kernel, cudaStream_t stream) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw_cuda_error(err, std::string("kernel ") + kernel + " (launch)");
  if (sync_after_launch()) {
    err = cudaStreamSynchronize(stream);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      throw_cuda_error(err, std::string("kernel ") + kernel + " (execution)");
    }
  }
}

}  // namespace deepz::cuda

// Check a CUDA runtime call; `what` names the kernel or argument it serves.
// The message is only built on failure.
#define DEEPZ_CUDA_CHECK(expr, what)                                               \
  do {                                                                             \
    const cudaError_t deepz_err_ = (expr);                                         \
    if (deepz_err_ != cudaSuccess) {                                               \
      (void)cudaGetLastError();                                                    \
      ::deepz::cuda::throw_cuda_error(deepz_err_, std::string(what) + ": " #expr); \
    }                                                                              \
  } while (0)
