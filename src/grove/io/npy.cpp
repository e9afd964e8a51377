#include "grove/io/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "grove/io/axes.h"
#include "grove/io/file_util.h"

namespace grove::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// A read-only or shared-writable mapping of a whole file, unmapped when the last user goes.
std::shared_ptr<void> map_file(int fd, size_t size, bool writable) {
  if (size == 0) return {};
  void* address = ::mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                         writable ? MAP_SHARED : MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) return {};
  return std::shared_ptr<void>(address, [size](void* p) { ::munmap(p, size); });
}

void skip_spaces(const std::string& text, size_t& position) {
  while (position < text.size() && std::isspace(static_cast<unsigned char>(text[position]))) {
    ++position;
  }
}

// The value after 'key': in the header dict, as raw text up to the end of the value.
// (An out-parameter rather than Result<std::string>: GCC 12 warns falsely about the latter here.)
Status dict_value(const std::string& dict, const std::string& key, std::string& value_out) {
  size_t position = dict.find("'" + key + "'");
  if (position == std::string::npos) position = dict.find("\"" + key + "\"");
  if (position == std::string::npos) {
    return make_error(ErrorCode::kCorrupt, "the .npy header has no '{}'", key);
  }
  position = dict.find(':', position);
  if (position == std::string::npos) {
    return make_error(ErrorCode::kCorrupt, "the .npy header is malformed near '{}'", key);
  }
  ++position;
  skip_spaces(dict, position);
  if (position >= dict.size()) return make_error(ErrorCode::kCorrupt, "the .npy header ends early");
  const char open = dict[position];
  size_t end = position;
  if (open == '\'' || open == '"') {
    end = dict.find(open, position + 1);
    if (end == std::string::npos) return make_error(ErrorCode::kCorrupt, "unterminated string");
    value_out = dict.substr(position + 1, end - position - 1);
    return ok_status();
  }
  if (open == '(' || open == '[') {
    const char close = open == '(' ? ')' : ']';
    end = dict.find(close, position);
    if (end == std::string::npos) return make_error(ErrorCode::kCorrupt, "unterminated tuple");
    value_out = dict.substr(position, end - position + 1);
    return ok_status();
  }
  while (end < dict.size() && dict[end] != ',' && dict[end] != '}') ++end;
  std::string value = dict.substr(position, end - position);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  value_out = std::move(value);
  return ok_status();
}

Result<std::pair<DType, bool>> parse_descr(const std::string& descr) {
  if (descr.size() < 3) {
    return make_error(ErrorCode::kUnsupported, "unsupported .npy dtype '{}'", descr);
  }
  const char order = descr[0];
  const char kind = descr[1];
  const std::string size_text = descr.substr(2);
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    return make_error(ErrorCode::kUnsupported, "unsupported .npy dtype '{}'", descr);
  }
  int size = 0;
  for (char ch : size_text) {
    if (!std::isdigit(static_cast<unsigned char>(ch))) {
      return make_error(ErrorCode::kUnsupported, "unsupported .npy dtype '{}'", descr);
    }
    size = size * 10 + (ch - '0');
    if (size > 1000) break;
  }
  const bool big = order == '>';
  std::optional<DType> dtype;
  if (kind == 'u') {
    if (size == 1) dtype = DType::u8;
    if (size == 2) dtype = DType::u16;
    if (size == 4) dtype = DType::u32;
    if (size == 8) dtype = DType::u64;
  } else if (kind == 'i') {
    if (size == 1) dtype = DType::i8;
    if (size == 2) dtype = DType::i16;
    if (size == 4) dtype = DType::i32;
    if (size == 8) dtype = DType::i64;
  } else if (kind == 'f') {
    if (size == 4) dtype = DType::f32;
    if (size == 8) dtype = DType::f64;
  } else if (kind == 'b' && size == 1) {
    dtype = DType::boolean;
  }
  if (!dtype) {
    return make_error(ErrorCode::kUnsupported,
                      "unsupported .npy dtype '{}' (grove reads u/int 8-64, float32/64, bool)",
                      descr);
  }
  return std::make_pair(*dtype, big && size > 1);
}

