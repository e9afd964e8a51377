// Shape5 and Box5: every array in grove is rank 5 in the order t, z, y, x, c (c fastest), with
// missing axes of size 1 (DESIGN.md §3).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace grove {

enum Axis : int { kT = 0, kZ = 1, kY = 2, kX = 3, kC = 4 };
inline constexpr int kRank = 5;
inline constexpr char kAxisNames[] = "tzyxc";

struct Shape5 {
  std::array<int64_t, kRank> v{1, 1, 1, 1, 1};

  constexpr Shape5() = default;
  constexpr Shape5(int64_t t, int64_t z, int64_t y, int64_t x, int64_t c) : v{t, z, y, x, c} {}
  static constexpr Shape5 filled(int64_t value) { return {value, value, value, value, value}; }

  constexpr int64_t& operator[](int axis) { return v[axis]; }
  constexpr int64_t operator[](int axis) const { return v[axis]; }
  int64_t t() const { return v[kT]; }
  int64_t z() const { return v[kZ]; }
  int64_t y() const { return v[kY]; }
  int64_t x() const { return v[kX]; }
  int64_t c() const { return v[kC]; }

  // Product of all extents (0 if any is 0).
  int64_t size() const { return v[0] * v[1] * v[2] * v[3] * v[4]; }
  // Product of the spatial and time extents (pixels, not counting channels).
  int64_t pixels() const { return v[0] * v[1] * v[2] * v[3]; }
  bool empty() const { return size() == 0; }
  // 3 when z > 1, else 2 (time and channels do not count).
  int spatial_rank() const { return v[kZ] > 1 ? 3 : 2; }
  // True if every extent is >= 0 and the product does not overflow int64.
  bool valid() const;

  // "(t=1, z=1, y=512, x=512, c=1)"
  std::string to_string() const;
  // "1x1x512x512x1"
  std::string to_compact_string() const;

  friend constexpr bool operator==(const Shape5&, const Shape5&) = default;
};

// A half-open box [begin, end) in t,z,y,x,c.
struct Box5 {
  Shape5 begin = Shape5::filled(0);
  Shape5 end = Shape5::filled(0);

  constexpr Box5() = default;
  constexpr Box5(Shape5 b, Shape5 e) : begin(b), end(e) {}
  // The box [0, shape).
  static constexpr Box5 of(const Shape5& shape) { return {Shape5::filled(0), shape}; }

  Shape5 shape() const;
  int64_t size() const { return shape().size(); }
  bool empty() const;
  bool contains(const Box5& other) const;
  bool contains_point(const Shape5& point) const;
  Box5 intersect(const Box5& other) const;
  // Moves the box by -origin (coordinates relative to origin).
  Box5 relative_to(const Shape5& origin) const;
  Box5 translated(const Shape5& offset) const;
  // Grows the box by halo on both sides in every axis, then clips it to bounds.
  Box5 grown(const Shape5& halo, const Box5& bounds) const;
  // The same box with the channel range replaced.
  Box5 with_channels(int64_t begin_c, int64_t end_c) const;

  std::string to_string() const;  // "[0:1, 0:1, 0:64, 0:64, 0:3]"

  friend constexpr bool operator==(const Box5&, const Box5&) = default;
};

}  // namespace grove
