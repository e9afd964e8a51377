// FloatVolume: a planar float32 scratch volume over a box of (z, y, x) image coordinates, x
// contiguous. The separable filter passes and the pixel-feature pipeline keep their
// intermediate images in these; their memory comes from a per-thread pool so that computing block
// after block does not pay for fresh pages each time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "grove/core/result.h"

namespace grove::filters {

// A half-open box in (z, y, x) image coordinates.
struct Region3 {
  std::array<int64_t, 3> begin{0, 0, 0};
  std::array<int64_t, 3> end{0, 0, 0};

  int64_t extent(int axis) const { return end[axis] - begin[axis]; }
  int64_t size() const { return extent(0) * extent(1) * extent(2); }
  bool empty() const { return extent(0) <= 0 || extent(1) <= 0 || extent(2) <= 0; }
  bool contains(const Region3& other) const;
  // The region grown by halo[a] on both sides of axis a, then clipped to bounds.
  Region3 grown(const std::array<int64_t, 3>& halo, const Region3& bounds) const;
  // The same region with axis `axis` taken from other.
  Region3 with_axis(int axis, const Region3& other) const;
  friend bool operator==(const Region3&, const Region3&) = default;
};

class FloatVolume {
 public:
  FloatVolume() = default;
  FloatVolume(FloatVolume&& other) noexcept;
  FloatVolume& operator=(FloatVolume&& other) noexcept;
  FloatVolume(const FloatVolume&) = delete;
  FloatVolume& operator=(const FloatVolume&) = delete;
  ~FloatVolume();

  // A volume over region with unspecified contents. Fails when the memory cannot be had.
  static Result<FloatVolume> allocate(const Region3& region);

  const Region3& region() const { return region_; }
  int64_t size() const { return region_.size(); }
  float* data() const { return data_; }
  int64_t row_stride() const { return region_.extent(2); }
  int64_t plane_stride() const { return region_.extent(1) * region_.extent(2); }
  // The row at image coordinates (z, y), pointing at x = region().begin[2].
  float* row(int64_t z, int64_t y) const {
    return data_ + (z - region_.begin[0]) * plane_stride() + (y - region_.begin[1]) * row_stride();
  }
  float& at(int64_t z, int64_t y, int64_t x) const { return row(z, y)[x - region_.begin[2]]; }

 private:
  Region3 region_;
  float* data_ = nullptr;
  size_t capacity_ = 0;  // floats
};

// Bytes the calling thread's pool keeps for reuse (for tests and memory accounting).
size_t float_volume_pool_bytes();
// Frees the calling thread's pooled buffers.
void release_float_volume_pool();

}  // namespace grove::filters
