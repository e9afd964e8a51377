// Small file helpers shared by the format readers and writers: checked file size, reading a
// file's first bytes, positioned reads, and AtomicOutput, which gives a writer a temporary name
// beside the final path and renames it into place on commit (so a crash or an error never
// leaves a half-written image at the final path).
#pragma once

#include <cstdint>
#include <string>

#include "grove/core/result.h"

namespace grove::io {

// Size of a regular file in bytes. kNotFound if it does not exist, kInvalidArgument if it is a
// directory or not a regular file.
Result<int64_t> regular_file_size(const std::string& path);

// Up to max_bytes from the start of a file (fewer if the file is shorter).
Result<std::string> read_file_prefix(const std::string& path, size_t max_bytes);

// True if path names an existing file or directory.
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);

// The file name's extension in lower case, with the dot (".tif"); ".ome.tif" counts as ".tif".
std::string lower_extension(const std::string& path);

// A read-only file descriptor with full positioned reads.
class ReadOnlyFile {
 public:
  ReadOnlyFile() = default;
  ~ReadOnlyFile();
  ReadOnlyFile(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile& operator=(ReadOnlyFile&& other) noexcept;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  static Result<ReadOnlyFile> open(const std::string& path);
  // Reads exactly size bytes at offset; a short read is kCorrupt ("truncated").
  Status read_at(int64_t offset, void* out, size_t size) const;
  int64_t size() const { return size_; }
  int descriptor() const { return fd_; }

 private:
  int fd_ = -1;
  int64_t size_ = 0;
};

// The temporary file of a writer: created beside the final path (same directory, so the rename is
// atomic), renamed over the final path by commit(), removed if never committed.
class AtomicOutput {
 public:
  AtomicOutput() = default;
  ~AtomicOutput();
  AtomicOutput(AtomicOutput&& other) noexcept;
  AtomicOutput& operator=(AtomicOutput&& other) noexcept;
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  // Checks that the final path may be written (its directory exists; it does not exist unless
  // overwrite) and picks a temporary name. Creates nothing yet.
  static Result<AtomicOutput> prepare(const std::string& final_path, bool overwrite);

  const std::string& temporary_path() const { return temporary_; }
  const std::string& final_path() const { return final_; }
  bool committed() const { return committed_; }
  // Renames the temporary file over the final path.
  Status commit();
  // Removes the temporary file (if any) and forgets it.
  void discard();

 private:
  std::string final_;
  std::string temporary_;
  bool overwrite_ = false;
  bool committed_ = false;
};

// The name of a temporary beside final_path, for a writer of this process: ".<file name>.grove-
// tmp-<pid>-<unique>". A killed writer leaves it behind; remove_stale_temporaries finds it by
// this name.
std::string temporary_name_for(const std::string& final_path);
// Removes the temporaries (files or folders) that killed processes left beside final_path: those
// named as temporary_name_for does whose process no longer runs. Writers call it before they
// write final_path again, so that a kill leaves no litter for long.
void remove_stale_temporaries(const std::string& final_path);

// Checks that an image whose header promises decoded_bytes of pixels can come from a file of
// file_bytes, given the largest compression ratio the codec reaches (1 for raw data). Stops
// absurd headers ("10^9 x 10^9 pixels") before anything is allocated. Also checks decoded_bytes
// against the memory limit (core/memory.h), for readers that decode the whole image at once.
Status check_plausible_size(int64_t decoded_bytes, int64_t file_bytes, double max_ratio,
                            const std::string& what);

}  // namespace grove::io
