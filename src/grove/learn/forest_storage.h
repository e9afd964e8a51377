// A random forest as plain arrays plus a small JSON document: the versioned, self-describing form
// the project layer stores in the grove project file (HDF5 datasets named as below, the JSON as
// a string). For the project layer and anything else that keeps forests.
//
// Version 1:
//   metadata (JSON)   {"format": "grove.random_forest", "version": 1, "kind": "classification"
//                      | "regression", "feature_count": F, "output_count": K, "tree_count": T,
//                      "class_labels": [...], "training": {"sample_count": n,
//                      "gini_importance": [...], "out_of_bag_error": e}}
//   node_feature      uint32[nodes]   the split feature
//   node_threshold    float32[nodes]  go left when the feature is < threshold
//   node_left         int32[nodes]    child: node index in the tree, or -1 - leaf index
//   node_right        int32[nodes]
//   tree_node_begin   int64[T + 1]    each tree's first node
//   leaf_values       float32[leaves × K]  class probabilities or regression values
//   leaf_weights      float32[leaves]      training weight that reached each leaf
//   tree_leaf_begin   int64[T + 1]    each tree's first leaf
// Readers accept any version up to their own and refuse newer ones with kUnsupported.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "grove/learn/random_forest.h"

namespace grove {

inline constexpr int kForestFormatVersion = 1;
inline constexpr const char* kForestFormatName = "grove.random_forest";

struct ForestArrays {
  std::string metadata;  // JSON, see above
  std::vector<uint32_t> node_feature;
  std::vector<float> node_threshold;
  std::vector<int32_t> node_left;
  std::vector<int32_t> node_right;
  std::vector<int64_t> tree_node_begin;
  std::vector<float> leaf_values;
  std::vector<float> leaf_weights;
  std::vector<int64_t> tree_leaf_begin;
};

// extra: caller's data kept under "extra" in the metadata (e.g. the training options).
ForestArrays forest_to_arrays(const RandomForest& forest, const nlohmann::json& extra = {});
// Checks everything (a corrupt or truncated store gives kCorrupt, a newer format kUnsupported).
Result<RandomForest> forest_from_arrays(const ForestArrays& arrays);
// The "extra" object of stored metadata (null if none or unreadable).
nlohmann::json forest_extra_metadata(const ForestArrays& arrays);

}  // namespace grove
