// The format registry: splits "file.h5/internal/path", picks the format from the file's
// signature (its first bytes) or, when the signature says nothing, from the extension, and
// dispatches to the format's reader or writer. Zarr and N5 plug in at the one marked place
// below.
#include <fcntl.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

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

// Adds "path" as context unless the message names it (or the file it lies in) already.
Error with_path(Error error, const std::string& path) {
  const std::string file = split_image_path(path).file;
  auto names = [&](const std::string& text) {
    return text.find(path) != std::string::npos || text.find(file) != std::string::npos;
  };
  bool named = names(error.message());
  for (const auto& line : error.context()) named = named || names(line);
  if (!named) error.add_context(path);
  return error;
}

// ---- Zarr and N5 ----------------------------------------------------------------------------
// The chunked-store drivers (io/zarr.*, io/n5.*).
Result<std::unique_ptr<ImageReader>> open_chunked_store(Format format, const ImagePath& path) {
  return format == Format::kZarr ? open_zarr(path) : open_n5(path);
}
// Refuses an output that cannot fit on its disk even compressed as well as any codec manages
// (1000:1; uncompressed formats exactly): an absurd input header, or a huge image meant for
// another disk, fails at once instead of writing until the disk is full. Where the free space
// cannot be told, nothing is refused.
Status check_output_space(const std::string& file, const Shape5& shape, DType dtype, Format format,
                          const WriteOptions& options) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path directory = fs::absolute(file, error).parent_path();
  while (!directory.empty() && !fs::is_directory(directory, error)) {
    if (directory == directory.parent_path()) break;
    directory = directory.parent_path();
  }
  struct statvfs disk {};
  if (directory.empty() || ::statvfs(directory.c_str(), &disk) != 0) return ok_status();
  const double free_bytes = static_cast<double>(disk.f_bavail) * static_cast<double>(disk.f_frsize);
  const double bytes = static_cast<double>(shape.size()) * static_cast<double>(dtype_size(dtype));
  const bool raw =
      format == Format::kNpy ||
      ((format == Format::kTiff || format == Format::kHdf5) &&
       (options.compression == "none" || (format == Format::kTiff && options.compression.empty())));
  const double at_best = raw ? bytes : bytes / 1000.0;
  if (at_best > free_bytes) {
    return make_error(ErrorCode::kResourceExhausted,
                      "the output {} needs {:.0f} bytes{} but {} has only {:.0f} bytes free", file,
                      at_best, raw ? "" : " even compressed 1000:1", directory.string(),
                      free_bytes);
  }
  return ok_status();
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
  if (!shape.valid()) {
    return make_error(ErrorCode::kInvalidArgument, "{}: invalid shape {}", path, shape.to_string());
  }
  if (auto space = check_output_space(parsed.file, shape, dtype, format, options); !space.ok()) {
    return std::move(space).error();
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

namespace {

// The writer of create_image_atomically for Zarr and N5: the node was created under a hidden
// temporary folder beside its final place; commit() renames it there (swapping with the node it
// replaces, when overwriting), and an uncommitted writer removes it.
class RenameOnCommitWriter final : public ImageWriter {
 public:
  RenameOnCommitWriter(std::unique_ptr<ImageWriter> inner, std::filesystem::path temporary_folder,
                       std::filesystem::path written, std::filesystem::path final_path,
                       bool overwrite)
      : inner_(std::move(inner)),
        temporary_folder_(std::move(temporary_folder)),
        written_(std::move(written)),
        final_(std::move(final_path)),
        overwrite_(overwrite) {}

  ~RenameOnCommitWriter() override {
    inner_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(temporary_folder_, ignored);
  }

  Status write(const Box5& box, const AnyArray& data) override {
    if (!inner_) return make_error(ErrorCode::kInvalidArgument, "write after commit");
    return inner_->write(box, data);
  }

  Status commit() override {
    namespace fs = std::filesystem;
    if (!inner_) return ok_status();
    GROVE_RETURN_IF_ERROR(inner_->commit());
    inner_.reset();
    std::error_code error;
    if (fs::exists(final_, error)) {
      if (!overwrite_) {
        return make_error(ErrorCode::kAlreadyExists,
                          "{} appeared while writing (not overwriting it)", final_.string());
      }
      // Atomic swap: the old node is never missing, the new one never half there.
      if (::renameat2(AT_FDCWD, written_.c_str(), AT_FDCWD, final_.c_str(), RENAME_EXCHANGE) != 0) {
        return make_error(ErrorCode::kIo, "cannot move {} into place at {}: {}", written_.string(),
                          final_.string(), std::strerror(errno));
      }
    } else if (::rename(written_.c_str(), final_.c_str()) != 0) {
      return make_error(ErrorCode::kIo, "cannot move {} into place at {}: {}", written_.string(),
                        final_.string(), std::strerror(errno));
    }
    fs::remove_all(temporary_folder_, error);  // and, after a swap, the old node in it
    return ok_status();
  }

 private:
  std::unique_ptr<ImageWriter> inner_;
  std::filesystem::path temporary_folder_;
  std::filesystem::path written_;
  std::filesystem::path final_;
  bool overwrite_;
};

}  // namespace

Result<std::unique_ptr<ImageWriter>> create_image_atomically(const std::string& path,
                                                             const Shape5& shape, DType dtype,
                                                             const WriteOptions& options,
                                                             const std::string& format_given) {
  namespace fs = std::filesystem;
  const ImagePath parsed = split_image_path(path);
  const Format format = format_given.empty()
                            ? format_from_extension(io::lower_extension(parsed.file))
                            : format_from_name(format_given);
  if (format != Format::kZarr && format != Format::kN5) {
    return create_image(path, shape, dtype, options, format_given);  // atomic already
  }
  std::string internal = parsed.internal;
  while (!internal.empty() && internal.front() == '/') internal.erase(0, 1);
  while (!internal.empty() && internal.back() == '/') internal.pop_back();
  const fs::path store = fs::absolute(parsed.file).lexically_normal();
  const fs::path final_node = internal.empty() ? store : store / internal;
  std::error_code error;
  if (fs::exists(final_node, error)) {
    if (!options.overwrite) {
      return make_error(ErrorCode::kAlreadyExists, "{} exists (overwrite it with --overwrite)",
                        path);
    }
    const bool ours = format == Format::kZarr ? is_zarr_store(final_node.string())
                                              : is_n5_container(final_node.string());
    if (!ours) {
      return make_error(ErrorCode::kAlreadyExists,
                        "{} exists and is no {} node: grove will not replace it", path,
                        format_name(format));
    }
  }
  // The hidden folder sits where the node will: beside the store (a new store, or the store's
  // root replaced), else inside the store beside the node. Its dot keeps it out of listings.
  const bool whole_store = internal.empty() || !fs::exists(store, error);
  const fs::path placed = whole_store ? store : final_node;
  io::remove_stale_temporaries(placed.string());
  const fs::path temporary_folder = placed.parent_path() / io::temporary_name_for(placed.string());
  if (!fs::is_directory(temporary_folder.parent_path(), error) &&
      !fs::create_directories(temporary_folder.parent_path(), error)) {
    return make_error(ErrorCode::kNotFound, "the output folder {} does not exist",
                      temporary_folder.parent_path().string());
  }
  std::string temporary_path;
  fs::path written;
  if (whole_store) {
    written = temporary_folder / store.filename();
    temporary_path = written.string() + (internal.empty() ? "" : "/" + internal);
  } else {
    written = temporary_folder / final_node.filename();
    temporary_path = store.string() + "/" + (written.lexically_relative(store)).generic_string();
  }
  WriteOptions temporary_options = options;
  temporary_options.overwrite = false;
  auto inner = create_image(temporary_path, shape, dtype, temporary_options,
                            std::string(format_name(format)));
  if (!inner.ok()) {
    fs::remove_all(temporary_folder, error);
    Error failure = std::move(inner).error();
    return failure;
  }
  return std::unique_ptr<ImageWriter>(
      std::make_unique<RenameOnCommitWriter>(std::move(inner).value(), temporary_folder, written,
                                             whole_store ? store : final_node, options.overwrite));
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
