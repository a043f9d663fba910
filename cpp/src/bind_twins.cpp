// deepz._core._twins: host runs of the decompositions the CUDA kernels use.
//
// The CUDA kernels of cuda/ call the same DEEPZ_HD functions as the CPU
// kernels, but some split the work differently (one thread per output bin
// where the CPU sweeps a spectrum). Each function here runs that GPU
// decomposition on the host, serially, in an arbitrary order of its work
// items, so that the CPU tests check on any machine that it gives the CPU
// kernel's results bit for bit. Private: tests only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "deepz/grid.hpp"
#include "deepz/redshift.hpp"

namespace py = pybind11;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// The work of cuda/redshift.cu: redshift_pixel_setup() per sample, then
// redshift_pixel() per observed bin, bins visited last to first.
template <class T>
py::array_t<T> redshift_pixelwise(const carray<T>& templates, const carray<double>& rest_wave,
                                  const carray<std::int64_t>& index, const carray<double>& z,
                                  const carray<double>& obs_wave, int mode, double fill) {
  if (templates.ndim() != 2 || rest_wave.ndim() != 1 || obs_wave.ndim() != 1 ||
      index.ndim() != 1 || z.ndim() != 1 || rest_wave.shape(0) != templates.shape(1) ||
      z.shape(0) != index.shape(0) || rest_wave.shape(0) < 2 || obs_wave.shape(0) < 2)
    throw std::invalid_argument("_redshift_pixelwise: bad shapes");
  const std::int64_t k = templates.shape(0), r = templates.shape(1);
  const std::int64_t n = index.shape(0), p = obs_wave.shape(0);
  std::vector<double> er(static_cast<std::size_t>(r + 1)), eo(static_cast<std::size_t>(p + 1));
  deepz::bin_edges(rest_wave.data(), r, er.data());
  deepz::bin_edges(obs_wave.data(), p, eo.data());
  py::array_t<T> out({n, p});
  T* o = out.mutable_data();
  for (std::int64_t s = 0; s < n; ++s) {
    const std::int64_t t = index.data()[s];
    if (t < 0 || t >= k) throw std::invalid_argument("_redshift_pixelwise: bad index");
    const auto setup = deepz::redshift_pixel_setup(er.data(), r, eo.data(), p, 1.0 + z.data()[s],
                                                   mode);
    for (std::int64_t j = p - 1; j >= 0; --j)
      o[s * p + j] = deepz::redshift_pixel(templates.data() + t * r, er.data(), r, eo.data(),
                                           setup, j, fill);
  }
  return out;
}

}  // namespace

void register_twins(py::module_& m) {
  m.def("_redshift_pixelwise", &redshift_pixelwise<float>);
  m.def("_redshift_pixelwise", &redshift_pixelwise<double>);
}
