// Images on disk for the Python module, through grove's io layer: what a file holds, reading it
// whole or box by box (the lazy reader behind grove.open, which dask can read in parallel), and
// writing numpy arrays. Docstrings and the slicing conventions are in grove/_io.py.
#include <fmt/format.h>

#include <map>

#include "bindings.h"
#include "conversion.h"
#include "grove/io/axes.h"
#include "grove/io/image.h"

namespace grove::python {

namespace {

py::tuple tuple_of(const std::vector<int64_t>& values) {
  py::tuple out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = py::int_(values[i]);
  return out;
}

py::dict info_dict(const ImageInfo& info) {
  py::dict out;
  out["axes"] = info.axes;
  out["shape"] = tuple_of(info.stored_shape.empty() ? io::stored_dims(info.shape, info.axes)
                                                    : info.stored_shape);
  out["dtype"] = numpy_dtype(info.dtype);
  out["format"] = info.format;
  out["compression"] = info.compression;
  out["internal_path"] = info.internal_path;
  const Shape5& chunks = info.chunk_shape;
  out["chunks"] = chunks == Shape5::filled(0)
                      ? py::object(py::none())
                      : py::object(tuple_of(io::stored_dims(chunks, info.axes)));
  py::dict pixel_size;
  py::dict units;
  if (info.has_pixel_size) {
    for (int axis = 0; axis < 4; ++axis) {
      const std::string letter(1, kAxisNames[axis]);
      if (info.axes.find(kAxisNames[axis]) == std::string::npos) continue;
      pixel_size[letter.c_str()] = info.pixel_size[axis];
      units[letter.c_str()] = info.pixel_unit[axis];
    }
  }
  out["pixel_size"] = pixel_size;
  out["units"] = units;
  return out;
}

// A file opened once and read box by box (thread-safe: dask reads blocks from several threads).
class ImageFile {
 public:
  explicit ImageFile(const std::string& path) : path_(path) { reader_ = check(open_image(path)); }
  py::dict info() const { return info_dict(reader_->info()); }
  // Reads [begin, end) given in t,z,y,x,c; returns the box with the given axes.
  py::array read(const std::array<int64_t, 5>& begin, const std::array<int64_t, 5>& end,
                 const std::string& axes) const {
    Box5 box;
    for (int axis = 0; axis < kRank; ++axis) {
      box.begin[axis] = begin[axis];
      box.end[axis] = end[axis];
    }
    if (!Box5::of(reader_->info().shape).contains(box) || box.empty()) {
      raise_python(PyExc_IndexError,
                   fmt::format("box {} is empty or outside {} (shape {})", box.to_string(), path_,
                               reader_->info().shape.to_string()));
    }
    AnyArray data = check(run_without_gil([&](const CancelToken&) {
      return std::move(reader_->read(box)).context("reading " + path_);
    }));
    return array_to_numpy(data, axes);
  }

 private:
  std::string path_;
  std::shared_ptr<ImageReader> reader_;
};

py::array read_whole(const std::string& path, const std::optional<std::string>& axes) {
  std::unique_ptr<ImageReader> reader = check(open_image(path));
  const std::string order = axes ? *axes : reader->info().axes;
  AnyArray data = check(run_without_gil([&](const CancelToken&) {
    return std::move(reader->read_all()).context("reading " + path);
  }));
  return array_to_numpy(data, order);
}

void write_array(const std::string& path, const py::array& array,
                 const std::optional<std::string>& axes_given, const std::string& compression,
                 int compression_level, const std::optional<std::vector<int64_t>>& chunks,
                 const std::map<std::string, double>& pixel_size,
                 const std::map<std::string, std::string>& units, bool overwrite,
                 const std::string& format) {
  const std::string axes = array_axes(array, axes_given, "array");
  const AnyArray data = array_from_numpy(array, axes, "array");
  WriteOptions options;
  options.axes = axes;
  options.compression = compression;
  options.compression_level = compression_level;
  options.overwrite = overwrite;
  if (chunks) {
    if (chunks->size() != axes.size()) {
      raise_python(PyExc_ValueError,
                   fmt::format("chunks has {} extents but the array has {} dimensions",
                               chunks->size(), axes.size()));
    }
    Shape5 chunk_shape = data.shape();
    for (size_t d = 0; d < axes.size(); ++d) {
      if ((*chunks)[d] < 1) {
        raise_python(PyExc_ValueError,
                     fmt::format("chunk extents must be >= 1, got {}", (*chunks)[d]));
      }
      chunk_shape[io::axis_index(axes[d])] = (*chunks)[d];
    }
    options.chunk_shape = chunk_shape;
  }
  for (const auto& [letter, size] : pixel_size) {
    const int axis = letter.size() == 1 ? io::axis_index(letter[0]) : -1;
    if (axis < 0 || axis == kC) {
      raise_python(PyExc_ValueError,
                   fmt::format("pixel_size: '{}' is not one of the axes t, z, y, x", letter));
    }
    if (!(size > 0)) {
      raise_python(PyExc_ValueError,
                   fmt::format("pixel_size of {} must be > 0, got {}", letter, size));
    }
    options.pixel_size[axis] = size;
    options.has_pixel_size = true;
    auto unit = units.find(letter);
    if (unit != units.end()) options.pixel_unit[axis] = unit->second;
  }
  check(run_without_gil([&](const CancelToken&) {
    return std::move(write_image(path, data, options, format)).context("writing " + path);
  }));
}

}  // namespace

void bind_io(py::module_& module) {
  module.def(
      "_info", [](const std::string& path) { return info_dict(check(open_image(path))->info()); },
      py::arg("path"));
  module.def("_read", &read_whole, py::arg("path"), py::arg("axes"));
  module.def("_write", &write_array, py::arg("path"), py::arg("array"), py::arg("axes"),
             py::arg("compression"), py::arg("compression_level"), py::arg("chunks"),
             py::arg("pixel_size"), py::arg("units"), py::arg("overwrite"), py::arg("format"));
  module.def(
      "_datasets",
      [](const std::string& path) {
        py::list out;
        for (const DatasetEntry& entry : check(list_datasets(path))) {
          py::dict item;
          item["path"] = entry.path;
          item["axes"] = entry.axes;
          item["shape"] = tuple_of(entry.stored_shape);
          item["dtype"] = numpy_dtype(entry.dtype);
          out.append(item);
        }
        return out;
      },
      py::arg("path"));
  py::class_<ImageFile>(module, "_ImageFile")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def("info", &ImageFile::info)
      .def("read", &ImageFile::read, py::arg("begin"), py::arg("end"), py::arg("axes"));
}

}  // namespace grove::python
