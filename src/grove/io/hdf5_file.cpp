#include "grove/io/hdf5_file.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

#include "grove/core/memory.h"
#include "grove/io/axes.h"
#include "grove/io/file_util.h"
#include "grove/io/hdf5_heap_guard.h"
#include "grove/io/lzf_filter.h"

namespace grove::hdf5 {

namespace {

std::recursive_mutex& library_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

using HsizeVector = std::vector<hsize_t>;

HsizeVector to_hsize(const std::vector<int64_t>& values) {
  return HsizeVector(values.begin(), values.end());
}

std::string join_path(std::string_view base, std::string_view relative) {
  if (!relative.empty() && relative.front() == '/') return std::string(relative);
  std::string out(base);
  if (out.empty() || out.back() != '/') out += '/';
  out += relative;
  return out;
}

// Removes duplicate and trailing slashes: "/a//b/" -> "/a/b".
std::string normalize_path(std::string path) {
  std::string out;
  for (char ch : path) {
    if (ch == '/' && !out.empty() && out.back() == '/') continue;
    out += ch;
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.empty()) out = "/";
  return out;
}

std::string filter_name(int id) {
  switch (id) {
    case H5Z_FILTER_DEFLATE: return "gzip";
    case H5Z_FILTER_SHUFFLE: return "shuffle";
    case H5Z_FILTER_FLETCHER32: return "fletcher32";
    case H5Z_FILTER_SZIP: return "szip";
    case H5Z_FILTER_NBIT: return "nbit";
    case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
    case 307: return "bzip2";
    case 32000: return "lzf";
    case 32001: return "blosc";
    case 32004: return "lz4";
    case 32008: return "bitshuffle";
    case 32013: return "zfp";
    case 32015: return "zstd";
    case 32026: return "blosc2";
    default: return "filter " + std::to_string(id);
  }
}

// Which Debian package brings a filter plugin, for error messages.
std::string filter_hint(int id) {
  switch (id) {
    case 32001: return " (Debian package hdf5-filter-plugin-blosc-serial)";
    case 307:
    case 32004:
    case 32008: return " (Debian package hdf5-filter-plugin)";
    default: return "";
  }
}

struct StackWalk {
  std::vector<std::string> lines;
};

herr_t collect_error(unsigned, const H5E_error2_t* entry, void* data) {
  auto* walk = static_cast<StackWalk*>(data);
  std::string line;
  if (entry->desc != nullptr && entry->desc[0] != '\0') line = entry->desc;
  char minor[256] = {0};
  if (H5Eget_msg(entry->min_num, nullptr, minor, sizeof(minor)) > 0 && minor[0] != '\0') {
    if (line.empty()) {
      line = minor;
    } else if (line.find(minor) == std::string::npos) {
      line += " (";
      line += minor;
      line += ")";
    }
  }
  if (!line.empty() &&
      std::find(walk->lines.begin(), walk->lines.end(), line) == walk->lines.end()) {
    walk->lines.push_back(std::move(line));
  }
  return 0;
}

// RAII guard for one HDF5 C call sequence that needs the lock.
using Lock = LibraryLock;

DType integer_dtype(size_t size, bool is_signed) {
  switch (size) {
    case 1: return is_signed ? DType::i8 : DType::u8;
    case 2: return is_signed ? DType::i16 : DType::u16;
    case 4: return is_signed ? DType::i32 : DType::u32;
    default: return is_signed ? DType::i64 : DType::u64;
  }
}

bool is_boolean_enum(hid_t type) {
  if (H5Tget_class(type) != H5T_ENUM || H5Tget_size(type) != 1 || H5Tget_nmembers(type) != 2) {
    return false;
  }
  bool has_false = false, has_true = false;
  for (unsigned i = 0; i < 2; ++i) {
    char* name = H5Tget_member_name(type, i);
    if (name == nullptr) return false;
    has_false = has_false || std::strcmp(name, "FALSE") == 0;
    has_true = has_true || std::strcmp(name, "TRUE") == 0;
    H5free_memory(name);
  }
  return has_false && has_true;
}

// What an object's values occupy in the file, and the most its filters can expand them: a
// header's element count is checked against it before anything is allocated.
struct StoredSize {
  int64_t bytes = 0;
  double max_ratio = 1.0;  // 0: unknown (a filter of unbounded ratio, e.g. blosc, zstd)
};

// Filters that expand their input at most ~1032:1 (deflate's limit; the others less).
bool ratio_bounded_filter(H5Z_filter_t filter) {
  return filter == H5Z_FILTER_DEFLATE || filter == H5Z_FILTER_SHUFFLE ||
         filter == H5Z_FILTER_FLETCHER32 || filter == H5Z_FILTER_NBIT ||
         filter == H5Z_FILTER_SCALEOFFSET || filter == 32000 /* lzf */;
}

StoredSize dataset_stored_size(hid_t dataset) {
  StoredSize stored;
  stored.bytes = static_cast<int64_t>(std::min<hsize_t>(H5Dget_storage_size(dataset), INT64_MAX));
  Id plist(H5Dget_create_plist(dataset));
  const int count = H5Pget_nfilters(plist.get());
  for (int i = 0; i < count; ++i) {
    unsigned flags = 0, config = 0;
    size_t elements = 0;
    const H5Z_filter_t filter = H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags,
                                               &elements, nullptr, 0, nullptr, &config);
    if (filter < 0 || !ratio_bounded_filter(filter)) {
      stored.max_ratio = 0.0;
      break;
    }
    if (filter == H5Z_FILTER_DEFLATE || filter == 32000) stored.max_ratio = 1100.0;
  }
  H5Eclear2(H5E_DEFAULT);
  return stored;
}

StoredSize attribute_stored_size(hid_t attribute) {
  return StoredSize{
      static_cast<int64_t>(std::min<hsize_t>(H5Aget_storage_size(attribute), INT64_MAX)), 1.0};
}

// Checks that elements values of element_bytes each, read whole from an object that stores
// `stored`, are plausible for the file and fit the memory limit (core/memory.h), before the
// caller allocates them. A dataset that was never written (no storage, fill value only) may still
// be read whole up to a small size.
Status check_decoded_size(int64_t elements, size_t element_bytes, const StoredSize& stored,
                          const std::string& what) {
  constexpr double kSlackBytes = 1 << 20;
  int64_t bytes = 0;
  if (elements < 0 ||
      __builtin_mul_overflow(elements, static_cast<int64_t>(element_bytes), &bytes)) {
    return make_error(ErrorCode::kCorrupt, "{} claims more elements than can exist", what);
  }
  if (stored.max_ratio > 0 &&
      static_cast<double>(bytes) >
          static_cast<double>(stored.bytes) * stored.max_ratio + kSlackBytes) {
    return make_error(ErrorCode::kCorrupt,
                      "{} claims {} values ({} bytes) but holds only {} bytes in the file "
                      "(corrupt file?)",
                      what, elements, bytes, stored.bytes);
  }
  return check_file_allocation(bytes, what);
}

// Reads strings of a dataset or attribute (reader(memtype, buffer) does the H5Dread/H5Aread).
Result<std::vector<std::string>> read_string_values(
    hid_t file_type, hid_t space, const std::function<herr_t(hid_t, void*)>& reader,
    const std::string& what, const StoredSize& stored) {
  if (H5Tget_class(file_type) != H5T_STRING) {
    return make_error(ErrorCode::kInvalidArgument, "{} does not hold strings", what);
  }
  const hssize_t count = H5Sget_simple_extent_npoints(space);
  if (count < 0) return error_from_stack(ErrorCode::kCorrupt, "reading the extent of " + what);
  const bool variable = H5Tis_variable_str(file_type) > 0;
  GROVE_RETURN_IF_ERROR(check_decoded_size(
      count, variable ? sizeof(char*) : std::max<size_t>(H5Tget_size(file_type), 1), stored, what));
  std::vector<std::string> values;
  values.reserve(static_cast<size_t>(count));
  Id memtype(H5Tcopy(H5T_C_S1));
  if (variable) {
    H5Tset_size(memtype.get(), H5T_VARIABLE);
    H5Tset_cset(memtype.get(), H5Tget_cset(file_type));
    std::vector<char*> pointers(static_cast<size_t>(count), nullptr);
    if (reader(memtype.get(), pointers.data()) < 0) {
      return error_from_stack(ErrorCode::kCorrupt, "reading strings of " + what);
    }
    for (char* p : pointers) values.emplace_back(p != nullptr ? p : "");
    Id mem_space(
        H5Screate_simple(1, std::array<hsize_t, 1>{static_cast<hsize_t>(count)}.data(), nullptr));
    H5Dvlen_reclaim(memtype.get(), mem_space.get(), H5P_DEFAULT, pointers.data());
    return values;
  }
  const size_t size = H5Tget_size(file_type);
  if (size == 0) return make_error(ErrorCode::kCorrupt, "{} has strings of size 0", what);
  H5Tset_size(memtype.get(), size);
  H5Tset_cset(memtype.get(), H5Tget_cset(file_type));
  H5Tset_strpad(memtype.get(), H5Tget_strpad(file_type));
  std::vector<char> buffer(size * static_cast<size_t>(count) + 1, '\0');
  if (reader(memtype.get(), buffer.data()) < 0) {
    return error_from_stack(ErrorCode::kCorrupt, "reading strings of " + what);
  }
  const bool space_padded = H5Tget_strpad(file_type) == H5T_STR_SPACEPAD;
  for (hssize_t i = 0; i < count; ++i) {
    const char* begin = buffer.data() + static_cast<size_t>(i) * size;
    size_t length = strnlen(begin, size);
    if (space_padded) {
      while (length > 0 && begin[length - 1] == ' ') --length;
    }
    values.emplace_back(begin, length);
  }
  return values;
}

Result<std::vector<int64_t>> space_dims(hid_t space, const std::string& what) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) return error_from_stack(ErrorCode::kCorrupt, "reading the extent of " + what);
  HsizeVector dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) {
    return error_from_stack(ErrorCode::kCorrupt, "reading the extent of " + what);
  }
  std::vector<int64_t> out;
  for (hsize_t d : dims) {
    // HDF5 allows extents up to 2^64 - 1; grove's are signed. Larger ones are a damaged header.
    if (d > static_cast<hsize_t>(INT64_MAX)) {
      return make_error(ErrorCode::kCorrupt, "{} has an extent of {}", what, d);
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

// Reads numeric values with type `stored` (the file type) into out as dtype. HDF5 converts
// integers and floats; enums (h5py's bool) are read raw and converted here.
Status read_numeric(hid_t file_type, size_t count, DType dtype, void* out,
                    const std::function<herr_t(hid_t, void*)>& reader, const std::string& what) {
  const H5T_class_t type_class = H5Tget_class(file_type);
  if (type_class != H5T_INTEGER && type_class != H5T_FLOAT && type_class != H5T_ENUM) {
    return make_error(ErrorCode::kInvalidArgument, "{} is not numeric", what);
  }
  GROVE_ASSIGN_OR_RETURN(DType stored, dtype_of_type(file_type));
  const bool via_buffer =
      type_class == H5T_ENUM || ((stored == DType::boolean) != (dtype == DType::boolean));
  if (!via_buffer) {
    Id memtype = memory_type(dtype);
    if (reader(memtype.get(), out) < 0) {
      return error_from_stack(ErrorCode::kCorrupt, "reading " + what);
    }
    return ok_status();
  }
  Id memtype = type_class == H5T_ENUM ? Id(H5Tget_native_type(file_type, H5T_DIR_ASCEND))
                                      : memory_type(stored);
  if (H5Tget_size(memtype.get()) != dtype_size(stored)) {
    return make_error(ErrorCode::kUnsupported, "{} holds enum values of {} bytes", what,
                      H5Tget_size(memtype.get()));
  }
  std::vector<unsigned char> buffer(count * dtype_size(stored) + 1);
  if (reader(memtype.get(), buffer.data()) < 0) {
    return error_from_stack(ErrorCode::kCorrupt, "reading " + what);
  }
  if (stored == DType::boolean) {
    // A file may hold any byte in a boolean enum; loading one other than 0 or 1 as a bool is
    // undefined (found by the ilastik_import fuzz target).
    for (size_t i = 0; i < count; ++i) buffer[i] = buffer[i] != 0;
  }
  const Shape5 shape(1, 1, 1, 1, static_cast<int64_t>(count));
  const AnyArray source =
      AnyArray::wrap(stored, buffer.data(), shape, contiguous_strides(shape), {});
  const AnyArray target = AnyArray::wrap(dtype, out, shape, contiguous_strides(shape), {});
  return source.copy_into(target);
}

Id make_space(const std::vector<int64_t>& dims) {
  if (dims.empty()) return Id(H5Screate(H5S_SCALAR));
  const HsizeVector h = to_hsize(dims);
  return Id(H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr));
}

Id utf8_string_type() {
  Id type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

// A link creation property list that creates missing parent groups.
Id parents_plist() {
  Id plist(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(plist.get(), 1);
  return plist;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lock, errors, ids

LibraryLock::LibraryLock() {
  library_mutex().lock();
  // The automatic error printing is a property of each thread's error stack.
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
  // grove's own LZF filter (Debian's plugin cannot be loaded).
  io::register_lzf_filter();
}

LibraryLock::~LibraryLock() { library_mutex().unlock(); }

Error error_from_stack(ErrorCode code, std::string_view what) {
  StackWalk walk;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &walk);
  H5Eclear2(H5E_DEFAULT);
  std::string details;
  // The innermost entries say most; keep a few.
  for (size_t i = 0; i < walk.lines.size() && i < 3; ++i) {
    if (!details.empty()) details += "; ";
    details += walk.lines[i];
  }
  if (details.empty()) details = "unknown error";
  return Error(code, fmt::format("{}: HDF5: {}", what, details));
}

Id::~Id() { reset(); }

Id::Id(const Id& other) : id_(other.id_) {
  if (id_ >= 0) {
    Lock lock;
    H5Iinc_ref(id_);
  }
}

Id& Id::operator=(const Id& other) {
  if (this != &other) {
    reset();
    id_ = other.id_;
    if (id_ >= 0) {
      Lock lock;
      H5Iinc_ref(id_);
    }
  }
  return *this;
}

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() {
  if (id_ >= 0) {
    Lock lock;
    H5Idec_ref(id_);
    H5Eclear2(H5E_DEFAULT);
    id_ = H5I_INVALID_HID;
  }
}

Id memory_type(DType dtype) {
  Lock lock;
  switch (dtype) {
    case DType::u8: return Id(H5Tcopy(H5T_NATIVE_UINT8));
    case DType::u16: return Id(H5Tcopy(H5T_NATIVE_UINT16));
    case DType::u32: return Id(H5Tcopy(H5T_NATIVE_UINT32));
    case DType::u64: return Id(H5Tcopy(H5T_NATIVE_UINT64));
    case DType::i8: return Id(H5Tcopy(H5T_NATIVE_INT8));
    case DType::i16: return Id(H5Tcopy(H5T_NATIVE_INT16));
    case DType::i32: return Id(H5Tcopy(H5T_NATIVE_INT32));
    case DType::i64: return Id(H5Tcopy(H5T_NATIVE_INT64));
    case DType::f32: return Id(H5Tcopy(H5T_NATIVE_FLOAT));
    case DType::f64: return Id(H5Tcopy(H5T_NATIVE_DOUBLE));
    case DType::boolean: {
      // h5py's representation of numpy bool.
      Id type(H5Tenum_create(H5T_NATIVE_INT8));
      const int8_t no = 0, yes = 1;
      H5Tenum_insert(type.get(), "FALSE", &no);
      H5Tenum_insert(type.get(), "TRUE", &yes);
      return type;
    }
  }
  return Id(H5Tcopy(H5T_NATIVE_UINT8));
}

Result<DType> dtype_of_type(hid_t type) {
  Lock lock;
  const size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      if (size != 1 && size != 2 && size != 4 && size != 8) break;
      return integer_dtype(size, H5Tget_sign(type) == H5T_SGN_2);
    case H5T_FLOAT:
      if (size == 4) return DType::f32;
      if (size == 8) return DType::f64;
      return make_error(ErrorCode::kUnsupported, "{}-bit floating point is not supported",
                        size * 8);
    case H5T_ENUM: {
      if (is_boolean_enum(type)) return DType::boolean;
      Id base(H5Tget_super(type));
      return dtype_of_type(base.get());
    }
    case H5T_STRING: return make_error(ErrorCode::kUnsupported, "strings are not numeric data");
    case H5T_COMPOUND:
      return make_error(ErrorCode::kUnsupported,
                        "compound (structured or complex) data is not supported");
    default: break;
  }
  return make_error(ErrorCode::kUnsupported,
                    "this HDF5 datatype (class {}, {} bytes) is not supported",
                    static_cast<int>(H5Tget_class(type)), size);
}

// ---------------------------------------------------------------------------------------------
// Object: attributes

std::string Object::describe() const {
  if (path_ == "/") return file_name_;
  return file_name_ + path_;
}

std::string Object::child_path(std::string_view relative) const {
  return normalize_path(join_path(path_, relative));
}

bool Object::has_attribute(std::string_view name) const {
  Lock lock;
  const std::string n(name);
  const htri_t exists = H5Aexists(id(), n.c_str());
  H5Eclear2(H5E_DEFAULT);
  return exists > 0;
}

Result<std::vector<std::string>> Object::attribute_names() const {
  Lock lock;
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t index = 0;
  if (H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names) < 0) {
    return error_from_stack(ErrorCode::kCorrupt, "listing the attributes of " + describe());
  }
  return names;
}

namespace {

// Opens an attribute with a clear error when it is missing.
Result<Id> open_attribute(hid_t object, std::string_view name, const std::string& owner) {
  const std::string n(name);
  const htri_t exists = H5Aexists(object, n.c_str());
  if (exists <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return make_error(ErrorCode::kNotFound, "{} has no attribute '{}'", owner, name);
  }
  Id attribute(H5Aopen(object, n.c_str(), H5P_DEFAULT));
  if (!attribute.valid()) {
    return error_from_stack(ErrorCode::kCorrupt,
                            fmt::format("opening attribute '{}' of {}", name, owner));
  }
  return attribute;
}

}  // namespace

Result<std::vector<int64_t>> Object::attribute_dims(std::string_view name) const {
  Lock lock;
  GROVE_ASSIGN_OR_RETURN(Id attribute, open_attribute(id(), name, describe()));
  Id space(H5Aget_space(attribute.get()));
  return space_dims(space.get(), fmt::format("attribute '{}' of {}", name, describe()));
}

Status Object::read_attribute_numeric(std::string_view name, DType dtype, void* context,
                                      void* (*resize)(void*, size_t)) const {
  Lock lock;
  GROVE_ASSIGN_OR_RETURN(Id attribute, open_attribute(id(), name, describe()));
  const std::string what = fmt::format("attribute '{}' of {}", name, describe());
  Id space(H5Aget_space(attribute.get()));
  Id type(H5Aget_type(attribute.get()));
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) return error_from_stack(ErrorCode::kCorrupt, "reading " + what);
  GROVE_RETURN_IF_ERROR(
      check_decoded_size(count, dtype_size(dtype), attribute_stored_size(attribute.get()), what));
  void* out = resize(context, static_cast<size_t>(count));
  const hid_t attribute_id = attribute.get();
  return read_numeric(
      type.get(), static_cast<size_t>(count), dtype, out,
      [attribute_id](hid_t memtype, void* buffer) {
        return H5Aread(attribute_id, memtype, buffer);
      },
      what);
}

