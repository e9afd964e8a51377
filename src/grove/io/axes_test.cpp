#include "grove/io/axes.h"

#include <gtest/gtest.h>

#include "grove/io/io_test_support.h"

namespace grove::io {
namespace {

TEST(Axes, GuessByRank) {
  EXPECT_EQ(guess_axes({10}).value(), "x");
  EXPECT_EQ(guess_axes({100, 200}).value(), "yx");
  EXPECT_EQ(guess_axes({100, 200, 3}).value(), "yxc");
  EXPECT_EQ(guess_axes({100, 200, 4}).value(), "yxc");
  EXPECT_EQ(guess_axes({100, 200, 5}).value(), "zyx");
  EXPECT_EQ(guess_axes({50, 60, 55}).value(), "zyx");
  EXPECT_EQ(guess_axes({50, 60, 55, 2}).value(), "zyxc");
  EXPECT_EQ(guess_axes({5, 50, 60, 55}).value(), "tzyx");
  EXPECT_EQ(guess_axes({5, 50, 60, 55, 2}).value(), "tzyxc");
  EXPECT_FALSE(guess_axes({1, 2, 3, 4, 5, 6}).ok());
}

TEST(Axes, Validate) {
  EXPECT_TRUE(validate_axes("tzyxc", 5).ok());
  EXPECT_TRUE(validate_axes("txyc", 4).ok());
  EXPECT_FALSE(validate_axes("tzyx", 5).ok());
  EXPECT_FALSE(validate_axes("yyx", 3).ok());
  EXPECT_FALSE(validate_axes("yq", 2).ok());
}

TEST(Axes, ShapeFromStored) {
  EXPECT_EQ(shape_from_stored({10, 495, 534, 1}, "txyc"), Shape5(10, 1, 534, 495, 1));
  EXPECT_EQ(stored_dims(Shape5(10, 1, 534, 495, 1), "txyc"), (std::vector<int64_t>{10, 495, 534, 1}));
  std::vector<int64_t> start, count;
  stored_box(Box5({1, 0, 2, 3, 0}, {4, 1, 5, 7, 1}), "txyc", start, count);
  EXPECT_EQ(start, (std::vector<int64_t>{1, 3, 2, 0}));
  EXPECT_EQ(count, (std::vector<int64_t>{3, 4, 3, 1}));
}

TEST(Axes, StoredBufferToGrovePermutes) {
  // A stored (x=3, y=2) buffer: element (x, y) = 10 * x + y.
  AnyArray stored = AnyArray::allocate(DType::i32, Shape5(1, 1, 1, 1, 6)).value();
  auto* data = static_cast<int32_t*>(stored.raw_data());
  for (int x = 0; x < 3; ++x)
    for (int y = 0; y < 2; ++y) data[x * 2 + y] = 10 * x + y;
  const AnyArray grove = stored_buffer_to_grove(stored, {3, 2}, "xy", Shape5(1, 1, 2, 3, 1)).value();
  EXPECT_TRUE(grove.contiguous());
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_EQ(grove.view<int32_t>()(0, 0, y, x, 0), 10 * x + y);
}

TEST(Axes, WriteAxes) {
  EXPECT_EQ(default_write_axes(Shape5(1, 1, 10, 20, 1)), "yxc");
  EXPECT_EQ(default_write_axes(Shape5(3, 5, 10, 20, 2)), "tzyxc");
  EXPECT_EQ(default_write_axes(Shape5(1, 5, 10, 20, 1)), "zyxc");
  EXPECT_TRUE(check_write_axes("yx", Shape5(1, 1, 10, 20, 1)).ok());
  EXPECT_FALSE(check_write_axes("yx", Shape5(1, 1, 10, 20, 3)).ok());
  EXPECT_TRUE(check_write_axes("xyzc", Shape5(1, 4, 10, 20, 3)).ok());
}

TEST(Axes, CheckedProductAndBox) {
  EXPECT_EQ(checked_product({2, 3, 4}).value(), 24);
  EXPECT_FALSE(checked_product({int64_t{1} << 40, int64_t{1} << 40}).ok());
  EXPECT_TRUE(check_box_inside(Box5({0, 0, 0, 0, 0}, {1, 1, 2, 2, 1}), Shape5(1, 1, 2, 2, 1)).ok());
  EXPECT_FALSE(check_box_inside(Box5({0, 0, 0, 0, 0}, {1, 1, 3, 2, 1}), Shape5(1, 1, 2, 2, 1)).ok());
  EXPECT_FALSE(check_box_inside(Box5({0, 0, -1, 0, 0}, {1, 1, 2, 2, 1}), Shape5(1, 1, 2, 2, 1)).ok());
}

}  // namespace
}  // namespace grove::io
