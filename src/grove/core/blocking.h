// Splitting a box into blocks, and the halo a block needs around it.
#pragma once

#include <vector>

#include "grove/core/shape.h"

namespace grove {

struct Blocking {
  Box5 domain;         // the whole box being split
  Shape5 block_shape;  // extent of each block (the last block per axis may be smaller)

  // Number of blocks along each axis.
  Shape5 grid() const;
  int64_t block_count() const { return grid().size(); }
  // The block with the given grid coordinates / linear index (C order over the grid).
  Box5 block(const Shape5& grid_index) const;
  Box5 block(int64_t linear_index) const;
  Shape5 grid_index(int64_t linear_index) const;
  // Linear indices of every block that intersects box.
  std::vector<int64_t> blocks_intersecting(const Box5& box) const;
  // All blocks in C order.
  std::vector<Box5> blocks() const;
};

// A block with the box it must read: inner grown by the halo and clipped to the domain.
struct BlockWithHalo {
  Box5 inner;
  Box5 outer;
};

// Blocks of domain with their halo boxes.
std::vector<BlockWithHalo> blocks_with_halo(const Box5& domain, const Shape5& block_shape,
                                            const Shape5& halo);

// A sensible default block shape for an array of this shape (DESIGN.md §4: 256² in 2D, 128³ in
// 3D), covering all channels and one time point.
Shape5 default_block_shape(const Shape5& shape);

}  // namespace grove
