// Bindings of the CUDA merge_bins kernel: deepz._cuda.merge_bins.
//
// _cuda.merge_bins(flux T (N, M), factor, ivar T (N, M) or None, mean, flux_out T (N, M // factor),
//                  ivar_out T (N, M // factor) or None (None exactly when ivar is), stream=None)
// The arguments of _core.merge_bins on the device, with the outputs given in
// place of threads. ivar >= 0 is checked by deepz.kernels.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>

#include "array.hpp"
#include "bind_checks.hpp"
#include "merge_bins.cuh"

namespace py = pybind11;
using deepz::cuda::DeviceArray;

namespace {

void merge_bins(py::handle flux_obj, std::int64_t factor, py::handle ivar_obj, bool mean,
                py::handle out_obj, py::handle ivar_out_obj, std::optional<std::intptr_t> stream) {
  using namespace deepz::cuda;
  const DeviceArray flux = cuda_array(flux_obj, "flux");
  const bool has_ivar = !ivar_obj.is_none();
  if (has_ivar == ivar_out_obj.is_none())
    throw py::value_error("ivar_out: must be given exactly when ivar is");
  const DeviceArray ivar = has_ivar ? cuda_array(ivar_obj, "ivar") : DeviceArray{};
  const DeviceArray out = cuda_array(out_obj, "flux_out");
  const DeviceArray ivar_out = has_ivar ? cuda_array(ivar_out_obj, "ivar_out") : DeviceArray{};
  require_c_contiguous(flux);
  require_float(flux);
  if (flux.ndim() != 2)
    throw py::value_error("flux: expected shape (N, M), got " + shape_str(flux.shape));
  const std::int64_t n = flux.shape[0], m = flux.shape[1];
  if (factor < 1 || factor > m)
    throw py::value_error("factor: expected 1 <= factor <= " + std::to_string(m) + ", got " +
                          std::to_string(factor));
  const bool single = flux.is<float>();
  const char* tname = single ? "float32 (the dtype of flux)" : "float64 (the dtype of flux)";
  if (single) {
    require_output<float>(out, tname);
    if (has_ivar) {
      require_input<float>(ivar, tname);
      require_output<float>(ivar_out, tname);
    }
  } else {
    require_output<double>(out, tname);
    if (has_ivar) {
      require_input<double>(ivar, tname);
      require_output<double>(ivar_out, tname);
    }
  }
  const std::int64_t m_out = m / factor;
  require_shape(out, {n, m_out});
  if (has_ivar) {
    require_shape(ivar, {n, m});
    require_shape(ivar_out, {n, m_out});
  }
  if (n == 0 || m_out == 0) return;

  Launch launch({&flux, &ivar, &out, &ivar_out}, stream);
  {
    py::gil_scoped_release nogil;
    if (single)
      launch_merge_bins<float>(flux.ptr<float>(), has_ivar ? ivar.ptr<float>() : nullptr, n, m,
                               factor, mean, out.ptr<float>(),
                               has_ivar ? ivar_out.ptr<float>() : nullptr, launch.stream());
    else
      launch_merge_bins<double>(flux.ptr<double>(), has_ivar ? ivar.ptr<double>() : nullptr, n, m,
                                factor, mean, out.ptr<double>(),
                                has_ivar ? ivar_out.ptr<double>() : nullptr, launch.stream());
  }
}

}  // namespace

void register_merge(py::module_& m) {
  m.def("merge_bins", &merge_bins, py::arg("flux"), py::arg("factor"), py::arg("ivar"),
        py::arg("mean"), py::arg("flux_out"), py::arg("ivar_out"), py::arg("stream") = py::none(),
        "Private: use deepz.merge_bins. The arguments of _core.merge_bins on the device, with\n"
        "the outputs given (ivar_out None exactly when ivar is); asynchronous on `stream`.");
}
