// Bindings of the demo kernel: deepz._cuda.scale(x, factor, stream=None).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>

#include "array.hpp"
#include "scale.cuh"

namespace py = pybind11;
using deepz::cuda::DeviceArray;

void register_scale(py::module_& m) {
  m.def(
      "scale",
      [](py::handle x_obj, double factor, std::optional<std::intptr_t> stream) {
        // 1. read and check the arrays (no CUDA call yet)
        DeviceArray x = deepz::cuda::cuda_array(x_obj, "x");
        deepz::cuda::require_c_contiguous(x);
        deepz::cuda::require_writable(x);
        deepz::cuda::require_float(x);
        if (x.size() == 0) return;
        // 2. device, stream, ordering after the producer
        deepz::cuda::Launch launch({&x}, stream);
        // 3. queue the kernel without the GIL
        {
          py::gil_scoped_release nogil;
          if (x.is<float>())
            deepz::cuda::launch_scale(x.ptr<float>(), x.size(), static_cast<float>(factor),
                                      launch.stream());
          else
            deepz::cuda::launch_scale(x.ptr<double>(), x.size(), factor, launch.stream());
        }
      },
      py::arg("x"), py::arg("factor"), py::arg("stream") = py::none(),
      R"doc(Multiply a float32/float64 CUDA array by ``factor`` in place (a demo kernel).

x: any C-contiguous, writable object exposing ``__cuda_array_interface__``.
factor: cast to the dtype of x first (float32 arithmetic for float32 x).
stream: integer stream handle to run on (0 NULL, 1 legacy default, 2 per-thread
default, else a cudaStream_t such as ``cupy.cuda.get_current_stream().ptr``);
None: the stream of x's interface, else the NULL stream. Asynchronous.)doc");
}