std::string descr_of(DType dtype) {
  switch (dtype) {
    case DType::u8: return "|u1";
    case DType::u16: return "<u2";
    case DType::u32: return "<u4";
    case DType::u64: return "<u8";
    case DType::i8: return "|i1";
    case DType::i16: return "<i2";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::boolean: return "|b1";
  }
  return "|u1";
}

void byteswap_in_place(void* data, size_t count, size_t element_size) {
  auto* bytes = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < count; ++i) {
    unsigned char* e = bytes + i * element_size;
    for (size_t a = 0, b = element_size - 1; a < b; ++a, --b) std::swap(e[a], e[b]);
  }
}

class NpyReader final : public ImageReader {
 public:
  NpyReader(ImageInfo info, NpyHeader header, std::string axes, ReadOnlyFile file,
            std::shared_ptr<void> mapping)
      : info_(std::move(info)),
        header_(std::move(header)),
        axes_(std::move(axes)),
        file_(std::move(file)),
        mapping_(std::move(mapping)) {}

  const ImageInfo& info() const override { return info_; }

  Result<AnyArray> read(const Box5& box) override {
    GROVE_RETURN_IF_ERROR(check_box_inside(box, info_.shape));
    GROVE_ASSIGN_OR_RETURN(AnyArray out,
                           AnyArray::allocate_uninitialized(info_.dtype, box.shape()));
    if (box.empty()) return out;
    const size_t element = dtype_size(info_.dtype);
    // Swapped values are moved as unsigned integers of the same size, so no float value is
    // ever formed from the foreign byte order.
    DType layout = info_.dtype;
    if (header_.big_endian)
      layout = element == 2 ? DType::u16 : element == 4 ? DType::u32 : DType::u64;
    // Bools are moved as bytes, then made 0 or 1: a file may hold any byte there, and loading
    // a byte other than 0 or 1 as a bool is undefined (found by the npy fuzz target).
    if (info_.dtype == DType::boolean) layout = DType::u8;
    const AnyArray whole =
        AnyArray::wrap(layout, data_pointer(), info_.shape, file_strides(), mapping_);
    const AnyArray target = AnyArray::wrap(layout, out.raw_data(), out.shape(), out.strides(), {});
    GROVE_RETURN_IF_ERROR(whole.crop(box).copy_into(target));
    if (header_.big_endian)
      byteswap_in_place(out.raw_data(), static_cast<size_t>(out.size()), element);
    if (info_.dtype == DType::boolean) {
      auto* bytes = static_cast<unsigned char*>(out.raw_data());
      for (int64_t i = 0; i < out.size(); ++i) bytes[i] = bytes[i] != 0;
    }
    return out;
  }

 private:
  void* data_pointer() const { return static_cast<char*>(mapping_.get()) + header_.data_offset; }
  // Element strides of the file's layout, in t,z,y,x,c.
  Strides5 file_strides() const {
    if (!header_.fortran_order) return strides_of_stored(header_.dims, axes_);
    // Fortran order: the first stored dimension varies fastest.
    Strides5 strides{0, 0, 0, 0, 0};
    int64_t stride = 1;
    for (size_t i = 0; i < header_.dims.size(); ++i) {
      strides[axis_index(axes_[i])] = stride;
      stride *= std::max<int64_t>(header_.dims[i], 1);
    }
    return strides;
  }

  ImageInfo info_;
  NpyHeader header_;
  std::string axes_;
  ReadOnlyFile file_;
  std::shared_ptr<void> mapping_;
};

