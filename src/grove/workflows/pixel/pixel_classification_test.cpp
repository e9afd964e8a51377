// Pixel classification's training set: the rows are exactly the whole image's features at the
// labelled pixels, in label-block order and raster order within a block, however the features
// are computed (tight boxes, merged groups, pieces) and whether rows come from the cache of an
// earlier training or not.
#include "grove/workflows/pixel/pixel_classification.h"

#include <gtest/gtest.h>

#include <random>

#include "grove/engine/node.h"
#include "grove/filters/feature_selection.h"

namespace grove {
namespace {

AnyArray smooth_random_volume(const Shape5& shape, uint32_t seed) {
  AnyArray image = *AnyArray::allocate(DType::u8, shape);
  std::mt19937 random(seed);
  View<uint8_t> v = image.view<uint8_t>();
  v.for_each([&](uint8_t& value) { value = static_cast<uint8_t>(random() % 256); });
  return image;
}

// The rows the training set must hold: the dense features at each labelled pixel, blocks in the
// label store's order, pixels in raster order within a block.
TrainingSet expected_rows(Engine& engine, const NodePtr& features, const LabelStore& labels) {
  TrainingSet set;
  set.feature_count = features->info().shape.c();
  AnyArray whole = *engine.compute(features, Box5::of(features->info().shape));
  View<const float> f = whole.view<float>();
  for (const Box5& block : labels.labelled_blocks()) {
    AnyArray l = *labels.read(block.with_channels(0, 1));
    View<const uint8_t> lv = l.view<uint8_t>();
    const Shape5 s = l.shape();
    for (int64_t t = 0; t < s[kT]; ++t)
      for (int64_t z = 0; z < s[kZ]; ++z)
        for (int64_t y = 0; y < s[kY]; ++y)
          for (int64_t x = 0; x < s[kX]; ++x) {
            const uint8_t value = lv(t, z, y, x, 0);
            if (value == 0) continue;
            set.labels.push_back(value);
            for (int64_t c = 0; c < set.feature_count; ++c) {
              set.features.push_back(f(block.begin[kT] + t, block.begin[kZ] + z,
                                       block.begin[kY] + y, block.begin[kX] + x, c));
            }
          }
  }
  return set;
}

void paint_line(LabelStore& labels, const Box5& box, uint8_t value) {
  AnyArray mask = *AnyArray::allocate(DType::u8, box.shape());
  mask.view<uint8_t>().for_each([](uint8_t& m) { m = 1; });
  ASSERT_TRUE(labels.paint(box, mask, value).ok());
}

void expect_same(const TrainingSet& got, const TrainingSet& expected) {
  ASSERT_EQ(got.feature_count, expected.feature_count);
  ASSERT_EQ(got.labels, expected.labels);
  ASSERT_EQ(got.features.size(), expected.features.size());
  for (size_t i = 0; i < got.features.size(); ++i) {
    ASSERT_EQ(got.features[i], expected.features[i])
        << "row " << i / static_cast<size_t>(got.feature_count) << " feature "
        << i % static_cast<size_t>(got.feature_count);
  }
}

TEST(PixelTrainingSet, RowsAreTheWholeImagesFeaturesAtTheLabels) {
  const Shape5 shape(1, 40, 70, 90, 1);
  NodePtr raw = array_node(smooth_random_volume(shape, 7), "training set test volume");
  PixelClassification pixel;
  pixel.features = *filters::parse_feature_spec(
      "GaussianSmoothing:0.7,3.5;HessianOfGaussianEigenvalues:1.6;StructureTensorEigenvalues:1.0");
  PixelLane lane;
  lane.shape = shape;
  lane.dtype = DType::u8;
  lane.labels = std::make_shared<LabelStore>(shape);
  // Lines on two slices (they merge into slabs), a far dot, and a stroke across block borders.
  paint_line(*lane.labels, Box5({0, 5, 10, 3, 0}, {1, 6, 11, 80, 1}), 1);
  paint_line(*lane.labels, Box5({0, 5, 50, 3, 0}, {1, 6, 51, 80, 1}), 2);
  paint_line(*lane.labels, Box5({0, 30, 20, 10, 0}, {1, 31, 60, 11, 1}), 2);
  paint_line(*lane.labels, Box5({0, 38, 68, 88, 0}, {1, 39, 69, 89, 1}), 1);
  paint_line(*lane.labels, Box5({0, 10, 60, 60, 0}, {1, 25, 61, 70, 1}), 1);
  pixel.lanes.push_back(lane);

  for (int threads : {1, 2}) {
    EngineOptions options;
    options.threads = threads;
    Engine engine(options);
    NodePtr features = *pixel.feature_node(raw);
    const TrainingSet expected = expected_rows(engine, features, *lane.labels);
    ASSERT_GT(expected.rows(), 200);
    pixel.training_rows = std::make_shared<TrainingRowCache>();
    Result<TrainingSet> first = pixel.collect_training_set(engine, {raw});
    ASSERT_TRUE(first.ok()) << first.error().to_string();
    expect_same(*first, expected);
    // Again, from the cache.
    Result<TrainingSet> again = pixel.collect_training_set(engine, {raw});
    ASSERT_TRUE(again.ok()) << again.error().to_string();
    expect_same(*again, expected);
  }

  // A new stroke: the changed blocks are recomputed, the others come from the cache, and the
  // rows are still those of the whole image.
  EngineOptions options;
  options.threads = 2;
  Engine engine(options);
  ASSERT_TRUE(pixel.collect_training_set(engine, {raw}).ok());
  paint_line(*lane.labels, Box5({0, 20, 5, 5, 0}, {1, 21, 6, 30, 1}), 2);
  paint_line(*lane.labels, Box5({0, 5, 10, 40, 0}, {1, 6, 11, 50, 1}), 0);  // erase a part
  NodePtr features = *pixel.feature_node(raw);
  Result<TrainingSet> after = pixel.collect_training_set(engine, {raw});
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  expect_same(*after, expected_rows(engine, features, *lane.labels));

  // Other features: nothing cached applies.
  pixel.features = *filters::parse_feature_spec("LaplacianOfGaussian:1.0,5.0");
  features = *pixel.feature_node(raw);
  Result<TrainingSet> other = pixel.collect_training_set(engine, {raw});
  ASSERT_TRUE(other.ok()) << other.error().to_string();
  expect_same(*other, expected_rows(engine, features, *lane.labels));
}

// The interactive path: the viewer's boxes through the cached feature node equal the whole
// image's features (the cache assembles them from its fixed blocks).
TEST(PixelTrainingSet, CachedFeatureBoxesEqualTheWholeImage) {
  const Shape5 shape(1, 40, 70, 90, 1);
  NodePtr raw = array_node(smooth_random_volume(shape, 11), "cached features test volume");
  PixelClassification pixel;
  pixel.features =
      *filters::parse_feature_spec("GaussianSmoothing:0.7,3.5;LaplacianOfGaussian:1.6");
  EngineOptions options;
  options.threads = 2;
  Engine engine(options);
  NodePtr cached = *pixel.feature_node(raw, /*cacheable=*/true);
  NodePtr plain = *pixel.feature_node(raw, /*cacheable=*/false);
  AnyArray whole = *engine.compute(plain, Box5::of(plain->info().shape));
  const int64_t channels = plain->info().shape.c();
  for (const Box5& box : {Box5({0, 5, 10, 3, 0}, {1, 6, 11, 80, channels}),
                          Box5({0, 0, 0, 0, 0}, {1, 40, 64, 64, channels}),
                          Box5({0, 13, 33, 47, 0}, {1, 39, 69, 89, channels})}) {
    AnyArray got = *engine.compute(cached, box);
    View<const float> g = got.view<float>();
    View<const float> w = whole.view<float>();
    const Shape5 s = box.shape();
    int64_t differing = 0;
    for (int64_t z = 0; z < s[kZ]; ++z)
      for (int64_t y = 0; y < s[kY]; ++y)
        for (int64_t x = 0; x < s[kX]; ++x)
          for (int64_t c = 0; c < channels; ++c)
            differing += g(0, z, y, x, c) !=
                         w(0, box.begin[kZ] + z, box.begin[kY] + y, box.begin[kX] + x, c);
    EXPECT_EQ(differing, 0) << box.to_string();
  }
}

TEST(PixelTrainingSet, NoLabelsIsAClearError) {
  const Shape5 shape(1, 1, 30, 30, 1);
  NodePtr raw = array_node(smooth_random_volume(shape, 3), "empty labels test image");
  PixelClassification pixel;
  PixelLane lane;
  lane.shape = shape;
  lane.labels = std::make_shared<LabelStore>(shape);
  pixel.lanes.push_back(lane);
  Engine engine;
  Result<TrainingSet> set = pixel.collect_training_set(engine, {raw});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().to_string().find("no labels"), std::string::npos);
}

}  // namespace
}  // namespace grove
