// Bindings of the merge kernel: deepz._core.merge_bins.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "deepz/cpu.hpp"
#include "deepz/merge_bins.hpp"
#include "deepz/parallel.hpp"

namespace py = pybind11;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + ")";
}

deepz::IsaSwitch& isa() {
  static deepz::IsaSwitch s;
  return s;
}

#if DEEPZ_X86_DISPATCH
// The same code compiled for AVX2 (flatten: all it calls is inlined and
// compiled so); no FMA, the same operations: the same bits.
template <class T>
__attribute__((target("avx2"), flatten)) std::int64_t merge_rows_avx2(
    const T* flux, const T* ivar, std::int64_t m, std::int64_t k, bool mean, T* flux_out,
    T* ivar_out, std::int64_t begin, std::int64_t end) {
  return deepz::merge_rows<T>(flux, ivar, m, k, mean, flux_out, ivar_out, begin, end);
}
#endif

template <class T>
std::int64_t merge_rows(const T* flux, const T* ivar, std::int64_t m, std::int64_t k, bool mean,
                        T* flux_out, T* ivar_out, std::int64_t begin, std::int64_t end) {
#if DEEPZ_X86_DISPATCH
  if (isa().on) return merge_rows_avx2<T>(flux, ivar, m, k, mean, flux_out, ivar_out, begin, end);
#endif
  return deepz::merge_rows<T>(flux, ivar, m, k, mean, flux_out, ivar_out, begin, end);
}

// ivar: an (N, M) array or None. Returns (flux_out, ivar_out or None, bad):
// bad is the first flat index of a pixel with ivar < 0, or -1 (the caller
// raises; those pixels were merged as masked).
template <class T>
py::object merge_bins(const Array<T>& flux, std::int64_t factor, const py::object& ivar_obj,
                      bool mean, int threads) {
  if (flux.ndim() != 2) {
    throw std::invalid_argument("flux must have shape (N, M), got " + shape_of(flux));
  }
  const std::int64_t n = flux.shape(0), m = flux.shape(1);
  if (factor < 1 || factor > m) {
    throw std::invalid_argument("factor must be in [1, " + std::to_string(m) + "], got " +
                                std::to_string(factor));
  }
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");
  Array<T> ivar;
  const bool has_ivar = !ivar_obj.is_none();
  if (has_ivar) {
    ivar = ivar_obj.cast<Array<T>>();
    if (ivar.ndim() != 2 || ivar.shape(0) != n || ivar.shape(1) != m) {
      throw std::invalid_argument("ivar must have the shape of flux " + shape_of(flux) + ", got " +
                                  shape_of(ivar));
    }
  }
  const std::int64_t m_out = m / factor;
  Array<T> flux_out({n, m_out});
  Array<T> ivar_out(has_ivar ? std::vector<py::ssize_t>{n, m_out} : std::vector<py::ssize_t>{0});
  const T* f = flux.data();
  const T* w = has_ivar ? ivar.data() : nullptr;
  T* fo = flux_out.mutable_data();
  T* wo = has_ivar ? ivar_out.mutable_data() : nullptr;
  std::atomic<std::int64_t> first_bad{-1};
  {
    py::gil_scoped_release release;
    deepz::parallel_for(n, threads, [&](std::int64_t b, std::int64_t e) {
      const std::int64_t bad = merge_rows<T>(f, w, m, factor, mean, fo, wo, b, e);
      if (bad < 0) return;
      std::int64_t cur = first_bad.load();
      while ((cur < 0 || bad < cur) && !first_bad.compare_exchange_weak(cur, bad)) {
      }
    });
  }
  const std::int64_t bad = first_bad.load();
  if (!has_ivar) return py::make_tuple(flux_out, py::none(), bad);
  return py::make_tuple(flux_out, ivar_out, bad);
}

}  // namespace

void register_merge(py::module_& m) {
  const char* doc =
      "merge_bins(flux (N, M), factor, ivar (N, M) or None, mean, threads) -> (flux_out, "
      "ivar_out or None, bad): bad = first flat index with ivar < 0, or -1. Private: use "
      "deepz.merge_bins.";
  m.def("merge_bins", &merge_bins<float>, py::arg("flux"), py::arg("factor"), py::arg("ivar"),
        py::arg("mean"), py::arg("threads"), doc);
  m.def("merge_bins", &merge_bins<double>, py::arg("flux"), py::arg("factor"), py::arg("ivar"),
        py::arg("mean"), py::arg("threads"), doc);
  m.def(
      "_merge_isa", [](std::optional<std::string> set) { return isa().set(set); },
      py::arg("set") = py::none(),
      "Instruction set of the merge kernel ('avx2' or 'baseline'); set='baseline' turns the "
      "AVX2 copy off and 'auto' back on where the CPU has it (for tests: both give the same "
      "bits).");
}
