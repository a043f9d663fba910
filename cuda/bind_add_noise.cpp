// Bindings of the CUDA add_noise kernel: deepz._cuda.add_noise.
//
// _cuda.add_noise(flux T (N, M), sigma T (1|N, 1|M), seed, offset, kind, noisy T (N, M),
//                 ivar T (N, M), stream=None)
// The arguments of _core.add_noise on the device, with the outputs given (by
// deepz.kernels, allocated with the input's library) in place of threads.
// sigma finite and > 0, Poisson counts <= 2**52: checked by deepz.kernels.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <optional>

#include "array.hpp"
#include "bind_checks.hpp"
#include "add_noise.cuh"

namespace py = pybind11;
using deepz::cuda::DeviceArray;

namespace {

template <class T>
void run(const DeviceArray& flux, const DeviceArray& sigma, std::uint64_t seed,
         std::uint64_t offset, int kind, const DeviceArray& noisy, const DeviceArray& ivar,
         cudaStream_t stream) {
  deepz::cuda::launch_add_noise<T>(flux.ptr<T>(), flux.shape[0], flux.shape[1], sigma.ptr<T>(),
                                   sigma.shape[0], sigma.shape[1], seed, offset, kind,
                                   noisy.ptr<T>(), ivar.ptr<T>(), stream);
}

void add_noise(py::handle flux_obj, py::handle sigma_obj, std::uint64_t seed, std::uint64_t offset,
               int kind, py::handle noisy_obj, py::handle ivar_obj,
               std::optional<std::intptr_t> stream) {
  using namespace deepz::cuda;
  const DeviceArray flux = cuda_array(flux_obj, "flux");
  const DeviceArray sigma = cuda_array(sigma_obj, "sigma");
  const DeviceArray noisy = cuda_array(noisy_obj, "noisy");
  const DeviceArray ivar = cuda_array(ivar_obj, "ivar");
  require_c_contiguous(flux);
  require_float(flux);
  if (flux.ndim() != 2)
    throw py::value_error("flux: expected shape (N, M), got " + shape_str(flux.shape));
  const std::int64_t n = flux.shape[0], m = flux.shape[1];
  const bool single = flux.is<float>();
  const char* tname = single ? "float32 (the dtype of flux)" : "float64 (the dtype of flux)";
  if (single) {
    require_input<float>(sigma, tname);
    require_output<float>(noisy, tname);
    require_output<float>(ivar, tname);
  } else {
    require_input<double>(sigma, tname);
    require_output<double>(noisy, tname);
    require_output<double>(ivar, tname);
  }
  if (sigma.ndim() != 2 || (sigma.shape[0] != 1 && sigma.shape[0] != n) ||
      (sigma.shape[1] != 1 && sigma.shape[1] != m))
    throw py::value_error("sigma: expected shape (1 or " + std::to_string(n) + ", 1 or " +
                          std::to_string(m) + "), got " + shape_str(sigma.shape));
  require_shape(noisy, {n, m});
  require_shape(ivar, {n, m});
  if (kind != 0 && kind != 1)
    throw py::value_error("kind: expected 0 (gaussian) or 1 (poisson), got " +
                          std::to_string(kind));
  if (n > 0 &&
      offset > std::numeric_limits<std::uint64_t>::max() - static_cast<std::uint64_t>(n - 1))
    throw py::value_error("offset: offset + N must be below 2**64");
  if (m > (std::int64_t{1} << 34))
    throw py::value_error("flux: more than 2**34 pixels per spectrum");
  if (n == 0 || m == 0) return;

  Launch launch({&flux, &sigma, &noisy, &ivar}, stream);
  {
    py::gil_scoped_release nogil;
    if (single)
      run<float>(flux, sigma, seed, offset, kind, noisy, ivar, launch.stream());
    else
      run<double>(flux, sigma, seed, offset, kind, noisy, ivar, launch.stream());
  }
}

}  // namespace

void register_noise(py::module_& m) {
  m.def("add_noise", &add_noise, py::arg("flux"), py::arg("sigma"), py::arg("seed"),
        py::arg("offset"), py::arg("kind"), py::arg("noisy"), py::arg("ivar"),
        py::arg("stream") = py::none(),
        "Private: use deepz.add_noise. The arguments of _core.add_noise on the device, with\n"
        "the outputs noisy and ivar (N, M) given; asynchronous on `stream`.");
}
