#include "grove/core/shape.h"

#include <gtest/gtest.h>

#include "grove/core/blocking.h"

namespace grove {
namespace {

TEST(Box5, IntersectGrowAndContain) {
  Box5 whole = Box5::of({1, 1, 100, 80, 1});
  Box5 b({0, 0, 10, 70, 0}, {1, 1, 20, 80, 1});
  Box5 g = b.grown({0, 0, 5, 5, 0}, whole);
  EXPECT_EQ(g, Box5({0, 0, 5, 65, 0}, {1, 1, 25, 80, 1}));
  EXPECT_TRUE(whole.contains(g));
  EXPECT_TRUE(b.intersect(Box5({0, 0, 30, 0, 0}, {1, 1, 40, 10, 1})).empty());
  EXPECT_EQ(b.shape(), Shape5(1, 1, 10, 10, 1));
}

TEST(Shape5, ValidDetectsOverflow) {
  EXPECT_TRUE(Shape5(1, 1, 512, 512, 1).valid());
  EXPECT_FALSE(Shape5(1, 1, -2, 512, 1).valid());
  EXPECT_FALSE(Shape5(int64_t{1} << 40, int64_t{1} << 40, 1, 1, 1).valid());
  EXPECT_EQ(Shape5(1, 7, 3, 3, 2).spatial_rank(), 3);
}

TEST(Blocking, CoversDomainExactlyOnce) {
  Box5 domain({0, 0, 3, 5, 0}, {2, 1, 70, 41, 3});
  Blocking blocking{domain, {1, 1, 16, 16, 3}};
  EXPECT_EQ(blocking.grid(), Shape5(2, 1, 5, 3, 1));
  std::vector<int> hits(static_cast<size_t>(domain.size()), 0);
  for (const Box5& b : blocking.blocks()) {
    EXPECT_TRUE(domain.contains(b));
    for (int64_t t = b.begin[0]; t < b.end[0]; ++t)
      for (int64_t y = b.begin[2]; y < b.end[2]; ++y)
        for (int64_t x = b.begin[3]; x < b.end[3]; ++x)
          for (int64_t c = b.begin[4]; c < b.end[4]; ++c)
            ++hits[((t * 67 + (y - 3)) * 36 + (x - 5)) * 3 + c];
  }
  for (int h : hits) EXPECT_EQ(h, 1);
}

TEST(Blocking, BlocksIntersecting) {
  Blocking blocking{Box5::of({1, 1, 100, 100, 1}), {1, 1, 32, 32, 1}};
  auto ids = blocking.blocks_intersecting(Box5({0, 0, 30, 30, 0}, {1, 1, 34, 34, 1}));
  EXPECT_EQ(ids.size(), 4u);
  auto none = blocking.blocks_intersecting(Box5({0, 0, 200, 0, 0}, {1, 1, 300, 10, 1}));
  EXPECT_TRUE(none.empty());
  for (int64_t id : ids) {
    EXPECT_FALSE(blocking.block(id).intersect(Box5({0, 0, 30, 30, 0}, {1, 1, 34, 34, 1})).empty());
  }
}

TEST(Blocking, HaloClippedAtBorders) {
  auto blocks = blocks_with_halo(Box5::of({1, 1, 50, 50, 1}), {1, 1, 20, 20, 1}, {0, 0, 4, 4, 0});
  ASSERT_EQ(blocks.size(), 9u);
  EXPECT_EQ(blocks[0].outer, Box5({0, 0, 0, 0, 0}, {1, 1, 24, 24, 1}));
  EXPECT_EQ(blocks[4].outer, Box5({0, 0, 16, 16, 0}, {1, 1, 44, 44, 1}));
  EXPECT_EQ(blocks[8].outer, Box5({0, 0, 36, 36, 0}, {1, 1, 50, 50, 1}));
}

}  // namespace
}  // namespace grove
