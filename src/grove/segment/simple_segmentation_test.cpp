#include "grove/segment/simple_segmentation.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

AnyArray probabilities() {
  AnyArray p = *AnyArray::allocate(DType::f32, {1, 1, 1, 3, 3});
  const float values[] = {0.7f, 0.2f, 0.1f, 0.2f, 0.3f, 0.5f, 0.4f, 0.4f, 0.2f};
  std::copy(values, values + 9, static_cast<float*>(p.raw_data()));
  return p;
}

TEST(SimpleSegmentation, ArgmaxFromOne) {
  AnyArray p = probabilities();
  auto info = infer(SimpleSegmentation{}, {p.shape(), DType::f32});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->shape.c(), 1);
  AnyArray out = *AnyArray::allocate(DType::u8, info->shape);
  ASSERT_TRUE(
      compute(SimpleSegmentation{}, p, Box5::of(p.shape()), out, Box5::of(info->shape)).ok());
  auto v = out.view<uint8_t>();
  EXPECT_EQ(v(0, 0, 0, 0, 0), 1);
  EXPECT_EQ(v(0, 0, 0, 1, 0), 3);
  EXPECT_EQ(v(0, 0, 0, 2, 0), 1);  // tie goes to the lower class
  EXPECT_FALSE(infer(SimpleSegmentation{}, {p.shape(), DType::u8}).ok());
}

}  // namespace
}  // namespace grove
