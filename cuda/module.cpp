// deepz._cuda: device queries and the per-kernel bindings. Importing it makes
// no CUDA call, so it imports on a machine without a driver or GPU; the
// queries below answer "no device" there instead of raising.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "array.hpp"

namespace py = pybind11;

namespace deepz::cuda {
std::vector<int> compiled_architectures();  // runtime.cu
}

void register_scale(py::module_& m);
void register_resample(py::module_& m);
void register_redshift(py::module_& m);
void register_noise(py::module_& m);
void register_merge(py::module_& m);
void register_line_search(py::module_& m);

namespace {

std::string version_string(int v) {  // 13000 -> "13.0", 12080 -> "12.8"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

int attribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  if (cudaDeviceGetAttribute(&value, attr, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return value;
}

py::list devices() {
  py::list out;
  const int n = deepz::cuda::device_count();
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    const int mem_clock_khz = attribute(cudaDevAttrMemoryClockRate, i);
    const int bus_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, i);
    py::dict d;
    d["index"] = i;
    d["name"] = std::string(prop.name);
    d["compute_capability"] = py::make_tuple(prop.major, prop.minor);
    d["total_memory"] = static_cast<std::uint64_t>(prop.totalGlobalMem);
    d["multiprocessors"] = prop.multiProcessorCount;
    // Peak DRAM bandwidth (double data rate): 2 * clock * bus width; 0 if unknown.
    d["peak_bandwidth"] = 2.0 * mem_clock_khz * 1e3 * (bus_bits / 8.0);
    out.append(d);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "deepz CUDA kernels and device queries (private: use deepz.kernels, deepz.devices)";
  m.attr("cuda_runtime_version") = version_string(CUDART_VERSION);
  m.attr("compiled_architectures") = py::cast(deepz::cuda::compiled_architectures());

  m.def("device_count", &deepz::cuda::device_count,
        "Number of CUDA devices visible to this process (0, never an error, without a "
        "driver or GPU).");
  m.def("no_device_reason", &deepz::cuda::no_device_reason,
        "Why device_count() is 0 (the CUDA error or 'no device'); '' when there is a device.");
  m.def("devices", &devices,
        "One dict per device: index, name, compute_capability (major, minor), total_memory "
        "(bytes), multiprocessors, peak_bandwidth (bytes/s, 0 if unknown).");
  m.def(
      "driver_version",
      []() -> py::object {
        int v = 0;
        if (cudaDriverGetVersion(&v) != cudaSuccess || v == 0) {
          (void)cudaGetLastError();
          return py::none();
        }
        return py::str(version_string(v));
      },
      "The CUDA version the installed driver supports ('13.0'), or None without a driver.");
  m.def(
      "_array_info",
      [](py::handle obj, const std::string& name) {
        return deepz::cuda::describe(deepz::cuda::cuda_array(obj, name));
      },
      py::arg("obj"), py::arg("name") = "x",
      "What the C++ side reads from obj.__cuda_array_interface__ (tests, debugging).");

  register_scale(m);
  register_resample(m);
  register_redshift(m);
  register_noise(m);
  register_merge(m);
  register_line_search(m);
}
