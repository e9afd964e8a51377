#include "grove/core/memory.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <string>

namespace grove {

namespace {

int64_t read_status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stoll(line.substr(prefix.size())) * 1024;
  }
  return 0;
}

int64_t cgroup_limit_bytes() {
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    std::string value;
    if (in >> value && value != "max") {
      try {
        return std::stoll(value);
      } catch (...) {
      }
    }
  }
  return 0;
}

}  // namespace

int64_t system_memory_bytes() {
  const int64_t pages = sysconf(_SC_PHYS_PAGES);
  const int64_t page_size = sysconf(_SC_PAGESIZE);
  int64_t total = pages > 0 && page_size > 0 ? pages * page_size : int64_t{4} << 30;
  const int64_t limit = cgroup_limit_bytes();
  if (limit > 0 && limit < total) total = limit;
  return total;
}

namespace {
std::atomic<int64_t> file_allocation_limit_bytes{0};
}  // namespace

int64_t file_allocation_limit() {
  const int64_t limit = file_allocation_limit_bytes.load();
  return limit > 0 ? limit : system_memory_bytes() / 2;
}

void set_file_allocation_limit(int64_t bytes) {
  file_allocation_limit_bytes.store(std::max<int64_t>(bytes, 0));
}

namespace {

// "64 MB" for budgets and sizes of a MB or more (what --ram-mb is given in), else "1000 bytes".
std::string megabytes(int64_t bytes) {
  if (bytes < (int64_t{1} << 20)) return std::to_string(bytes) + " bytes";
  const int64_t whole = bytes >> 20;
  if ((bytes & ((int64_t{1} << 20) - 1)) == 0) return std::to_string(whole) + " MB";
  return std::to_string(whole) + "." +
         std::to_string(((bytes & ((int64_t{1} << 20) - 1)) * 10) >> 20) + " MB";
}

}  // namespace

Status check_file_allocation(int64_t bytes, std::string_view what) {
  const int64_t limit = file_allocation_limit();
  if (bytes < 0 || bytes > limit) {
    // Named as the user sets it: the --ram-mb budget, or the default that --ram-mb overrides.
    return make_error(
        ErrorCode::kResourceExhausted,
        "{} would need {} of memory, more than the memory budget of {} ({}; a corrupt file?)", what,
        bytes < 0 ? std::string("more bytes than can be counted") : megabytes(bytes),
        megabytes(limit),
        file_allocation_limit_bytes.load() > 0 ? "--ram-mb" : "half the RAM, see --ram-mb");
  }
  return ok_status();
}

int64_t peak_rss_bytes() { return read_status_kb("VmHWM"); }
int64_t current_rss_bytes() { return read_status_kb("VmRSS"); }

bool MemoryBudget::try_reserve(int64_t bytes) {
  int64_t current = used_.load();
  do {
    if (current + bytes > limit_) return false;
  } while (!used_.compare_exchange_weak(current, current + bytes));
  return true;
}

int64_t MemoryBudget::force_reserve(int64_t bytes) { return used_.fetch_add(bytes) + bytes; }

void MemoryBudget::release(int64_t bytes) { used_.fetch_sub(bytes); }

}  // namespace grove
