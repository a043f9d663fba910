// deepz/cuda/resample.cu -- the CUDA twin of deepz's CPU resample.
//
// One block per spectrum (grid-stride over spectra), one thread per output
// pixel (output index fastest: the writes are coalesced, and neighbouring
// threads read neighbouring input pixels). A thread's output pixel reads the
// input pixels its plan names (deepz::ResamplePlan: the first input pixel,
// how many, the clamped bin edges and 1 / the summed overlaps), and sums them
// with deepz::resample_pixel(), the expressions of the CPU's accumulate and
// finish steps in the same order: the CPU's bits (see resample.hpp, "One
// output pixel at a time").
//
// Plans: with both grids shared, a first kernel builds the p plans once (a
// thread per output pixel, a galloping search from an interpolated guess:
// deepz::resample_make_plan) into the caller's scratch, and every spectrum
// reads them (5 p doubles, L2-resident); with a per-spectrum grid each thread
// builds its pixel's plan on the spot. Bin edges are computed from the centres
// when read (deepz::bin_edge, the values the CPU stores), so no edge array is
// materialised.
#include "deepz/resample.hpp"
#include "launch.hpp"
#include "resample.cuh"

namespace deepz::cuda {

namespace {

template <bool kLinear>
__global__ void resample_plan_kernel(const double* __restrict__ wave, std::int64_t m,
                                     const double* __restrict__ new_wave, std::int64_t p,
                                     ResamplePlan* __restrict__ plan) {
  for (std::int64_t j = thread_index(); j < p; j += grid_stride())
    plan[j] = resample_make_plan<kLinear>(wave, m, new_wave, p, j);
}

template <class T, bool kLinear>
__global__ void resample_kernel(const double* __restrict__ wave, std::int64_t wave_rows,
                                const T* __restrict__ flux, const T* __restrict__ ivar,
                                std::int64_t n, std::int64_t m, const double* __restrict__ new_wave,
                                std::int64_t new_rows, std::int64_t p,
                                const ResamplePlan* __restrict__ plan, T fill, T* __restrict__ out,
                                T* __restrict__ out_ivar) {
  for (std::int64_t s = blockIdx.x; s < n; s += gridDim.x) {
    const double* w = wave + (wave_rows == 1 ? 0 : s * m);
    const double* nw = new_wave + (new_rows == 1 ? 0 : s * p);
    const ResampleEdgesOnTheFly ein{w, m};
    const T* f = flux + s * m;
    const T* iv = ivar != nullptr ? ivar + s * m : nullptr;
    for (std::int64_t j = threadIdx.x; j < p; j += blockDim.x) {
      const ResamplePlan pl =
          plan != nullptr ? plan[j] : resample_make_plan<kLinear>(w, m, nw, p, j);
      resample_pixel<T, kLinear>(pl, ein, f, iv, fill, out + s * p + j,
                                 out_ivar != nullptr ? out_ivar + s * p + j : nullptr);
    }
  }
}

template <class T, bool kLinear>
void run(const double* wave, std::int64_t wave_rows, const T* flux, const T* ivar, std::int64_t n,
         std::int64_t m, const double* new_wave, std::int64_t new_rows, std::int64_t p, T fill,
         T* out, T* out_ivar, double* plan_scratch, cudaStream_t stream) {
  ResamplePlan* plan = nullptr;
  if (wave_rows == 1 && new_rows == 1 && plan_scratch != nullptr) {
    static_assert(sizeof(ResamplePlan) == 5 * sizeof(double), "a plan is 5 doubles");
    plan = reinterpret_cast<ResamplePlan*>(plan_scratch);
    resample_plan_kernel<kLinear>
        <<<grid_size(p, kBlock), kBlock, 0, stream>>>(wave, m, new_wave, p, plan);
    check_launch("resample_plan_kernel", stream);
  }
  const int threads = static_cast<int>(std::min<std::int64_t>(kBlock, (p + 31) / 32 * 32));
  resample_kernel<T, kLinear><<<grid_size(n, 1), threads, 0, stream>>>(
      wave, wave_rows, flux, ivar, n, m, new_wave, new_rows, p, plan, fill, out, out_ivar);
  check_launch("resample_kernel", stream);
}

}  // namespace

template <class T>
void launch_resample(const double* wave, std::int64_t wave_rows, const T* flux, const T* ivar,
                     std::int64_t n, std::int64_t m, const double* new_wave, std::int64_t new_rows,
                     std::int64_t p, bool linear, T fill, T* out, T* out_ivar, double* plan,
                     cudaStream_t stream) {
  if (n <= 0 || p <= 0) return;
  if (linear)
    run<T, true>(wave, wave_rows, flux, ivar, n, m, new_wave, new_rows, p, fill, out, out_ivar,
                 plan, stream);
  else
    run<T, false>(wave, wave_rows, flux, ivar, n, m, new_wave, new_rows, p, fill, out, out_ivar,
                  plan, stream);
}

template void launch_resample<float>(const double*, std::int64_t, const float*, const float*,
                                     std::int64_t, std::int64_t, const double*, std::int64_t,
                                     std::int64_t, bool, float, float*, float*, double*,
                                     cudaStream_t);
template void launch_resample<double>(const double*, std::int64_t, const double*, const double*,
                                      std::int64_t, std::int64_t, const double*, std::int64_t,
                                      std::int64_t, bool, double, double*, double*, double*,
                                      cudaStream_t);

}  // namespace deepz::cuda
