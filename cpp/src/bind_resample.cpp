// Bindings of the resample kernel (placeholder until the kernel lands).
#include <pybind11/pybind11.h>

void register_resample(pybind11::module_& m) { (void)m; }
