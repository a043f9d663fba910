// Bindings of the CUDA line_search kernel: deepz._cuda.line_search.
//
// _cuda.line_search(wave f64 (Nw, M), flux T (N, M), ivar T (N, M) or None, z0 f64 (N,),
//                   line_rest, line_strength, line_sign f64 (L,), line_order i64 (L,),
//                   window, w_dist, w_height, w_spacing, snr_min,
//                   z T (N,), line_wave T (N, L), line_snr T (N, L), n_found i64 (N,),
//                   quality T (N,), scratch f64 (workers * (M + 2 L),), stream=None)
// The arguments of _core.line_search on the device; the caller (deepz.kernels)
// gives the search order (a stable sort by decreasing strength, as the CPU
// binding makes), the outputs and the scratch, whose size sets the number of
// worker threads, in place of threads. Grids increasing and z0 finite > -1 are
// checked by deepz.kernels; here only shapes, dtypes and scalars.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>

#include "array.hpp"
#include "bind_checks.hpp"
#include "line_search.cuh"

namespace py = pybind11;
using deepz::cuda::DeviceArray;

namespace {

void line_search(py::handle wave_obj, py::handle flux_obj, py::handle ivar_obj, py::handle z0_obj,
                 py::handle rest_obj, py::handle strength_obj, py::handle sign_obj,
                 py::handle order_obj, double window, double w_dist, double w_height,
                 double w_spacing, double snr_min, py::handle z_obj, py::handle wave_out_obj,
                 py::handle snr_obj, py::handle found_obj, py::handle quality_obj,
                 py::handle scratch_obj, std::optional<std::intptr_t> stream) {
  using namespace deepz::cuda;
  const DeviceArray wave = cuda_array(wave_obj, "wave");
  const DeviceArray flux = cuda_array(flux_obj, "flux");
  const bool has_ivar = !ivar_obj.is_none();
  const DeviceArray ivar = has_ivar ? cuda_array(ivar_obj, "ivar") : DeviceArray{};
  const DeviceArray z0 = cuda_array(z0_obj, "z0");
  const DeviceArray rest = cuda_array(rest_obj, "line_rest");
  const DeviceArray strength = cuda_array(strength_obj, "line_strength");
  const DeviceArray sign = cuda_array(sign_obj, "line_sign");
  const DeviceArray order = cuda_array(order_obj, "line_order");
  const DeviceArray z = cuda_array(z_obj, "z");
  const DeviceArray wave_out = cuda_array(wave_out_obj, "line_wave");
  const DeviceArray snr = cuda_array(snr_obj, "line_snr");
  const DeviceArray found = cuda_array(found_obj, "n_found");
  const DeviceArray quality = cuda_array(quality_obj, "quality");
  const DeviceArray scratch = cuda_array(scratch_obj, "scratch");

  require_c_contiguous(flux);
  require_float(flux);
  if (flux.ndim() != 2)
    throw py::value_error("flux: expected shape (N, M), got " + shape_str(flux.shape));
  const std::int64_t n = flux.shape[0], m = flux.shape[1];
  if (n < 1) throw py::value_error("flux: empty batch");
  if (m < 3) throw py::value_error("wave: needs at least 3 pixels, got " + std::to_string(m));
  require_input<double>(wave, "float64");
  if (wave.ndim() != 2 || wave.shape[1] != m || (wave.shape[0] != 1 && wave.shape[0] != n))
    throw py::value_error("wave: expected shape (1, " + std::to_string(m) + ") or (" +
                          std::to_string(n) + ", " + std::to_string(m) + "), got " +
                          shape_str(wave.shape));
  const bool single = flux.is<float>();
  const char* tname = single ? "float32 (the dtype of flux)" : "float64 (the dtype of flux)";
  if (has_ivar) {
    if (single)
      require_input<float>(ivar, tname);
    else
      require_input<double>(ivar, tname);
    require_shape(ivar, {n, m});
  }
  require_input<double>(z0, "float64");
  require_shape(z0, {n});
  require_input<double>(rest, "float64");
  if (rest.ndim() != 1 || rest.shape[0] < 1)
    throw py::value_error("line_rest: expected shape (L,) with L >= 1, got " +
                          shape_str(rest.shape));
  const std::int64_t n_lines = rest.shape[0];
  require_input<double>(strength, "float64");
  require_shape(strength, {n_lines});
  require_input<double>(sign, "float64");
  require_shape(sign, {n_lines});
  require_input<std::int64_t>(order, "int64");
  require_shape(order, {n_lines});
  if (!(window > 0.0 && window < 1.0))
    throw py::value_error("window: expected 0 < window < 1, got " + std::to_string(window));
  if (single) {
    require_output<float>(z, tname);
    require_output<float>(wave_out, tname);
    require_output<float>(snr, tname);
    require_output<float>(quality, tname);
  } else {
    require_output<double>(z, tname);
    require_output<double>(wave_out, tname);
    require_output<double>(snr, tname);
    require_output<double>(quality, tname);
  }
  require_shape(z, {n});
  require_shape(wave_out, {n, n_lines});
  require_shape(snr, {n, n_lines});
  require_shape(quality, {n});
  require_output<std::int64_t>(found, "int64");
  require_shape(found, {n});
  require_output<double>(scratch, "float64");
  const std::int64_t per_worker = deepz::line_search_scratch_size(m, n_lines);
  if (scratch.ndim() != 1 || scratch.shape[0] < per_worker || scratch.shape[0] % per_worker != 0)
    throw py::value_error("scratch: expected shape (workers * " + std::to_string(per_worker) +
                          ",), got " + shape_str(scratch.shape));
  const std::int64_t workers = scratch.shape[0] / per_worker;

  Launch launch({&wave, &flux, &ivar, &z0, &rest, &strength, &sign, &order, &z, &wave_out, &snr,
                 &found, &quality, &scratch},
                stream);
  const deepz::LineSearchParams params{window, w_dist, w_height, w_spacing, snr_min};
  {
    py::gil_scoped_release nogil;
    if (single)
      launch_line_search<float>(wave.ptr<double>(), wave.shape[0], flux.ptr<float>(),
                                has_ivar ? ivar.ptr<float>() : nullptr, n, m, z0.ptr<double>(),
                                rest.ptr<double>(), strength.ptr<double>(), sign.ptr<double>(),
                                order.ptr<std::int64_t>(), n_lines, params, scratch.ptr<double>(),
                                workers, z.ptr<float>(), wave_out.ptr<float>(), snr.ptr<float>(),
                                found.ptr<std::int64_t>(), quality.ptr<float>(), launch.stream());
    else
      launch_line_search<double>(
          wave.ptr<double>(), wave.shape[0], flux.ptr<double>(),
          has_ivar ? ivar.ptr<double>() : nullptr, n, m, z0.ptr<double>(), rest.ptr<double>(),
          strength.ptr<double>(), sign.ptr<double>(), order.ptr<std::int64_t>(), n_lines, params,
          scratch.ptr<double>(), workers, z.ptr<double>(), wave_out.ptr<double>(),
          snr.ptr<double>(), found.ptr<std::int64_t>(), quality.ptr<double>(), launch.stream());
  }
}

}  // namespace

void register_line_search(py::module_& m) {
  m.def("line_search", &line_search, py::arg("wave"), py::arg("flux"), py::arg("ivar"),
        py::arg("z0"), py::arg("line_rest"), py::arg("line_strength"), py::arg("line_sign"),
        py::arg("line_order"), py::arg("window"), py::arg("w_dist"), py::arg("w_height"),
        py::arg("w_spacing"), py::arg("snr_min"), py::arg("z"), py::arg("line_wave"),
        py::arg("line_snr"), py::arg("n_found"), py::arg("quality"), py::arg("scratch"),
        py::arg("stream") = py::none(),
        "Private: use deepz.line_search. The arguments of _core.line_search on the device,\n"
        "with the search order, the outputs and the scratch given; asynchronous.");
}
