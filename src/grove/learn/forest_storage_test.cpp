#include "grove/learn/forest_storage.h"

#include <gtest/gtest.h>

#include <cstring>

#include "grove/learn/forest_importance.h"
#include "grove/learn/forest_test_util.h"
#include "grove/learn/forest_training.h"
#include "grove/learn/vigra_forest.h"

namespace grove {
namespace {

using forest_test::make_blobs;

std::vector<float> predict_all(const RandomForest& forest, FeatureMatrix x) {
  std::vector<float> p(x.rows * forest.output_count());
  EXPECT_TRUE(forest.predict(x, MatrixView<float>(p.data(), x.rows, forest.output_count())).ok());
  return p;
}

TEST(ForestStorage, RoundTripPredictsBitForBit) {
  auto blobs = make_blobs(1500, 9, 3, 4, 1.5, 4);
  ForestOptions options;
  options.tree_count = 15;
  options.out_of_bag_error = true;
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(forest.ok());
  const ForestArrays arrays = forest_to_arrays(*forest, nlohmann::json(options));
  auto back = forest_from_arrays(arrays);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->parts().nodes, forest->parts().nodes);
  EXPECT_EQ(back->class_labels(), forest->class_labels());
  EXPECT_EQ(back->training().gini_importance, forest->training().gini_importance);
  EXPECT_EQ(back->training().out_of_bag_error, forest->training().out_of_bag_error);
  EXPECT_EQ(forest_extra_metadata(arrays).get<ForestOptions>().tree_count, 15);
  auto test = make_blobs(700, 9, 3, 4, 1.5, 5);
  const auto a = predict_all(*forest, test.matrix());
  const auto b = predict_all(*back, test.matrix());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);

  // Regression too.
  std::vector<float> targets(blobs.rows);
  for (int64_t r = 0; r < blobs.rows; ++r) targets[r] = blobs.features[r * 9] * 2;
  auto regression = train_regression_forest(
      blobs.matrix(), FeatureMatrix(targets.data(), blobs.rows, 1), {}, options);
  ASSERT_TRUE(regression.ok());
  auto regression_back = forest_from_arrays(forest_to_arrays(*regression));
  ASSERT_TRUE(regression_back.ok());
  EXPECT_EQ(regression_back->kind(), ForestKind::kRegression);
  EXPECT_EQ(predict_all(*regression, test.matrix()), predict_all(*regression_back, test.matrix()));
}

TEST(ForestStorage, CorruptOrNewerStoresAreRefused) {
  auto blobs = make_blobs(300, 4, 2, 2, 1.0, 4);
  ForestOptions options;
  options.tree_count = 3;
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(forest.ok());
  const ForestArrays good = forest_to_arrays(*forest);
  auto code_of = [](const ForestArrays& arrays) {
    auto r = forest_from_arrays(arrays);
    return r.ok() ? std::optional<ErrorCode>() : std::optional<ErrorCode>(r.error().code());
  };
  EXPECT_FALSE(code_of(good).has_value());
  ForestArrays bad = good;
  bad.metadata = "{not json";
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = good;
  bad.metadata = R"({"format": "something else", "version": 1})";
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = good;
  auto metadata = nlohmann::json::parse(good.metadata);
  metadata["version"] = kForestFormatVersion + 1;
  bad.metadata = metadata.dump();
  EXPECT_EQ(code_of(bad), ErrorCode::kUnsupported);
  metadata = nlohmann::json::parse(good.metadata);
  metadata["feature_count"] = "many";
  bad.metadata = metadata.dump();
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  metadata = nlohmann::json::parse(good.metadata);
  metadata["tree_count"] = 4;
  bad.metadata = metadata.dump();
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  metadata = nlohmann::json::parse(good.metadata);
  metadata["feature_count"] = 1;  // nodes use features up to 3
  bad.metadata = metadata.dump();
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = good;
  bad.node_left.pop_back();
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = good;
  bad.node_right[0] = 1 << 30;
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = good;
  bad.tree_leaf_begin.back() += 1;
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = good;
  bad.leaf_values.resize(3);
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  // Random damage to the arrays never crashes: it loads or it is refused.
  RandomGenerator random(9, 9);
  for (int trial = 0; trial < 2000; ++trial) {
    ForestArrays damaged = good;
    const size_t i = random.below(damaged.node_left.size());
    const int32_t value = static_cast<int32_t>(random.below(64)) - 32;
    switch (random.below(4)) {
      case 0: damaged.node_left[i] = value; break;
      case 1: damaged.node_right[i] = value; break;
      case 2: damaged.node_feature[i] = static_cast<uint32_t>(value); break;
      case 3: damaged.tree_node_begin[random.below(damaged.tree_node_begin.size())] = value; break;
    }
    auto loaded = forest_from_arrays(damaged);
    if (loaded.ok()) predict_all(*loaded, blobs.matrix());
  }
}

