// Bindings of the merge kernel (placeholder until the kernel lands).
#include <pybind11/pybind11.h>

void register_merge(pybind11::module_& m) { (void)m; }
