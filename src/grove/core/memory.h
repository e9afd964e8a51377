// Memory facts and a byte budget shared by the block cache and the scheduler.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "grove/core/result.h"

namespace grove {

// Physical RAM of the machine (or of the cgroup limit, if lower), in bytes.
int64_t system_memory_bytes();
// Peak resident set size of this process so far (VmHWM), in bytes; 0 if unknown.
int64_t peak_rss_bytes();
// Current resident set size (VmRSS), in bytes; 0 if unknown.
int64_t current_rss_bytes();

// The most bytes that one allocation sized by a file (a header's extents, a dataset's element
// count) may take: the run's memory budget (set_file_allocation_limit, from --ram-mb), else half
// the physical RAM. Readers check such sizes here, after checking them against the file's size,
// and before allocating, so that a damaged or hostile file fails with kResourceExhausted instead
// of exhausting memory.
int64_t file_allocation_limit();
// bytes <= 0 restores the default.
void set_file_allocation_limit(int64_t bytes);
// kResourceExhausted naming what when bytes (negative: overflowed) exceed file_allocation_limit().
Status check_file_allocation(int64_t bytes, std::string_view what);

// A hard byte budget. Users reserve before they allocate and release when they free.
class MemoryBudget {
 public:
  explicit MemoryBudget(int64_t limit_bytes) : limit_(limit_bytes) {}
  // Reserves bytes if they fit; returns false (and reserves nothing) otherwise.
  bool try_reserve(int64_t bytes);
  // Reserves bytes even if over the limit (for work that cannot wait); returns the new total.
  int64_t force_reserve(int64_t bytes);
  void release(int64_t bytes);
  int64_t used() const { return used_.load(); }
  int64_t limit() const { return limit_; }
  int64_t available() const { return limit_ - used_.load(); }

 private:
  int64_t limit_;
  std::atomic<int64_t> used_{0};
};

}  // namespace grove
