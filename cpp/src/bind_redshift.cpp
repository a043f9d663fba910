// Bindings of the redshift kernel: shape checks, output allocation, GIL release.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "deepz/cpu.hpp"
#include "deepz/grid.hpp"
#include "deepz/parallel.hpp"
#include "deepz/redshift.hpp"
#include "deepz/redshift_simd.hpp"

namespace py = pybind11;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

deepz::IsaSwitch& isa() {
  static deepz::IsaSwitch s;
  return s;
}

// The arguments of redshift_rows that do not change across samples.
template <class T>
struct Job {
  const T* templates;
  std::int64_t r;
  const double* er;
  const std::int64_t* index;
  const double* z;
  const double* eo;
  std::int64_t p;
  int mode;
  double fill;
  const deepz::RedshiftPlan* plan;
  T* out;
};

#if DEEPZ_X86_DISPATCH
// The same loop compiled for AVX2 (flatten: all it calls is inlined and
// compiled so) with the vectorised window sweep: the same bits.
template <class T>
__attribute__((target("avx2"), flatten)) void rows_avx2(const Job<T>& j, std::int64_t b,
                                                        std::int64_t e) {
  deepz::redshift_rows(j.templates, j.r, j.er, j.index, j.z, j.eo, j.p, j.mode, j.fill, *j.plan,
                       j.out, b, e, deepz::redshift_simd::Avx2Window{});
}
#endif

template <class T>
void rows(const Job<T>& j, std::int64_t b, std::int64_t e) {
#if DEEPZ_X86_DISPATCH
  if (isa().on) return rows_avx2<T>(j, b, e);
#endif
  deepz::redshift_rows(j.templates, j.r, j.er, j.index, j.z, j.eo, j.p, j.mode, j.fill, *j.plan,
                       j.out, b, e, deepz::ScalarWindow{});
}

template <class T>
py::array_t<T> redshift(const carray<T>& templates, const carray<double>& rest_wave,
                        const carray<std::int64_t>& index, const carray<double>& z,
                        const carray<double>& obs_wave, int mode, double fill, bool loglam,
                        int threads, int window) {
  if (templates.ndim() != 2) throw std::invalid_argument("templates must be 2-D (K, M_rest)");
  if (rest_wave.ndim() != 1 || obs_wave.ndim() != 1 || index.ndim() != 1 || z.ndim() != 1)
    throw std::invalid_argument("rest_wave, obs_wave, index and z must be 1-D");
  const std::int64_t k = templates.shape(0), r = templates.shape(1);
  const std::int64_t n = index.shape(0), p = obs_wave.shape(0);
  if (rest_wave.shape(0) != r)
    throw std::invalid_argument("rest_wave has " + std::to_string(rest_wave.shape(0)) +
                                " pixels, templates have " + std::to_string(r));
  if (z.shape(0) != n)
    throw std::invalid_argument("index has " + std::to_string(n) + " entries, z has " +
                                std::to_string(z.shape(0)));
  if (k < 1 || n < 1) throw std::invalid_argument("templates and index must not be empty");
  if (r < 2 || p < 2) throw std::invalid_argument("rest_wave and obs_wave need >= 2 pixels");
  if (mode < 0 || mode > 2) throw std::invalid_argument("scale mode must be 0, 1 or 2");
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  if (window < 0 || window > 2) throw std::invalid_argument("window must be 0, 1 or 2");
  const std::int64_t* idx = index.data();
  const double* zp = z.data();
  for (std::int64_t s = 0; s < n; ++s) {
    if (idx[s] < 0 || idx[s] >= k)
      throw std::invalid_argument("index[" + std::to_string(s) + "] = " + std::to_string(idx[s]) +
                                  " is outside [0, " + std::to_string(k) + ")");
    if (!(std::isfinite(zp[s]) && zp[s] > -1.0))
      throw std::invalid_argument("z[" + std::to_string(s) + "] must be finite and > -1");
  }
  std::vector<double> er(static_cast<std::size_t>(r + 1)), eo(static_cast<std::size_t>(p + 1));
  deepz::bin_edges(rest_wave.data(), r, er.data());
  deepz::bin_edges(obs_wave.data(), p, eo.data());
  std::vector<unsigned char> scratch(static_cast<std::size_t>(k));
  py::array_t<T> out({n, p});
  T* o = out.mutable_data();
  // The window sweep pays off vectorised: without AVX2 (or with the baseline
  // forced) only the test hook (window 2) turns it on.
  const int win = window == 1 && !isa().on ? 0 : window;
  {
    py::gil_scoped_release release;
    const deepz::RedshiftPlan plan =
        deepz::redshift_plan(templates.data(), k, r, rest_wave.data(), er.data(), idx, n, eo.data(),
                             p, loglam, win, scratch.data());
    const Job<T> job{templates.data(), r, er.data(), idx, zp, eo.data(), p, mode, fill, &plan, o};
    deepz::parallel_for(n, threads, [&](std::int64_t b, std::int64_t e) { rows<T>(job, b, e); });
  }
  return out;
}

}  // namespace

void register_redshift(py::module_& m) {
  const char* doc =
      "redshift(templates, rest_wave, index, z, obs_wave, mode, fill, loglam, threads)\n\n"
      "Private: use deepz.redshift. templates (K, R) float32/float64, rest_wave (R,),\n"
      "index (N,) int64, z (N,), obs_wave (P,) -> (N, P). mode: 0 none, 1 flambda, 2 fnu.\n"
      "loglam: both grids are log-linear with the same step (checked by the caller).\n"
      "window: 0 off, 1 the window sweep where the rest grid is linear (AVX2 only), 2 a\n"
      "2-pixel window imposed (test hook: windows that miss are redone by the general sweep).";
  m.def("redshift", &redshift<float>, py::arg("templates"), py::arg("rest_wave"), py::arg("index"),
        py::arg("z"), py::arg("obs_wave"), py::arg("mode"), py::arg("fill"), py::arg("loglam"),
        py::arg("threads"), py::arg("window") = 0, doc);
  m.def("redshift", &redshift<double>, py::arg("templates"), py::arg("rest_wave"), py::arg("index"),
        py::arg("z"), py::arg("obs_wave"), py::arg("mode"), py::arg("fill"), py::arg("loglam"),
        py::arg("threads"), py::arg("window") = 0, doc);
  m.def(
      "_redshift_isa", [](std::optional<std::string> set) { return isa().set(set); },
      py::arg("set") = py::none(),
      "Instruction set of the redshift kernel ('avx2' or 'baseline'); set='baseline' turns the "
      "AVX2 copy (and with it the window sweep) off and 'auto' back on where the CPU has it "
      "(for tests: the same bits either way).");
}
