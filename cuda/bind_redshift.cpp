// Bindings of the CUDA redshift kernel: deepz._cuda.redshift.
//
// _cuda.redshift(templates T (K, R), rest_wave f64 (R,), index i64 (N,), z f64 (N,),
//                obs_wave f64 (P,), mode, fill, out T (N, P), edges f64 (R + P + 2,),
//                stream=None)
// The arguments of _core.redshift, on the device, with the output and a scratch
// array for the bin edges given by the caller (deepz.kernels allocates them with
// the input's library) in place of loglam and threads. Grids increasing, index
// in [0, K), z finite and > -1: checked by deepz.kernels on the device; here
// only shapes and dtypes are re-checked.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>

#include "array.hpp"
#include "bind_checks.hpp"
#include "grid.cuh"
#include "redshift.cuh"

namespace py = pybind11;
using deepz::cuda::DeviceArray;

namespace {

template <class T>
void run(const DeviceArray& templates, const DeviceArray& rest, const DeviceArray& index,
         const DeviceArray& z, const DeviceArray& obs, int mode, double fill,
         const DeviceArray& out, const DeviceArray& edges, cudaStream_t stream) {
  const std::int64_t k = templates.shape[0], r = templates.shape[1];
  const std::int64_t n = index.shape[0], p = obs.shape[0];
  double* er = edges.ptr<double>();
  double* eo = er + (r + 1);
  deepz::cuda::launch_bin_edges(rest.ptr<double>(), 1, r, er, stream);
  deepz::cuda::launch_bin_edges(obs.ptr<double>(), 1, p, eo, stream);
  deepz::cuda::launch_redshift(templates.ptr<T>(), k, r, er, index.ptr<std::int64_t>(),
                               z.ptr<double>(), n, eo, p, mode, fill, out.ptr<T>(), stream);
}

void redshift(py::handle templates_obj, py::handle rest_obj, py::handle index_obj, py::handle z_obj,
              py::handle obs_obj, int mode, double fill, py::handle out_obj, py::handle edges_obj,
              std::optional<std::intptr_t> stream) {
  using namespace deepz::cuda;
  const DeviceArray templates = cuda_array(templates_obj, "templates");
  const DeviceArray rest = cuda_array(rest_obj, "rest_wave");
  const DeviceArray index = cuda_array(index_obj, "index");
  const DeviceArray z = cuda_array(z_obj, "z");
  const DeviceArray obs = cuda_array(obs_obj, "obs_wave");
  const DeviceArray out = cuda_array(out_obj, "out");
  const DeviceArray edges = cuda_array(edges_obj, "edges");

  require_c_contiguous(templates);
  require_float(templates);
  if (templates.ndim() != 2)
    throw py::value_error("templates: expected shape (K, R), got " + shape_str(templates.shape));
  const std::int64_t k = templates.shape[0], r = templates.shape[1];
  require_input<double>(rest, "float64");
  require_shape(rest, {r});
  require_input<std::int64_t>(index, "int64");
  if (index.ndim() != 1)
    throw py::value_error("index: expected shape (N,), got " + shape_str(index.shape));
  const std::int64_t n = index.shape[0];
  require_input<double>(z, "float64");
  require_shape(z, {n});
  require_input<double>(obs, "float64");
  if (obs.ndim() != 1)
    throw py::value_error("obs_wave: expected shape (P,), got " + shape_str(obs.shape));
  const std::int64_t p = obs.shape[0];
  if (k < 1 || n < 1) throw py::value_error("templates and index must not be empty");
  if (r < 2 || p < 2) throw py::value_error("rest_wave and obs_wave need >= 2 pixels");
  if (mode < 0 || mode > 2)
    throw py::value_error("mode: expected 0, 1 or 2, got " + std::to_string(mode));
  if (templates.is<float>())
    require_output<float>(out, "float32 (the dtype of templates)");
  else
    require_output<double>(out, "float64 (the dtype of templates)");
  require_shape(out, {n, p});
  require_output<double>(edges, "float64");
  require_shape(edges, {r + p + 2});

  Launch launch({&templates, &rest, &index, &z, &obs, &out, &edges}, stream);
  {
    py::gil_scoped_release nogil;
    if (templates.is<float>())
      run<float>(templates, rest, index, z, obs, mode, fill, out, edges, launch.stream());
    else
      run<double>(templates, rest, index, z, obs, mode, fill, out, edges, launch.stream());
  }
}

}  // namespace

void register_redshift(py::module_& m) {
  m.def("redshift", &redshift, py::arg("templates"), py::arg("rest_wave"), py::arg("index"),
        py::arg("z"), py::arg("obs_wave"), py::arg("mode"), py::arg("fill"), py::arg("out"),
        py::arg("edges"), py::arg("stream") = py::none(),
        "Private: use deepz.redshift. The arguments of _core.redshift on the device, with\n"
        "out (N, P) and edges (R + P + 2,) float64 scratch given; asynchronous on `stream`.");
}
