#include "grove/learn/random_forest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "grove/learn/forest_test_util.h"
#include "grove/learn/forest_training.h"

namespace grove {
namespace {

using forest_test::make_blobs;

// A hand-made forest: tree 0 splits feature 1 at 0.5 then feature 0 at -1; tree 1 is one leaf.
ForestParts two_tree_parts() {
  ForestParts p;
  p.kind = ForestKind::kClassification;
  p.feature_count = 2;
  p.output_count = 2;
  p.class_labels = {1, 2};
  p.nodes = {
      {1, 0.5f, 1, ForestNode::leaf_child(2)},
      {0, -1.0f, ForestNode::leaf_child(0), ForestNode::leaf_child(1)},
      {0, std::numeric_limits<float>::infinity(), ForestNode::leaf_child(0),
       ForestNode::leaf_child(0)},
  };
  p.tree_node_begin = {0, 2, 3};
  p.leaf_values = {1, 0, 0.25f, 0.75f, 0, 1, 0.5f, 0.5f};
  p.leaf_weights = {2, 4, 6, 10};
  p.tree_leaf_begin = {0, 3, 4};
  return p;
}

TEST(RandomForest, HandMadeForestPredictsByTheLessThanRule) {
  auto forest = RandomForest::create(two_tree_parts());
  ASSERT_TRUE(forest.ok()) << forest.error().to_string();
  EXPECT_EQ(forest->tree_count(), 2);
  EXPECT_EQ(forest->max_depth(), 2);
  // Rows: left-left, left-right (feature 0 equal to its threshold goes right), right (feature 1
  // equal to 0.5 goes right).
  const float x[] = {-2, 0, -1, 0.25f, 0, 0.5f};
  float out[6];
  ASSERT_TRUE(forest->predict(FeatureMatrix(x, 3, 2), MatrixView<float>(out, 3, 2)).ok());
  EXPECT_FLOAT_EQ(out[0], (1 + 0.5f) / 2);
  EXPECT_FLOAT_EQ(out[1], (0 + 0.5f) / 2);
  EXPECT_FLOAT_EQ(out[2], (0.25f + 0.5f) / 2);
  EXPECT_FLOAT_EQ(out[3], (0.75f + 0.5f) / 2);
  EXPECT_FLOAT_EQ(out[4], (0 + 0.5f) / 2);
  EXPECT_FLOAT_EQ(out[5], (1 + 0.5f) / 2);
}

TEST(RandomForest, DepthLimitedPredictionUsesTheWeightedNodeDistribution) {
  auto forest = RandomForest::create(two_tree_parts());
  ASSERT_TRUE(forest.ok());
  const float x[] = {-2, 0};
  float fast[2], naive[2];
  PredictOptions options;
  options.max_depth = 1;  // tree 0 stops at its node 1: leaves 0 (w 2) and 1 (w 4)
  ASSERT_TRUE(
      forest->predict(FeatureMatrix(x, 1, 2), MatrixView<float>(fast, 1, 2), nullptr, options)
          .ok());
  ASSERT_TRUE(
      forest->predict_naive(FeatureMatrix(x, 1, 2), MatrixView<float>(naive, 1, 2), options).ok());
  const double node1_class1 = (2 * 1.0 + 4 * 0.25) / 6;
  EXPECT_FLOAT_EQ(fast[0], static_cast<float>((node1_class1 + 0.5) / 2));
  EXPECT_EQ(std::memcmp(fast, naive, sizeof fast), 0);
}

TEST(RandomForest, RowsWithNaNGiveZeroProbabilities) {
  auto forest = RandomForest::create(two_tree_parts());
  ASSERT_TRUE(forest.ok());
  const float x[] = {std::nanf(""), 0, 1, 1};
  float out[4];
  ASSERT_TRUE(forest->predict(FeatureMatrix(x, 2, 2), MatrixView<float>(out, 2, 2)).ok());
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 0.0f);
  EXPECT_GT(out[2] + out[3], 0.99f);
}

TEST(RandomForest, RejectsCorruptParts) {
  auto expect_corrupt = [](ForestParts p, const char* what) {
    auto forest = RandomForest::create(std::move(p));
    ASSERT_FALSE(forest.ok()) << what;
    EXPECT_EQ(forest.error().code(), ErrorCode::kCorrupt) << what;
  };
  {
    auto p = two_tree_parts();
    p.nodes[0].children[0] = 0;  // a loop
    expect_corrupt(p, "self loop");
  }
  {
    auto p = two_tree_parts();
    p.nodes[0].children[0] = 5;
    expect_corrupt(p, "child outside the tree");
  }
  {
    auto p = two_tree_parts();
    p.nodes[1].children[1] = ForestNode::leaf_child(3);
    expect_corrupt(p, "leaf outside the tree");
  }
  {
    auto p = two_tree_parts();
    p.nodes[1].feature = 2;
    expect_corrupt(p, "feature out of range");
  }
  {
    auto p = two_tree_parts();
    p.nodes[1].threshold = std::nanf("");
    expect_corrupt(p, "NaN threshold");
  }
  {
    auto p = two_tree_parts();
    p.leaf_values.pop_back();
    expect_corrupt(p, "short leaf table");
  }
  {
    auto p = two_tree_parts();
    p.leaf_values[0] = std::numeric_limits<float>::infinity();
    expect_corrupt(p, "infinite leaf value");
  }
  {
    auto p = two_tree_parts();
    p.tree_node_begin = {0, 3, 3};
    expect_corrupt(p, "empty tree");
  }
  {
    auto p = two_tree_parts();
    p.tree_leaf_begin = {0, 3, 5};
    expect_corrupt(p, "offsets past the end");
  }
  {
    auto p = two_tree_parts();
    p.class_labels = {2, 1};
    expect_corrupt(p, "labels not ascending");
  }
  {
    auto p = two_tree_parts();
    p.tree_node_begin = {0};
    p.tree_leaf_begin = {0};
    expect_corrupt(p, "no trees");
  }
}

TEST(RandomForest, PredictChecksShapes) {
  auto forest = RandomForest::create(two_tree_parts());
  ASSERT_TRUE(forest.ok());
  const float x[6] = {};
  float out[6];
  auto wrong_width = forest->predict(FeatureMatrix(x, 2, 3), MatrixView<float>(out, 2, 2));
  ASSERT_FALSE(wrong_width.ok());
  EXPECT_NE(wrong_width.error().message().find("expects 2 features"), std::string::npos);
  EXPECT_FALSE(forest->predict(FeatureMatrix(x, 2, 2), MatrixView<float>(out, 3, 2)).ok());
  EXPECT_FALSE(forest->predict(FeatureMatrix(x, 2, 2), MatrixView<float>(out, 2, 3)).ok());
  RandomForest empty;
  EXPECT_FALSE(empty.predict(FeatureMatrix(x, 2, 2), MatrixView<float>(out, 2, 2)).ok());
}

TEST(RandomForest, ThresholdAsFloatKeepsTheComparison) {
  const double thresholds[] = {
      0.1, -0.1, 1.0 / 3.0, 1e-40, -1e-40, 3.4e38, -3.4e38, 3.4028235677973366e38, 0.0, 2.5};
  for (double t : thresholds) {
    const float f = threshold_as_float(t);
    float probes[] = {
        static_cast<float>(t),
        std::nextafter(static_cast<float>(t), std::numeric_limits<float>::infinity()),
        std::nextafter(static_cast<float>(t), -std::numeric_limits<float>::infinity()),
        f,
        std::nextafter(f, -std::numeric_limits<float>::infinity()),
        std::nextafter(f, std::numeric_limits<float>::infinity())};
    for (float x : probes)
      EXPECT_EQ(x < f, static_cast<double>(x) < t) << "threshold " << t << " probe " << x;
  }
  EXPECT_EQ(threshold_between(1.0f, std::nextafter(1.0f, 2.0f)), std::nextafter(1.0f, 2.0f));
  EXPECT_GT(threshold_between(1.0f, 2.0f), 1.0f);
  EXPECT_LE(threshold_between(1.0f, 2.0f), 2.0f);
}

// The fast path (blocks of samples, trees in turn, lanes walked together) must give exactly what
// the naive walk gives, for every block size, thread count and depth limit.
TEST(RandomForest, FastPredictionEqualsNaiveBitForBit) {
  auto blobs = make_blobs(3000, 12, 4, 6, 1.5, 7);
  ForestOptions options;
  options.tree_count = 23;
  options.seed = 3;
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(forest.ok()) << forest.error().to_string();

  // Test rows: fresh samples, and samples whose features sit exactly on thresholds.
  auto test = make_blobs(1037, 12, 4, 6, 1.5, 99);
  const auto& nodes = forest->parts().nodes;
  for (int64_t r = 0; r < 400; ++r) {
    const ForestNode& node = nodes[(r * 7919) % nodes.size()];
    if (std::isfinite(node.threshold)) test.features[r * 12 + node.feature] = node.threshold;
  }
  test.features[1000 * 12 + 3] = std::nanf("");
  const int64_t k = forest->output_count();
  std::vector<float> naive(test.rows * k), fast(test.rows * k);
  for (int depth : {0, 1, 3, 6}) {
    PredictOptions options;
    options.max_depth = depth;
    ASSERT_TRUE(
        forest->predict_naive(test.matrix(), MatrixView<float>(naive.data(), test.rows, k), options)
            .ok());
    for (int64_t block : {8, 13, 256, 5000}) {
      for (int threads : {0, 1, 3}) {
        ThreadPool pool(std::max(threads, 1));
        options.block_rows = block;
        std::fill(fast.begin(), fast.end(), -1.0f);
        ASSERT_TRUE(forest
                        ->predict(test.matrix(), MatrixView<float>(fast.data(), test.rows, k),
                                  threads == 0 ? nullptr : &pool, options)
                        .ok());
        ASSERT_EQ(std::memcmp(fast.data(), naive.data(), fast.size() * sizeof(float)), 0)
            << "depth " << depth << " block " << block << " threads " << threads;
      }
    }
  }
  for (int64_t c = 0; c < k; ++c) EXPECT_EQ(naive[1000 * k + c], 0.0f);

  // Rows with gaps between them (a channel subset of a wider image) predict the same.
  std::vector<float> padded(test.rows * 15, 1e30f);
  for (int64_t r = 0; r < test.rows; ++r) std::copy_n(&test.features[r * 12], 12, &padded[r * 15]);
  std::vector<float> strided(test.rows * k);
  ASSERT_TRUE(forest
                  ->predict(FeatureMatrix(padded.data(), test.rows, 12, 15),
                            MatrixView<float>(strided.data(), test.rows, k))
                  .ok());
  ASSERT_TRUE(
      forest->predict_naive(test.matrix(), MatrixView<float>(naive.data(), test.rows, k)).ok());
  EXPECT_EQ(strided, naive);
}

// Two classes (the case the block walk collects leaves for, in up to 7 slots per walk) on rows
// in random order: 64 unrelated rows reach many more than 7 leaves of a tree, so the leaves
// past the slots are added directly, and every row must still get exactly one value per tree.
TEST(RandomForest, TwoClassWalksWithManyLeavesEqualNaive) {
  auto blobs = make_blobs(4000, 10, 2, 8, 2.5, 21);
  ForestOptions options;
  options.tree_count = 9;
  options.seed = 4;
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(forest.ok()) << forest.error().to_string();
  ASSERT_EQ(forest->output_count(), 2);
  auto test = make_blobs(777, 10, 2, 8, 2.5, 22);
  std::vector<float> naive(test.rows * 2), fast(test.rows * 2);
  for (int depth : {0, 2, 4, 9}) {
    PredictOptions predict_options;
    predict_options.max_depth = depth;
    ASSERT_TRUE(forest
                    ->predict_naive(test.matrix(), MatrixView<float>(naive.data(), test.rows, 2),
                                    predict_options)
                    .ok());
    ASSERT_TRUE(forest
                    ->predict(test.matrix(), MatrixView<float>(fast.data(), test.rows, 2), nullptr,
                              predict_options)
                    .ok());
    ASSERT_EQ(std::memcmp(fast.data(), naive.data(), fast.size() * sizeof(float)), 0)
        << "depth " << depth;
  }
}

// Fast prediction equals the naive walk bit for bit, at several depth limits, task sizes and
// thread counts.
void expect_fast_equals_naive(const RandomForest& forest, FeatureMatrix x, const char* what) {
  const int64_t k = forest.output_count();
  std::vector<float> naive(x.rows * k), fast(x.rows * k);
  ThreadPool pool(2);
  for (int depth : {0, 1, 2, 5, 1000}) {
    PredictOptions options;
    options.max_depth = depth;
    ASSERT_TRUE(forest.predict_naive(x, MatrixView<float>(naive.data(), x.rows, k), options).ok());
    for (int64_t block : {0, 64, 100, 7}) {
      options.block_rows = block;
      std::fill(fast.begin(), fast.end(), -1.0f);
      ASSERT_TRUE(
          forest.predict(x, MatrixView<float>(fast.data(), x.rows, k), &pool, options).ok());
      ASSERT_EQ(std::memcmp(fast.data(), naive.data(), fast.size() * sizeof(float)), 0)
          << what << ": depth " << depth << " block " << block;
    }
  }
}

// Rows like the pixels of an image: neighbours are alike, so blocks of rows walk a tree
// together for a while and then part. 5 blocks of 64 and a partial one; NaN rows at block edges
// and in the first and last columns.
std::vector<float> coherent_rows(int64_t rows, int64_t columns, uint64_t seed) {
  RandomGenerator random(seed, 7);
  std::vector<float> x(rows * columns);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < columns; ++c)
      x[r * columns + c] = static_cast<float>(
          4 * std::sin(0.05 * static_cast<double>(r) * static_cast<double>(c + 1) + c) +
          0.2 * forest_test::normal(random));
  for (int64_t r : {int64_t{0}, int64_t{63}, int64_t{64}, int64_t{130}, rows - 1})
    x[r * columns + (r % columns)] = std::nanf("");
  x[201 * columns + columns - 1] = std::nanf("");  // in a column past the last full 8
  return x;
}

