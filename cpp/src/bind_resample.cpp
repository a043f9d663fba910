// Bindings of the resample kernel: deepz._core.resample.
//
// resample(wave: f64 (Nw, M), flux: T (N, M), ivar: T (N, M) | None,
//          new_wave: f64 (Nn, P), linear: bool, fill: float, threads: int)
//   -> (flux_out: T (N, P), ivar_out: T (N, P) | None)
// Nw and Nn are 1 (shared grid) or N. Grids are strictly increasing (checked
// by deepz.kernels.resample). With both grids shared the weights are built
// once and reused for every spectrum (4 spectra at a time on the AVX2 path);
// otherwise each thread builds them per spectrum in its own scratch.
// _resample_isa(set=None) reports (or, for tests, forces) the instruction set.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "deepz/grid.hpp"
#include "deepz/parallel.hpp"
#include "deepz/resample.hpp"

namespace py = pybind11;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    if (d) s += ", ";
    s += std::to_string(a.shape(d));
  }
  return s + ")";
}

// Chunks of output pixels sized to keep the prepared pixels of 4 spectra in
// L1/L2.
constexpr std::int64_t kChunkOut = 256;
constexpr std::int64_t kChunkSpan = 512;

// Storage of one weight map, its chunks, and the bin edges it is built from.
struct WeightStore {
  std::vector<std::int64_t> off, first, start, lo, hi;
  std::vector<double> u, u2, tot, rtot, ein, eout;
  std::int64_t nchunks = 0, widest = 0;
  WeightStore(std::int64_t m, std::int64_t p)
      : off(p + 1),
        first(p),
        start(p + 1),
        lo(p),
        hi(p),
        u(deepz::resample_capacity(m, p)),
        u2(deepz::resample_capacity(m, p)),
        tot(p),
        rtot(p),
        ein(m + 1),
        eout(p + 1) {}
  deepz::ResampleWeights weights() {
    return {off.data(), first.data(), u.data(), u2.data(), tot.data(), rtot.data()};
  }
  deepz::ResampleChunks chunks() { return {start.data(), lo.data(), hi.data()}; }
  // Build the map of input centres win (m) -> output centres wout (p).
  void build(const double* win, std::int64_t m, const double* wout, std::int64_t p, bool linear) {
    const deepz::ResampleWeights wt = weights();
    if (linear) {
      deepz::resample_build_linear(win, m, wout, p, wt);
    } else {
      deepz::bin_edges(win, m, ein.data());
      deepz::bin_edges(wout, p, eout.data());
      deepz::resample_build_flux(ein.data(), m, eout.data(), p, wt);
    }
    nchunks = deepz::resample_chunks(wt, p, kChunkOut, kChunkSpan, chunks(), &widest);
  }
};

// Scratch of one thread for up to 4 spectra reading `span` pixels.
struct ScratchStore {
  std::vector<double> vf, v, var, num, den, err;
  ScratchStore(std::int64_t span, std::int64_t max_out)
      : vf(4 * span), v(4 * span), var(4 * span), num(max_out), den(max_out), err(max_out) {}
  deepz::ResampleScratch view() {
    return {vf.data(), v.data(), var.data(), num.data(), den.data(), err.data()};
  }
};

// What the threads share: the batch and the grids.
template <class T>
struct Job {
  const double* wave;
  const double* new_wave;
  const T* flux;
  const T* ivar;  // or null
  T* out;
  T* out_ivar;  // or null
  std::int64_t m, p;
  bool wave_shared, new_shared, linear;
  T fill;
};

// Shared grids, spectra [b, e): the weights in ws; with kLanes 4 at a time.
template <class T, bool kStrict, bool kLanes>
void run_shared(const Job<T>& job, WeightStore& ws, std::int64_t b, std::int64_t e,
                deepz::ResampleScratch s) {
  const deepz::ResampleWeights wt = ws.weights();
  const deepz::ResampleChunks ch = ws.chunks();
  const std::int64_t m = job.m, p = job.p;
  std::int64_t n = b;
#if DEEPZ_RESAMPLE_LANES
  if (kLanes)
    for (; n + 4 <= e; n += 4)
      deepz::lanes::spectra4<T, kStrict>(
          wt, ch, ws.nchunks, m, p, job.flux + n * m, job.ivar ? job.ivar + n * m : nullptr,
          job.fill, job.out + n * p, job.out_ivar ? job.out_ivar + n * p : nullptr, s);
#endif
  for (; n < e; ++n)
    deepz::resample_spectrum<T, kStrict>(
        wt, ch, ws.nchunks, job.flux + n * m, job.ivar ? job.ivar + n * m : nullptr, job.fill,
        job.out + n * p, job.out_ivar ? job.out_ivar + n * p : nullptr, s);
}

