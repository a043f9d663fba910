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
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "deepz/grid.hpp"
#include "deepz/merge_bins.hpp"
#include "deepz/add_noise.hpp"
#include "deepz/redshift.hpp"
#include "deepz/resample.hpp"

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
  if (templates.ndim() != 2 || rest_wave.ndim() != 1 || obs_wave.ndim() != 1 || index.ndim() != 1 ||
      z.ndim() != 1 || rest_wave.shape(0) != templates.shape(1) || z.shape(0) != index.shape(0) ||
      rest_wave.shape(0) < 2 || obs_wave.shape(0) < 2)
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
    const auto setup =
        deepz::redshift_pixel_setup(er.data(), r, eo.data(), p, 1.0 + z.data()[s], mode);
    for (std::int64_t j = p - 1; j >= 0; --j)
      o[s * p + j] =
          deepz::redshift_pixel(templates.data() + t * r, er.data(), r, eo.data(), setup, j, fill);
  }
  return out;
}

// The work of cuda/add_noise.cu: gaussian_noise_block() per (spectrum, block of 4
// pixels), poisson_noise_pixel() per pixel, visited last to first.
template <class T>
py::tuple noise_blockwise(const carray<T>& flux, const carray<T>& sigma, std::uint64_t seed,
                          std::uint64_t offset, int kind) {
  if (flux.ndim() != 2 || sigma.ndim() != 2) throw std::invalid_argument("_noise: bad shapes");
  const std::int64_t n = flux.shape(0), m = flux.shape(1);
  const std::int64_t srows = sigma.shape(0), scols = sigma.shape(1);
  if ((srows != 1 && srows != n) || (scols != 1 && scols != m))
    throw std::invalid_argument("_noise: bad sigma shape");
  py::array_t<T> noisy({n, m}), ivar({n, m});
  const T* f = flux.data();
  T* o = noisy.mutable_data();
  T* iv = ivar.mutable_data();
  const std::int64_t step = scols > 1 ? 1 : 0;
  for (std::int64_t s = n - 1; s >= 0; --s) {
    const T* sig = sigma.data() + (srows > 1 ? s * scols : 0);
    const std::uint64_t index = offset + static_cast<std::uint64_t>(s);
    if (kind == 0) {
      for (std::int64_t b = (m + 3) / 4 - 1; b >= 0; --b)
        deepz::gaussian_noise_block<T>(f + s * m, sig, step, m, seed, index, b, o + s * m,
                                       iv + s * m);
    } else {
      for (std::int64_t p = m - 1; p >= 0; --p)
        deepz::poisson_noise_pixel<T>(f[s * m + p], sig[p * step], seed, index, p, o + s * m + p,
                                      iv + s * m + p);
    }
  }
  return py::make_tuple(noisy, ivar);
}

// The work of cuda/merge_bins.cu: merge_group() per output pixel, last to first.
template <class T>
py::tuple merge_groupwise(const carray<T>& flux, std::int64_t k, const py::object& ivar_obj,
                          bool mean) {
  if (flux.ndim() != 2 || k < 1 || k > flux.shape(1))
    throw std::invalid_argument("_merge: bad shapes");
  const std::int64_t n = flux.shape(0), m = flux.shape(1), m_out = m / k;
  const bool has_ivar = !ivar_obj.is_none();
  carray<T> ivar;
  if (has_ivar) ivar = ivar_obj.cast<carray<T>>();
  if (has_ivar && (ivar.ndim() != 2 || ivar.shape(0) != n || ivar.shape(1) != m))
    throw std::invalid_argument("_merge: bad ivar shape");
  py::array_t<T> out({n, m_out}), ivar_out({n, m_out});
  for (std::int64_t i = n * m_out - 1; i >= 0; --i) {
    const std::int64_t s = i / m_out, o = i - s * m_out, first = s * m + o * k;
    deepz::merge_group<T>(flux.data() + first, has_ivar ? ivar.data() + first : nullptr, k, mean,
                          out.mutable_data() + i, has_ivar ? ivar_out.mutable_data() + i : nullptr);
  }
  return py::make_tuple(out, has_ivar ? py::object(ivar_out) : py::object(py::none()));
}