TEST(ForestImportance, PermutationImportanceFindsTheInformativeFeatures) {
  auto train = make_blobs(2000, 8, 3, 2, 1.0, 1);
  auto test = make_blobs(1000, 8, 3, 2, 1.0, 2);
  ForestOptions options;
  options.tree_count = 30;
  ThreadPool pool(2);
  auto forest = train_classification_forest(train.matrix(), train.labels, {}, options, &pool);
  ASSERT_TRUE(forest.ok());
  auto importance = permutation_importance(*forest, test.matrix(), test.labels, {}, &pool);
  ASSERT_TRUE(importance.ok()) << importance.error().to_string();
  ASSERT_EQ(importance->size(), 8u);
  for (int f = 2; f < 8; ++f) {
    EXPECT_GT((*importance)[0], 0.1);
    EXPECT_GT((*importance)[1], 0.1);
    EXPECT_LT(std::abs((*importance)[f]), 0.03) << "noise feature " << f;
  }
  // Deterministic for a seed.
  auto again = permutation_importance(*forest, test.matrix(), test.labels, {}, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*importance, *again);
  EXPECT_FALSE(permutation_importance(*forest, test.matrix(),
                                      std::span<const int32_t>(test.labels.data(), 5))
                   .ok());

  // Regression: the target depends on feature 0 only.
  std::vector<float> targets(train.rows), test_targets(test.rows);
  for (int64_t r = 0; r < train.rows; ++r) targets[r] = 3 * train.features[r * 8];
  for (int64_t r = 0; r < test.rows; ++r) test_targets[r] = 3 * test.features[r * 8];
  auto regression = train_regression_forest(
      train.matrix(), FeatureMatrix(targets.data(), train.rows, 1), {}, options, &pool);
  ASSERT_TRUE(regression.ok());
  auto regression_importance = permutation_importance_regression(
      *regression, test.matrix(), FeatureMatrix(test_targets.data(), test.rows, 1), {}, &pool);
  ASSERT_TRUE(regression_importance.ok());
  for (int f = 1; f < 8; ++f)
    EXPECT_GT((*regression_importance)[0], 10 * std::abs((*regression_importance)[f]));
}

// A tree from PixelClass.ilp (Forest0000/Tree_00): one split of feature 16.
VigraForest small_vigra_forest() {
  VigraForest vigra;
  vigra.column_count = 25;
  vigra.class_count = 2;
  vigra.labels = {1, 2};
  vigra.trees.push_back({{25, 2, 0, 0, 9, 7, 16, 0x40000000, 2, 0x40000000, 5},
                         {1.0, 2.11331248e-03, 63, 0, 1, 94, 1, 0}});
  // A tree that is one leaf, and a deeper one with a non-float threshold.
  vigra.trees.push_back({{25, 2, 0x40000000, 0}, {10, 3, 1}});
  vigra.trees.push_back(
      {{25, 2, 0, 0, 7, 16, 3, 0, 2, 12, 14, 0, 0x40000000, 4, 0x40000000, 7, 0x40000000, 10},
       {1, 0.1, 1, 0.7, 5, 1, 0, 7, 0, 1, 9, 0.5, 0.5}});
  return vigra;
}