Result<std::vector<std::string>> Object::read_string_attribute_vector(std::string_view name) const {
  Lock lock;
  GROVE_ASSIGN_OR_RETURN(Id attribute, open_attribute(id(), name, describe()));
  Id space(H5Aget_space(attribute.get()));
  Id type(H5Aget_type(attribute.get()));
  const hid_t attribute_id = attribute.get();
  return read_string_values(
      type.get(), space.get(),
      [attribute_id](hid_t memtype, void* buffer) {
        return H5Aread(attribute_id, memtype, buffer);
      },
      fmt::format("attribute '{}' of {}", name, describe()), attribute_stored_size(attribute_id));
}

Result<std::string> Object::read_string_attribute(std::string_view name) const {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> values, read_string_attribute_vector(name));
  if (values.size() != 1) {
    return make_error(ErrorCode::kInvalidArgument, "attribute '{}' of {} holds {} strings, not one",
                      name, describe(), values.size());
  }
  return std::move(values[0]);
}

Status Object::delete_attribute(std::string_view name) {
  Lock lock;
  const std::string n(name);
  if (H5Aexists(id(), n.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return ok_status();
  }
  if (H5Adelete(id(), n.c_str()) < 0) {
    return error_from_stack(ErrorCode::kIo,
                            fmt::format("deleting attribute '{}' of {}", name, describe()));
  }
  return ok_status();
}

Status Object::write_attribute_numeric(std::string_view name, DType dtype, const void* data,
                                       const std::vector<int64_t>& dims) {
  Lock lock;
  GROVE_RETURN_IF_ERROR(delete_attribute(name));
  const std::string n(name);
  Id type = memory_type(dtype);
  Id space = make_space(dims);
  Id attribute(H5Acreate2(id(), n.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attribute.valid() || H5Awrite(attribute.get(), type.get(), data) < 0) {
    return error_from_stack(ErrorCode::kIo,
                            fmt::format("writing attribute '{}' of {}", name, describe()));
  }
  return ok_status();
}

Status Object::write_attribute(std::string_view name, std::string_view value) {
  Lock lock;
  GROVE_RETURN_IF_ERROR(delete_attribute(name));
  const std::string n(name);
  const std::string text(value);
  Id type = utf8_string_type();
  Id space(H5Screate(H5S_SCALAR));
  Id attribute(H5Acreate2(id(), n.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const char* pointer = text.c_str();
  if (!attribute.valid() || H5Awrite(attribute.get(), type.get(), &pointer) < 0) {
    return error_from_stack(ErrorCode::kIo,
                            fmt::format("writing attribute '{}' of {}", name, describe()));
  }
  return ok_status();
}

Status Object::write_attribute(std::string_view name, const std::vector<std::string>& values) {
  Lock lock;
  GROVE_RETURN_IF_ERROR(delete_attribute(name));
  const std::string n(name);
  Id type = utf8_string_type();
  Id space = make_space({static_cast<int64_t>(values.size())});
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  Id attribute(H5Acreate2(id(), n.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attribute.valid() || H5Awrite(attribute.get(), type.get(), pointers.data()) < 0) {
    return error_from_stack(ErrorCode::kIo,
                            fmt::format("writing attribute '{}' of {}", name, describe()));
  }
  return ok_status();
}

// ---------------------------------------------------------------------------------------------
// Dataset

Dataset::Dataset(Id id, std::string file_name, std::string path)
    : Object(std::move(id), std::move(file_name), std::move(path)) {
  Lock lock;
  Id space(H5Dget_space(this->id()));
  auto dims = space_dims(space.get(), describe());
  if (dims.ok()) dims_ = std::move(dims).value();
  H5Eclear2(H5E_DEFAULT);
}

int64_t Dataset::element_count() const {
  int64_t count = 1;
  for (int64_t d : dims_) {
    // Saturates: a header's extents may multiply past 64 bits.
    if (__builtin_mul_overflow(count, d, &count)) return INT64_MAX;
  }
  return count;
}

Result<DType> Dataset::dtype() const {
  Lock lock;
  Id type(H5Dget_type(id()));
  auto result = dtype_of_type(type.get());
  if (!result.ok()) return std::move(result).context(describe());
  return result;
}

bool Dataset::is_string() const {
  Lock lock;
  Id type(H5Dget_type(id()));
  return H5Tget_class(type.get()) == H5T_STRING;
}

std::string Dataset::type_name() const {
  Lock lock;
  Id type(H5Dget_type(id()));
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: break;
  }
  auto dtype = dtype_of_type(type.get());
  if (dtype.ok()) return std::string(dtype_name(*dtype));
  return "unsupported";
}

std::vector<int64_t> Dataset::chunks() const {
  Lock lock;
  Id plist(H5Dget_create_plist(id()));
  if (H5Pget_layout(plist.get()) != H5D_CHUNKED) return {};
  HsizeVector chunk(dims_.size() > 0 ? dims_.size() : 1);
  const int rank = H5Pget_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data());
  if (rank < 0) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  chunk.resize(static_cast<size_t>(rank));
  return std::vector<int64_t>(chunk.begin(), chunk.end());
}

std::vector<FilterInfo> Dataset::filters() const {
  Lock lock;
  std::vector<FilterInfo> out;
  Id plist(H5Dget_create_plist(id()));
  const int count = H5Pget_nfilters(plist.get());
  for (int i = 0; i < count; ++i) {
    unsigned flags = 0, config = 0;
    size_t elements = 0;
    char name[128] = {0};
    const H5Z_filter_t filter = H5Pget_filter2(plist.get(), static_cast<unsigned>(i), &flags,
                                               &elements, nullptr, sizeof(name), name, &config);
    if (filter < 0) continue;
    FilterInfo info;
    info.id = static_cast<int>(filter);
    info.name = filter_name(info.id);
    info.available = H5Zfilter_avail(filter) > 0;
    out.push_back(info);
  }
  H5Eclear2(H5E_DEFAULT);
  return out;
}

std::string Dataset::compression() const {
  std::string out;
  for (const auto& filter : filters()) {
    if (!out.empty()) out += '+';
    out += filter.name;
  }
  return out.empty() ? "none" : out;
}

Status Dataset::check_filters_available() const {
  for (const auto& filter : filters()) {
    if (!filter.available) {
      return make_error(ErrorCode::kUnsupported,
                        "{} is compressed with the HDF5 filter '{}' (id {}), which is not "
                        "available: install its plugin{} or point HDF5_PLUGIN_PATH at it",
                        describe(), filter.name, filter.id, filter_hint(filter.id));
    }
  }
  return ok_status();
}

namespace {

// Selects the hyperslab on a copy of the dataset's space; returns the file and memory spaces.
Status select_hyperslab(hid_t dataset, const std::vector<int64_t>& dims,
                        const std::vector<int64_t>& start, const std::vector<int64_t>& count,
                        Id& file_space, Id& memory_space, size_t& elements,
                        const std::string& what) {
  file_space = Id(H5Dget_space(dataset));
  if (start.empty() && count.empty()) {
    memory_space = Id(H5Scopy(file_space.get()));
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    elements = static_cast<size_t>(n);
    return ok_status();
  }
  if (start.size() != dims.size() || count.size() != dims.size()) {
    return make_error(ErrorCode::kInvalidArgument, "hyperslab of rank {} for {}, which has rank {}",
                      start.size(), what, dims.size());
  }
  int64_t n = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (start[i] < 0 || count[i] < 0 || start[i] + count[i] > dims[i]) {
      return make_error(ErrorCode::kOutOfRange, "hyperslab outside {} (dimension {}: {}+{} > {})",
                        what, i, start[i], count[i], dims[i]);
    }
    n *= count[i];
  }
  elements = static_cast<size_t>(n);
  if (dims.empty()) {
    memory_space = Id(H5Screate(H5S_SCALAR));
    return ok_status();
  }
  const HsizeVector h_start = to_hsize(start), h_count = to_hsize(count);
  if (n == 0) {
    H5Sselect_none(file_space.get());
    memory_space = Id(H5Screate_simple(static_cast<int>(h_count.size()), h_count.data(), nullptr));
    H5Sselect_none(memory_space.get());
    return ok_status();
  }
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, h_start.data(), nullptr, h_count.data(),
                          nullptr) < 0) {
    return error_from_stack(ErrorCode::kInvalidArgument, "selecting a hyperslab of " + what);
  }
  memory_space = Id(H5Screate_simple(static_cast<int>(h_count.size()), h_count.data(), nullptr));
  return ok_status();
}

}  // namespace

