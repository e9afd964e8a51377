#include "grove/core/shape.h"

#include <fmt/format.h>
#include <algorithm>
#include <limits>

namespace grove {

bool Shape5::valid() const {
  int64_t product = 1;
  for (int64_t extent : v) {
    if (extent < 0) return false;
    if (extent == 0) return true;
    if (product > std::numeric_limits<int64_t>::max() / extent) return false;
    product *= extent;
  }
  return true;
}

std::string Shape5::to_string() const {
  return fmt::format("(t={}, z={}, y={}, x={}, c={})", v[0], v[1], v[2], v[3], v[4]);
}

std::string Shape5::to_compact_string() const {
  return fmt::format("{}x{}x{}x{}x{}", v[0], v[1], v[2], v[3], v[4]);
}

Shape5 Box5::shape() const {
  Shape5 s;
  for (int a = 0; a < kRank; ++a) s[a] = std::max<int64_t>(0, end[a] - begin[a]);
  return s;
}

bool Box5::empty() const {
  for (int a = 0; a < kRank; ++a) {
    if (end[a] <= begin[a]) return true;
  }
  return false;
}

bool Box5::contains(const Box5& other) const {
  if (other.empty()) return true;
  for (int a = 0; a < kRank; ++a) {
    if (other.begin[a] < begin[a] || other.end[a] > end[a]) return false;
  }
  return true;
}

bool Box5::contains_point(const Shape5& point) const {
  for (int a = 0; a < kRank; ++a) {
    if (point[a] < begin[a] || point[a] >= end[a]) return false;
  }
  return true;
}

Box5 Box5::intersect(const Box5& other) const {
  Box5 out;
  for (int a = 0; a < kRank; ++a) {
    out.begin[a] = std::max(begin[a], other.begin[a]);
    out.end[a] = std::max(out.begin[a], std::min(end[a], other.end[a]));
  }
  return out;
}

Box5 Box5::relative_to(const Shape5& origin) const {
  Box5 out = *this;
  for (int a = 0; a < kRank; ++a) {
    out.begin[a] -= origin[a];
    out.end[a] -= origin[a];
  }
  return out;
}

Box5 Box5::translated(const Shape5& offset) const {
  Box5 out = *this;
  for (int a = 0; a < kRank; ++a) {
    out.begin[a] += offset[a];
    out.end[a] += offset[a];
  }
  return out;
}

Box5 Box5::grown(const Shape5& halo, const Box5& bounds) const {
  Box5 out;
  for (int a = 0; a < kRank; ++a) {
    out.begin[a] = std::max(bounds.begin[a], begin[a] - halo[a]);
    out.end[a] = std::min(bounds.end[a], end[a] + halo[a]);
  }
  return out;
}

Box5 Box5::with_channels(int64_t begin_c, int64_t end_c) const {
  Box5 out = *this;
  out.begin[kC] = begin_c;
  out.end[kC] = end_c;
  return out;
}

std::string Box5::to_string() const {
  return fmt::format("[{}:{}, {}:{}, {}:{}, {}:{}, {}:{}]", begin[0], end[0], begin[1], end[1],
                     begin[2], end[2], begin[3], end[3], begin[4], end[4]);
}

}  // namespace grove
