#include "grove/core/array.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

TEST(Array, AllocateIsZeroedAndContiguous) {
  auto a = Array<float>::allocate({1, 2, 3, 4, 2});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 48);
  EXPECT_TRUE(a->any().contiguous());
  a->view().for_each([](float v) { EXPECT_EQ(v, 0.0f); });
}

TEST(Array, RejectsInvalidAndOverflowingShapes) {
  EXPECT_FALSE(AnyArray::allocate(DType::u8, {1, 1, -1, 4, 1}).ok());
  auto huge = AnyArray::allocate(DType::f64, {1 << 20, 1 << 20, 1 << 20, 1, 1});
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code(), ErrorCode::kResourceExhausted);
}

TEST(Array, CropSharesBufferAndIndexesCorrectly) {
  auto a = Array<int32_t>::allocate({1, 1, 5, 6, 2});
  ASSERT_TRUE(a.ok());
  View<int32_t> v = a->view();
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 6; ++x)
      for (int c = 0; c < 2; ++c) v(0, 0, y, x, c) = y * 100 + x * 10 + c;
  AnyArray crop = a->any().crop(Box5({0, 0, 1, 2, 1}, {1, 1, 4, 5, 2}));
  EXPECT_EQ(crop.shape(), Shape5(1, 1, 3, 3, 1));
  EXPECT_FALSE(crop.contiguous());
  EXPECT_EQ(crop.view<int32_t>()(0, 0, 0, 0, 0), 121);
  EXPECT_EQ(crop.view<int32_t>()(0, 0, 2, 2, 0), 341);
  crop.view<int32_t>()(0, 0, 0, 0, 0) = -1;
  EXPECT_EQ(v(0, 0, 1, 2, 1), -1);
  auto copy = crop.copy();
  ASSERT_TRUE(copy.ok());
  EXPECT_TRUE(copy->contiguous());
  EXPECT_EQ(copy->view<int32_t>()(0, 0, 2, 1, 0), 331);
}

TEST(Array, PermuteWithoutCopy) {
  // Memory laid out as (x, y) = 3 x 2; viewed in t,z,y,x,c order.
  std::vector<uint16_t> memory = {0, 1, 10, 11, 20, 21};  // value = 10*x + y
  View<uint16_t> xy(memory.data(), {1, 1, 3, 2, 1});      // "y" axis holds x here
  View<uint16_t> yx = xy.permuted({0, 1, 3, 2, 4});
  EXPECT_EQ(yx.shape(), Shape5(1, 1, 2, 3, 1));
  EXPECT_EQ(yx(0, 0, 1, 2, 0), 21);  // y=1, x=2
  EXPECT_EQ(yx(0, 0, 0, 1, 0), 10);
}

TEST(Array, ConvertClampsAndHandlesNaN) {
  auto a = Array<float>::allocate({1, 1, 1, 4, 1});
  ASSERT_TRUE(a.ok());
  float* p = a->data();
  p[0] = -5.0f;
  p[1] = 300.7f;
  p[2] = std::numeric_limits<float>::quiet_NaN();
  p[3] = 41.9f;
  auto u = a->any().convert(DType::u8);
  ASSERT_TRUE(u.ok());
  const uint8_t* q = static_cast<const uint8_t*>(u->raw_data());
  EXPECT_EQ(q[0], 0);
  EXPECT_EQ(q[1], 255);
  EXPECT_EQ(q[2], 0);
  EXPECT_EQ(q[3], 41);
}

TEST(Array, CopyIntoChecksShape) {
  auto a = AnyArray::allocate(DType::u8, {1, 1, 2, 2, 1});
  auto b = AnyArray::allocate(DType::u8, {1, 1, 2, 3, 1});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->copy_into(*b).ok());
}

}  // namespace
}  // namespace grove