class NpyWriter final : public ImageWriter {
 public:
  NpyWriter(AtomicOutput output, int fd, std::shared_ptr<void> mapping, int64_t data_offset,
            int64_t file_size, Shape5 shape, DType dtype, std::string axes)
      : output_(std::move(output)),
        fd_(fd),
        mapping_(std::move(mapping)),
        data_offset_(data_offset),
        file_size_(file_size),
        shape_(shape),
        dtype_(dtype),
        axes_(std::move(axes)) {}

  ~NpyWriter() override {
    mapping_.reset();
    if (fd_ >= 0) ::close(fd_);
  }

  Status write(const Box5& box, const AnyArray& data) override {
    if (committed_) return make_error(ErrorCode::kInvalidArgument, "write after commit");
    GROVE_RETURN_IF_ERROR(check_box_inside(box, shape_));
    if (data.shape() != box.shape()) {
      return make_error(ErrorCode::kInvalidArgument, "data of shape {} for box {}",
                        data.shape().to_string(), box.to_string());
    }
    if (box.empty()) return ok_status();
    const std::vector<int64_t> dims = stored_dims(shape_, axes_);
    void* base = static_cast<char*>(mapping_.get()) + data_offset_;
    const AnyArray whole = AnyArray::wrap(dtype_, base, shape_, strides_of_stored(dims, axes_), {});
    return data.copy_into(whole.crop(box));
  }

  Status commit() override {
    if (committed_) return ok_status();
    if (mapping_ && ::msync(mapping_.get(), static_cast<size_t>(file_size_), MS_SYNC) != 0) {
      return make_error(ErrorCode::kIo, "writing {}: {}", output_.final_path(),
                        std::strerror(errno));
    }
    mapping_.reset();
    if (::close(fd_) != 0) {
      fd_ = -1;
      return make_error(ErrorCode::kIo, "writing {}: {}", output_.final_path(),
                        std::strerror(errno));
    }
    fd_ = -1;
    GROVE_RETURN_IF_ERROR(output_.commit());
    committed_ = true;
    return ok_status();
  }

 private:
  AtomicOutput output_;
  int fd_ = -1;
  std::shared_ptr<void> mapping_;
  int64_t data_offset_ = 0;
  int64_t file_size_ = 0;
  Shape5 shape_;
  DType dtype_;
  std::string axes_;
  bool committed_ = false;
};

}  // namespace

Result<NpyHeader> parse_npy_header(const std::string& bytes) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return make_error(ErrorCode::kCorrupt, "not a .npy file (no \\x93NUMPY signature)");
  }
  NpyHeader header;
  header.version = static_cast<unsigned char>(bytes[6]);
  size_t header_length = 0;
  size_t prefix = 0;
  if (header.version == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) |
                    (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    prefix = 10;
  } else if (header.version == 2 || header.version == 3) {
    if (bytes.size() < 12) return make_error(ErrorCode::kCorrupt, "the .npy header is truncated");
    header_length = 0;
    for (int i = 0; i < 4; ++i) {
      header_length |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    }
    prefix = 12;
  } else {
    return make_error(ErrorCode::kUnsupported, ".npy format version {} is not supported",
                      header.version);
  }
  if (header_length > (size_t{1} << 24)) {
    return make_error(ErrorCode::kCorrupt, "the .npy header claims {} bytes", header_length);
  }
  if (bytes.size() < prefix + header_length) {
    return make_error(ErrorCode::kCorrupt, "the .npy header is truncated");
  }
  const std::string dict = bytes.substr(prefix, header_length);
  header.data_offset = static_cast<int64_t>(prefix + header_length);

  std::string descr, fortran, shape;
  GROVE_RETURN_IF_ERROR(dict_value(dict, "descr", descr));
  if (!descr.empty() && descr.front() == '[') {
    return make_error(ErrorCode::kUnsupported, "structured .npy arrays are not supported");
  }
  GROVE_ASSIGN_OR_RETURN(auto parsed, parse_descr(descr));
  header.dtype = parsed.first;
  header.big_endian = parsed.second;

  GROVE_RETURN_IF_ERROR(dict_value(dict, "fortran_order", fortran));
  if (fortran == "True") {
    header.fortran_order = true;
  } else if (fortran != "False") {
    return make_error(ErrorCode::kCorrupt, "the .npy header has fortran_order '{}'", fortran);
  }

  GROVE_RETURN_IF_ERROR(dict_value(dict, "shape", shape));
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') {
    return make_error(ErrorCode::kCorrupt, "the .npy header has shape '{}'", shape);
  }
  size_t position = 1;
  while (position < shape.size() - 1) {
    skip_spaces(shape, position);
    if (position >= shape.size() - 1) break;
    if (!std::isdigit(static_cast<unsigned char>(shape[position]))) {
      return make_error(ErrorCode::kCorrupt, "the .npy header has shape '{}'", shape);
    }
    int64_t value = 0;
    while (position < shape.size() && std::isdigit(static_cast<unsigned char>(shape[position]))) {
      if (value > (int64_t{1} << 50)) {
        return make_error(ErrorCode::kCorrupt, "the .npy header has an absurd extent in '{}'",
                          shape);
      }
      value = value * 10 + (shape[position] - '0');
      ++position;
    }
    // Python 2 era files may write "3L".
    if (position < shape.size() && shape[position] == 'L') ++position;
    header.dims.push_back(value);
    skip_spaces(shape, position);
    if (position < shape.size() && shape[position] == ',') ++position;
  }
  return header;
}

