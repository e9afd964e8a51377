// Thin RAII wrappers over the HDF5 C API, for every layer that reads or writes HDF5: the image
// reader/writer (io/hdf5.cpp), random-forest import, the grove project file and ilastik .ilp
// import.
//
//   GROVE_ASSIGN_OR_RETURN(hdf5::File file, hdf5::File::open("project.ilp"));
//   GROVE_ASSIGN_OR_RETURN(std::string workflow, file.read_string("workflowName"));
//   GROVE_ASSIGN_OR_RETURN(hdf5::Dataset scales, file.open_dataset("FeatureSelections/Scales"));
//   GROVE_ASSIGN_OR_RETURN(std::vector<double> values, scales.read_vector<double>());
//   GROVE_ASSIGN_OR_RETURN(std::string slice, block.read_string_attribute("blockSlice"));
//
// Thread safety: Debian's serial HDF5 is not guaranteed to be thread-safe, so every HDF5 call
// made here holds one process-wide lock (LibraryLock). Code that calls the C API directly on an
// id() must hold a LibraryLock too.
//
// Errors: HDF5's automatic error printing is switched off; a failed call becomes an Error whose
// message ends with HDF5's own description ("HDF5: unable to open file: ... No such file").
//
// Hostile files: read-only opens go through a file driver that refuses corrupt global heap
// collections (where variable-length strings live) before libhdf5 loops on them or reads outside
// them (hdf5_heap_guard.h); such a read fails with "corrupt global heap collection at byte N".
//
// Filters: gzip (deflate) and shuffle are built into HDF5; lzf is grove's own (io/lzf_filter.h,
// registered on first use); blosc, lz4, bzip2 come from Debian's filter plugins
// (hdf5-filter-plugin-blosc-serial, hdf5-filter-plugin), which HDF5 finds in its default plugin
// directory /usr/lib/<arch>/hdf5/serial/plugins, or where HDF5_PLUGIN_PATH points (that variable
// replaces the default directory). A dataset whose filter is missing fails with an error naming
// the filter.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "grove/core/array.h"
#include "grove/core/dtype.h"
#include "grove/core/result.h"

namespace grove::hdf5 {

// Holds the process-wide HDF5 lock (recursive: wrappers may nest). Also switches off HDF5's
// automatic error printing for the calling thread.
class LibraryLock {
 public:
  LibraryLock();
  ~LibraryLock();
  LibraryLock(const LibraryLock&) = delete;
  LibraryLock& operator=(const LibraryLock&) = delete;
};

// An Error from the current HDF5 error stack: "<what>: HDF5: <HDF5's description>". Clears the
// stack. Call with the lock held, right after the failed call.
Error error_from_stack(ErrorCode code, std::string_view what);

// An owned HDF5 identifier (of any kind), closed when the last copy goes away.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id();
  Id(const Id& other);
  Id& operator=(const Id& other);
  Id(Id&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& other) noexcept;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

enum class ObjectKind { kGroup, kDataset, kNamedDatatype, kOther };

// What one filter of a dataset is.
struct FilterInfo {
  int id = 0;              // H5Z_filter_t: 1 deflate, 2 shuffle, 32000 lzf, 32001 blosc, ...
  std::string name;        // "gzip", "shuffle", "blosc", "lzf", ...
  bool available = false;  // built in, or its plugin could be loaded
};

// Options for a new dataset.
struct DatasetOptions {
  std::vector<int64_t> chunks;  // empty: contiguous (no compression possible)
  int gzip_level = -1;          // 0..9 deflate; -1: none. Needs chunks.
  bool shuffle = false;         // byte shuffle before gzip (helps multi-byte types)
  // A plugin filter instead of gzip (e.g. 32001 blosc, 32000 lzf) with its parameters.
  int plugin_filter = 0;
  std::vector<unsigned> plugin_parameters;
};

class Dataset;
class Group;

// Anything that carries attributes: a group (the file's root too) or a dataset.
class Object {
 public:
  hid_t id() const { return id_.get(); }
  bool valid() const { return id_.valid(); }
  // The object's path inside the file ("/" for the root).
  const std::string& path() const { return path_; }
  // The file's name on disk.
  const std::string& file_name() const { return file_name_; }

