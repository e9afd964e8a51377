// Training random forests: classification (Gini impurity, as ilastik's VIGRA forest) and
// regression (variance reduction, for density counting; several outputs allowed). For the
// workflows (pixel, object, edge and division classification, counting).
//
// Each tree draws a bootstrap sample and grows until its leaves are pure (or a depth or size
// limit stops it), trying a random subset of the features at each split. Trees are trained in
// parallel; each tree's random stream is seeded from (seed, tree index), so the forest depends
// on the seed only, not on the number of threads.
//
// Split search: features are quantised once into at most 256 bins per feature (exactly, when a
// feature has no more distinct values than that), and nodes with many samples find their split
// from per-bin histograms; nodes with few samples sort them and try every gap between distinct
// values. SplitSearch::kExact sorts at every node (slower, for comparison).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "grove/core/cancel.h"
#include "grove/core/progress.h"
#include "grove/core/thread_pool.h"
#include "grove/learn/random_forest.h"

namespace grove {

enum class SplitSearch : uint8_t { kHistogram, kExact };

struct ForestOptions {
  int tree_count = 100;
  // Features tried at each split; 0: round(√F) for classification (VIGRA's default), max(1, F/3)
  // for regression. If none of them separates the node, the remaining features are tried too.
  int features_per_split = 0;
  int max_depth = 0;                // 0: no limit (grow until pure)
  int min_leaf_size = 1;            // fewest bootstrap samples (counted with repetition) in a leaf
  int min_split_size = 2;           // nodes with fewer bootstrap samples become leaves
  bool bootstrap = true;            // false: every tree sees every sample once
  double bootstrap_fraction = 1.0;  // bootstrap size as a fraction of the samples, in (0, 1]
  // Weighs each class by (total weight) / (classes × class weight), so rare classes count as much
  // as common ones.
  bool balance_classes = false;
  uint64_t seed = 0;
  SplitSearch split_search = SplitSearch::kHistogram;
  int histogram_bins = 256;       // 2..256
  int exact_below = 64;           // nodes with fewer distinct samples sort instead of binning
  bool out_of_bag_error = false;  // measure it (costs about one prediction of the training set)
  // Classification: the class labels, in output column order (ascending). Empty: the distinct
  // labels found. Labels not listed are an error; listed classes without samples are allowed.
  std::vector<int32_t> classes;
};

void to_json(nlohmann::json& json, const ForestOptions& options);
void from_json(const nlohmann::json& json, ForestOptions& options);
// Checks the options against a problem with this many features.
Status check_forest_options(const ForestOptions& options, int64_t feature_count);

// labels: one class id per row. sample_weights: empty, or one weight >= 0 per row (rows of
// weight 0 are left out). Features must be finite.
Result<RandomForest> train_classification_forest(
    FeatureMatrix features, std::span<const int32_t> labels, std::span<const float> sample_weights,
    const ForestOptions& options, ThreadPool* pool = nullptr, const CancelToken* cancel = nullptr,
    Progress* progress = nullptr);

// targets: rows × outputs, finite. The prediction is the mean over trees of the leaves' means.
Result<RandomForest> train_regression_forest(FeatureMatrix features, FeatureMatrix targets,
                                             std::span<const float> sample_weights,
                                             const ForestOptions& options,
                                             ThreadPool* pool = nullptr,
                                             const CancelToken* cancel = nullptr,
                                             Progress* progress = nullptr);

}  // namespace grove
