// The pixel-classification project of the Python module: a grove project (or an imported ilastik
// .ilp) whose images may be files or numpy arrays held in memory, with labels from numpy, training
// and prediction through the workflow layer, export and saving. The Python class grove.Project
// (grove/_project.py) wraps this with the docstrings and the Python conventions.
#include <fmt/format.h>

#include "bindings.h"
#include "conversion.h"
#include "grove/filters/pixel_features.h"
#include "grove/io/axes.h"
#include "grove/project/ilastik_import.h"
#include "grove/project/project.h"
#include "grove/workflows/pixel/export.h"

namespace grove::python {

namespace {

std::string without_channels(const std::string& axes) {
  std::string out;
  for (char letter : axes)
    if (letter != 'c') out += letter;
  return out;
}

class ProjectHandle {
 public:
  ProjectHandle() = default;

  static std::unique_ptr<ProjectHandle> open(const std::string& path,
                                             const std::vector<std::string>& raw_data_dirs,
                                             bool allow_missing_raw_data) {
    auto handle = std::make_unique<ProjectHandle>();
    if (raw_data_dirs.empty() && !allow_missing_raw_data) {
      handle->project_ = check(open_project(path));
    } else if (is_grove_project(path)) {
      handle->project_ = check(load_project(path));
    } else {
      IlastikImportOptions options;
      options.raw_data_dirs = raw_data_dirs;
      options.allow_missing_raw_data = allow_missing_raw_data;
      handle->project_ = check(import_ilastik_project(path, options));
    }
    handle->images_.assign(handle->pixel().lanes.size(), nullptr);
    return handle;
  }

  std::string features() const { return filters::to_feature_spec(pixel().features); }
  void set_features(const std::string& spec) {
    auto selection = filters::parse_feature_spec(spec);
    if (!selection.ok()) raise_error(std::move(selection).error().add_context("features"));
    if (selection->empty()) raise_python(PyExc_ValueError, "features: no feature is selected");
    if (*selection == pixel().features) return;
    // A classifier is tied to the features it was trained on.
    pixel().features = *selection;
    pixel().forest.reset();
    pixel().forest_id = 0;
  }

  std::string forest_options() const {
    nlohmann::json json = pixel().forest_options;
    return json.dump();
  }
  void set_forest_options(const std::string& json) {
    ForestOptions options = forest_options_from_json(json);
    check(check_forest_options(options, std::numeric_limits<int32_t>::max()));
    pixel().forest_options = options;
  }

  std::vector<std::string> class_names() const {
    std::vector<std::string> names;
    for (const LabelClass& c : pixel().classes) names.push_back(c.name);
    return names;
  }
  void set_class_names(const std::vector<std::string>& names) {
    pixel().ensure_classes(names.size());
    if (pixel().classes.size() > names.size()) pixel().classes.resize(names.size());
    for (size_t k = 0; k < names.size(); ++k) pixel().classes[k].name = names[k];
  }

  py::list images() const {
    py::list out;
    for (size_t i = 0; i < pixel().lanes.size(); ++i) {
      const PixelLane& lane = pixel().lanes[i];
      py::dict item;
      item["path"] = lane.path.empty() ? py::object(py::none()) : py::object(py::str(lane.path));
      item["name"] = lane.nickname;
      item["axes"] = lane.axes;
      py::tuple shape(lane.axes.size());
      for (size_t d = 0; d < lane.axes.size(); ++d)
        shape[d] = py::int_(lane.shape[io::axis_index(lane.axes[d])]);
      item["shape"] = shape;
      item["dtype"] = numpy_dtype(lane.dtype);
      item["in_memory"] = images_[i] != nullptr;
      std::vector<int64_t> counts = lane.labels ? lane.labels->counts() : std::vector<int64_t>{};
      py::dict per_class;
      for (size_t k = 1; k < counts.size(); ++k)
        if (counts[k] > 0) per_class[py::int_(k)] = counts[k];
      item["labels"] = per_class;
      out.append(item);
    }
    return out;
  }

  size_t add_image_path(const std::string& path) {
    const size_t index = check(pixel().add_lane(path));
    images_.resize(pixel().lanes.size(), nullptr);
    return index;
  }

  size_t add_image_array(const py::array& array, const std::string& axes, const std::string& name) {
    NodePtr node = numpy_node(array, axes, "image");
    const Shape5 shape = node->info().shape;
    check_channels(shape);
    PixelLane lane;
    lane.nickname = name;
    lane.shape = shape;
    lane.dtype = node->info().dtype;
    lane.axes = axes;
    lane.labels = std::make_shared<LabelStore>(shape);
    pixel().lanes.push_back(std::move(lane));
    images_.resize(pixel().lanes.size(), nullptr);
    images_.back() = std::move(node);
    return pixel().lanes.size() - 1;
  }