Status Dataset::read(DType dtype, void* out, const std::vector<int64_t>& start,
                     const std::vector<int64_t>& count) const {
  Lock lock;
  GROVE_RETURN_IF_ERROR(check_filters_available());
  Id file_space, memory_space;
  size_t elements = 0;
  GROVE_RETURN_IF_ERROR(
      select_hyperslab(id(), dims_, start, count, file_space, memory_space, elements, describe()));
  if (elements == 0) return ok_status();
  Id type(H5Dget_type(id()));
  const hid_t dataset = id(), fspace = file_space.get(), mspace = memory_space.get();
  return read_numeric(
      type.get(), elements, dtype, out,
      [dataset, fspace, mspace](hid_t memtype, void* buffer) {
        return H5Dread(dataset, memtype, mspace, fspace, H5P_DEFAULT, buffer);
      },
      describe());
}

Status Dataset::write(DType dtype, const void* data, const std::vector<int64_t>& start,
                      const std::vector<int64_t>& count) {
  Lock lock;
  Id file_space, memory_space;
  size_t elements = 0;
  GROVE_RETURN_IF_ERROR(
      select_hyperslab(id(), dims_, start, count, file_space, memory_space, elements, describe()));
  if (elements == 0) return ok_status();
  Id type(H5Dget_type(id()));
  GROVE_ASSIGN_OR_RETURN(DType stored, dtype_of_type(type.get()));
  // HDF5 cannot convert between integers and enums (bool); convert here first.
  std::vector<unsigned char> converted;
  DType memory_dtype = dtype;
  if ((stored == DType::boolean) != (dtype == DType::boolean)) {
    converted.resize(elements * dtype_size(stored) + 1);
    const Shape5 shape(1, 1, 1, 1, static_cast<int64_t>(elements));
    const AnyArray source =
        AnyArray::wrap(dtype, const_cast<void*>(data), shape, contiguous_strides(shape), {});
    const AnyArray target =
        AnyArray::wrap(stored, converted.data(), shape, contiguous_strides(shape), {});
    GROVE_RETURN_IF_ERROR(source.copy_into(target));
    data = converted.data();
    memory_dtype = stored;
  }
  Id memtype = memory_type(memory_dtype);
  if (H5Dwrite(id(), memtype.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, data) < 0) {
    return error_from_stack(ErrorCode::kIo, "writing " + describe());
  }
  return ok_status();
}

