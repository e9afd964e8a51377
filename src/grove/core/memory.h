// Memory facts and a byte budget shared by the block cache and the scheduler.
#pragma once

#include <atomic>
#include <cstdint>

namespace grove {

// Physical RAM of the machine (or of the cgroup limit, if lower), in bytes.
int64_t system_memory_bytes();
// Peak resident set size of this process so far (VmHWM), in bytes; 0 if unknown.
int64_t peak_rss_bytes();
// Current resident set size (VmRSS), in bytes; 0 if unknown.
int64_t current_rss_bytes();

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
