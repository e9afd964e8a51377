#include "grove/io/file_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "grove/core/memory.h"

namespace grove::io {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

Result<int64_t> regular_file_size(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return make_error(ErrorCode::kNotFound, "no such file");
    }
    return make_error(ErrorCode::kIo, "cannot access the file: {}", errno_text(errno));
  }
  if (S_ISDIR(info.st_mode)) return make_error(ErrorCode::kInvalidArgument, "is a directory");
  if (!S_ISREG(info.st_mode))
    return make_error(ErrorCode::kInvalidArgument, "is not a regular file");
  return static_cast<int64_t>(info.st_size);
}

Result<std::string> read_file_prefix(const std::string& path, size_t max_bytes) {
  GROVE_ASSIGN_OR_RETURN(ReadOnlyFile file, ReadOnlyFile::open(path));
  std::string bytes(static_cast<size_t>(std::min<int64_t>(file.size(), max_bytes)), '\0');
  GROVE_RETURN_IF_ERROR(file.read_at(0, bytes.data(), bytes.size()));
  return bytes;
}

bool path_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

std::string lower_extension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "";
  std::string ext = name.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext;
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

ReadOnlyFile::ReadOnlyFile(ReadOnlyFile&& other) noexcept : fd_(other.fd_), size_(other.size_) {
  other.fd_ = -1;
}

ReadOnlyFile& ReadOnlyFile::operator=(ReadOnlyFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    size_ = other.size_;
    other.fd_ = -1;
  }
  return *this;
}

Result<ReadOnlyFile> ReadOnlyFile::open(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(int64_t size, regular_file_size(path));
  ReadOnlyFile file;
  file.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd_ < 0) {
    return make_error(ErrorCode::kIo, "cannot open the file: {}", errno_text(errno));
  }
  file.size_ = size;
  return file;
}

Status ReadOnlyFile::read_at(int64_t offset, void* out, size_t size) const {
  if (offset < 0 || offset > size_ || static_cast<int64_t>(size) > size_ - offset) {
    return make_error(ErrorCode::kCorrupt,
                      "file is truncated: needs bytes {}..{} but has only {} bytes", offset,
                      offset + static_cast<int64_t>(size), size_);
  }
  auto* bytes = static_cast<char*>(out);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd_, bytes + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "read failed: {}", errno_text(errno));
    }
    if (n == 0) {
      return make_error(ErrorCode::kCorrupt, "file is truncated at byte {}",
                        offset + static_cast<int64_t>(done));
    }
    done += static_cast<size_t>(n);
  }
  return ok_status();
}

AtomicOutput::~AtomicOutput() { discard(); }

AtomicOutput::AtomicOutput(AtomicOutput&& other) noexcept
    : final_(std::move(other.final_)),
      temporary_(std::move(other.temporary_)),
      overwrite_(other.overwrite_),
      committed_(other.committed_) {
  other.temporary_.clear();
}

AtomicOutput& AtomicOutput::operator=(AtomicOutput&& other) noexcept {
  if (this != &other) {
    discard();
    final_ = std::move(other.final_);
    temporary_ = std::move(other.temporary_);
    overwrite_ = other.overwrite_;
    committed_ = other.committed_;
    other.temporary_.clear();
  }
  return *this;
}

Result<AtomicOutput> AtomicOutput::prepare(const std::string& final_path, bool overwrite) {
  namespace fs = std::filesystem;
  if (final_path.empty()) return make_error(ErrorCode::kInvalidArgument, "empty output path");
  const fs::path target(final_path);
  if (is_directory(final_path)) {
    return make_error(ErrorCode::kInvalidArgument, "{} is a directory", final_path);
  }
  if (path_exists(final_path) && !overwrite) {
    return make_error(ErrorCode::kAlreadyExists, "{} exists (not overwriting it)", final_path);
  }
  fs::path directory = target.parent_path();
  if (directory.empty()) directory = ".";
  if (!is_directory(directory.string())) {
    return make_error(ErrorCode::kNotFound, "the output directory {} does not exist",
                      directory.string());
  }
  remove_stale_temporaries(final_path);
  AtomicOutput output;
  output.final_ = final_path;
  output.overwrite_ = overwrite;
  output.temporary_ = (directory / temporary_name_for(final_path)).string();
  return output;
}

std::string temporary_name_for(const std::string& final_path) {
  // Unique within the process (counter) and across processes (pid).
  static std::atomic<uint64_t> counter{0};
  return fmt::format(".{}.grove-tmp-{}-{}", std::filesystem::path(final_path).filename().string(),
                     ::getpid(), counter.fetch_add(1));
}

void remove_stale_temporaries(const std::string& final_path) {
  namespace fs = std::filesystem;
  const fs::path target(final_path);
  fs::path directory = target.parent_path();
  if (directory.empty()) directory = ".";
  // fmt, not operator+: GCC 12 warns (-Wrestrict) about a false overlap in "." + string.
  const std::string prefix = fmt::format(".{}.grove-tmp-", target.filename().string());
  std::error_code error;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos || rest.find_first_not_of("0123456789") != dash) {
      continue;
    }
    const long pid = std::strtol(rest.substr(0, dash).c_str(), nullptr, 10);
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;  // still running
    stale.push_back(it->path());
  }
  for (const fs::path& path : stale) fs::remove_all(path, error);
}

Status AtomicOutput::commit() {
  if (committed_) return ok_status();
  if (temporary_.empty()) {
    return make_error(ErrorCode::kInternal, "commit of an output that was never prepared");
  }
  if (!overwrite_ && path_exists(final_)) {
    return make_error(ErrorCode::kAlreadyExists, "{} appeared while writing (not overwriting it)",
                      final_);
  }
  if (::rename(temporary_.c_str(), final_.c_str()) != 0) {
    return make_error(ErrorCode::kIo, "cannot rename {} to {}: {}", temporary_, final_,
                      errno_text(errno));
  }
  committed_ = true;
  temporary_.clear();
  return ok_status();
}

void AtomicOutput::discard() {
  if (!temporary_.empty() && !committed_) ::unlink(temporary_.c_str());
  temporary_.clear();
}

Status check_plausible_size(int64_t decoded_bytes, int64_t file_bytes, double max_ratio,
                            const std::string& what) {
  // A little slack for headers of tiny files.
  const double limit = static_cast<double>(file_bytes) * max_ratio + 65536.0;
  if (decoded_bytes < 0 || static_cast<double>(decoded_bytes) > limit) {
    return make_error(ErrorCode::kCorrupt,
                      "{} claims {} bytes of pixel data, impossible for a file of {} bytes "
                      "(corrupt header?)",
                      what, decoded_bytes, file_bytes);
  }
  return check_file_allocation(decoded_bytes, what);
}

}  // namespace grove::io
