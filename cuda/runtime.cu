// deepz/cuda/runtime.cu -- what was compiled: the architecture list as nvcc saw it.
#include <vector>

namespace deepz::cuda {

// The SM architectures this module holds code for (e.g. {80, 90}), from nvcc's
// own __CUDA_ARCH_LIST__ (e.g. 800,900), so it cannot drift from the build flags.
std::vector<int> compiled_architectures() {
#if defined(__CUDA_ARCH_LIST__)
  std::vector<int> archs{__CUDA_ARCH_LIST__};
  for (int& a : archs) a /= 10;
  return archs;
#else
  return {};
#endif
}

}  // namespace deepz::cuda
