// The parts of the Python module's extension (_grove), each bound in its own file.
#pragma once

#include <pybind11/pybind11.h>

namespace grove::python {

void bind_features(pybind11::module_& module);
void bind_forest(pybind11::module_& module);
void bind_io(pybind11::module_& module);
void bind_project(pybind11::module_& module);

}  // namespace grove::python