Status Dataset::check_whole_read(size_t element_bytes) const {
  Lock lock;
  return check_decoded_size(element_count(), element_bytes, dataset_stored_size(id()),
                            "reading " + describe());
}

Result<AnyArray> Dataset::read_array(std::string_view axes, const std::vector<int64_t>& start,
                                     const std::vector<int64_t>& count) const {
  GROVE_RETURN_IF_ERROR(io::validate_axes(axes, dims_.size()));
  GROVE_ASSIGN_OR_RETURN(DType type, dtype());
  if (start.empty() && count.empty()) GROVE_RETURN_IF_ERROR(check_whole_read(dtype_size(type)));
  const std::vector<int64_t>& extents = count.empty() ? dims_ : count;
  const Shape5 shape = io::shape_from_stored(extents, axes);
  GROVE_ASSIGN_OR_RETURN(AnyArray buffer, AnyArray::allocate_uninitialized(type, shape));
  GROVE_RETURN_IF_ERROR(read(type, buffer.raw_data(), start, count));
  return io::stored_buffer_to_grove(buffer, extents, axes, shape);
}

Status Dataset::write_array(const AnyArray& data, std::string_view axes,
                            const std::vector<int64_t>& start) {
  GROVE_RETURN_IF_ERROR(io::validate_axes(axes, dims_.size()));
  GROVE_ASSIGN_OR_RETURN(DType type, dtype());
  for (int a = 0; a < kRank; ++a) {
    if (data.shape()[a] != 1 && axes.find(kAxisNames[a]) == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: the data has extent {} along {}, which axes '{}' do not store",
                        describe(), data.shape()[a], kAxisNames[a], axes);
    }
  }
  const std::vector<int64_t> count = io::stored_dims(data.shape(), axes);
  std::vector<int64_t> origin = start.empty() ? std::vector<int64_t>(dims_.size(), 0) : start;
  // Lay the data out in the stored order and dtype, then write the hyperslab.
  GROVE_ASSIGN_OR_RETURN(AnyArray buffer, AnyArray::allocate_uninitialized(type, data.shape()));
  const AnyArray stored = AnyArray::wrap(type, buffer.raw_data(), data.shape(),
                                         io::strides_of_stored(count, axes), buffer.buffer());
  GROVE_RETURN_IF_ERROR(data.copy_into(stored));
  return write(type, buffer.raw_data(), origin, count);
}

