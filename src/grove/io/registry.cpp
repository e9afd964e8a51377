// The format registry: splits "file.h5/internal/path", picks the format from the file's
// signature (its first bytes) or, when the signature says nothing, from the extension, and
// dispatches to the format's reader or writer. Zarr and N5 plug in at the one marked place
// below.
#include <algorithm>
#include <cstring>

#include "grove/io/file_util.h"
#include "grove/io/hdf5.h"
#include "grove/io/image.h"
#include "grove/io/jpeg.h"
#include "grove/io/n5.h"
#include "grove/io/npy.h"
#include "grove/io/png.h"
#include "grove/io/tiff.h"
#include "grove/io/zarr.h"

namespace grove {

namespace {

enum class Format { kUnknown, kTiff, kPng, kJpeg, kNpy, kHdf5, kZarr, kN5 };

const char* format_name(Format format) {
  switch (format) {
    case Format::kTiff: return "tiff";
    case Format::kPng: return "png";
    case Format::kJpeg: return "jpeg";
    case Format::kNpy: return "npy";
    case Format::kHdf5: return "hdf5";
    case Format::kZarr: return "zarr";
    case Format::kN5: return "n5";
    case Format::kUnknown: break;
  }
  return "unknown";
}

Format format_from_extension(const std::string& extension) {
  if (extension == ".tif" || extension == ".tiff" || extension == ".btf" || extension == ".tf8" ||
      extension == ".btif") {
    return Format::kTiff;
  }
  if (extension == ".png") return Format::kPng;
  if (extension == ".jpg" || extension == ".jpeg" || extension == ".jpe") return Format::kJpeg;
  if (extension == ".npy") return Format::kNpy;
  if (extension == ".h5" || extension == ".hdf5" || extension == ".hdf" || extension == ".ilp" ||
      extension == ".he5") {
    return Format::kHdf5;
  }
  if (extension == ".zarr") return Format::kZarr;
  if (extension == ".n5") return Format::kN5;
  return Format::kUnknown;
}

Format format_from_name(const std::string& name) {
  if (name == "tiff" || name == "tif" || name == "multipage tiff") return Format::kTiff;
  if (name == "png") return Format::kPng;
  if (name == "jpeg" || name == "jpg") return Format::kJpeg;
  if (name == "npy" || name == "numpy") return Format::kNpy;
  if (name == "hdf5" || name == "h5") return Format::kHdf5;
  if (name == "zarr") return Format::kZarr;
  if (name == "n5") return Format::kN5;
  return Format::kUnknown;
}

Format format_from_signature(const std::string& bytes) {
  auto starts = [&](const char* signature, size_t size) {
    return bytes.size() >= size && std::memcmp(bytes.data(), signature, size) == 0;
  };
  if (starts("II*\0", 4) || starts("MM\0*", 4) || starts("II+\0", 4) || starts("MM\0+", 4)) {
    return Format::kTiff;
  }
  if (starts("\x89PNG\r\n\x1a\n", 8)) return Format::kPng;
  if (starts("\xff\xd8\xff", 3)) return Format::kJpeg;
  if (starts("\x93NUMPY", 6)) return Format::kNpy;
  if (starts("\x89HDF\r\n\x1a\n", 8)) return Format::kHdf5;
  return Format::kUnknown;
}

bool is_container(Format format) {
  return format == Format::kHdf5 || format == Format::kZarr || format == Format::kN5;
}

// Adds "path" as context unless the message names it already.
Error with_path(Error error, const std::string& path) {
  bool named = error.message().find(path) != std::string::npos;
  for (const auto& line : error.context()) named = named || line.find(path) != std::string::npos;
  if (!named) error.add_context(path);
  return error;
}

// ---- Zarr and N5 ----------------------------------------------------------------------------
// The chunked-store drivers (io/zarr.*, io/n5.*).
Result<std::unique_ptr<ImageReader>> open_chunked_store(Format format, const ImagePath& path) {
  return format == Format::kZarr ? open_zarr(path) : open_n5(path);
}
Result<std::unique_ptr<ImageWriter>> create_chunked_store(Format format, const ImagePath& path,
                                                          const Shape5& shape, DType dtype,
                                                          const WriteOptions& options) {
  return format == Format::kZarr ? create_zarr(path, shape, dtype, options)
                                 : create_n5(path, shape, dtype, options);
}
Result<std::vector<DatasetEntry>> list_chunked_store(Format format, const ImagePath& path) {
  return format == Format::kZarr ? list_zarr_datasets(path.file) : list_n5_datasets(path.file);
}
// ---------------------------------------------------------------------------------------------

// The format of an existing file: its signature, else its extension.
Result<Format> detect_format(const ImagePath& path) {
  const Format by_extension = format_from_extension(io::lower_extension(path.file));
  if (by_extension == Format::kZarr || by_extension == Format::kN5) return by_extension;
  GROVE_ASSIGN_OR_RETURN(int64_t size, io::regular_file_size(path.file));
  if (size == 0) return make_error(ErrorCode::kCorrupt, "the file is empty");
  GROVE_ASSIGN_OR_RETURN(std::string head, io::read_file_prefix(path.file, 16));
  Format format = format_from_signature(head);
  // HDF5 files may start after a user block of 512, 1024, ... bytes.
  if (format == Format::kUnknown && by_extension == Format::kHdf5) format = Format::kHdf5;
  if (format == Format::kUnknown) format = by_extension;
  if (format == Format::kUnknown) {
    return make_error(ErrorCode::kUnsupported,
                      "unknown image format (extension '{}', no known signature); grove reads "
                      "TIFF, PNG, JPEG, NumPy .npy, HDF5, Zarr and N5",
                      io::lower_extension(path.file));
  }
  return format;
}

Result<std::unique_ptr<ImageReader>> open_parsed(const ImagePath& path) {
  GROVE_ASSIGN_OR_RETURN(Format format, detect_format(path));
  if (!path.internal.empty() && !is_container(format)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "is a {} file, not a container: it holds no dataset '{}'",
                      format_name(format), path.internal);
  }
  switch (format) {
    case Format::kTiff: return io::open_tiff(path.file);
    case Format::kPng: return io::open_png(path.file);
    case Format::kJpeg: return io::open_jpeg(path.file);
    case Format::kNpy: return io::open_npy(path.file);
    case Format::kHdf5: return io::open_hdf5(path.file, path.internal);
    case Format::kZarr:
    case Format::kN5: return open_chunked_store(format, path);
    case Format::kUnknown: break;
  }
  return make_error(ErrorCode::kInternal, "no reader for format {}", format_name(format));
}

}  // namespace