Result<std::unique_ptr<ImageReader>> open_npy(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(ReadOnlyFile file, ReadOnlyFile::open(path));
  if (file.size() == 0) return make_error(ErrorCode::kCorrupt, "the file is empty");
  std::string head(static_cast<size_t>(std::min<int64_t>(file.size(), 4096)), '\0');
  GROVE_RETURN_IF_ERROR(file.read_at(0, head.data(), head.size()));
  if (head.size() >= 12 && static_cast<unsigned char>(head[6]) >= 2) {
    // Version 2/3 headers may be longer than the first read.
    size_t length = 0;
    for (int i = 0; i < 4; ++i)
      length |= static_cast<size_t>(static_cast<unsigned char>(head[8 + i])) << (8 * i);
    if (length + 12 > head.size() && length < (size_t{1} << 24) &&
        static_cast<int64_t>(length + 12) <= file.size()) {
      head.resize(length + 12);
      GROVE_RETURN_IF_ERROR(file.read_at(0, head.data(), head.size()));
    }
  }
  GROVE_ASSIGN_OR_RETURN(NpyHeader header, parse_npy_header(head));
  if (header.dims.size() > 5) {
    return make_error(ErrorCode::kUnsupported,
                      "the array has {} dimensions: grove handles at most 5 (t, z, y, x, c)",
                      header.dims.size());
  }
  // A 0-d array is one pixel.
  std::vector<int64_t> dims = header.dims.empty() ? std::vector<int64_t>{1} : header.dims;
  GROVE_ASSIGN_OR_RETURN(int64_t bytes,
                         checked_product(dims, static_cast<int64_t>(dtype_size(header.dtype))));
  if (bytes > file.size() - header.data_offset) {
    return make_error(ErrorCode::kCorrupt,
                      "the file is truncated: the header promises {} bytes of data but only {} "
                      "follow it",
                      bytes, file.size() - header.data_offset);
  }
  GROVE_ASSIGN_OR_RETURN(std::string axes, guess_axes(dims));
  header.dims = dims;

  auto mapping = map_file(file.descriptor(), static_cast<size_t>(file.size()), false);
  if (!mapping) return make_error(ErrorCode::kIo, "cannot map the file: {}", std::strerror(errno));
  // The data must be aligned for its element type (numpy pads headers to 64 bytes).
  if (header.data_offset % static_cast<int64_t>(dtype_size(header.dtype)) != 0) {
    return make_error(ErrorCode::kUnsupported, "the array data is not aligned (header of {} bytes)",
                      header.data_offset);
  }
  ImageInfo info;
  info.format = "npy";
  info.dtype = header.dtype;
  info.axes = axes;
  info.stored_shape = dims;
  info.shape = shape_from_stored(dims, axes);
  info.compression = "none";
  return std::unique_ptr<ImageReader>(std::make_unique<NpyReader>(
      std::move(info), std::move(header), std::move(axes), std::move(file), std::move(mapping)));
}

