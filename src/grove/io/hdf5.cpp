#include "grove/io/hdf5.h"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "grove/core/memory.h"
#include "grove/io/axes.h"
#include "grove/io/file_util.h"

namespace grove::io {

namespace {

using json = nlohmann::json;

int type_flags(char axis) {
  // vigra's AxisType flags: Channels 1, Space 2, Time 8.
  switch (axis) {
    case 'c': return 1;
    case 't': return 8;
    default: return 2;
  }
}

// Whether a dataset can be an image: numeric, rank 1..5.
bool is_image_dataset(const hdf5::Dataset& dataset) {
  if (dataset.rank() < 1 || dataset.rank() > 5) return false;
  return dataset.dtype().ok();
}

struct DatasetAxes {
  std::string axes;
  std::array<double, 4> pixel_size{1.0, 1.0, 1.0, 1.0};
  std::array<std::string, 4> pixel_unit{"", "", "", ""};
  bool has_pixel_size = false;
};

// Axes and pixel size of a dataset, from its attributes or the rule by rank.
Result<DatasetAxes> dataset_axes(const hdf5::Dataset& dataset) {
  DatasetAxes out;
  if (dataset.has_attribute("axistags")) {
    auto text = dataset.read_string_attribute("axistags");
    if (!text.ok()) return std::move(text).error().add_context("reading its axistags");
    auto tags = parse_axistags(*text);
    if (!tags.ok()) return std::move(tags).error().add_context(dataset.describe() + " axistags");
    if (tags->axes.size() != static_cast<size_t>(dataset.rank())) {
      return make_error(ErrorCode::kCorrupt,
                        "{}: the axistags name {} axes ('{}') but the dataset has {} dimensions",
                        dataset.describe(), tags->axes.size(), tags->axes, dataset.rank());
    }
    out.axes = tags->axes;
    for (size_t i = 0; i < tags->axes.size(); ++i) {
      const int a = axis_index(tags->axes[i]);
      if (a < kC && tags->resolution[i] > 0) {
        out.pixel_size[a] = tags->resolution[i];
        out.has_pixel_size = true;
      }
    }
  } else {
    auto guess = guess_axes(dataset.dims());
    if (!guess.ok()) return std::move(guess).error().add_context(dataset.describe());
    out.axes = *guess;
  }
  // The ImageJ HDF5 plugin's convention: spatial sizes in micrometres, slowest first.
  if (dataset.has_attribute("element_size_um")) {
    auto sizes = dataset.read_attribute_vector<double>("element_size_um");
    std::string spatial;
    for (char axis : out.axes) {
      if (axis == 'z' || axis == 'y' || axis == 'x') spatial += axis;
    }
    if (sizes.ok() && sizes->size() == spatial.size()) {
      for (size_t i = 0; i < spatial.size(); ++i) {
        const int a = axis_index(spatial[i]);
        if ((*sizes)[i] > 0) {
          out.pixel_size[a] = (*sizes)[i];
          out.pixel_unit[a] = "µm";
          out.has_pixel_size = true;
        }
      }
    }
  }
  return out;
}

class Hdf5Reader final : public ImageReader {
 public:
  Hdf5Reader(hdf5::Dataset dataset, ImageInfo info, std::string axes)
      : dataset_(std::move(dataset)), info_(std::move(info)), axes_(std::move(axes)) {}

  const ImageInfo& info() const override { return info_; }

  Result<AnyArray> read(const Box5& box) override {
    GROVE_RETURN_IF_ERROR(check_box_inside(box, info_.shape));
    std::vector<int64_t> start, count;
    stored_box(box, axes_, start, count);
    GROVE_ASSIGN_OR_RETURN(AnyArray buffer,
                           AnyArray::allocate_uninitialized(info_.dtype, box.shape()));
    if (box.empty()) return buffer;
    GROVE_RETURN_IF_ERROR(dataset_.read(info_.dtype, buffer.raw_data(), start, count)
                              .context("reading box " + box.to_string()));
    return stored_buffer_to_grove(std::move(buffer), count, axes_, box.shape());
  }

 private:
  hdf5::Dataset dataset_;
  ImageInfo info_;
  std::string axes_;
};

std::string list_for_message(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 20; ++i) {
    if (!out.empty()) out += ", ";
    out += "/" + names[i];
  }
  if (names.size() > 20) out += fmt::format(", ... ({} in all)", names.size());
  return out;
}

class Hdf5Writer final : public ImageWriter {
 public:
  Hdf5Writer(AtomicOutput output, hdf5::File file, hdf5::Dataset dataset, Shape5 shape, DType dtype,
             std::string axes)
      : output_(std::move(output)),
        file_(std::move(file)),
        dataset_(std::move(dataset)),
        shape_(shape),
        dtype_(dtype),
        axes_(std::move(axes)) {}

