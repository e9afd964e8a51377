#include "grove/core/blocking.h"

#include <algorithm>

namespace grove {

Shape5 Blocking::grid() const {
  Shape5 extent = domain.shape();
  Shape5 g;
  for (int a = 0; a < kRank; ++a) {
    const int64_t b = std::max<int64_t>(block_shape[a], 1);
    g[a] = (extent[a] + b - 1) / b;
  }
  return g;
}

Shape5 Blocking::grid_index(int64_t linear_index) const {
  Shape5 g = grid();
  Shape5 index;
  for (int a = kRank - 1; a >= 0; --a) {
    index[a] = linear_index % g[a];
    linear_index /= g[a];
  }
  return index;
}

Box5 Blocking::block(const Shape5& grid_index) const {
  Box5 b;
  for (int a = 0; a < kRank; ++a) {
    const int64_t step = std::max<int64_t>(block_shape[a], 1);
    b.begin[a] = domain.begin[a] + grid_index[a] * step;
    b.end[a] = std::min(domain.end[a], b.begin[a] + step);
  }
  return b;
}

Box5 Blocking::block(int64_t linear_index) const { return block(grid_index(linear_index)); }

std::vector<int64_t> Blocking::blocks_intersecting(const Box5& box) const {
  std::vector<int64_t> out;
  Box5 clipped = box.intersect(domain);
  if (clipped.empty()) return out;
  Shape5 g = grid();
  Shape5 first, last;
  for (int a = 0; a < kRank; ++a) {
    const int64_t step = std::max<int64_t>(block_shape[a], 1);
    first[a] = (clipped.begin[a] - domain.begin[a]) / step;
    last[a] = (clipped.end[a] - 1 - domain.begin[a]) / step;
  }
  for (int64_t t = first[0]; t <= last[0]; ++t)
    for (int64_t z = first[1]; z <= last[1]; ++z)
      for (int64_t y = first[2]; y <= last[2]; ++y)
        for (int64_t x = first[3]; x <= last[3]; ++x)
          for (int64_t c = first[4]; c <= last[4]; ++c)
            out.push_back(((((t * g[1]) + z) * g[2] + y) * g[3] + x) * g[4] + c);
  return out;
}

std::vector<Box5> Blocking::blocks() const {
  std::vector<Box5> out;
  const int64_t n = block_count();
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i) out.push_back(block(i));
  return out;
}

std::vector<BlockWithHalo> blocks_with_halo(const Box5& domain, const Shape5& block_shape,
                                            const Shape5& halo) {
  Blocking blocking{domain, block_shape};
  std::vector<BlockWithHalo> out;
  for (const Box5& inner : blocking.blocks()) out.push_back({inner, inner.grown(halo, domain)});
  return out;
}

Shape5 default_block_shape(const Shape5& shape) {
  if (shape.z() > 1) return {1, 128, 128, 128, shape.c()};
  return {1, 1, 256, 256, shape.c()};
}

}  // namespace grove