Result<std::unique_ptr<ImageWriter>> create_npy(const std::string& path, const Shape5& shape,
                                                DType dtype, const WriteOptions& options) {
  if (!shape.valid()) {
    return make_error(ErrorCode::kInvalidArgument, "cannot write an image of shape {}",
                      shape.to_string());
  }
  std::string axes = options.axes.empty() ? default_write_axes(shape) : options.axes;
  GROVE_RETURN_IF_ERROR(check_write_axes(axes, shape));
  for (char& a : axes) a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
  const std::vector<int64_t> dims = stored_dims(shape, axes);

  std::string shape_text = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    shape_text += std::to_string(dims[i]);
    shape_text += dims.size() == 1 ? "," : (i + 1 < dims.size() ? ", " : "");
  }
  shape_text += ")";
  std::string dict =
      "{'descr': '" + descr_of(dtype) + "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  // Pad with spaces so the data starts at a multiple of 64 bytes; end with a newline.
  int version = 1;
  size_t prefix = 10;
  if (dict.size() + 1 + prefix > 65535) {
    version = 2;
    prefix = 12;
  }
  const size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string header(kMagic, kMagicSize);
  header += static_cast<char>(version);
  header += '\0';
  const size_t length = dict.size();
  header += static_cast<char>(length & 0xff);
  header += static_cast<char>((length >> 8) & 0xff);
  if (version == 2) {
    header += static_cast<char>((length >> 16) & 0xff);
    header += static_cast<char>((length >> 24) & 0xff);
  }
  header += dict;

  GROVE_ASSIGN_OR_RETURN(int64_t data_bytes,
                         checked_product(dims, static_cast<int64_t>(dtype_size(dtype))));
  const int64_t file_size = static_cast<int64_t>(header.size()) + data_bytes;

  GROVE_ASSIGN_OR_RETURN(AtomicOutput output, AtomicOutput::prepare(path, options.overwrite));
  const int fd =
      ::open(output.temporary_path().c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, "cannot create {}: {}", output.temporary_path(),
                      std::strerror(errno));
  }
  if (::ftruncate(fd, file_size) != 0 ||
      ::pwrite(fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
    const int error = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, "cannot write {}: {}", output.temporary_path(),
                      std::strerror(error));
  }
  // Reserve the disk space now: the data goes through a memory mapping, where a full disk
  // would strike as a SIGBUS in the middle of the run instead of as an error here.
  const int reserved = ::posix_fallocate(fd, 0, file_size);
  if (reserved != 0 && reserved != EOPNOTSUPP && reserved != EINVAL) {
    ::close(fd);
    return make_error(
        reserved == ENOSPC || reserved == EDQUOT ? ErrorCode::kResourceExhausted : ErrorCode::kIo,
        "cannot reserve {} bytes for {}: {}", file_size, path, std::strerror(reserved));
  }
  auto mapping = map_file(fd, static_cast<size_t>(file_size), true);
  if (!mapping) {
    const int error = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, "cannot map {}: {}", output.temporary_path(),
                      std::strerror(error));
  }
  return std::unique_ptr<ImageWriter>(std::make_unique<NpyWriter>(
      std::move(output), fd, std::move(mapping), static_cast<int64_t>(header.size()), file_size,
      shape, dtype, std::move(axes)));
}

}  // namespace grove::io