  bool has_attribute(std::string_view name) const;
  Result<std::vector<std::string>> attribute_names() const;
  // Extents of an attribute (empty for a scalar).
  Result<std::vector<int64_t>> attribute_dims(std::string_view name) const;
  // A numeric attribute (any stored integer/float type, converted; a one-element array counts).
  template <class T>
  Result<T> read_attribute(std::string_view name) const {
    GROVE_ASSIGN_OR_RETURN(std::vector<T> values, read_attribute_vector<T>(name));
    if (values.size() != 1) {
      return make_error(ErrorCode::kInvalidArgument, "attribute {} of {} has {} values, not one",
                        name, describe(), values.size());
    }
    return values[0];
  }
  template <class T>
  Result<std::vector<T>> read_attribute_vector(std::string_view name) const {
    std::vector<T> values;
    GROVE_RETURN_IF_ERROR(read_attribute_numeric(name, dtype_of<T>, &values, [](void* v, size_t n) {
      auto* vector = static_cast<std::vector<T>*>(v);
      vector->resize(n);
      return static_cast<void*>(vector->data());
    }));
    return values;
  }
  // A string attribute (fixed or variable length; a one-element array counts).
  Result<std::string> read_string_attribute(std::string_view name) const;
  Result<std::vector<std::string>> read_string_attribute_vector(std::string_view name) const;

  // Writes (replacing) attributes. Strings are written as variable-length UTF-8, as h5py does.
  template <class T>
  requires std::is_arithmetic_v<T> Status write_attribute(std::string_view name, T value) {
    return write_attribute_numeric(name, dtype_of<T>, &value, {});
  }
  template <class T>
  requires std::is_arithmetic_v<T> Status write_attribute(std::string_view name,
                                                          const std::vector<T>& values) {
    return write_attribute_numeric(name, dtype_of<T>, values.data(),
                                   {static_cast<int64_t>(values.size())});
  }
  Status write_attribute(std::string_view name, std::string_view value);
  Status write_attribute(std::string_view name, const char* value) {
    return write_attribute(name, std::string_view(value));
  }
  Status write_attribute(std::string_view name, const std::string& value) {
    return write_attribute(name, std::string_view(value));
  }
  Status write_attribute(std::string_view name, const std::vector<std::string>& values);
  Status delete_attribute(std::string_view name);

  // "file.h5/path" for messages.
  std::string describe() const;

 protected:
  Object() = default;
  Object(Id id, std::string file_name, std::string path)
      : id_(std::move(id)), file_name_(std::move(file_name)), path_(std::move(path)) {}
  // Resolves a path relative to this object into an absolute path inside the file.
  std::string child_path(std::string_view relative) const;
  // resize(context, n) returns where n elements of dtype go.
  Status read_attribute_numeric(std::string_view name, DType dtype, void* context,
                                void* (*resize)(void*, size_t)) const;
  Status write_attribute_numeric(std::string_view name, DType dtype, const void* data,
                                 const std::vector<int64_t>& dims);

  Id id_;
  std::string file_name_;
  std::string path_ = "/";
};

class Dataset : public Object {
 public:
  Dataset() = default;

  const std::vector<int64_t>& dims() const { return dims_; }
  int rank() const { return static_cast<int>(dims_.size()); }
  // The product of the extents (INT64_MAX if it overflows).
  int64_t element_count() const;
  // The element type as a grove dtype; kUnsupported for strings, compounds, float16, ...
  Result<DType> dtype() const;
  bool is_string() const;
  // A short name of the stored type ("uint8", "string", "compound", ...).
  std::string type_name() const;
  // Chunk extents; empty for a contiguous or compact dataset.
  std::vector<int64_t> chunks() const;
  std::vector<FilterInfo> filters() const;
  // "none", or the filters' names joined by '+' ("shuffle+gzip").
  std::string compression() const;
  // An error naming each filter that cannot be loaded.
  Status check_filters_available() const;

  // Reads the hyperslab [start, start+count) (empty start/count: everything) into out, a
  // C-order buffer of count's product elements of dtype (converted by HDF5 from the stored
  // type).
  Status read(DType dtype, void* out, const std::vector<int64_t>& start = {},
              const std::vector<int64_t>& count = {}) const;
  Status write(DType dtype, const void* data, const std::vector<int64_t>& start = {},
               const std::vector<int64_t>& count = {});

  // Before reading the whole dataset into memory: fails (kCorrupt) if its element count is
  // implausible for what the file stores, or (kResourceExhausted) if element_bytes per element
  // exceed the memory limit (core/memory.h: file_allocation_limit).
  Status check_whole_read(size_t element_bytes) const;