  ~Hdf5Writer() override {
    // Close every handle before AtomicOutput removes the temporary file.
    dataset_ = hdf5::Dataset();
    file_.close();
  }

  Status write(const Box5& box, const AnyArray& data) override {
    if (committed_) return make_error(ErrorCode::kInvalidArgument, "write after commit");
    GROVE_RETURN_IF_ERROR(check_box_inside(box, shape_));
    if (data.shape() != box.shape()) {
      return make_error(ErrorCode::kInvalidArgument, "data of shape {} for box {}",
                        data.shape().to_string(), box.to_string());
    }
    if (box.empty()) return ok_status();
    std::vector<int64_t> start, count;
    stored_box(box, axes_, start, count);
    // Lay the block out in the stored axis order and the stored dtype.
    GROVE_ASSIGN_OR_RETURN(AnyArray buffer, AnyArray::allocate_uninitialized(dtype_, box.shape()));
    const AnyArray stored_view = AnyArray::wrap(dtype_, buffer.raw_data(), box.shape(),
                                                strides_of_stored(count, axes_), buffer.buffer());
    GROVE_RETURN_IF_ERROR(data.copy_into(stored_view));
    return dataset_.write(dtype_, buffer.raw_data(), start, count)
        .context("writing box " + box.to_string() + " of " + output_.final_path());
  }

  Status commit() override {
    if (committed_) return ok_status();
    GROVE_RETURN_IF_ERROR(file_.flush());
    dataset_ = hdf5::Dataset();
    file_.close();
    GROVE_RETURN_IF_ERROR(output_.commit());
    committed_ = true;
    return ok_status();
  }

 private:
  AtomicOutput output_;
  hdf5::File file_;
  hdf5::Dataset dataset_;
  Shape5 shape_;
  DType dtype_;
  std::string axes_;
  bool committed_ = false;
};

}  // namespace

Result<AxisTags> parse_axistags(const std::string& text) {
  json document = json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_object() || !document.contains("axes") ||
      !document["axes"].is_array()) {
    return make_error(ErrorCode::kCorrupt, "axistags are not JSON of the form {{\"axes\": [...]}}");
  }
  AxisTags tags;
  for (const auto& axis : document["axes"]) {
    if (!axis.is_object() || !axis.contains("key") || !axis["key"].is_string()) {
      return make_error(ErrorCode::kCorrupt, "an axistags entry has no \"key\"");
    }
    const std::string key = axis["key"].get<std::string>();
    if (key.size() != 1 || axis_index(key[0]) < 0) {
      return make_error(ErrorCode::kUnsupported, "axistags key '{}' is not one of t, z, y, x, c",
                        key);
    }
    tags.axes += static_cast<char>(std::tolower(static_cast<unsigned char>(key[0])));
    double resolution = 0;
    if (axis.contains("resolution") && axis["resolution"].is_number()) {
      resolution = axis["resolution"].get<double>();
    }
    tags.resolution.push_back(resolution);
  }
  GROVE_RETURN_IF_ERROR(validate_axes(tags.axes, tags.axes.size()));
  return tags;
}

std::string make_axistags(const std::string& axes, const std::vector<double>& resolution) {
  json list = json::array();
  for (size_t i = 0; i < axes.size(); ++i) {
    json axis;
    axis["key"] = std::string(1, axes[i]);
    axis["typeFlags"] = type_flags(axes[i]);
    const double r = i < resolution.size() ? resolution[i] : 0.0;
    if (r == static_cast<double>(static_cast<int64_t>(r))) {
      axis["resolution"] = static_cast<int64_t>(r);
    } else {
      axis["resolution"] = r;
    }
    axis["description"] = "";
    list.push_back(axis);
  }
  json document;
  document["axes"] = list;
  return document.dump(2);
}