Result<std::vector<std::string>> Dataset::read_strings() const {
  Lock lock;
  Id type(H5Dget_type(id()));
  Id space(H5Dget_space(id()));
  const hid_t dataset = id();
  return read_string_values(
      type.get(), space.get(),
      [dataset](hid_t memtype, void* buffer) {
        return H5Dread(dataset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
      },
      describe(), dataset_stored_size(dataset));
}

Result<std::string> Dataset::read_string() const {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> values, read_strings());
  if (values.size() != 1) {
    return make_error(ErrorCode::kInvalidArgument, "{} holds {} strings, not one", describe(),
                      values.size());
  }
  return std::move(values[0]);
}

// ---------------------------------------------------------------------------------------------
// Group

bool Group::exists(std::string_view path) const {
  Lock lock;
  const std::string full = child_path(path);
  if (full == "/") return true;
  // H5Lexists fails if an intermediate component is missing: check each prefix.
  size_t position = 1;
  while (true) {
    const size_t slash = full.find('/', position);
    const std::string prefix = full.substr(0, slash);
    const htri_t exists = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) break;
    position = slash + 1;
  }
  // A dangling soft/external link exists as a link but not as an object.
  const htri_t object = H5Oexists_by_name(id(), full.c_str(), H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  return object > 0;
}

