// Bindings of the redshift kernel: shape checks, output allocation, GIL release.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "deepz/grid.hpp"
#include "deepz/redshift.hpp"

namespace py = pybind11;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
py::array_t<T> redshift(const carray<T>& templates, const carray<double>& rest_wave,
                        const carray<std::int64_t>& index, const carray<double>& z,
                        const carray<double>& obs_wave, int mode, double fill, bool loglam,
                        int threads) {
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
  {
    py::gil_scoped_release release;
    deepz::redshift_batch(templates.data(), k, r, rest_wave.data(), er.data(), idx, zp, n,
                          eo.data(), p, mode, fill, loglam, threads, o, scratch.data());
  }
  return out;
}

}  // namespace

void register_redshift(py::module_& m) {
  const char* doc =
      "redshift(templates, rest_wave, index, z, obs_wave, mode, fill, loglam, threads)\n\n"
      "Private: use deepz.redshift. templates (K, R) float32/float64, rest_wave (R,),\n"
      "index (N,) int64, z (N,), obs_wave (P,) -> (N, P). mode: 0 none, 1 flambda, 2 fnu.\n"
      "loglam: both grids are log-linear with the same step (checked by the caller).";
  m.def("redshift", &redshift<float>, py::arg("templates"), py::arg("rest_wave"),
        py::arg("index"), py::arg("z"), py::arg("obs_wave"), py::arg("mode"), py::arg("fill"),
        py::arg("loglam"), py::arg("threads"), doc);
  m.def("redshift", &redshift<double>, py::arg("templates"), py::arg("rest_wave"),
        py::arg("index"), py::arg("z"), py::arg("obs_wave"), py::arg("mode"), py::arg("fill"),
        py::arg("loglam"), py::arg("threads"), doc);
}
