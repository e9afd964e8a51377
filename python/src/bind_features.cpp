// The feature functions of the Python module: ilastik's pixel features of a numpy image through
// the engine, their channel names, and the halo a block needs (for dask). The docstrings of the
// public functions are in grove/_features.py.
#include <fmt/format.h>

#include "bindings.h"
#include "conversion.h"
#include "grove/filters/feature_selection.h"
#include "grove/filters/pixel_features.h"

namespace grove::python {

namespace {

filters::FeatureSelection parse_selection(const std::string& spec) {
  auto selection = filters::parse_feature_spec(spec);
  if (!selection.ok()) raise_error(std::move(selection).error().add_context("features"));
  if (selection->empty()) raise_python(PyExc_ValueError, "features: no feature is selected");
  return *selection;
}

bool spatial_3d(int spatial_ndim) {
  if (spatial_ndim != 2 && spatial_ndim != 3) {
    raise_python(PyExc_ValueError,
                 fmt::format("ndim must be 2 or 3 (spatial dimensions), got {}", spatial_ndim));
  }
  return spatial_ndim == 3;
}

py::array compute_features(const py::array& image, const std::string& spec,
                           const std::optional<std::string>& axes_given, int threads) {
  const filters::FeatureSelection selection = parse_selection(spec);
  const std::string axes = array_axes(image, axes_given, "image");
  NodePtr raw = numpy_node(image, axes, "image");
  NodePtr features = check(apply_op(make_op(filters::PixelFeatures{selection}), raw));
  const Box5 box = Box5::of(features->info().shape);
  AnyArray result = check(run_without_gil([&](const CancelToken& cancel) {
    Engine engine(engine_options(threads));
    RunOptions options;
    options.context.cancel = cancel;
    return engine.compute(features, box, options);
  }));
  return array_to_numpy(result, result_axes(axes));
}

}  // namespace

void bind_features(py::module_& module) {
  module.def("_features", &compute_features, py::arg("image"), py::arg("features"), py::arg("axes"),
             py::arg("threads"));
  module.def(
      "_feature_names",
      [](const std::string& spec, int spatial_ndim, int64_t channels) {
        if (channels < 1) {
          raise_python(PyExc_ValueError,
                       fmt::format("channels must be at least 1, got {}", channels));
        }
        return filters::feature_channel_names(parse_selection(spec), channels,
                                              spatial_3d(spatial_ndim));
      },
      py::arg("features"), py::arg("ndim"), py::arg("channels"));
  module.def(
      "_feature_halo",
      [](const std::string& spec, int spatial_ndim) {
        const bool volume = spatial_3d(spatial_ndim);
        const Shape5 halo = filters::pixel_features_halo(parse_selection(spec), volume);
        return volume ? py::make_tuple(halo.z(), halo.y(), halo.x())
                      : py::make_tuple(halo.y(), halo.x());
      },
      py::arg("features"), py::arg("ndim"));
  module.def(
      "_normalize_feature_spec",
      [](const std::string& spec) { return filters::to_feature_spec(parse_selection(spec)); },
      py::arg("features"));
}

}  // namespace grove::python