// Per-spectrum grids, spectra [b, e): the weights rebuilt in ws for each.
template <class T, bool kStrict>
void run_own(const Job<T>& job, WeightStore& ws, std::int64_t b, std::int64_t e,
             deepz::ResampleScratch s) {
  const std::int64_t m = job.m, p = job.p;
  for (std::int64_t n = b; n < e; ++n) {
    ws.build(job.wave + (job.wave_shared ? 0 : n * m), m,
             job.new_wave + (job.new_shared ? 0 : n * p), p, job.linear);
    deepz::resample_spectrum<T, kStrict>(ws.weights(), ws.chunks(), ws.nchunks, job.flux + n * m,
                                         job.ivar ? job.ivar + n * m : nullptr, job.fill,
                                         job.out + n * p,
                                         job.out_ivar ? job.out_ivar + n * p : nullptr, s);
  }
}

template <class T, bool kLanes>
void run(const Job<T>& job, WeightStore& ws, bool shared, std::int64_t b, std::int64_t e,
         deepz::ResampleScratch s) {
  if (shared) {
    if (job.linear)
      run_shared<T, true, kLanes>(job, ws, b, e, s);
    else
      run_shared<T, false, kLanes>(job, ws, b, e, s);
  } else {
    if (job.linear)
      run_own<T, true>(job, ws, b, e, s);
    else
      run_own<T, false>(job, ws, b, e, s);
  }
}

// On x86-64 the same code is also compiled for AVX2 (flatten: everything it
// calls is inlined and compiled so) and chosen at run time; only this path
// takes spectra 4 at a time (the 4-lane vectors need AVX to pay off). No FMA
// is enabled and the operations are the same in the same order, so every
// path gives identical bits.
#if DEEPZ_RESAMPLE_LANES && (defined(__x86_64__) || defined(__i386__))
#define DEEPZ_RESAMPLE_AVX2 1
template <class T>
__attribute__((target("avx2"), flatten)) void run_avx2(const Job<T>& job, WeightStore& ws,
                                                       bool shared, std::int64_t b, std::int64_t e,
                                                       deepz::ResampleScratch s) {
  run<T, true>(job, ws, shared, b, e, s);
}
#endif

