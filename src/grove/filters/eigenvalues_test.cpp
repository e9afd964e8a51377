#include "grove/filters/eigenvalues.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace grove::filters {
namespace {

// Reference: cyclic Jacobi rotations in double precision.
std::array<double, 3> jacobi_eigenvalues(std::array<std::array<double, 3>, 3> a) {
  for (int sweep = 0; sweep < 50; ++sweep) {
    for (int p = 0; p < 3; ++p) {
      for (int q = p + 1; q < 3; ++q) {
        if (std::abs(a[p][q]) < 1e-300) continue;
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < 3; ++k) {
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
      }
    }
  }
  std::array<double, 3> e = {a[0][0], a[1][1], a[2][2]};
  std::sort(e.begin(), e.end(), std::greater<>());
  return e;
}

TEST(Eigenvalues, TwoByTwoDescending) {
  const std::vector<float> a = {2, 1, 0, 5, -3, 1e-3f, 4, 0, 7};
  const std::vector<float> b = {0, 1, 0, 2, 0.5f, 0, 4, 3, 1};
  const std::vector<float> c = {1, 1, 0, -5, 7, 2e-3f, 4, 0, 7};
  std::vector<float> first(a.size()), second(a.size());
  symmetric_eigenvalues_2x2(a.data(), b.data(), c.data(), first.data(), second.data(),
                            static_cast<int64_t>(a.size()));
  for (size_t i = 0; i < a.size(); ++i) {
    const double mean = (a[i] + c[i]) / 2.0, d = (a[i] - c[i]) / 2.0;
    const double root = std::sqrt(d * d + double(b[i]) * b[i]);
    EXPECT_NEAR(first[i], mean + root, 1e-5 * (1 + std::abs(mean) + root)) << i;
    EXPECT_NEAR(second[i], mean - root, 1e-5 * (1 + std::abs(mean) + root)) << i;
    EXPECT_GE(first[i], second[i]);
  }
}

TEST(Eigenvalues, ThreeByThreeMatchesJacobi) {
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0, 1);
  const int n = 1003;  // not a multiple of the vector width
  std::vector<std::vector<float>> m(6, std::vector<float>(n));
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 6; ++k) m[k][i] = normal(random) * (i % 7 == 0 ? 1000.0f : 1.0f);
    if (i % 11 == 0) {  // repeated eigenvalues: diagonal with equal entries
      m[0][i] = m[3][i] = m[5][i] = 2.5f;
      m[1][i] = m[2][i] = m[4][i] = 0;
    }
    if (i % 13 == 0) {  // two equal eigenvalues: rank-one update of a multiple of the identity
      const float v[3] = {normal(random), normal(random), normal(random)};
      m[0][i] = 1 + v[0] * v[0], m[1][i] = v[0] * v[1], m[2][i] = v[0] * v[2];
      m[3][i] = 1 + v[1] * v[1], m[4][i] = v[1] * v[2], m[5][i] = 1 + v[2] * v[2];
    }
  }
  std::vector<float> e1(n), e2(n), e3(n);
  symmetric_eigenvalues_3x3(m[0].data(), m[1].data(), m[2].data(), m[3].data(), m[4].data(),
                            m[5].data(), e1.data(), e2.data(), e3.data(), n);
  for (int i = 0; i < n; ++i) {
    std::array<std::array<double, 3>, 3> a = {
        {{m[0][i], m[1][i], m[2][i]}, {m[1][i], m[3][i], m[4][i]}, {m[2][i], m[4][i], m[5][i]}}};
    const auto expected = jacobi_eigenvalues(a);
    const double scale = std::max({std::abs(expected[0]), std::abs(expected[2]), 1e-6});
    EXPECT_NEAR(e1[i], expected[0], 2e-6 * scale) << i;
    EXPECT_NEAR(e2[i], expected[1], 2e-6 * scale) << i;
    EXPECT_NEAR(e3[i], expected[2], 2e-6 * scale) << i;
    EXPECT_GE(e1[i], e2[i]);
    EXPECT_GE(e2[i], e3[i]);
  }
}

}  // namespace
}  // namespace grove::filters
