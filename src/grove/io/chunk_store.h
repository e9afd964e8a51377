// A directory used as a key-value store: the storage under Zarr and N5 arrays. A key is a
// relative path with '/' separators ("0.1.2", "c/0/1/2", "3/2/1"); a value is a file's bytes.
//
// Writes are atomic: the bytes go to a hidden temporary file in the key's own directory
// (".NAME.grove-tmp-PID-N"), which is then renamed over the key. A reader therefore sees either
// the old value or the new one, never a part; a run killed mid-write leaves at most a stray
// temporary, which no reader looks at. Safe from several threads and several processes as long
// as no two write the same key at once. Durability against power loss (fsync) is off by default
// because it costs a disk flush per chunk; set `durable` where that matters.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "grove/core/result.h"

namespace grove {

// One value opened for reading parts of it (shards of Zarr v3).
class StoreFile {
 public:
  StoreFile(int descriptor, int64_t size, std::string path)
      : descriptor_(descriptor), size_(size), path_(std::move(path)) {}
  StoreFile(StoreFile&& other) noexcept;
  StoreFile& operator=(StoreFile&&) = delete;
  StoreFile(const StoreFile&) = delete;
  ~StoreFile();

  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads exactly length bytes at offset (kCorrupt if the file is shorter).
  Result<std::vector<uint8_t>> read(int64_t offset, int64_t length) const;

 private:
  int descriptor_ = -1;
  int64_t size_ = 0;
  std::string path_;
};

class DirectoryStore {
 public:
  explicit DirectoryStore(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path path_of(const std::string& key) const { return root_ / key; }

  // The whole value of key, or nullopt if there is none. A value longer than max_bytes is
  // refused (kCorrupt) before anything is allocated for it.
  Result<std::optional<std::vector<uint8_t>>> read(const std::string& key, int64_t max_bytes) const;
  // Opens key for partial reads, or nullopt if there is none.
  Result<std::optional<StoreFile>> open(const std::string& key) const;
  bool exists(const std::string& key) const;
  // Writes value atomically (temporary + rename), creating the key's directories.
  Status write(const std::string& key, std::span<const uint8_t> value) const;
  // Removes key if present.
  Status remove(const std::string& key) const;

  // How many values read() and open() have found so far (tests use it to check that a read
  // touched only the chunks it needed).
  int64_t values_read() const { return values_read_.load(); }

  bool durable = false;

 private:
  std::filesystem::path root_;
  mutable std::atomic<int64_t> values_read_{0};
};

// mkdir -p that tolerates other threads or processes creating the same directories at once.
Status make_directories(const std::filesystem::path& path);
// Writes a small file (metadata) atomically, like DirectoryStore::write.
Status write_file_atomically(const std::filesystem::path& path, std::span<const uint8_t> bytes,
                             bool durable = false);
Status write_file_atomically(const std::filesystem::path& path, const std::string& text,
                             bool durable = false);
// Reads a small file (metadata) whole; kNotFound if absent, kCorrupt if over max_bytes.
Result<std::string> read_small_file(const std::filesystem::path& path,
                                    int64_t max_bytes = 64 << 20);
// Removes the temporaries that interrupted writers left under root. Only call it while no
// writer is active on that store (other processes' temporaries would vanish under them).
Result<int64_t> remove_stale_temporaries(const std::filesystem::path& root);
// True for the names of temporaries made by the atomic writes above.
bool is_temporary_name(const std::string& file_name);

}  // namespace grove
