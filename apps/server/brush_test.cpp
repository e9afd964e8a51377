// Tests of the brush rasteriser.
#include "brush.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace grove::server {
namespace {

BrushStroke stroke(double radius, std::vector<std::array<double, 2>> points) {
  BrushStroke result;
  result.radius = radius;
  result.points = std::move(points);
  return result;
}

bool contains(const StrokePixels& pixels, int64_t u, int64_t v) {
  return std::find(pixels.pixels.begin(), pixels.pixels.end(), std::array<int64_t, 2>{u, v}) !=
         pixels.pixels.end();
}

TEST(Brush, SmallBrushPaintsThePixelUnderThePoint) {
  auto pixels = rasterize_stroke(stroke(0.5, {{3.9, 7.2}}), 10, 10);
  ASSERT_TRUE(pixels.ok());
  ASSERT_EQ(pixels->pixels.size(), 1u);
  EXPECT_TRUE(contains(*pixels, 3, 7));
  EXPECT_EQ(pixels->u0, 3);
  EXPECT_EQ(pixels->u1, 4);
  EXPECT_EQ(pixels->v0, 7);
  EXPECT_EQ(pixels->v1, 8);
}

TEST(Brush, DiscHasTheExpectedArea) {
  auto pixels = rasterize_stroke(stroke(5, {{50, 50}}), 100, 100);
  ASSERT_TRUE(pixels.ok());
  // π r² ≈ 78.5; pixel-centre sampling of a disc centred on a pixel corner gives 76 to 88.
  EXPECT_GT(pixels->pixels.size(), 70u);
  EXPECT_LT(pixels->pixels.size(), 90u);
  EXPECT_TRUE(contains(*pixels, 49, 49));
  EXPECT_FALSE(contains(*pixels, 56, 50));
}

TEST(Brush, LineCoversTheSegmentAndEachPixelOnce) {
  auto pixels = rasterize_stroke(stroke(1, {{0.5, 10.5}, {30.5, 10.5}}), 40, 20);
  ASSERT_TRUE(pixels.ok());
  for (int u = 0; u <= 30; ++u) EXPECT_TRUE(contains(*pixels, u, 10)) << u;
  EXPECT_FALSE(contains(*pixels, 32, 10));
  auto sorted = pixels->pixels;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
}

TEST(Brush, ClipsToThePlane) {
  auto pixels = rasterize_stroke(stroke(3, {{0, 0}}), 10, 10);
  ASSERT_TRUE(pixels.ok());
  for (const auto& [u, v] : pixels->pixels) {
    EXPECT_GE(u, 0);
    EXPECT_GE(v, 0);
  }
  auto outside = rasterize_stroke(stroke(3, {{-50, -50}}), 10, 10);
  ASSERT_TRUE(outside.ok());
  EXPECT_TRUE(outside->pixels.empty());
}

TEST(Brush, RefusesBadStrokes) {
  EXPECT_FALSE(rasterize_stroke(stroke(0, {{1, 1}}), 10, 10).ok());
  EXPECT_FALSE(rasterize_stroke(stroke(-1, {{1, 1}}), 10, 10).ok());
  EXPECT_FALSE(rasterize_stroke(stroke(1000, {{1, 1}}), 10, 10).ok());
  EXPECT_FALSE(rasterize_stroke(stroke(1, {}), 10, 10).ok());
  EXPECT_FALSE(rasterize_stroke(stroke(1, {{std::nan(""), 1}}), 10, 10).ok());
  EXPECT_FALSE(rasterize_stroke(stroke(1, {{0, 0}, {1e6, 1e6}}), 1 << 30, 1 << 30).ok());
}

}  // namespace
}  // namespace grove::server
