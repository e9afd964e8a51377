// Permutation importance of a forest's features: how much worse the forest does on a data set
// when one feature's column is shuffled (breaking its link to the answer). Unlike the Gini
// importance gathered in training, it works for any forest (imported ones too) and is not biased
// towards features with many distinct values. For the workflows' feature-selection views.
#pragma once

#include <span>
#include <vector>

#include "grove/learn/random_forest.h"

namespace grove {

struct PermutationImportanceOptions {
  int repeats = 3;  // shuffles per feature, averaged
  uint64_t seed = 0;
};

// Classification: per feature, accuracy on (features, labels) minus the mean accuracy with that
// feature shuffled. labels are class ids (as in RandomForest::class_labels()).
Result<std::vector<double>> permutation_importance(const RandomForest& forest,
                                                   FeatureMatrix features,
                                                   std::span<const int32_t> labels,
                                                   const PermutationImportanceOptions& options = {},
                                                   ThreadPool* pool = nullptr);

// Regression: per feature, the mean squared error (averaged over outputs) with the feature
// shuffled minus the error without.
Result<std::vector<double>> permutation_importance_regression(
    const RandomForest& forest, FeatureMatrix features, FeatureMatrix targets,
    const PermutationImportanceOptions& options = {}, ThreadPool* pool = nullptr);

}  // namespace grove