bool cpu_has_avx2() {
#if DEEPZ_RESAMPLE_AVX2
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

bool& use_avx2() {
  static bool on = cpu_has_avx2();
  return on;
}

template <class T>
void dispatch(const Job<T>& job, WeightStore& ws, bool shared, std::int64_t b, std::int64_t e,
              deepz::ResampleScratch s) {
#if DEEPZ_RESAMPLE_AVX2
  if (use_avx2()) return run_avx2<T>(job, ws, shared, b, e, s);
#endif
  run<T, false>(job, ws, shared, b, e, s);
}

template <class T>
py::tuple resample(const carray<double>& wave, const carray<T>& flux,
                   const std::optional<carray<T>>& ivar, const carray<double>& new_wave,
                   bool linear, double fill, int threads) {
  if (flux.ndim() != 2)
    throw std::invalid_argument("flux must be 2-D (N, M), got " + shape_str(flux));
  if (wave.ndim() != 2)
    throw std::invalid_argument("wave must be 2-D (Nw, M), got " + shape_str(wave));
  if (new_wave.ndim() != 2)
    throw std::invalid_argument("new_wave must be 2-D (Nn, P), got " + shape_str(new_wave));
  const std::int64_t n = flux.shape(0), m = flux.shape(1);
  const std::int64_t nw = wave.shape(0), nn = new_wave.shape(0), p = new_wave.shape(1);
  if (n < 1) throw std::invalid_argument("flux is an empty batch: " + shape_str(flux));
  if (m < 2 || wave.shape(1) != m || !(nw == 1 || nw == n))
    throw std::invalid_argument("wave must have shape (1, M) or (N, M) with M >= 2 matching flux " +
                                shape_str(flux) + ", got " + shape_str(wave));
  if (p < (linear ? 1 : 2) || !(nn == 1 || nn == n))
    throw std::invalid_argument(
        "new_wave must have shape (1, P) or (N, P) with P >= " + std::string(linear ? "1" : "2") +
        " for N = " + std::to_string(n) + ", got " + shape_str(new_wave));
  if (ivar && (ivar->ndim() != 2 || ivar->shape(0) != n || ivar->shape(1) != m))
    throw std::invalid_argument("ivar must have the shape of flux " + shape_str(flux) + ", got " +
                                shape_str(*ivar));
  if (threads < 1)
    throw std::invalid_argument("threads must be >= 1, got " + std::to_string(threads));

  carray<T> out({n, p});
  std::optional<carray<T>> out_ivar;
  if (ivar) out_ivar.emplace(std::vector<py::ssize_t>{n, p});

  Job<T> job{wave.data(),
             new_wave.data(),
             flux.data(),
             ivar ? ivar->data() : nullptr,
             out.mutable_data(),
             out_ivar ? out_ivar->mutable_data() : nullptr,
             m,
             p,
             nw == 1,
             nn == 1,
             linear,
             static_cast<T>(fill)};
  const bool shared = nw == 1 && nn == 1;
  std::atomic<bool> failed{false};
  {
    py::gil_scoped_release release;
    try {
      // Shared grids: one weight map for the whole batch, built here once.
      std::optional<WeightStore> common;
      if (shared) {
        common.emplace(m, p);
        common->build(job.wave, m, job.new_wave, p, linear);
      }
      deepz::parallel_for(n, threads, [&](std::int64_t b, std::int64_t e) {
        try {
          if (shared) {
            ScratchStore sc(common->widest, kChunkOut);
            dispatch<T>(job, *common, true, b, e, sc.view());
          } else {
            WeightStore own(m, p);
            ScratchStore sc(m, kChunkOut);  // spans vary per spectrum: room for all
            dispatch<T>(job, own, false, b, e, sc.view());
          }
        } catch (...) {
          failed = true;
        }
      });
    } catch (...) {
      failed = true;
    }
  }
  if (failed) throw std::bad_alloc();
  if (out_ivar) return py::make_tuple(out, *out_ivar);
  return py::make_tuple(out, py::none());
}

}  // namespace

void register_resample(py::module_& m) {
  const char* doc =
      "resample(wave, flux, ivar, new_wave, linear, fill, threads) -> (flux_out, ivar_out | "
      "None)\n\n"
      "Private kernel of deepz.kernels.resample: grids are float64 (1 or N rows), strictly\n"
      "increasing; flux/ivar are (N, M) of one float dtype.";
  m.def("resample", &resample<float>, py::arg("wave"), py::arg("flux"), py::arg("ivar"),
        py::arg("new_wave"), py::arg("linear"), py::arg("fill"), py::arg("threads"), doc);
  m.def("resample", &resample<double>, py::arg("wave"), py::arg("flux"), py::arg("ivar"),
        py::arg("new_wave"), py::arg("linear"), py::arg("fill"), py::arg("threads"), doc);
  m.def(
      "_resample_isa",
      [](std::optional<std::string> set) {
        if (set) {
          if (*set == "baseline") {
            use_avx2() = false;
          } else if (*set == "auto") {
            use_avx2() = cpu_has_avx2();
          } else {
            throw std::invalid_argument("isa must be 'auto' or 'baseline', got '" + *set + "'");
          }
        }
        return std::string(use_avx2() ? "avx2" : "baseline");
      },
      py::arg("set") = py::none(),
      "Instruction set of the resample kernel ('avx2' or 'baseline'); set='baseline' turns the "
      "AVX2 path off and 'auto' back on where the CPU has it (for tests: both give the same "
      "bits).");
}