Result<ObjectKind> Group::kind_of(std::string_view path) const {
  Lock lock;
  const std::string full = child_path(path);
  if (!exists(full)) {
    return make_error(ErrorCode::kNotFound, "{} has no member '{}'", file_name_, full);
  }
  H5O_info_t info;
  if (H5Oget_info_by_name(id(), full.c_str(), &info, H5P_DEFAULT) < 0) {
    return error_from_stack(ErrorCode::kCorrupt, "inspecting " + file_name_ + full);
  }
  switch (info.type) {
    case H5O_TYPE_GROUP: return ObjectKind::kGroup;
    case H5O_TYPE_DATASET: return ObjectKind::kDataset;
    case H5O_TYPE_NAMED_DATATYPE: return ObjectKind::kNamedDatatype;
    default: return ObjectKind::kOther;
  }
}

Result<std::vector<std::string>> Group::children() const {
  Lock lock;
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t index = 0;
  if (H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names) < 0) {
    return error_from_stack(ErrorCode::kCorrupt, "listing the members of " + describe());
  }
  return names;
}

Result<std::vector<std::string>> Group::child_groups() const {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> names, children());
  std::vector<std::string> out;
  for (auto& name : names) {
    auto kind = kind_of(name);
    if (kind.ok() && *kind == ObjectKind::kGroup) out.push_back(std::move(name));
  }
  return out;
}