// The work of cuda/resample.cu: with both grids shared, one plan per output
// pixel (resample_make_plan, pixels last to first) then resample_pixel() per
// (spectrum, pixel); otherwise the plan of each (spectrum, pixel) on the spot.
template <class T, bool kLinear>
void resample_pixelwise_run(const double* wave, std::int64_t nw, const T* flux, const T* ivar,
                            std::int64_t n, std::int64_t m, const double* new_wave, std::int64_t nn,
                            std::int64_t p, T fill, T* out, T* out_ivar) {
  std::vector<deepz::ResamplePlan> plans;
  const bool shared = nw == 1 && nn == 1;
  if (shared) {
    plans.resize(static_cast<std::size_t>(p));
    for (std::int64_t j = p - 1; j >= 0; --j)
      plans[j] = deepz::resample_make_plan<kLinear>(wave, m, new_wave, p, j);
  }
  for (std::int64_t s = n - 1; s >= 0; --s) {
    const double* w = wave + (nw == 1 ? 0 : s * m);
    const double* nwv = new_wave + (nn == 1 ? 0 : s * p);
    const deepz::ResampleEdgesOnTheFly ein{w, m};
    for (std::int64_t j = p - 1; j >= 0; --j) {
      const deepz::ResamplePlan pl =
          shared ? plans[j] : deepz::resample_make_plan<kLinear>(w, m, nwv, p, j);
      deepz::resample_pixel<T, kLinear>(pl, ein, flux + s * m, ivar ? ivar + s * m : nullptr, fill,
                                        out + s * p + j, out_ivar ? out_ivar + s * p + j : nullptr);
    }
  }
}

template <class T>
py::tuple resample_pixelwise(const carray<double>& wave, const carray<T>& flux,
                             const std::optional<carray<T>>& ivar, const carray<double>& new_wave,
                             bool linear, double fill) {
  if (flux.ndim() != 2 || wave.ndim() != 2 || new_wave.ndim() != 2)
    throw std::invalid_argument("_resample: bad shapes");
  const std::int64_t n = flux.shape(0), m = flux.shape(1);
  const std::int64_t nw = wave.shape(0), nn = new_wave.shape(0), p = new_wave.shape(1);
  if (wave.shape(1) != m || (nw != 1 && nw != n) || (nn != 1 && nn != n) || m < 2 ||
      p < (linear ? 1 : 2) ||
      (ivar && (ivar->ndim() != 2 || ivar->shape(0) != n || ivar->shape(1) != m)))
    throw std::invalid_argument("_resample: bad shapes");
  py::array_t<T> out({n, p});
  std::optional<py::array_t<T>> out_ivar;
  if (ivar) out_ivar.emplace(std::vector<py::ssize_t>{n, p});
  const T* iv = ivar ? ivar->data() : nullptr;
  T* oi = out_ivar ? out_ivar->mutable_data() : nullptr;
  if (linear)
    resample_pixelwise_run<T, true>(wave.data(), nw, flux.data(), iv, n, m, new_wave.data(), nn, p,
                                    static_cast<T>(fill), out.mutable_data(), oi);
  else
    resample_pixelwise_run<T, false>(wave.data(), nw, flux.data(), iv, n, m, new_wave.data(), nn, p,
                                     static_cast<T>(fill), out.mutable_data(), oi);
  return py::make_tuple(out, out_ivar ? py::object(*out_ivar) : py::object(py::none()));
}

}  // namespace

void register_twins(py::module_& m) {
  m.def("_resample_pixelwise", &resample_pixelwise<float>);
  m.def("_resample_pixelwise", &resample_pixelwise<double>);
  m.def("_redshift_pixelwise", &redshift_pixelwise<float>);
  m.def("_redshift_pixelwise", &redshift_pixelwise<double>);
  m.def("_noise_blockwise", &noise_blockwise<float>);
  m.def("_noise_blockwise", &noise_blockwise<double>);
  m.def("_merge_groupwise", &merge_groupwise<float>);
  m.def("_merge_groupwise", &merge_groupwise<double>);
}