TEST(RandomForest, BlockWalkEqualsNaiveForAnyClassCountAndRegression) {
  constexpr int64_t kRows = 5 * 64 + 37, kColumns = 9;
  const std::vector<float> x = coherent_rows(kRows, kColumns, 5);
  const FeatureMatrix matrix(x.data(), kRows, kColumns);
  ForestOptions options;
  options.tree_count = 17;
  options.seed = 11;
  for (int classes : {2, 3, 12}) {
    // Training rows are the coherent rows without NaN, labelled by bands of a feature.
    std::vector<float> train;
    std::vector<int32_t> labels;
    for (int64_t r = 0; r < kRows; ++r) {
      const float* row = &x[r * kColumns];
      if (std::any_of(row, row + kColumns, [](float v) { return std::isnan(v); })) continue;
      train.insert(train.end(), row, row + kColumns);
      labels.push_back(static_cast<int32_t>((row[1] + 4.5f) * static_cast<float>(classes) / 9) +
                       static_cast<int32_t>(r % 2) * (classes > 2));
    }
    auto forest = train_classification_forest(
        FeatureMatrix(train.data(), static_cast<int64_t>(labels.size()), kColumns), labels, {},
        options);
    ASSERT_TRUE(forest.ok()) << forest.error().to_string();
    EXPECT_GE(forest->output_count(), std::min(classes, 3));
    expect_fast_equals_naive(*forest, matrix, "classification");
  }
  for (int outputs : {1, 3}) {
    // Targets of both signs, some exactly zero.
    std::vector<float> train, targets;
    for (int64_t r = 0; r < kRows; ++r) {
      const float* row = &x[r * kColumns];
      if (std::any_of(row, row + kColumns, [](float v) { return std::isnan(v); })) continue;
      train.insert(train.end(), row, row + kColumns);
      for (int m = 0; m < outputs; ++m)
        targets.push_back(r % 5 == 0 ? 0.0f : row[m] * row[m + 1] - 1.0f);
    }
    const int64_t n = static_cast<int64_t>(train.size()) / kColumns;
    auto forest = train_regression_forest(FeatureMatrix(train.data(), n, kColumns),
                                          FeatureMatrix(targets.data(), n, outputs), {}, options);
    ASSERT_TRUE(forest.ok()) << forest.error().to_string();
    expect_fast_equals_naive(*forest, matrix, "regression");
  }
}

