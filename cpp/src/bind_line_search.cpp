// Bindings of the line_search kernel (placeholder until the kernel lands).
#include <pybind11/pybind11.h>

void register_line_search(pybind11::module_& m) { (void)m; }
