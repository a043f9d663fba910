// deepz._core: wires the per-kernel bindings into one module. Nothing else.
#include <pybind11/pybind11.h>

#include <thread>

namespace py = pybind11;

void register_resample(py::module_& m);
void register_redshift(py::module_& m);
void register_noise(py::module_& m);
void register_merge(py::module_& m);
void register_line_search(py::module_& m);
void register_twins(py::module_& m);  // host runs of the CUDA decompositions (tests)

PYBIND11_MODULE(_core, m) {
  m.doc() = "deepz compiled kernels (private: use deepz.kernels)";
  m.attr("__version__") = DEEPZ_VERSION;
  m.attr("sanitizers") = DEEPZ_SANITIZERS;
  m.attr("hardware_threads") = static_cast<int>(std::thread::hardware_concurrency());
#if defined(__VERSION__)
  m.attr("compiler") = __VERSION__;
#else
  m.attr("compiler") = "unknown";
#endif
  register_resample(m);
  register_redshift(m);
  register_noise(m);
  register_merge(m);
  register_line_search(m);
  register_twins(m);
}