  // The whole dataset, flattened in C order, converted to T.
  template <class T>
  Result<std::vector<T>> read_vector() const {
    GROVE_ASSIGN_OR_RETURN(DType stored, dtype());
    (void)stored;
    GROVE_RETURN_IF_ERROR(check_whole_read(sizeof(T)));
    std::vector<T> values(static_cast<size_t>(element_count()));
    GROVE_RETURN_IF_ERROR(read(dtype_of<T>, values.data()));
    return values;
  }
  // A single number (a scalar or one-element dataset).
  template <class T>
  Result<T> read_scalar() const {
    GROVE_ASSIGN_OR_RETURN(std::vector<T> values, read_vector<T>());
    if (values.size() != 1) {
      return make_error(ErrorCode::kInvalidArgument, "{} holds {} values, not one", describe(),
                        values.size());
    }
    return values[0];
  }
  // The dataset (or the hyperslab [start, start+count) of it) as a t,z,y,x,c array: axes names
  // the stored dims (e.g. "zyx", "txyc"), rank <= 5.
  Result<AnyArray> read_array(std::string_view axes, const std::vector<int64_t>& start = {},
                              const std::vector<int64_t>& count = {}) const;
  // Writes a t,z,y,x,c array (any dtype, converted) into the stored dims named by axes, at start
  // (empty: the origin); the array's extents give the hyperslab's.
  Status write_array(const AnyArray& data, std::string_view axes,
                     const std::vector<int64_t>& start = {});

  // Strings (fixed or variable length), flattened.
  Result<std::vector<std::string>> read_strings() const;
  // A single string (a scalar or one-element string dataset).
  Result<std::string> read_string() const;

 private:
  friend class Group;
  Dataset(Id id, std::string file_name, std::string path);
  std::vector<int64_t> dims_;
};

class Group : public Object {
 public:
  Group() = default;

  bool exists(std::string_view path) const;
  Result<ObjectKind> kind_of(std::string_view path) const;
  // Names of the direct members, in name order.
  Result<std::vector<std::string>> children() const;
  Result<std::vector<std::string>> child_groups() const;
  Result<std::vector<std::string>> child_datasets() const;
  // Paths (relative to this group) of every dataset below it, depth first, in name order.
  Result<std::vector<std::string>> all_datasets() const;

  Result<Group> open_group(std::string_view path) const;
  // Creates the group and any missing parents; an existing group is an error.
  Result<Group> create_group(std::string_view path);
  // Opens the group, creating it (and parents) if missing.
  Result<Group> require_group(std::string_view path);
  Result<Dataset> open_dataset(std::string_view path) const;
  // Creates a dataset (and missing parent groups).
  Result<Dataset> create_dataset(std::string_view path, DType dtype,
                                 const std::vector<int64_t>& dims,
                                 const DatasetOptions& options = {});
  // Unlinks a member.
  Status remove(std::string_view path);

  // Conveniences for small datasets.
  template <class T>
  requires std::is_arithmetic_v<T> Status write_dataset(std::string_view path,
                                                        const std::vector<T>& values,
                                                        std::vector<int64_t> dims = {}) {
    if (dims.empty()) dims = {static_cast<int64_t>(values.size())};
    GROVE_ASSIGN_OR_RETURN(Dataset dataset, create_dataset(path, dtype_of<T>, dims));
    return dataset.write(dtype_of<T>, values.data());
  }
  // A scalar variable-length UTF-8 string dataset.
  Status write_string(std::string_view path, std::string_view value);
  // A 1-d variable-length UTF-8 string dataset.
  Status write_strings(std::string_view path, const std::vector<std::string>& values);
  Result<std::string> read_string(std::string_view path) const;

 protected:
  friend class File;
  Group(Id id, std::string file_name, std::string path)
      : Object(std::move(id), std::move(file_name), std::move(path)) {}
};

enum class Access { kReadOnly, kReadWrite };

// An HDF5 file; as a Group it is the root group "/". Objects opened from it keep the file open
// after the File object is gone.
class File : public Group {
 public:
  File() = default;
  static Result<File> open(const std::string& path, Access access = Access::kReadOnly);
  // Creates a new file; an existing one is truncated if overwrite, else an error.
  static Result<File> create(const std::string& path, bool overwrite = false);
  // True if the file starts with the HDF5 signature.
  static bool is_hdf5(const std::string& path);

  Status flush();
  // Closes this handle (objects opened from it may still hold the file open).
  void close();

 private:
  File(Id file, Id root, std::string file_name)
      : Group(std::move(root), std::move(file_name), "/"), file_(std::move(file)) {}
  Id file_;
};

// Type helpers for code that calls the C API directly (hold a LibraryLock).
// The native memory type of a dtype (bool: h5py's enum of int8 FALSE/TRUE). The caller owns it.
Id memory_type(DType dtype);
// The grove dtype of an HDF5 datatype id, or kUnsupported.
Result<DType> dtype_of_type(hid_t type);

}  // namespace grove::hdf5
