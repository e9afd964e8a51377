#include "grove/filters/gaussian_kernel.h"

#include <gtest/gtest.h>

#include <cmath>

namespace grove::filters {
namespace {

double moment(const Kernel1D& k, int power) {
  double sum = 0;
  for (int j = -k.radius; j <= k.radius; ++j) sum += k.at(j) * std::pow(j, power);
  return sum;
}

TEST(GaussianKernel, RadiusFollowsVigraWindowRule) {
  EXPECT_EQ(gaussian_kernel_radius(0.3, 2.0), 1);
  EXPECT_EQ(gaussian_kernel_radius(0.5, 2.0), 1);   // 1.5 rounds down
  EXPECT_EQ(gaussian_kernel_radius(0.75, 2.0), 2);  // 2.0
  EXPECT_EQ(gaussian_kernel_radius(0.7, 3.5), 2);   // 2.95
  EXPECT_EQ(gaussian_kernel_radius(1.0, 3.5), 4);
  EXPECT_EQ(gaussian_kernel_radius(std::sqrt(99.0), 3.5), 35);
  EXPECT_EQ(gaussian_kernel_radius(0.1, 3.5), 1);  // never below 1
}

TEST(GaussianKernel, MomentsMatchTheDerivativeOrder) {
  for (double sigma : {0.3, 0.7, 1.0, 3.3541, 9.95}) {
    auto k0 = gaussian_kernel(sigma, 0, 2.0);
    auto k1 = gaussian_kernel(sigma, 1, 2.0);
    auto k2 = gaussian_kernel(sigma, 2, 3.5);
    ASSERT_TRUE(k0.ok() && k1.ok() && k2.ok());
    EXPECT_NEAR(moment(*k0, 0), 1.0, 1e-6);
    EXPECT_NEAR(moment(*k1, 0), 0.0, 1e-6);
    EXPECT_NEAR(moment(*k1, 1), 1.0, 1e-6);  // correlation: a ramp gives slope 1
    EXPECT_NEAR(moment(*k2, 0), 0.0, 1e-6);
    EXPECT_NEAR(moment(*k2, 2), 2.0, 1e-5);
    EXPECT_TRUE(k0->symmetric);
    EXPECT_FALSE(k1->symmetric);
    for (int j = 1; j <= k1->radius; ++j) {
      EXPECT_FLOAT_EQ(k0->at(j), k0->at(-j));
      EXPECT_FLOAT_EQ(k1->at(j), -k1->at(-j));
      EXPECT_GT(k1->at(j), 0.0f);
      EXPECT_FLOAT_EQ(k2->at(j), k2->at(-j));
    }
  }
}

TEST(GaussianKernel, SampledValuesAtSigmaOne) {
  // exp(-j^2/2) normalised over j in [-2, 2].
  auto k = gaussian_kernel(1.0, 0, 2.0);
  ASSERT_TRUE(k.ok());
  const double sum = 1 + 2 * std::exp(-0.5) + 2 * std::exp(-2.0);
  EXPECT_NEAR(k->at(0), 1 / sum, 1e-7);
  EXPECT_NEAR(k->at(2), std::exp(-2.0) / sum, 1e-7);
}

TEST(GaussianKernel, RejectsBadParameters) {
  EXPECT_FALSE(gaussian_kernel(0.0, 0, 2.0).ok());
  EXPECT_FALSE(gaussian_kernel(-1.0, 0, 2.0).ok());
  EXPECT_FALSE(gaussian_kernel(std::nan(""), 0, 2.0).ok());
  EXPECT_FALSE(gaussian_kernel(1.0, 3, 2.0).ok());
  EXPECT_FALSE(gaussian_kernel(1.0, 0, 0.0).ok());
  EXPECT_FALSE(gaussian_kernel(1e9, 0, 3.5).ok());
}

}  // namespace
}  // namespace grove::filters
