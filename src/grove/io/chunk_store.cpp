// A directory as an atomic key-value store; see chunk_store.h.
#include "grove/io/chunk_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace grove {

namespace {

constexpr std::string_view kTemporaryMarker = ".grove-tmp-";

std::string errno_text(int error) { return std::generic_category().message(error); }

Error io_error(int error, std::string_view action, const std::string& path) {
  const ErrorCode code = error == ENOSPC || error == EDQUOT ? ErrorCode::kResourceExhausted
                         : error == ENOENT                  ? ErrorCode::kNotFound
                                                            : ErrorCode::kIo;
  return make_error(code, "cannot {} {}: {}", action, path, errno_text(error));
}

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

Status read_exactly(int fd, uint8_t* out, int64_t length, int64_t offset, const std::string& path) {
  int64_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, out + done, static_cast<size_t>(length - done), offset + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(errno, "read", path);
    }
    if (n == 0) {
      return make_error(ErrorCode::kCorrupt, "{} ends after {} bytes, expected {}", path,
                        offset + done, offset + length);
    }
    done += n;
  }
  return ok_status();
}

Status write_all(int fd, const uint8_t* data, size_t length, const std::string& path) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::write(fd, data + done, length - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(errno, "write", path);
    }
    done += static_cast<size_t>(n);
  }
  return ok_status();
}

}  // namespace

bool is_temporary_name(const std::string& file_name) {
  return !file_name.empty() && file_name[0] == '.' &&
         file_name.find(kTemporaryMarker) != std::string::npos;
}

StoreFile::StoreFile(StoreFile&& other) noexcept
    : descriptor_(other.descriptor_), size_(other.size_), path_(std::move(other.path_)) {
  other.descriptor_ = -1;
}

StoreFile::~StoreFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

Result<std::vector<uint8_t>> StoreFile::read(int64_t offset, int64_t length) const {
  if (offset < 0 || length < 0 || offset > size_ || length > size_ - offset) {
    return make_error(ErrorCode::kCorrupt, "{}: bytes [{}, {}) lie outside the file of {} bytes",
                      path_, offset, offset + length, size_);
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(length));
  GROVE_RETURN_IF_ERROR(read_exactly(descriptor_, bytes.data(), length, offset, path_));
  return bytes;
}

Result<std::optional<StoreFile>> DirectoryStore::open(const std::string& key) const {
  const std::string path = path_of(key).string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<StoreFile>();
    return io_error(errno, "open", path);
  }
  Descriptor descriptor(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return io_error(errno, "inspect", path);
  if (!S_ISREG(info.st_mode))
    return make_error(ErrorCode::kCorrupt, "{} is not a regular file", path);
  values_read_.fetch_add(1);
  return std::optional<StoreFile>(StoreFile(descriptor.release(), info.st_size, path));
}

Result<std::optional<std::vector<uint8_t>>> DirectoryStore::read(const std::string& key,
                                                                 int64_t max_bytes) const {
  GROVE_ASSIGN_OR_RETURN(std::optional<StoreFile> file, open(key));
  if (!file) return std::optional<std::vector<uint8_t>>();
  if (file->size() > max_bytes) {
    return make_error(ErrorCode::kCorrupt,
                      "{} has {} bytes, more than the {} a chunk of this array can take",
                      file->path(), file->size(), max_bytes);
  }
  GROVE_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, file->read(0, file->size()));
  return std::optional<std::vector<uint8_t>>(std::move(bytes));
}

bool DirectoryStore::exists(const std::string& key) const {
  struct stat info {};
  return ::stat(path_of(key).c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

Status DirectoryStore::write(const std::string& key, std::span<const uint8_t> value) const {
  const std::filesystem::path path = path_of(key);
  GROVE_RETURN_IF_ERROR(make_directories(path.parent_path()));
  return write_file_atomically(path, value, durable);
}

Status DirectoryStore::remove(const std::string& key) const {
  const std::string path = path_of(key).string();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error(errno, "remove", path);
  return ok_status();
}

Status make_directories(const std::filesystem::path& path) {
  if (path.empty()) return ok_status();
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return ok_status();
    return make_error(ErrorCode::kAlreadyExists, "{} exists and is not a directory", path.string());
  }
  if (path.has_parent_path() && path.parent_path() != path) {
    GROVE_RETURN_IF_ERROR(make_directories(path.parent_path()));
  }
  if (::mkdir(path.c_str(), 0777) != 0) {
    // Another thread or process may have made it in the meantime.
    if (errno == EEXIST && ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
      return ok_status();
    return io_error(errno, "create the directory", path.string());
  }
  return ok_status();
}

Status write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes,
                             bool durable) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path temporary =
      path.parent_path() / fmt::format(".{}{}{}-{}", path.filename().string(), kTemporaryMarker,
                                       static_cast<long>(::getpid()), counter.fetch_add(1));
  const std::string temporary_name = temporary.string();
  const int fd = ::open(temporary_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return io_error(errno, "create", temporary_name);
  Descriptor descriptor(fd);
  auto fail = [&](Error error) {
    ::close(descriptor.release());
    ::unlink(temporary_name.c_str());
    return error;
  };
  Status written = write_all(fd, bytes.data(), bytes.size(), temporary_name);
  if (!written.ok()) return fail(std::move(written).error());
  if (durable && ::fsync(fd) != 0) return fail(io_error(errno, "flush", temporary_name));
  if (::close(descriptor.release()) != 0) {
    const int error = errno;
    ::unlink(temporary_name.c_str());
    return io_error(error, "write", temporary_name);
  }
  if (::rename(temporary_name.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary_name.c_str());
    return io_error(error, "rename a temporary onto", path.string());
  }
  return ok_status();
}

Status write_file_atomically(const std::filesystem::path& path, const std::string& text,
                             bool durable) {
  return write_file_atomically(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
      durable);
}

Result<std::string> read_small_file(const std::filesystem::path& path, int64_t max_bytes) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(errno, "open", name);
  Descriptor descriptor(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return io_error(errno, "inspect", name);
  if (!S_ISREG(info.st_mode))
    return make_error(ErrorCode::kCorrupt, "{} is not a regular file", name);
  if (info.st_size > max_bytes) {
    return make_error(ErrorCode::kCorrupt, "{} has {} bytes, more than the {} allowed for metadata",
                      name, static_cast<int64_t>(info.st_size), max_bytes);
  }
  std::string text(static_cast<size_t>(info.st_size), '\0');
  GROVE_RETURN_IF_ERROR(read_exactly(fd, reinterpret_cast<uint8_t*>(text.data()),
                                     static_cast<int64_t>(text.size()), 0, name));
  return text;
}

Result<int64_t> remove_stale_temporaries(const std::filesystem::path& root) {
  std::error_code error;
  int64_t removed = 0;
  std::filesystem::recursive_directory_iterator it(root, error), end;
  if (error)
    return make_error(ErrorCode::kIo, "cannot list {}: {}", root.string(), error.message());
  for (; it != end; it.increment(error)) {
    if (error)
      return make_error(ErrorCode::kIo, "cannot list {}: {}", root.string(), error.message());
    if (it->is_regular_file(error) && is_temporary_name(it->path().filename().string())) {
      if (std::filesystem::remove(it->path(), error)) ++removed;
    }
  }
  return removed;
}

}  // namespace grove
