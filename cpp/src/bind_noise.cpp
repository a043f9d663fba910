// Bindings of the noise kernel (placeholder until the kernel lands).
#include <pybind11/pybind11.h>

void register_noise(pybind11::module_& m) { (void)m; }