Result<std::unique_ptr<ImageReader>> open_hdf5(const std::string& file,
                                               const std::string& internal) {
  GROVE_ASSIGN_OR_RETURN(hdf5::File h5, hdf5::File::open(file));
  std::string path = internal;
  if (path.empty()) {
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> all, h5.all_datasets());
    std::vector<std::string> images;
    for (const auto& name : all) {
      auto dataset = h5.open_dataset(name);
      if (dataset.ok() && is_image_dataset(*dataset)) images.push_back(name);
    }
    if (images.empty()) {
      return make_error(ErrorCode::kNotFound, "{}: holds no image dataset", file);
    }
    if (images.size() > 1) {
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: holds {} datasets, name one as {}/<dataset> (datasets: {})", file,
                        images.size(), file, list_for_message(images));
    }
    path = images[0];
  } else if (!h5.exists(path)) {
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> all, h5.all_datasets());
    std::vector<std::string> images;
    for (const auto& name : all) {
      auto dataset = h5.open_dataset(name);
      if (dataset.ok() && is_image_dataset(*dataset)) images.push_back(name);
    }
    return make_error(ErrorCode::kNotFound, "{}: no dataset '/{}' (datasets: {})", file, internal,
                      images.empty() ? "none" : list_for_message(images));
  }
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset dataset, h5.open_dataset(path));
  if (dataset.rank() == 0) {
    return make_error(ErrorCode::kUnsupported, "{} is a scalar, not an image", dataset.describe());
  }
  if (dataset.rank() > 5) {
    return make_error(ErrorCode::kUnsupported,
                      "{} has {} dimensions: grove handles at most 5 (t, z, y, x, c)",
                      dataset.describe(), dataset.rank());
  }
  auto dtype = dataset.dtype();
  if (!dtype.ok()) {
    return make_error(ErrorCode::kUnsupported, "{} holds {} data, not an image grove can read",
                      dataset.describe(), dataset.type_name());
  }
  GROVE_RETURN_IF_ERROR(dataset.check_filters_available());
  GROVE_ASSIGN_OR_RETURN(DatasetAxes axes, dataset_axes(dataset));

  ImageInfo info;
  info.format = "hdf5";
  info.dtype = *dtype;
  info.axes = axes.axes;
  info.stored_shape = dataset.dims();
  info.shape = shape_from_stored(dataset.dims(), axes.axes);
  info.pixel_size = axes.pixel_size;
  info.pixel_unit = axes.pixel_unit;
  info.has_pixel_size = axes.has_pixel_size;
  const std::vector<int64_t> chunks = dataset.chunks();
  if (!chunks.empty()) {
    info.chunk_shape = shape_from_stored(chunks, axes.axes);
    // libhdf5 decompresses a filtered chunk whole, whatever part of it is read: the chunk the
    // header declares must fit the memory budget (up to 4 GB, as small as the file may be).
    if (!dataset.filters().empty()) {
      int64_t chunk_bytes = static_cast<int64_t>(dtype_size(*dtype));
      for (int64_t extent : chunks) {
        if (__builtin_mul_overflow(chunk_bytes, extent, &chunk_bytes)) chunk_bytes = -1;
        if (chunk_bytes < 0) break;
      }
      GROVE_RETURN_IF_ERROR(
          check_file_allocation(chunk_bytes, dataset.describe() + ": a compressed chunk"));
    }
  }
  info.compression = dataset.compression();
  info.internal_path = dataset.path();
  return std::unique_ptr<ImageReader>(
      std::make_unique<Hdf5Reader>(std::move(dataset), std::move(info), axes.axes));
}