  void set_image_array(size_t index, const py::array& array, const std::string& axes) {
    const PixelLane& lane = lane_at(index);
    NodePtr node = numpy_node(array, axes, "image");
    if (node->info().shape != lane.shape) {
      raise_python(PyExc_ValueError,
                   fmt::format("image {} has shape {} in the project but the array gives {}", index,
                               lane.shape.to_string(), node->info().shape.to_string()));
    }
    images_[index] = std::move(node);
  }

  void set_labels(size_t index, const py::array& labels, const std::string& axes) {
    const PixelLane& lane = lane_at(index);
    const AnyArray data = array_from_numpy(labels, axes, "labels");
    Shape5 expected = lane.shape;
    expected[kC] = 1;
    if (data.shape() != expected) {
      raise_python(PyExc_ValueError,
                   fmt::format("labels of shape {} do not fit image {} of shape {} (labels have "
                               "the image's shape without its channel axis)",
                               data.shape().to_string(), index, lane.shape.to_string()));
    }
    check(lane.labels->write(Box5::of(expected), data));
  }

  py::array labels(size_t index) const {
    const PixelLane& lane = lane_at(index);
    Shape5 shape = lane.shape;
    shape[kC] = 1;
    AnyArray data = check(lane.labels->read(Box5::of(shape)));
    return array_to_numpy(data, without_channels(lane.axes));
  }

  void clear_labels(size_t index) { lane_at(index).labels->clear(); }

  py::dict train(int threads) {
    for (size_t i = 0; i < pixel().lanes.size(); ++i) {
      const PixelLane& lane = pixel().lanes[i];
      if (!images_[i] && lane.path.empty() && lane.labels && !lane.labels->empty()) {
        raise_python(PyExc_ValueError,
                     fmt::format("image {} ('{}') was given as an array, which a saved project "
                                 "does not keep; give it again with set_image({}, array)",
                                 i, lane.nickname, i));
      }
    }
    TrainingReport report = check(run_without_gil([&](const CancelToken& cancel) {
      Engine engine(engine_options(threads));
      RunOptions options;
      options.context.cancel = cancel;
      return pixel().train(engine, images_, options);
    }));
    py::dict out;
    out["labelled_pixels"] = report.labelled_pixels;
    out["pixels_per_class"] = report.pixels_per_class;
    out["seconds_features"] = report.seconds_features;
    out["seconds_training"] = report.seconds_training;
    return out;
  }

  py::array predict_array(const py::array& array, const std::string& axes,
                          const std::string& source, int threads) const {
    NodePtr raw = numpy_node(array, axes, "image");
    return predict(raw, axes, source, threads);
  }

  py::array predict_path(const std::string& path, const std::string& source, int threads) const {
    std::unique_ptr<ImageReader> reader = check(open_image(path));
    const std::string axes = reader->info().axes;
    NodePtr raw = input_node(std::shared_ptr<ImageReader>(std::move(reader)), path);
    return predict(raw, axes, source, threads);
  }

  std::string export_image(const std::string& input, const std::string& output,
                           const std::string& source, const std::string& format,
                           const std::string& dtype, const std::string& output_axes, bool overwrite,
                           int threads) const {
    ExportRequest request;
    request.input = input;
    request.source = check(parse_export_source(source));
    request.format = check(normalize_format(format));
    if (!output.empty()) request.output_pattern = output;
    request.output_axes = output_axes;
    request.overwrite = overwrite;
    if (!dtype.empty()) {
      auto parsed = parse_dtype(dtype);
      if (!parsed) raise_python(PyExc_ValueError, fmt::format("unknown dtype '{}'", dtype));
      request.dtype = *parsed;
    }
    if (request.source == ExportSource::kLabels) {
      for (size_t i = 0; i < pixel().lanes.size(); ++i)
        if (pixel().lanes[i].path == input) request.lane = i;
    }
    return check(run_without_gil([&](const CancelToken& cancel) {
      Engine engine(engine_options(threads));
      return grove::export_image(engine, pixel(), request, nullptr, cancel);
    }));
  }

  void save(const std::string& path, bool overwrite) {
    check(save_project(project_, path, overwrite));
    project_.path = path;
  }

  py::tuple halo(int spatial_ndim) const {
    if (spatial_ndim != 2 && spatial_ndim != 3)
      raise_python(PyExc_ValueError, fmt::format("ndim must be 2 or 3, got {}", spatial_ndim));
    const Shape5 h = filters::pixel_features_halo(pixel().features, spatial_ndim == 3);
    return spatial_ndim == 3 ? py::make_tuple(h.z(), h.y(), h.x()) : py::make_tuple(h.y(), h.x());
  }

