#include "grove/filters/separable_convolution.h"

#include <gtest/gtest.h>

#include <random>

namespace grove::filters {
namespace {

TEST(ReflectIndex, MirrorsWithoutRepeatingTheEdge) {
  EXPECT_EQ(reflect_index(-1, 0, 5), 1);
  EXPECT_EQ(reflect_index(-2, 0, 5), 2);
  EXPECT_EQ(reflect_index(5, 0, 5), 3);
  EXPECT_EQ(reflect_index(6, 0, 5), 2);
  EXPECT_EQ(reflect_index(3, 0, 5), 3);
  EXPECT_EQ(reflect_index(-5, 0, 5), 3);  // folded twice
  EXPECT_EQ(reflect_index(9, 0, 5), 1);
  EXPECT_EQ(reflect_index(4, 10, 11), 10);  // a single sample
  EXPECT_EQ(reflect_index(8, 10, 13), 12);
}

FloatVolume random_volume(const Region3& region, unsigned seed) {
  auto volume = FloatVolume::allocate(region);
  EXPECT_TRUE(volume.ok());
  std::mt19937 random(seed);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (int64_t i = 0; i < volume->size(); ++i) volume->data()[i] = uniform(random);
  return std::move(volume).value();
}

// Direct evaluation of one output sample.
float reference(const FloatVolume& src, int axis, const Region3& bounds, const Kernel1D& k,
                int64_t z, int64_t y, int64_t x) {
  double sum = 0;
  for (int j = -k.radius; j <= k.radius; ++j) {
    std::array<int64_t, 3> p = {z, y, x};
    p[axis] = reflect_index(p[axis] + j, bounds.begin[axis], bounds.end[axis]);
    sum += k.at(j) * src.at(p[0], p[1], p[2]);
  }
  return static_cast<float>(sum);
}

TEST(ConvolveAxis, MatchesDirectSumsOnEveryAxis) {
  // Odd extents, a source origin away from zero, radii wider than the data, sub-regions.
  const Region3 bounds{{3, -2, 5}, {10, 19, 42}};
  const FloatVolume src = random_volume(bounds, 1);
  for (double sigma : {0.3, 1.0, 2.9, 9.0}) {
    auto k0 = gaussian_kernel(sigma, 0, 3.5), k1 = gaussian_kernel(sigma, 1, 3.5),
         k2 = gaussian_kernel(sigma, 2, 3.5);
    ASSERT_TRUE(k0.ok() && k1.ok() && k2.ok());
    for (int axis = 0; axis < 3; ++axis) {
      Region3 dst = bounds;
      dst.begin[axis] += 1;
      dst.end[axis] -= 2;
      dst.begin[(axis + 1) % 3] += 1;  // a strict sub-region on another axis
      auto a = FloatVolume::allocate(dst), b = FloatVolume::allocate(dst),
           c = FloatVolume::allocate(dst);
      ASSERT_TRUE(a.ok() && b.ok() && c.ok());
      const Kernel1D* kernels[3] = {&*k0, &*k1, &*k2};
      FloatVolume* outputs[3] = {&*a, &*b, &*c};
      convolve_axis(src, axis, bounds.begin[axis], bounds.end[axis], kernels, outputs);
      for (int64_t z = dst.begin[0]; z < dst.end[0]; ++z)
        for (int64_t y = dst.begin[1]; y < dst.end[1]; ++y)
          for (int64_t x = dst.begin[2]; x < dst.end[2]; ++x) {
            ASSERT_NEAR(a->at(z, y, x), reference(src, axis, bounds, *k0, z, y, x), 2e-6);
            ASSERT_NEAR(b->at(z, y, x), reference(src, axis, bounds, *k1, z, y, x), 2e-6);
            ASSERT_NEAR(c->at(z, y, x), reference(src, axis, bounds, *k2, z, y, x), 2e-6);
          }
    }
  }
}

TEST(ConvolveAxis, SourceRegionIsClippedToBounds) {
  const Region3 bounds{{0, 0, 0}, {1, 20, 30}};
  const Region3 dst{{0, 2, 5}, {1, 10, 25}};
  const Region3 source = convolution_source_region(dst, 2, 7, bounds);
  EXPECT_EQ(source, (Region3{{0, 2, 0}, {1, 10, 30}}));
}

}  // namespace
}  // namespace grove::filters