Result<std::vector<std::string>> Group::child_datasets() const {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> names, children());
  std::vector<std::string> out;
  for (auto& name : names) {
    auto kind = kind_of(name);
    if (kind.ok() && *kind == ObjectKind::kDataset) out.push_back(std::move(name));
  }
  return out;
}

Result<std::vector<std::string>> Group::all_datasets() const {
  std::vector<std::string> out;
  // Depth first, each group once (by its address in the file): hard links back to a parent make
  // cycles, and two of them would make a walk by path exponential. A depth limit and a limit on
  // the groups visited bound what a hostile file can ask for besides.
  int64_t groups_left = 100000;
  std::set<haddr_t> visited;
  std::function<Status(const Group&, const std::string&, int)> walk =
      [&](const Group& group, const std::string& prefix, int depth) -> Status {
    if (depth > 64 || --groups_left < 0) return ok_status();
    {
      Lock lock;
      H5O_info_t info;
      if (H5Oget_info2(group.id(), &info, H5O_INFO_BASIC) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return ok_status();
      }
      if (!visited.insert(info.addr).second) return ok_status();
    }
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> names, group.children());
    for (const auto& name : names) {
      auto kind = group.kind_of(name);
      if (!kind.ok()) continue;
      const std::string relative = prefix.empty() ? name : prefix + "/" + name;
      if (*kind == ObjectKind::kDataset) {
        out.push_back(relative);
      } else if (*kind == ObjectKind::kGroup) {
        auto child = group.open_group(name);
        if (child.ok()) GROVE_RETURN_IF_ERROR(walk(*child, relative, depth + 1));
      }
    }
    return ok_status();
  };
  GROVE_RETURN_IF_ERROR(walk(*this, "", 0));
  return out;
}

Result<Group> Group::open_group(std::string_view path) const {
  Lock lock;
  const std::string full = child_path(path);
  GROVE_ASSIGN_OR_RETURN(ObjectKind kind, kind_of(full));
  if (kind != ObjectKind::kGroup) {
    return make_error(ErrorCode::kInvalidArgument, "{}{} is not a group", file_name_, full);
  }
  Id group(H5Gopen2(id(), full.c_str(), H5P_DEFAULT));
  if (!group.valid())
    return error_from_stack(ErrorCode::kCorrupt, "opening group " + file_name_ + full);
  return Group(std::move(group), file_name_, full);
}

Result<Group> Group::create_group(std::string_view path) {
  Lock lock;
  const std::string full = child_path(path);
  if (exists(full)) {
    return make_error(ErrorCode::kAlreadyExists, "{}{} exists already", file_name_, full);
  }
  Id plist = parents_plist();
  Id group(H5Gcreate2(id(), full.c_str(), plist.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!group.valid())
    return error_from_stack(ErrorCode::kIo, "creating group " + file_name_ + full);
  return Group(std::move(group), file_name_, full);
}

Result<Group> Group::require_group(std::string_view path) {
  if (exists(path)) return open_group(path);
  return create_group(path);
}

Result<Dataset> Group::open_dataset(std::string_view path) const {
  Lock lock;
  const std::string full = child_path(path);
  if (!exists(full)) {
    return make_error(ErrorCode::kNotFound, "{} has no dataset '{}'", file_name_, full);
  }
  GROVE_ASSIGN_OR_RETURN(ObjectKind kind, kind_of(full));
  if (kind != ObjectKind::kDataset) {
    return make_error(ErrorCode::kInvalidArgument, "{}{} is a group, not a dataset", file_name_,
                      full);
  }
  Id dataset(H5Dopen2(id(), full.c_str(), H5P_DEFAULT));
  if (!dataset.valid()) {
    return error_from_stack(ErrorCode::kCorrupt, "opening dataset " + file_name_ + full);
  }
  // The extents must be readable: a dataset whose dims failed would look scalar and be read
  // into a one-element buffer.
  Id space(H5Dget_space(dataset.get()));
  GROVE_RETURN_IF_ERROR(space_dims(space.get(), file_name_ + full));
  return Dataset(std::move(dataset), file_name_, full);
}

Result<Dataset> Group::create_dataset(std::string_view path, DType dtype,
                                      const std::vector<int64_t>& dims,
                                      const DatasetOptions& options) {
  Lock lock;
  const std::string full = child_path(path);
  if (exists(full)) {
    return make_error(ErrorCode::kAlreadyExists, "{}{} exists already", file_name_, full);
  }
  Id plist(H5Pcreate(H5P_DATASET_CREATE));
  // Reproducible files: no modification times in object headers.
  H5Pset_obj_track_times(plist.get(), 0);
  if (!options.chunks.empty()) {
    if (options.chunks.size() != dims.size()) {
      return make_error(ErrorCode::kInvalidArgument, "chunks of rank {} for a dataset of rank {}",
                        options.chunks.size(), dims.size());
    }
    HsizeVector chunks;
    for (size_t i = 0; i < dims.size(); ++i) {
      chunks.push_back(static_cast<hsize_t>(
          std::clamp<int64_t>(options.chunks[i], 1, std::max<int64_t>(dims[i], 1))));
    }
    H5Pset_chunk(plist.get(), static_cast<int>(chunks.size()), chunks.data());
    if (options.shuffle) H5Pset_shuffle(plist.get());
    if (options.gzip_level >= 0) H5Pset_deflate(plist.get(), std::min(options.gzip_level, 9));
    if (options.plugin_filter > 0) {
      const auto filter = static_cast<H5Z_filter_t>(options.plugin_filter);
      if (H5Zfilter_avail(filter) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return make_error(ErrorCode::kUnsupported,
                          "the HDF5 filter '{}' (id {}) is not available{}",
                          filter_name(options.plugin_filter), options.plugin_filter,
                          filter_hint(options.plugin_filter));
      }
      // Optional, as h5py sets them: a chunk the filter cannot shrink is stored raw.
      if (H5Pset_filter(plist.get(), filter, H5Z_FLAG_OPTIONAL, options.plugin_parameters.size(),
                        options.plugin_parameters.data()) < 0) {
        return error_from_stack(ErrorCode::kIo,
                                "setting up filter " + filter_name(options.plugin_filter));
      }
    }
  } else if (options.gzip_level >= 0 || options.shuffle || options.plugin_filter > 0) {
    return make_error(ErrorCode::kInvalidArgument, "compression needs a chunked dataset ({})",
                      file_name_ + full);
  }
  Id type = memory_type(dtype);
  Id space = make_space(dims);
  Id links = parents_plist();
  Id dataset(H5Dcreate2(id(), full.c_str(), type.get(), space.get(), links.get(), plist.get(),
                        H5P_DEFAULT));
  if (!dataset.valid()) {
    return error_from_stack(ErrorCode::kIo, "creating dataset " + file_name_ + full);
  }
  return Dataset(std::move(dataset), file_name_, full);
}

Status Group::remove(std::string_view path) {
  Lock lock;
  const std::string full = child_path(path);
  if (H5Ldelete(id(), full.c_str(), H5P_DEFAULT) < 0) {
    return error_from_stack(ErrorCode::kNotFound, "removing " + file_name_ + full);
  }
  return ok_status();
}

Status Group::write_string(std::string_view path, std::string_view value) {
  Lock lock;
  const std::string full = child_path(path);
  if (exists(full)) {
    return make_error(ErrorCode::kAlreadyExists, "{}{} exists already", file_name_, full);
  }
  const std::string text(value);
  Id type = utf8_string_type();
  Id space(H5Screate(H5S_SCALAR));
  Id links = parents_plist();
  Id dataset(H5Dcreate2(id(), full.c_str(), type.get(), space.get(), links.get(), H5P_DEFAULT,
                        H5P_DEFAULT));
  const char* pointer = text.c_str();
  if (!dataset.valid() ||
      H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &pointer) < 0) {
    return error_from_stack(ErrorCode::kIo, "writing string dataset " + file_name_ + full);
  }
  return ok_status();
}

