#include "grove/learn/forest_training.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "grove/learn/forest_test_util.h"

namespace grove {
namespace {

using forest_test::accuracy;
using forest_test::make_blobs;
using forest_test::normal;
using forest_test::uniform;

bool same_forest(const RandomForest& a, const RandomForest& b) {
  const ForestParts& p = a.parts();
  const ForestParts& q = b.parts();
  return p.nodes == q.nodes && p.leaf_values == q.leaf_values && p.leaf_weights == q.leaf_weights &&
         p.tree_node_begin == q.tree_node_begin && p.tree_leaf_begin == q.tree_leaf_begin &&
         p.class_labels == q.class_labels &&
         p.training.gini_importance == q.training.gini_importance &&
         p.training.out_of_bag_error == q.training.out_of_bag_error;
}

TEST(ForestTraining, SameSeedSameForestWhateverTheThreads) {
  auto blobs = make_blobs(2000, 16, 3, 5, 1.2, 11);
  for (SplitSearch search : {SplitSearch::kHistogram, SplitSearch::kExact}) {
    ForestOptions options;
    options.tree_count = 12;
    options.seed = 77;
    options.split_search = search;
    options.out_of_bag_error = true;
    auto serial = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
    ASSERT_TRUE(serial.ok()) << serial.error().to_string();
    for (int threads : {1, 2, 4}) {
      ThreadPool pool(threads);
      auto parallel = train_classification_forest(blobs.matrix(), blobs.labels, {}, options, &pool);
      ASSERT_TRUE(parallel.ok());
      EXPECT_TRUE(same_forest(*serial, *parallel)) << threads << " threads";
    }
    options.seed = 78;
    auto other = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(same_forest(*serial, *other));
  }
}

TEST(ForestTraining, SeparableProblemIsLearned) {
  auto train = make_blobs(4000, 20, 4, 6, 0.8, 1);
  auto test = make_blobs(2000, 20, 4, 6, 0.8, 2);
  for (SplitSearch search : {SplitSearch::kHistogram, SplitSearch::kExact}) {
    ForestOptions options;
    options.split_search = search;
    options.tree_count = 50;
    options.out_of_bag_error = true;
    ThreadPool pool(2);
    auto forest = train_classification_forest(train.matrix(), train.labels, {}, options, &pool);
    ASSERT_TRUE(forest.ok()) << forest.error().to_string();
    EXPECT_EQ(forest->output_count(), 4);
    EXPECT_EQ(forest->class_labels(), (std::vector<int32_t>{0, 1, 2, 3}));
    auto predicted = forest->predict_labels(test.matrix(), &pool);
    ASSERT_TRUE(predicted.ok());
    const double test_accuracy = accuracy(*predicted, test.labels);
    EXPECT_GT(test_accuracy, 0.97);
    ASSERT_TRUE(forest->training().out_of_bag_error.has_value());
    EXPECT_NEAR(*forest->training().out_of_bag_error, 1.0 - test_accuracy, 0.03);
    // Probabilities are distributions.
    std::vector<float> p(test.rows * 4);
    ASSERT_TRUE(forest->predict(test.matrix(), MatrixView<float>(p.data(), test.rows, 4)).ok());
    for (int64_t r = 0; r < test.rows; ++r)
      EXPECT_NEAR(p[4 * r] + p[4 * r + 1] + p[4 * r + 2] + p[4 * r + 3], 1.0, 1e-5);
  }
}

TEST(ForestTraining, GrownToPurityFitsTheTrainingSet) {
  auto blobs = make_blobs(1500, 8, 3, 8, 2.0, 5);  // heavy overlap, no duplicate rows
  ForestOptions options;
  options.tree_count = 1;
  options.bootstrap = false;
  for (SplitSearch search : {SplitSearch::kHistogram, SplitSearch::kExact}) {
    options.split_search = search;
    auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
    ASSERT_TRUE(forest.ok());
    auto predicted = forest->predict_labels(blobs.matrix());
    ASSERT_TRUE(predicted.ok());
    EXPECT_EQ(accuracy(*predicted, blobs.labels), 1.0);
  }
  // A depth limit stops it.
  options.max_depth = 2;
  auto shallow = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(shallow.ok());
  EXPECT_LE(shallow->max_depth(), 2);
  EXPECT_LE(shallow->leaf_count(), 4);
  // A minimum leaf size keeps leaves big.
  options.max_depth = 0;
  options.min_leaf_size = 50;
  auto coarse = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(coarse.ok());
  for (float w : coarse->parts().leaf_weights) EXPECT_GE(w, 50.0f);
}

TEST(ForestTraining, ClassIdsAreMappedAndKept) {
  auto blobs = make_blobs(600, 4, 2, 4, 0.5, 3);
  std::vector<int32_t> ids(blobs.labels.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = blobs.labels[i] == 0 ? 7 : 3;
  ForestOptions options;
  options.tree_count = 10;
  auto forest = train_classification_forest(blobs.matrix(), ids, {}, options);
  ASSERT_TRUE(forest.ok());
  EXPECT_EQ(forest->class_labels(), (std::vector<int32_t>{3, 7}));
  auto predicted = forest->predict_labels(blobs.matrix());
  ASSERT_TRUE(predicted.ok());
  EXPECT_GT(accuracy(*predicted, ids), 0.95);
  // Columns for classes without samples, when asked for.
  options.classes = {1, 3, 5, 7};
  auto wide = train_classification_forest(blobs.matrix(), ids, {}, options);
  ASSERT_TRUE(wide.ok()) << wide.error().to_string();
  EXPECT_EQ(wide->output_count(), 4);
  std::vector<float> p(blobs.rows * 4);
  ASSERT_TRUE(wide->predict(blobs.matrix(), MatrixView<float>(p.data(), blobs.rows, 4)).ok());
  for (int64_t r = 0; r < blobs.rows; ++r) {
    EXPECT_EQ(p[4 * r], 0.0f);
    EXPECT_EQ(p[4 * r + 2], 0.0f);
  }
  options.classes = {3, 5};
  EXPECT_FALSE(train_classification_forest(blobs.matrix(), ids, {}, options).ok());
}

TEST(ForestTraining, WeightsAndClassBalance) {
  // 95% class 0, 5% class 1, heavily overlapping: unbalanced, the forest mostly says 0.
  RandomGenerator random(1, 2);
  const int64_t rows = 4000;
  std::vector<float> x(rows * 2);
  std::vector<int32_t> y(rows);
  for (int64_t r = 0; r < rows; ++r) {
    y[r] = uniform(random) < 0.05 ? 1 : 0;
    x[2 * r] = static_cast<float>(normal(random) + (y[r] ? 1.0 : 0.0));
    x[2 * r + 1] = static_cast<float>(normal(random));
  }
  const FeatureMatrix features(x.data(), rows, 2);
  ForestOptions options;
  options.tree_count = 30;
  options.min_leaf_size = 20;
  auto count_ones = [&](const RandomForest& forest) {
    auto labels = forest.predict_labels(features);
    return std::count(labels->begin(), labels->end(), 1);
  };
  auto plain = train_classification_forest(features, y, {}, options);
  options.balance_classes = true;
  auto balanced = train_classification_forest(features, y, {}, options);
  ASSERT_TRUE(plain.ok() && balanced.ok());
  EXPECT_GT(count_ones(*balanced), 3 * count_ones(*plain) + 100);
  // Weights do the same by hand.
  options.balance_classes = false;
  std::vector<float> weights(rows);
  for (int64_t r = 0; r < rows; ++r) weights[r] = y[r] ? 19.0f : 1.0f;
  auto weighted = train_classification_forest(features, y, weights, options);
  ASSERT_TRUE(weighted.ok());
  EXPECT_GT(count_ones(*weighted), 3 * count_ones(*plain) + 100);
  // Rows of weight 0 are left out: only class 0 remains.
  for (int64_t r = 0; r < rows; ++r) weights[r] = y[r] ? 0.0f : 1.0f;
  auto one_class = train_classification_forest(features, y, weights, options);
  ASSERT_FALSE(one_class.ok());
}

TEST(ForestTraining, GiniImportanceRanksInformativeFeaturesFirst) {
  auto blobs = make_blobs(3000, 12, 3, 3, 1.0, 21);
  ForestOptions options;
  options.tree_count = 40;
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(forest.ok());
  const auto& importance = forest->training().gini_importance;
  ASSERT_EQ(importance.size(), 12u);
  EXPECT_NEAR(std::accumulate(importance.begin(), importance.end(), 0.0), 1.0, 1e-9);
  const double weakest_informative = *std::min_element(importance.begin(), importance.begin() + 3);
  const double strongest_noise = *std::max_element(importance.begin() + 3, importance.end());
  EXPECT_GT(weakest_informative, 2 * strongest_noise);
}

TEST(ForestTraining, OutOfBagErrorOfRandomLabelsIsNearChance) {
  auto blobs = make_blobs(2000, 6, 2, 0, 1.0, 8);  // no informative feature
  ForestOptions options;
  options.tree_count = 30;
  options.out_of_bag_error = true;
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(forest.ok());
  EXPECT_NEAR(*forest->training().out_of_bag_error, 0.5, 0.06);
}

TEST(ForestTraining, RegressionFitsASmoothFunction) {
  RandomGenerator random(4, 4);
  const int64_t rows = 3000, test_rows = 1000;
  auto make = [&](int64_t n, std::vector<float>& x, std::vector<float>& y) {
    x.resize(n * 3);
    y.resize(n * 2);
    for (int64_t r = 0; r < n; ++r) {
      for (int c = 0; c < 3; ++c) x[3 * r + c] = static_cast<float>(4 * uniform(random) - 2);
      y[2 * r] = std::sin(2 * x[3 * r]) + 0.05f * static_cast<float>(normal(random));
      y[2 * r + 1] = x[3 * r + 1] * x[3 * r + 1];
    }
  };
  std::vector<float> x, y, tx, ty;
  make(rows, x, y);
  make(test_rows, tx, ty);
  ForestOptions options;
  options.tree_count = 40;
  options.out_of_bag_error = true;
  ThreadPool pool(2);
  for (SplitSearch search : {SplitSearch::kHistogram, SplitSearch::kExact}) {
    options.split_search = search;
    auto forest = train_regression_forest(FeatureMatrix(x.data(), rows, 3),
                                          FeatureMatrix(y.data(), rows, 2), {}, options, &pool);
    ASSERT_TRUE(forest.ok()) << forest.error().to_string();
    EXPECT_EQ(forest->kind(), ForestKind::kRegression);
    std::vector<float> p(test_rows * 2);
    ASSERT_TRUE(forest
                    ->predict(FeatureMatrix(tx.data(), test_rows, 3),
                              MatrixView<float>(p.data(), test_rows, 2), &pool)
                    .ok());
    for (int m = 0; m < 2; ++m) {
      double residual = 0, total = 0, mean = 0;
      for (int64_t r = 0; r < test_rows; ++r) mean += ty[2 * r + m] / test_rows;
      for (int64_t r = 0; r < test_rows; ++r) {
        residual += std::pow(p[2 * r + m] - ty[2 * r + m], 2);
        total += std::pow(ty[2 * r + m] - mean, 2);
      }
      EXPECT_GT(1 - residual / total, 0.95) << "output " << m;
    }
    const auto& importance = forest->training().gini_importance;
    EXPECT_LT(importance[2], importance[0]);
    EXPECT_LT(importance[2], importance[1]);
    ASSERT_TRUE(forest->training().out_of_bag_error.has_value());
    EXPECT_LT(*forest->training().out_of_bag_error, 0.05);
  }
}

TEST(ForestTraining, BadInputGivesClearErrors) {
  auto blobs = make_blobs(100, 4, 2, 2, 1.0, 1);
  ForestOptions options;
  options.tree_count = 3;
  auto expect_error = [](const Result<RandomForest>& r, const char* needle) {
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().to_string().find(needle), std::string::npos) << r.error().to_string();
  };
  std::vector<int32_t> one_class(100, 1);
  expect_error(train_classification_forest(blobs.matrix(), one_class, {}, options),
               "at least two classes");
  expect_error(
      train_classification_forest(FeatureMatrix(blobs.features.data(), 0, 4), {}, {}, options),
      "no training samples");
  auto nan = blobs;
  nan.features[17] = std::nanf("");
  expect_error(train_classification_forest(nan.matrix(), nan.labels, {}, options),
               "feature 1 of sample 4 is nan");
  auto inf = blobs;
  inf.features[5] = -std::numeric_limits<float>::infinity();
  expect_error(train_classification_forest(inf.matrix(), inf.labels, {}, options),
               "must be finite");
  std::vector<int32_t> short_labels(blobs.labels.begin(), blobs.labels.end() - 1);
  expect_error(train_classification_forest(blobs.matrix(), short_labels, {}, options), "99 labels");
  std::vector<float> weights(100, 1.0f);
  weights[3] = -1;
  expect_error(train_classification_forest(blobs.matrix(), blobs.labels, weights, options),
               "sample weight -1");
  expect_error(train_classification_forest(blobs.matrix(), blobs.labels,
                                           std::span<const float>(weights.data(), 10), options),
               "10 sample weights");
  ForestOptions bad = options;
  bad.features_per_split = 5;
  expect_error(train_classification_forest(blobs.matrix(), blobs.labels, {}, bad),
               "features_per_split");
  bad = options;
  bad.tree_count = 0;
  expect_error(train_classification_forest(blobs.matrix(), blobs.labels, {}, bad), "tree_count");
  bad = options;
  bad.bootstrap_fraction = 0;
  expect_error(train_classification_forest(blobs.matrix(), blobs.labels, {}, bad),
               "bootstrap_fraction");
  std::vector<float> targets(100, 1.0f);
  targets[9] = std::nanf("");
  expect_error(
      train_regression_forest(blobs.matrix(), FeatureMatrix(targets.data(), 100, 1), {}, options),
      "target 0 of sample 9");
}

TEST(ForestTraining, CancelStopsTraining) {
  auto blobs = make_blobs(2000, 8, 2, 4, 1.0, 1);
  CancelToken cancel;
  cancel.cancel();
  ForestOptions options;
  auto forest =
      train_classification_forest(blobs.matrix(), blobs.labels, {}, options, nullptr, &cancel);
  ASSERT_FALSE(forest.ok());
  EXPECT_EQ(forest.error().code(), ErrorCode::kCancelled);
}

template <class T>
std::vector<T> read_raw(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<T> values(static_cast<size_t>(in.tellg()) / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(T)));
  return values;
}

// A real problem: ilastik's features of a fluorescence image, brush strokes for training and
// other strokes for testing (forest_real_data_reference.py, which also scores VIGRA's forest).
TEST(ForestTraining, RealImageStrokesAsWellAsVigra) {
  const std::string shared = GROVE_SOURCE_DIR "/../shared";
  if (!std::filesystem::exists(shared + "/data/ilastik_testdata/inputdata/2d.h5"))
    GTEST_SKIP() << "shared test data not found at " << shared;
  const auto folder = std::filesystem::temp_directory_path() /
                      ("grove_forest_real_data_" + std::to_string(getpid()));
  const std::string command = "/usr/bin/python3 " GROVE_SOURCE_DIR
                              "/src/grove/learn/forest_real_data_reference.py '" +
                              shared + "' '" + folder.string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream meta_file(folder / "meta.json");
  const auto meta = nlohmann::json::parse(meta_file);
  const int64_t columns = meta["columns"];
  const auto train = read_raw<float>(folder / "train.f32");
  const auto train_labels = read_raw<int32_t>(folder / "train_labels.i32");
  const auto test = read_raw<float>(folder / "test.f32");
  const auto test_labels = read_raw<int32_t>(folder / "test_labels.i32");
  std::filesystem::remove_all(folder);
  const double vigra_accuracy = meta["vigra_accuracy"];
  ThreadPool pool(2);
  for (SplitSearch search : {SplitSearch::kHistogram, SplitSearch::kExact}) {
    ForestOptions options;
    options.split_search = search;
    auto forest = train_classification_forest(
        FeatureMatrix(train.data(), static_cast<int64_t>(train_labels.size()), columns),
        train_labels, {}, options, &pool);
    ASSERT_TRUE(forest.ok()) << forest.error().to_string();
    auto predicted = forest->predict_labels(
        FeatureMatrix(test.data(), static_cast<int64_t>(test_labels.size()), columns), &pool);
    ASSERT_TRUE(predicted.ok());
    const double grove_accuracy = accuracy(*predicted, test_labels);
    std::printf("real strokes (%s search): grove accuracy %.4f, VIGRA %.4f\n",
                search == SplitSearch::kExact ? "exact" : "histogram", grove_accuracy,
                vigra_accuracy);
    EXPECT_GT(grove_accuracy, 0.97);
    EXPECT_GE(grove_accuracy, vigra_accuracy - 0.005);
  }
}

TEST(ForestTraining, OptionsJsonRoundTrip) {
  ForestOptions options;
  options.tree_count = 17;
  options.features_per_split = 3;
  options.max_depth = 9;
  options.min_leaf_size = 2;
  options.balance_classes = true;
  options.seed = 123456789012345ull;
  options.split_search = SplitSearch::kExact;
  options.classes = {1, 2, 5};
  const nlohmann::json json = options;
  const ForestOptions back = json.get<ForestOptions>();
  EXPECT_EQ(nlohmann::json(back), json);
  EXPECT_EQ(back.seed, options.seed);
  EXPECT_EQ(back.split_search, SplitSearch::kExact);
}

}  // namespace
}  // namespace grove