  std::shared_ptr<RandomForest> forest() const {
    return std::const_pointer_cast<RandomForest>(pixel().forest);
  }
  int64_t trained_channels() const { return pixel().trained_channels; }
  bool trained_3d() const { return pixel().trained_volume_3d; }
  std::string path() const { return project_.path; }
  std::string workflow() const { return project_.workflow; }

 private:
  PixelClassification& pixel() { return project_.pixel; }
  const PixelClassification& pixel() const { return project_.pixel; }

  const PixelLane& lane_at(size_t index) const {
    if (index >= pixel().lanes.size()) {
      raise_python(PyExc_IndexError, fmt::format("image index {} is out of range (the project "
                                                 "has {} image(s))",
                                                 index, pixel().lanes.size()));
    }
    return pixel().lanes[index];
  }

  void check_channels(const Shape5& shape) const {
    if (!pixel().lanes.empty() && pixel().lanes.front().shape.c() != shape.c()) {
      raise_python(PyExc_ValueError,
                   fmt::format("the image has {} channel(s) but the project's images have {}",
                               shape.c(), pixel().lanes.front().shape.c()));
    }
  }

  py::array predict(const NodePtr& raw, const std::string& axes, const std::string& source_name,
                    int threads) const {
    const ExportSource source = check(parse_export_source(source_name));
    if (source == ExportSource::kLabels || source == ExportSource::kOverlay) {
      raise_python(PyExc_ValueError,
                   fmt::format("output must be probabilities, simple-segmentation, uncertainty "
                               "or features, got '{}'",
                               source_name));
    }
    NodePtr node = check(pixel().export_node(raw, source));
    const Box5 box = Box5::of(node->info().shape);
    AnyArray result = check(run_without_gil([&](const CancelToken& cancel) {
      Engine engine(engine_options(threads));
      RunOptions options;
      options.context.cancel = cancel;
      return engine.compute(node, box, options);
    }));
    const bool one_channel =
        source == ExportSource::kSimpleSegmentation || source == ExportSource::kUncertainty;
    return array_to_numpy(result, one_channel ? without_channels(axes) : result_axes(axes));
  }

  Project project_;
  // Per lane: the image held in memory (a numpy array), or null for images read from their path.
  std::vector<NodePtr> images_;
};

}  // namespace

void bind_project(py::module_& module) {
  py::class_<ProjectHandle>(module, "_Project")
      .def(py::init<>())
      .def_static("open", &ProjectHandle::open, py::arg("path"), py::arg("raw_data_dirs"),
                  py::arg("allow_missing_raw_data"))
      .def_property("features", &ProjectHandle::features, &ProjectHandle::set_features)
      .def_property("forest_options", &ProjectHandle::forest_options,
                    &ProjectHandle::set_forest_options)
      .def_property("class_names", &ProjectHandle::class_names, &ProjectHandle::set_class_names)
      .def_property_readonly("images", &ProjectHandle::images)
      .def_property_readonly("forest", &ProjectHandle::forest)
      .def_property_readonly("trained_channels", &ProjectHandle::trained_channels)
      .def_property_readonly("trained_3d", &ProjectHandle::trained_3d)
      .def_property_readonly("path", &ProjectHandle::path)
      .def_property_readonly("workflow", &ProjectHandle::workflow)
      .def("add_image_path", &ProjectHandle::add_image_path, py::arg("path"))
      .def("add_image_array", &ProjectHandle::add_image_array, py::arg("array"), py::arg("axes"),
           py::arg("name"))
      .def("set_image_array", &ProjectHandle::set_image_array, py::arg("index"), py::arg("array"),
           py::arg("axes"))
      .def("set_labels", &ProjectHandle::set_labels, py::arg("index"), py::arg("labels"),
           py::arg("axes"))
      .def("labels", &ProjectHandle::labels, py::arg("index"))
      .def("clear_labels", &ProjectHandle::clear_labels, py::arg("index"))
      .def("train", &ProjectHandle::train, py::arg("threads"))
      .def("predict_array", &ProjectHandle::predict_array, py::arg("array"), py::arg("axes"),
           py::arg("source"), py::arg("threads"))
      .def("predict_path", &ProjectHandle::predict_path, py::arg("path"), py::arg("source"),
           py::arg("threads"))
      .def("export", &ProjectHandle::export_image, py::arg("input"), py::arg("output"),
           py::arg("source"), py::arg("format"), py::arg("dtype"), py::arg("output_axes"),
           py::arg("overwrite"), py::arg("threads"))
      .def("save", &ProjectHandle::save, py::arg("path"), py::arg("overwrite"))
      .def("halo", &ProjectHandle::halo, py::arg("ndim"));
}

}  // namespace grove::python
