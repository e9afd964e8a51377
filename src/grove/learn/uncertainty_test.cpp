#include "grove/learn/uncertainty.h"

#include <gtest/gtest.h>

namespace grove {
namespace {

AnyArray probabilities() {
  AnyArray p = *AnyArray::allocate(DType::f32, {1, 1, 1, 3, 3});
  const float values[] = {0.7f, 0.2f, 0.1f, 0.2f, 0.3f, 0.5f, 0.4f, 0.4f, 0.2f};
  std::copy(values, values + 9, static_cast<float*>(p.raw_data()));
  return p;
}

TEST(Uncertainty, OneMinusMarginOfTopTwo) {
  AnyArray p = probabilities();
  auto info = infer(Uncertainty{}, {p.shape(), DType::f32});
  ASSERT_TRUE(info.ok());
  AnyArray out = *AnyArray::allocate(DType::f32, info->shape);
  ASSERT_TRUE(compute(Uncertainty{}, p, Box5::of(p.shape()), out, Box5::of(info->shape)).ok());
  auto v = out.view<float>();
  EXPECT_NEAR(v(0, 0, 0, 0, 0), 0.5f, 1e-6);
  EXPECT_NEAR(v(0, 0, 0, 1, 0), 0.8f, 1e-6);
  EXPECT_NEAR(v(0, 0, 0, 2, 0), 1.0f, 1e-6);
}

}  // namespace
}  // namespace grove
