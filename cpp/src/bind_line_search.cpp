// Bindings of the line_search kernel: deepz._core.line_search.
//
// _core.line_search(wave f64 (Nw, M), flux T (N, M), ivar T (N, M) or None,
//                   z0 f64 (N,), line_rest f64 (L,), line_strength f64 (L,),
//                   line_sign f64 (L,), window, w_dist, w_height, w_spacing,
//                   snr_min, threads)
//   -> (z T (N,), line_wave T (N, L), line_snr T (N, L), n_found int64 (N,),
//       quality T (N,))
// Nw is 1 (one grid shared by all spectra) or N. The Python wrapper validates
// everything; the checks here are cheap re-checks of shapes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "deepz/line_search.hpp"
#include "deepz/parallel.hpp"

namespace py = pybind11;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  return s + ")";
}

template <class T>
py::tuple line_search_impl(const carray<double>& wave, const carray<T>& flux,
                           const std::optional<carray<T>>& ivar, const carray<double>& z0,
                           const carray<double>& line_rest, const carray<double>& line_strength,
                           const carray<double>& line_sign, double window, double w_dist,
                           double w_height, double w_spacing, double snr_min, int threads) {
  if (flux.ndim() != 2)
    throw std::invalid_argument("flux must be 2-D (N, M), got " + shape_str(flux));
  const std::int64_t n = flux.shape(0), m = flux.shape(1);
  if (wave.ndim() != 2 || wave.shape(1) != m || (wave.shape(0) != 1 && wave.shape(0) != n))
    throw std::invalid_argument("wave must be (1, M) or (N, M) with M = " + std::to_string(m) +
                                ", got " + shape_str(wave));
  if (m < 3) throw std::invalid_argument("wave needs at least 3 pixels");
  if (ivar && (ivar->ndim() != 2 || ivar->shape(0) != n || ivar->shape(1) != m))
    throw std::invalid_argument("ivar must have the shape of flux, got " + shape_str(*ivar));
  if (z0.ndim() != 1 || z0.shape(0) != n)
    throw std::invalid_argument("z0 must be (N,) with N = " + std::to_string(n) + ", got " +
                                shape_str(z0));
  if (line_rest.ndim() != 1 || line_rest.shape(0) < 1)
    throw std::invalid_argument("line_rest must be a non-empty (L,) array");
  const std::int64_t n_lines = line_rest.shape(0);
  if (line_strength.ndim() != 1 || line_strength.shape(0) != n_lines || line_sign.ndim() != 1 ||
      line_sign.shape(0) != n_lines)
    throw std::invalid_argument("line_strength and line_sign must have the shape of line_rest");
  if (!(window > 0.0 && window < 1.0)) throw std::invalid_argument("window must be in (0, 1)");
  if (threads < 1) throw std::invalid_argument("threads must be >= 1");

  // Search order: strongest first, ties in the given order.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n_lines));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  const double* strength = line_strength.data();
  std::stable_sort(order.begin(), order.end(), [strength](std::int64_t x, std::int64_t y) {
    return strength[x] > strength[y];
  });

  carray<T> z(n), line_wave({n, n_lines}), line_snr({n, n_lines}), quality(n);
  py::array_t<std::int64_t> n_found(n);

  const double* wp = wave.data();
  const std::int64_t wave_stride = wave.shape(0) == 1 ? 0 : m;
  const T* fp = flux.data();
  const T* ip = ivar ? ivar->data() : nullptr;
  const double* zp = z0.data();
  const double* rp = line_rest.data();
  const double* sp = line_sign.data();
  const std::int64_t* op = order.data();
  T* out_z = z.mutable_data();
  T* out_wave = line_wave.mutable_data();
  T* out_snr = line_snr.mutable_data();
  T* out_q = quality.mutable_data();
  std::int64_t* out_n = n_found.mutable_data();
  const deepz::LineSearchParams params{window, w_dist, w_height, w_spacing, snr_min};
  const std::int64_t scratch_size = deepz::line_search_scratch_size(m, n_lines);
  std::atomic<bool> out_of_memory{false};
  {
    py::gil_scoped_release release;
    deepz::parallel_for(n, threads, [&](std::int64_t begin, std::int64_t end) {
      std::vector<double> scratch;
      try {
        scratch.resize(static_cast<std::size_t>(scratch_size));
      } catch (...) {  // parallel_for bodies must not throw
        out_of_memory = true;
        return;
      }
      for (std::int64_t s = begin; s < end; ++s) {
        deepz::line_search_spectrum<T>(wp + s * wave_stride, fp + s * m, ip ? ip + s * m : nullptr,
                                       m, zp[s], rp, strength, sp, op, n_lines, params,
                                       scratch.data(), out_z + s, out_wave + s * n_lines,
                                       out_snr + s * n_lines, out_n + s, out_q + s);
      }
    });
  }
  if (out_of_memory) throw std::bad_alloc();
  return py::make_tuple(z, line_wave, line_snr, n_found, quality);
}

template <class T>
void def_line_search(py::module_& m) {
  m.def("line_search", &line_search_impl<T>, py::arg("wave"), py::arg("flux"), py::arg("ivar"),
        py::arg("z0"), py::arg("line_rest"), py::arg("line_strength"), py::arg("line_sign"),
        py::arg("window"), py::arg("w_dist"), py::arg("w_height"), py::arg("w_spacing"),
        py::arg("snr_min"), py::arg("threads"),
        "Greedy emission-line refinement of redshifts (private: use deepz.line_search).");
}

}  // namespace

void register_line_search(py::module_& m) {
  def_line_search<float>(m);
  def_line_search<double>(m);
}