Status Group::write_strings(std::string_view path, const std::vector<std::string>& values) {
  Lock lock;
  const std::string full = child_path(path);
  if (exists(full)) {
    return make_error(ErrorCode::kAlreadyExists, "{}{} exists already", file_name_, full);
  }
  Id type = utf8_string_type();
  Id space = make_space({static_cast<int64_t>(values.size())});
  Id links = parents_plist();
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  Id dataset(H5Dcreate2(id(), full.c_str(), type.get(), space.get(), links.get(), H5P_DEFAULT,
                        H5P_DEFAULT));
  if (!dataset.valid() || (!values.empty() && H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL,
                                                       H5P_DEFAULT, pointers.data()) < 0)) {
    return error_from_stack(ErrorCode::kIo, "writing string dataset " + file_name_ + full);
  }
  return ok_status();
}

Result<std::string> Group::read_string(std::string_view path) const {
  GROVE_ASSIGN_OR_RETURN(Dataset dataset, open_dataset(path));
  return dataset.read_string();
}

// ---------------------------------------------------------------------------------------------
// File

bool File::is_hdf5(const std::string& path) {
  if (!io::path_exists(path)) return false;
  Lock lock;
  const htri_t result = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  return result > 0;
}

Result<File> File::open(const std::string& path, Access access) {
  auto size = io::regular_file_size(path);
  if (!size.ok()) return std::move(size).error().add_context(path);
  if (*size == 0) return make_error(ErrorCode::kCorrupt, "{}: the file is empty", path);
  Lock lock;
  const htri_t signature = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (signature <= 0) {
    return make_error(ErrorCode::kCorrupt, "{}: not an HDF5 file (no HDF5 signature)", path);
  }
  // Read-only opens go through the driver that refuses corrupt global heaps before libhdf5
  // loops on them (hdf5_heap_guard.h); writing keeps the default driver.
  Id file(access == Access::kReadOnly ? H5Fopen(path.c_str(), H5F_ACC_RDONLY, guarded_read_access())
                                      : H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  if (!file.valid()) {
    return error_from_stack(ErrorCode::kCorrupt, path + ": cannot open the HDF5 file");
  }
  Id root(H5Gopen2(file.get(), "/", H5P_DEFAULT));
  if (!root.valid()) {
    return error_from_stack(ErrorCode::kCorrupt, path + ": cannot open the root group");
  }
  return File(std::move(file), std::move(root), path);
}

Result<File> File::create(const std::string& path, bool overwrite) {
  if (io::path_exists(path) && !overwrite) {
    return make_error(ErrorCode::kAlreadyExists, "{} exists (not overwriting it)", path);
  }
  Lock lock;
  // Default (earliest) format version: files stay readable by older HDF5 (ilastik, Fiji).
  Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!file.valid())
    return error_from_stack(ErrorCode::kIo, path + ": cannot create the HDF5 file");
  Id root(H5Gopen2(file.get(), "/", H5P_DEFAULT));
  if (!root.valid()) return error_from_stack(ErrorCode::kIo, path + ": cannot open the root group");
  return File(std::move(file), std::move(root), path);
}

Status File::flush() {
  Lock lock;
  if (file_.valid() && H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) {
    return error_from_stack(ErrorCode::kIo, "flushing " + file_name_);
  }
  return ok_status();
}

void File::close() {
  id_.reset();
  file_.reset();
}

}  // namespace grove::hdf5
