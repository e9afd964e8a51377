// The compiled part of grove's Python module: `_grove`, wrapped by the Python package grove
// (python/grove/), which holds the public functions, their docstrings and the numpy and
// scikit-learn conventions. Everything here converts arguments and calls the layers below.
#include "bindings.h"

PYBIND11_MODULE(_grove, module) {
  module.doc() = "grove's compiled core; use the grove package, not this module";
  grove::python::bind_features(module);
  grove::python::bind_forest(module);
  grove::python::bind_io(module);
  grove::python::bind_project(module);
}
