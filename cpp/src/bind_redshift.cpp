// Bindings of the redshift kernel (placeholder until the kernel lands).
#include <pybind11/pybind11.h>

void register_redshift(pybind11::module_& m) { (void)m; }
