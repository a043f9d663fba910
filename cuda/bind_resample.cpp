// Bindings of the CUDA resample kernel: deepz._cuda.resample.
//
// _cuda.resample(wave f64 (Nw, M), flux T (N, M), ivar T (N, M) or None, new_wave f64 (Nn, P),
//                linear, fill, out T (N, P), out_ivar T (N, P) or None (None exactly when ivar
//                is), plan f64 (5 P,), stream=None)
// The arguments of _core.resample on the device, with the outputs and the plan
// scratch given (by deepz.kernels) in place of threads. Nw, Nn are 1 (shared)
// or N; grids strictly increasing and finite: checked by deepz.kernels.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>

#include "array.hpp"
#include "bind_checks.hpp"
#include "resample.cuh"

namespace py = pybind11;
using deepz::cuda::DeviceArray;

namespace {

void resample(py::handle wave_obj, py::handle flux_obj, py::handle ivar_obj,
              py::handle new_wave_obj, bool linear, double fill, py::handle out_obj,
              py::handle out_ivar_obj, py::handle plan_obj, std::optional<std::intptr_t> stream) {
  using namespace deepz::cuda;
  const DeviceArray wave = cuda_array(wave_obj, "wave");
  const DeviceArray flux = cuda_array(flux_obj, "flux");
  const bool has_ivar = !ivar_obj.is_none();
  if (has_ivar == out_ivar_obj.is_none())
    throw py::value_error("out_ivar: must be given exactly when ivar is");
  const DeviceArray ivar = has_ivar ? cuda_array(ivar_obj, "ivar") : DeviceArray{};
  const DeviceArray new_wave = cuda_array(new_wave_obj, "new_wave");
  const DeviceArray out = cuda_array(out_obj, "out");
  const DeviceArray out_ivar = has_ivar ? cuda_array(out_ivar_obj, "out_ivar") : DeviceArray{};
  const DeviceArray plan = cuda_array(plan_obj, "plan");

  require_c_contiguous(flux);
  require_float(flux);
  if (flux.ndim() != 2)
    throw py::value_error("flux: expected shape (N, M), got " + shape_str(flux.shape));
  const std::int64_t n = flux.shape[0], m = flux.shape[1];
  if (n < 1) throw py::value_error("flux: empty batch");
  require_input<double>(wave, "float64");
  if (m < 2 || wave.ndim() != 2 || wave.shape[1] != m || (wave.shape[0] != 1 && wave.shape[0] != n))
    throw py::value_error("wave: expected shape (1, M) or (N, M) with M >= 2 matching flux " +
                          shape_str(flux.shape) + ", got " + shape_str(wave.shape));
  require_input<double>(new_wave, "float64");
  const std::int64_t p = new_wave.ndim() == 2 ? new_wave.shape[1] : -1;
  if (new_wave.ndim() != 2 || p < (linear ? 1 : 2) ||
      (new_wave.shape[0] != 1 && new_wave.shape[0] != n))
    throw py::value_error("new_wave: expected shape (1, P) or (N, P) with P >= " +
                          std::string(linear ? "1" : "2") + ", got " + shape_str(new_wave.shape));
  const bool single = flux.is<float>();
  const char* tname = single ? "float32 (the dtype of flux)" : "float64 (the dtype of flux)";
  if (single) {
    require_output<float>(out, tname);
    if (has_ivar) {
      require_input<float>(ivar, tname);
      require_output<float>(out_ivar, tname);
    }
  } else {
    require_output<double>(out, tname);
    if (has_ivar) {
      require_input<double>(ivar, tname);
      require_output<double>(out_ivar, tname);
    }
  }
  require_shape(out, {n, p});
  if (has_ivar) {
    require_shape(ivar, {n, m});
    require_shape(out_ivar, {n, p});
  }
  require_output<double>(plan, "float64");
  require_shape(plan, {5 * p});

  Launch launch({&wave, &flux, &ivar, &new_wave, &out, &out_ivar, &plan}, stream);
  {
    py::gil_scoped_release nogil;
    if (single)
      launch_resample<float>(wave.ptr<double>(), wave.shape[0], flux.ptr<float>(),
                             has_ivar ? ivar.ptr<float>() : nullptr, n, m, new_wave.ptr<double>(),
                             new_wave.shape[0], p, linear, static_cast<float>(fill),
                             out.ptr<float>(), has_ivar ? out_ivar.ptr<float>() : nullptr,
                             plan.ptr<double>(), launch.stream());
    else
      launch_resample<double>(wave.ptr<double>(), wave.shape[0], flux.ptr<double>(),
                              has_ivar ? ivar.ptr<double>() : nullptr, n, m, new_wave.ptr<double>(),
                              new_wave.shape[0], p, linear, fill, out.ptr<double>(),
                              has_ivar ? out_ivar.ptr<double>() : nullptr, plan.ptr<double>(),
                              launch.stream());
  }
}

}  // namespace

void register_resample(py::module_& m) {
  m.def("resample", &resample, py::arg("wave"), py::arg("flux"), py::arg("ivar"),
        py::arg("new_wave"), py::arg("linear"), py::arg("fill"), py::arg("out"),
        py::arg("out_ivar"), py::arg("plan"), py::arg("stream") = py::none(),
        "Private: use deepz.resample. The arguments of _core.resample on the device, with the\n"
        "outputs and the plan scratch (5 P float64) given; asynchronous on `stream`.");
}