TEST(VigraForest, ConvertsTopologyAndParameters) {
  auto forest = forest_from_vigra(small_vigra_forest());
  ASSERT_TRUE(forest.ok()) << forest.error().to_string();
  EXPECT_EQ(forest->tree_count(), 3);
  EXPECT_EQ(forest->class_labels(), (std::vector<int32_t>{1, 2}));
  // Tree 2: root splits feature 3 at 0.1: left (topology 7) splits feature 0 at 0.7 into
  // leaves at 12 (1,0) and 14 (0,1); right is the leaf at 16 (0.5, 0.5).
  std::vector<float> x(3 * 25, 0.0f);
  x[0 * 25 + 16] = 0.0f;                                // tree 0: left leaf (94: 1, 0)
  x[0 * 25 + 3] = 0.05f;                                // tree 2: left, feature 0 = 0 < 0.7
  x[1 * 25 + 16] = static_cast<float>(2.11331248e-03);  // rounds: compare as VIGRA does
  x[1 * 25 + 3] = 0.1f;  // 0.1f > 0.1 (double): goes right as in VIGRA
  x[2 * 25 + 3] = -1.0f;
  x[2 * 25 + 0] = 0.7f;  // 0.7f < 0.7 (double) is false: right
  std::vector<float> p(6);
  ASSERT_TRUE(
      forest->predict(FeatureMatrix(x.data(), 3, 25), MatrixView<float>(p.data(), 3, 2)).ok());
  const double t16 = 2.11331248e-03;
  const bool row1_left = static_cast<double>(static_cast<float>(t16)) < t16;
  const float leaf_b = 0.75f;  // 3 / (3 + 1)
  EXPECT_FLOAT_EQ(p[0], (1.0f + leaf_b + 1.0f) / 3);
  EXPECT_FLOAT_EQ(p[2], ((row1_left ? 1.0f : 0.0f) + leaf_b + 0.5f) / 3);
  const bool row2_left = static_cast<double>(0.7f) < 0.7;
  EXPECT_FLOAT_EQ(p[4], (1.0f + leaf_b + (row2_left ? 1.0f : 0.0f)) / 3);
}

TEST(VigraForest, CorruptForestsAreRefused) {
  auto code_of = [](const VigraForest& vigra) {
    auto r = forest_from_vigra(vigra);
    return r.ok() ? std::optional<ErrorCode>() : std::optional<ErrorCode>(r.error().code());
  };
  auto bad = small_vigra_forest();
  bad.trees[2].topology[4] = 200;  // child outside
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = small_vigra_forest();
  bad.trees[2].topology[4] = 2;  // child is the root: a loop
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = small_vigra_forest();
  bad.trees[2].topology[6] = 25;  // feature out of range
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = small_vigra_forest();
  bad.trees[0].parameters.resize(6);  // leaf parameters cut off
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = small_vigra_forest();
  bad.trees[0].topology[0] = 24;
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  bad = small_vigra_forest();
  bad.trees[0].topology[2] = 1;  // hyperplane node
  EXPECT_EQ(code_of(bad), ErrorCode::kUnsupported);
  bad = small_vigra_forest();
  bad.labels = {2, 1};
  EXPECT_EQ(code_of(bad), ErrorCode::kUnsupported);
  bad = small_vigra_forest();
  bad.trees.clear();
  EXPECT_EQ(code_of(bad), ErrorCode::kCorrupt);
  // Random damage never crashes.
  RandomGenerator random(3, 3);
  for (int trial = 0; trial < 3000; ++trial) {
    VigraForest damaged = small_vigra_forest();
    VigraTree& tree = damaged.trees[random.below(3)];
    tree.topology[random.below(tree.topology.size())] = static_cast<int32_t>(random.below(40)) - 5;
    auto loaded = forest_from_vigra(damaged);
    if (loaded.ok()) {
      std::vector<float> x(25, 0.5f), p(2);
      EXPECT_TRUE(
          loaded->predict(FeatureMatrix(x.data(), 1, 25), MatrixView<float>(p.data(), 1, 2)).ok());
    }
  }
}

}  // namespace
}  // namespace grove