ImagePath split_image_path(const std::string& path) {
  size_t position = 0;
  while (position <= path.size()) {
    size_t slash = path.find('/', position);
    if (slash == std::string::npos) slash = path.size();
    const std::string prefix = path.substr(0, slash);
    const Format format = format_from_extension(io::lower_extension(prefix));
    // A directory named like a file container is a directory; Zarr and N5 are directories.
    if (slash > 0 && is_container(format) &&
        (format != Format::kHdf5 || !io::is_directory(prefix))) {
      ImagePath out;
      out.file = prefix;
      std::string internal = slash < path.size() ? path.substr(slash + 1) : "";
      while (!internal.empty() && internal.front() == '/') internal.erase(internal.begin());
      while (!internal.empty() && internal.back() == '/') internal.pop_back();
      out.internal = internal;
      return out;
    }
    position = slash + 1;
  }
  return ImagePath{path, ""};
}

Result<std::unique_ptr<ImageReader>> open_image(const std::string& path) {
  auto reader = open_parsed(split_image_path(path));
  if (!reader.ok()) return with_path(std::move(reader).error(), path);
  return reader;
}

Result<AnyArray> read_image(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(path));
  auto data = reader->read_all();
  if (!data.ok()) return with_path(std::move(data).error(), path);
  return data;
}

Result<std::unique_ptr<ImageWriter>> create_image(const std::string& path, const Shape5& shape,
                                                  DType dtype, const WriteOptions& options,
                                                  const std::string& format_name_given) {
  const ImagePath parsed = split_image_path(path);
  Format format = Format::kUnknown;
  if (!format_name_given.empty()) {
    format = format_from_name(format_name_given);
    if (format == Format::kUnknown) {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown output format '{}' (hdf5, tiff, png, jpeg, npy, zarr, n5)",
                        format_name_given);
    }
  } else {
    format = format_from_extension(io::lower_extension(parsed.file));
    if (format == Format::kUnknown) {
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: cannot tell the output format from the extension '{}' (use .h5, "
                        ".tif, .png, .jpg, .npy, .zarr or .n5, or name the format)",
                        path, io::lower_extension(parsed.file));
    }
  }
  if (!parsed.internal.empty() && !is_container(format)) {
    return make_error(ErrorCode::kInvalidArgument, "{}: a {} file holds no dataset '{}'", path,
                      format_name(format), parsed.internal);
  }
  Result<std::unique_ptr<ImageWriter>> writer = make_error(ErrorCode::kInternal, "no writer");
  switch (format) {
    case Format::kTiff: writer = io::create_tiff(parsed.file, shape, dtype, options); break;
    case Format::kPng: writer = io::create_png(parsed.file, shape, dtype, options); break;
    case Format::kJpeg: writer = io::create_jpeg(parsed.file, shape, dtype, options); break;
    case Format::kNpy: writer = io::create_npy(parsed.file, shape, dtype, options); break;
    case Format::kHdf5:
      writer = io::create_hdf5(parsed.file, parsed.internal, shape, dtype, options);
      break;
    case Format::kZarr:
    case Format::kN5: writer = create_chunked_store(format, parsed, shape, dtype, options); break;
    case Format::kUnknown: break;
  }
  if (!writer.ok()) return with_path(std::move(writer).error(), path);
  return writer;
}

Status write_image(const std::string& path, const AnyArray& data, const WriteOptions& options,
                   const std::string& format) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageWriter> writer,
                         create_image(path, data.shape(), data.dtype(), options, format));
  GROVE_RETURN_IF_ERROR(writer->write(Box5::of(data.shape()), data).context("writing " + path));
  return writer->commit().context("writing " + path);
}

Result<std::string> image_format(const std::string& path) {
  auto format = detect_format(split_image_path(path));
  if (!format.ok()) return with_path(std::move(format).error(), path);
  return std::string(format_name(*format));
}

bool is_container_format(const std::string& format) {
  return is_container(format_from_name(format));
}

Result<std::vector<DatasetEntry>> list_datasets(const std::string& file) {
  const ImagePath parsed = split_image_path(file);
  auto format = detect_format(parsed);
  if (!format.ok()) return with_path(std::move(format).error(), file);
  if (*format == Format::kHdf5) {
    auto entries = io::list_hdf5_datasets(parsed.file);
    if (!entries.ok()) return with_path(std::move(entries).error(), file);
    return entries;
  }
  if (*format == Format::kZarr || *format == Format::kN5)
    return list_chunked_store(*format, parsed);
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(file));
  const ImageInfo& info = reader->info();
  DatasetEntry entry;
  entry.path = "";
  entry.shape = info.shape;
  entry.dtype = info.dtype;
  entry.axes = info.axes;
  entry.stored_shape = info.stored_shape;
  entry.compression = info.compression;
  return std::vector<DatasetEntry>{entry};
}

}  // namespace grove