Result<std::vector<DatasetEntry>> list_hdf5_datasets(const std::string& file) {
  GROVE_ASSIGN_OR_RETURN(hdf5::File h5, hdf5::File::open(file));
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> all, h5.all_datasets());
  std::vector<DatasetEntry> entries;
  for (const auto& name : all) {
    auto dataset = h5.open_dataset(name);
    if (!dataset.ok() || !is_image_dataset(*dataset)) continue;
    auto axes = dataset_axes(*dataset);
    DatasetEntry entry;
    entry.path = "/" + name;
    entry.dtype = *dataset->dtype();
    entry.stored_shape = dataset->dims();
    entry.axes = axes.ok() ? axes->axes : "";
    entry.shape = axes.ok() ? shape_from_stored(dataset->dims(), axes->axes) : Shape5();
    entry.compression = dataset->compression();
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<int64_t> default_hdf5_chunks(const std::vector<int64_t>& dims, const std::string& axes,
                                         DType dtype) {
  // Blocks like the engine's (256² in 2D, 64³ in 3D), one time point, all channels up to 64;
  // shrunk by halves while a chunk exceeds 4 MiB.
  const bool volume = axes.find('z') != std::string::npos && dims[axes.find('z')] > 1;
  std::vector<int64_t> chunks(dims.size(), 1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t want = 1;
    switch (axes[i]) {
      case 't': want = 1; break;
      case 'z': want = 64; break;
      case 'y':
      case 'x': want = volume ? 64 : 256; break;
      case 'c': want = 64; break;
      default: want = 1;
    }
    chunks[i] = std::clamp<int64_t>(want, 1, std::max<int64_t>(dims[i], 1));
  }
  auto bytes = [&] {
    int64_t n = static_cast<int64_t>(dtype_size(dtype));
    for (int64_t c : chunks) n *= c;
    return n;
  };
  while (bytes() > (int64_t{4} << 20)) {
    size_t largest = 0;
    for (size_t i = 1; i < chunks.size(); ++i) {
      if (chunks[i] > chunks[largest]) largest = i;
    }
    if (chunks[largest] <= 1) break;
    chunks[largest] = (chunks[largest] + 1) / 2;
  }
  return chunks;
}

Result<std::unique_ptr<ImageWriter>> create_hdf5(const std::string& file,
                                                 const std::string& internal, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options) {
  if (!shape.valid() || shape.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "cannot write an image of shape {}",
                      shape.to_string());
  }
  const std::string axes = options.axes.empty() ? default_write_axes(shape) : options.axes;
  GROVE_RETURN_IF_ERROR(check_write_axes(axes, shape));
  std::string lower_axes;
  for (char a : axes) lower_axes += static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
  const std::vector<int64_t> dims = stored_dims(shape, lower_axes);

  hdf5::DatasetOptions dataset_options;
  if (options.chunk_shape != Shape5::filled(0)) {
    dataset_options.chunks = stored_dims(options.chunk_shape, lower_axes);
    for (auto& c : dataset_options.chunks) c = std::max<int64_t>(c, 1);
  } else {
    dataset_options.chunks = default_hdf5_chunks(dims, lower_axes, dtype);
  }
  const std::string& compression = options.compression;
  if (compression.empty() || compression == "gzip" || compression == "deflate" ||
      compression == "zlib") {
    dataset_options.gzip_level = options.compression_level >= 0 ? options.compression_level : 4;
  } else if (compression == "lzf") {
    dataset_options.plugin_filter = 32000;
  } else if (compression == "blosc") {
    // The blosc plugin's parameters: 4 reserved slots, then level, shuffle, compressor (lz4).
    const unsigned level =
        static_cast<unsigned>(options.compression_level >= 0 ? options.compression_level : 5);
    dataset_options.plugin_filter = 32001;
    dataset_options.plugin_parameters = {0, 0, 0, 0, level, 1, 1};
  } else if (compression != "none") {
    return make_error(ErrorCode::kInvalidArgument,
                      "HDF5 compression '{}' is not one of gzip, lzf, blosc, none", compression);
  }

  GROVE_ASSIGN_OR_RETURN(AtomicOutput output, AtomicOutput::prepare(file, options.overwrite));
  GROVE_ASSIGN_OR_RETURN(hdf5::File h5, hdf5::File::create(output.temporary_path(), true));
  const std::string dataset_path = internal.empty() ? kDefaultHdf5Dataset : internal;
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset dataset,
                         h5.create_dataset(dataset_path, dtype, dims, dataset_options));
  if (options.ilastik_axistags) {
    std::vector<double> resolution(lower_axes.size(), 0.0);
    if (options.has_pixel_size) {
      for (size_t i = 0; i < lower_axes.size(); ++i) {
        const int a = axis_index(lower_axes[i]);
        if (a < kC) resolution[i] = options.pixel_size[a];
      }
    }
    GROVE_RETURN_IF_ERROR(
        dataset.write_attribute("axistags", make_axistags(lower_axes, resolution)));
  }
  if (options.has_pixel_size) {
    // Micrometre sizes of the spatial axes, for the ImageJ HDF5 plugin and others.
    std::vector<double> sizes;
    bool all_micrometres = true;
    for (char axis : lower_axes) {
      if (axis == 'z' || axis == 'y' || axis == 'x') {
        const int a = axis_index(axis);
        const std::string& unit = options.pixel_unit[a];
        if (!(unit == "µm" || unit == "um" || unit == "micron" || unit == "micrometer")) {
          all_micrometres = false;
        }
        sizes.push_back(options.pixel_size[a]);
      }
    }
    if (all_micrometres && !sizes.empty()) {
      GROVE_RETURN_IF_ERROR(dataset.write_attribute("element_size_um", sizes));
    }
  }
  return std::unique_ptr<ImageWriter>(std::make_unique<Hdf5Writer>(
      std::move(output), std::move(h5), std::move(dataset), shape, dtype, lower_axes));
}

}  // namespace grove::io
