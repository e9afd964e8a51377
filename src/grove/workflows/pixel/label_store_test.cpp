#include "grove/workflows/pixel/label_store.h"

#include <gtest/gtest.h>

#include "grove/workflows/pixel/brush.h"

namespace grove {
namespace {

AnyArray filled(const Shape5& shape, uint8_t value) {
  AnyArray a = *AnyArray::allocate(DType::u8, shape);
  a.view<uint8_t>().for_each([&](uint8_t& v) { v = value; });
  return a;
}

TEST(LabelStore, PaintReadUndoAndCounts) {
  LabelStore labels({1, 1, 300, 200, 1});
  EXPECT_TRUE(labels.empty());
  Box5 box({0, 0, 120, 100, 0}, {1, 1, 140, 150, 1});  // spans several blocks
  auto edit = labels.paint(box, filled(box.shape(), 1), 2);
  ASSERT_TRUE(edit.ok()) << edit.error().to_string();
  EXPECT_FALSE(labels.empty());
  auto counts = labels.counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[2], 20 * 50);
  auto dense = labels.read(Box5::of({1, 1, 300, 200, 1}));
  ASSERT_TRUE(dense.ok());
  EXPECT_EQ(dense->view<uint8_t>()(0, 0, 130, 120, 0), 2);
  EXPECT_EQ(dense->view<uint8_t>()(0, 0, 119, 120, 0), 0);
  EXPECT_EQ(labels.labelled_blocks().size(), 4u);  // 128x128 blocks: rows 0-1, cols 0-1

  auto redo = labels.undo(*edit);
  ASSERT_TRUE(redo.ok());
  EXPECT_TRUE(labels.empty());
  ASSERT_TRUE(labels.undo(*redo).ok());
  EXPECT_EQ(labels.counts()[2], 1000);
}

TEST(LabelStore, EraserAndRelabel) {
  LabelStore labels({1, 4, 20, 20, 1});
  Box5 box({0, 1, 0, 0, 0}, {1, 2, 10, 10, 1});
  ASSERT_TRUE(labels.paint(box, filled(box.shape(), 1), 1).ok());
  Box5 half({0, 1, 0, 0, 0}, {1, 2, 5, 10, 1});
  ASSERT_TRUE(labels.paint(half, filled(half.shape(), 1), 0).ok());  // erase
  EXPECT_EQ(labels.counts()[1], 50);
  labels.relabel(1, 3);
  EXPECT_EQ(labels.counts().size(), 4u);
  EXPECT_EQ(labels.counts()[3], 50);
  labels.clear_class(3);
  EXPECT_TRUE(labels.empty());
}

TEST(LabelStore, RejectsBadInput) {
  LabelStore labels({1, 1, 10, 10, 1});
  EXPECT_FALSE(labels.paint(Box5::of({1, 1, 11, 10, 1}), filled({1, 1, 11, 10, 1}, 1), 1).ok());
  EXPECT_FALSE(labels.paint(Box5::of({1, 1, 5, 5, 1}), filled({1, 1, 4, 5, 1}, 1), 1).ok());
  auto floats = *AnyArray::allocate(DType::f32, {1, 1, 5, 5, 1});
  EXPECT_FALSE(labels.write(Box5::of({1, 1, 5, 5, 1}), floats).ok());
  auto big = *AnyArray::allocate(DType::i32, {1, 1, 5, 5, 1});
  big.view<int32_t>()(0, 0, 0, 0, 0) = 300;
  EXPECT_FALSE(labels.write(Box5::of({1, 1, 5, 5, 1}), big).ok());
}

TEST(Brush, StrokeCoversSegmentWithRadius) {
  BrushStroke stroke;
  stroke.points = {{10.5, 10.5}, {30.5, 10.5}};
  stroke.radius = 2.0;
  auto mask = rasterize_stroke(stroke, {1, 1, 50, 50, 1});
  ASSERT_TRUE(mask.ok()) << mask.error().to_string();
  LabelStore labels({1, 1, 50, 50, 1});
  ASSERT_TRUE(labels.paint(mask->box, mask->mask, 1).ok());
  auto dense = *labels.read(Box5::of({1, 1, 50, 50, 1}));
  auto v = dense.view<uint8_t>();
  EXPECT_EQ(v(0, 0, 10, 20, 0), 1);
  EXPECT_EQ(v(0, 0, 12, 20, 0), 1);
  EXPECT_EQ(v(0, 0, 13, 20, 0), 0);
  EXPECT_EQ(v(0, 0, 10, 33, 0), 0);
  EXPECT_EQ(v(0, 0, 10, 8, 0), 1);
}

TEST(Brush, PlanesMapToTheRightAxes) {
  BrushStroke stroke;
  stroke.plane = Plane::kXZ;
  stroke.slice = 7;  // y
  stroke.points = {{3.5, 2.5}};
  stroke.radius = 0.5;
  auto mask = rasterize_stroke(stroke, {1, 5, 10, 10, 1});
  ASSERT_TRUE(mask.ok());
  EXPECT_EQ(mask->box.begin[kY], 7);
  EXPECT_EQ(mask->box.end[kY], 8);
  EXPECT_TRUE(mask->box.contains_point({0, 2, 7, 3, 0}));
  EXPECT_FALSE(rasterize_stroke(stroke, {1, 5, 5, 10, 1}).ok());  // slice 7 outside y
  stroke.points = {{500.0, 500.0}};
  EXPECT_FALSE(rasterize_stroke(stroke, {1, 5, 10, 10, 1}).ok());
  EXPECT_FALSE(parse_plane("zz").ok());
}

}  // namespace
}  // namespace grove
