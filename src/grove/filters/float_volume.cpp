#include "grove/filters/float_volume.h"

#include <algorithm>
#include <new>
#include <vector>

namespace grove::filters {

namespace {

constexpr std::align_val_t kAlignment{64};
// A thread keeps at most this much memory in its pool; larger returns are freed at once.
constexpr size_t kPoolLimitBytes = size_t{768} << 20;

struct Buffer {
  float* data;
  size_t capacity;
};

// Buffers released by this thread, reused by its next allocations.
class Pool {
 public:
  ~Pool() { release_all(); }
  float* take(size_t floats, size_t& capacity) {
    auto best = buffers_.end();
    for (auto it = buffers_.begin(); it != buffers_.end(); ++it) {
      if (it->capacity >= floats && (best == buffers_.end() || it->capacity < best->capacity))
        best = it;
    }
    if (best != buffers_.end()) {
      float* data = best->data;
      capacity = best->capacity;
      bytes_ -= capacity * sizeof(float);
      buffers_.erase(best);
      return data;
    }
    capacity = std::max<size_t>(floats, 16);
    return static_cast<float*>(::operator new(capacity * sizeof(float), kAlignment, std::nothrow));
  }
  void give(float* data, size_t capacity) {
    const size_t bytes = capacity * sizeof(float);
    // Keep the pool under its limit by dropping the smallest buffers first.
    while (bytes_ + bytes > kPoolLimitBytes && !buffers_.empty()) {
      auto smallest = std::min_element(
          buffers_.begin(), buffers_.end(),
          [](const Buffer& a, const Buffer& b) { return a.capacity < b.capacity; });
      if (smallest->capacity > capacity) break;
      bytes_ -= smallest->capacity * sizeof(float);
      ::operator delete(smallest->data, kAlignment);
      buffers_.erase(smallest);
    }
    if (bytes_ + bytes > kPoolLimitBytes) {
      ::operator delete(data, kAlignment);
      return;
    }
    buffers_.push_back({data, capacity});
    bytes_ += bytes;
  }
  void release_all() {
    for (const Buffer& b : buffers_) ::operator delete(b.data, kAlignment);
    buffers_.clear();
    bytes_ = 0;
  }
  size_t bytes() const { return bytes_; }

 private:
  std::vector<Buffer> buffers_;
  size_t bytes_ = 0;
};

Pool& thread_pool_of_buffers() {
  thread_local Pool pool;
  return pool;
}

}  // namespace

bool Region3::contains(const Region3& other) const {
  for (int a = 0; a < 3; ++a) {
    if (other.begin[a] < begin[a] || other.end[a] > end[a]) return false;
  }
  return true;
}

Region3 Region3::grown(const std::array<int64_t, 3>& halo, const Region3& bounds) const {
  Region3 r;
  for (int a = 0; a < 3; ++a) {
    r.begin[a] = std::max(begin[a] - halo[a], bounds.begin[a]);
    r.end[a] = std::min(end[a] + halo[a], bounds.end[a]);
  }
  return r;
}

Region3 Region3::with_axis(int axis, const Region3& other) const {
  Region3 r = *this;
  r.begin[axis] = other.begin[axis];
  r.end[axis] = other.end[axis];
  return r;
}

FloatVolume::FloatVolume(FloatVolume&& other) noexcept
    : region_(other.region_), data_(other.data_), capacity_(other.capacity_) {
  other.data_ = nullptr;
  other.capacity_ = 0;
}

FloatVolume& FloatVolume::operator=(FloatVolume&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) thread_pool_of_buffers().give(data_, capacity_);
    region_ = other.region_;
    data_ = other.data_;
    capacity_ = other.capacity_;
    other.data_ = nullptr;
    other.capacity_ = 0;
  }
  return *this;
}

FloatVolume::~FloatVolume() {
  if (data_ != nullptr) thread_pool_of_buffers().give(data_, capacity_);
}

Result<FloatVolume> FloatVolume::allocate(const Region3& region) {
  FloatVolume volume;
  volume.region_ = region;
  if (region.empty()) return volume;
  const int64_t count = region.size();
  if (count > (int64_t{1} << 40)) {
    return make_error(ErrorCode::kResourceExhausted, "scratch volume of {} floats is too large",
                      count);
  }
  volume.data_ = thread_pool_of_buffers().take(static_cast<size_t>(count), volume.capacity_);
  if (volume.data_ == nullptr) {
    volume.capacity_ = 0;
    return make_error(ErrorCode::kResourceExhausted,
                      "cannot allocate a scratch volume of {} floats", count);
  }
  return volume;
}

size_t float_volume_pool_bytes() { return thread_pool_of_buffers().bytes(); }

void release_float_volume_pool() { thread_pool_of_buffers().release_all(); }

}  // namespace grove::filters