TEST(RandomForest, MergeAveragesByTreeCount) {
  auto blobs = make_blobs(500, 5, 2, 3, 1.0, 1);
  ForestOptions options;
  options.tree_count = 3;
  auto a = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  options.tree_count = 7;
  options.seed = 5;
  auto b = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(a.ok() && b.ok());
  const RandomForest both[] = {*a, *b};
  auto merged = RandomForest::merge(both);
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  EXPECT_EQ(merged->tree_count(), 10);
  std::vector<float> pa(1000), pb(1000), pm(1000);
  ASSERT_TRUE(a->predict(blobs.matrix(), MatrixView<float>(pa.data(), 500, 2)).ok());
  ASSERT_TRUE(b->predict(blobs.matrix(), MatrixView<float>(pb.data(), 500, 2)).ok());
  ASSERT_TRUE(merged->predict(blobs.matrix(), MatrixView<float>(pm.data(), 500, 2)).ok());
  for (size_t i = 0; i < pm.size(); ++i) EXPECT_NEAR(pm[i], (3 * pa[i] + 7 * pb[i]) / 10, 1e-6);

  auto other = make_blobs(50, 6, 2, 3, 1.0, 1);
  auto c = train_classification_forest(other.matrix(), other.labels, {}, options);
  ASSERT_TRUE(c.ok());
  const RandomForest mismatched[] = {*a, *c};
  EXPECT_FALSE(RandomForest::merge(mismatched).ok());
}

TEST(FeatureMatrix, MatrixOfPixels) {
  auto array = Array<float>::allocate({1, 1, 4, 5, 3});
  ASSERT_TRUE(array.ok());
  auto whole = matrix_of_pixels(ConstView<float>(array->view()));
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->rows, 20);
  EXPECT_EQ(whole->columns, 3);
  EXPECT_EQ(whole->row_stride, 3);
  // A channel subset keeps the pixel stride; a crop in x breaks the even spacing.
  auto two_channels = matrix_of_pixels(array->view().channels(0, 2));
  ASSERT_TRUE(two_channels.ok());
  EXPECT_EQ(two_channels->row_stride, 3);
  EXPECT_EQ(two_channels->columns, 2);
  EXPECT_FALSE(matrix_of_pixels(array->view().crop(Box5({0, 0, 0, 1, 0}, {1, 1, 4, 3, 3}))).ok());
  auto row = matrix_of_pixels(array->view().crop(Box5({0, 0, 1, 0, 0}, {1, 1, 2, 5, 3})));
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->rows, 5);
}

}  // namespace
}  // namespace grove
