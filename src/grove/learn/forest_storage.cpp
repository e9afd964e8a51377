#include "grove/learn/forest_storage.h"

#include <cmath>

namespace grove {

ForestArrays forest_to_arrays(const RandomForest& forest, const nlohmann::json& extra) {
  const ForestParts& parts = forest.parts();
  ForestArrays arrays;
  nlohmann::json training = {{"sample_count", parts.training.sample_count},
                             {"gini_importance", parts.training.gini_importance}};
  if (parts.training.out_of_bag_error && std::isfinite(*parts.training.out_of_bag_error))
    training["out_of_bag_error"] = *parts.training.out_of_bag_error;
  nlohmann::json metadata = {
      {"format", kForestFormatName},          {"version", kForestFormatVersion},
      {"kind", forest_kind_name(parts.kind)}, {"feature_count", parts.feature_count},
      {"output_count", parts.output_count},   {"tree_count", forest.tree_count()},
      {"class_labels", parts.class_labels},   {"training", training},
  };
  if (!extra.is_null()) metadata["extra"] = extra;
  arrays.metadata = metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const size_t nodes = parts.nodes.size();
  arrays.node_feature.resize(nodes);
  arrays.node_threshold.resize(nodes);
  arrays.node_left.resize(nodes);
  arrays.node_right.resize(nodes);
  for (size_t i = 0; i < nodes; ++i) {
    arrays.node_feature[i] = parts.nodes[i].feature;
    arrays.node_threshold[i] = parts.nodes[i].threshold;
    arrays.node_left[i] = parts.nodes[i].children[0];
    arrays.node_right[i] = parts.nodes[i].children[1];
  }
  arrays.tree_node_begin = parts.tree_node_begin;
  arrays.leaf_values = parts.leaf_values;
  arrays.leaf_weights = parts.leaf_weights;
  arrays.tree_leaf_begin = parts.tree_leaf_begin;
  return arrays;
}

namespace {

Error corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "stored random forest: " + what);
}

// The metadata's fields, read without letting a JSON exception escape.
Result<std::pair<ForestParts, int64_t>> parse_metadata(const std::string& text) {
  const nlohmann::json metadata = nlohmann::json::parse(text, nullptr, false);
  if (metadata.is_discarded() || !metadata.is_object())
    return corrupt("metadata is not a JSON object");
  try {
    if (metadata.value("format", std::string()) != kForestFormatName)
      return corrupt(fmt::format("metadata format is not \"{}\"", kForestFormatName));
    const int version = metadata.at("version").get<int>();
    if (version < 1) return corrupt(fmt::format("format version {}", version));
    if (version > kForestFormatVersion)
      return make_error(ErrorCode::kUnsupported,
                        "stored random forest has format version {}; this grove reads up to {}",
                        version, kForestFormatVersion);
    ForestParts parts;
    const std::string kind = metadata.at("kind").get<std::string>();
    if (kind == "classification")
      parts.kind = ForestKind::kClassification;
    else if (kind == "regression")
      parts.kind = ForestKind::kRegression;
    else
      return corrupt(fmt::format("unknown kind \"{}\"", kind));
    parts.feature_count = metadata.at("feature_count").get<int64_t>();
    parts.output_count = metadata.at("output_count").get<int64_t>();
    parts.class_labels = metadata.value("class_labels", std::vector<int32_t>{});
    if (metadata.contains("training")) {
      const nlohmann::json& training = metadata.at("training");
      parts.training.sample_count = training.value("sample_count", int64_t{0});
      parts.training.gini_importance = training.value("gini_importance", std::vector<double>{});
      if (training.contains("out_of_bag_error"))
        parts.training.out_of_bag_error = training.at("out_of_bag_error").get<double>();
    }
    // The tree count is also implied by the offsets; a mismatch means a mixed-up store.
    const int64_t tree_count = metadata.at("tree_count").get<int64_t>();
    return std::make_pair(std::move(parts), tree_count);
  } catch (const nlohmann::json::exception& e) {
    return corrupt(std::string("metadata: ") + e.what());
  }
}

}  // namespace

Result<RandomForest> forest_from_arrays(const ForestArrays& arrays) {
  GROVE_ASSIGN_OR_RETURN(auto metadata, parse_metadata(arrays.metadata));
  ForestParts parts = std::move(metadata.first);
  if (static_cast<int64_t>(arrays.tree_node_begin.size()) != metadata.second + 1)
    return corrupt(fmt::format("metadata says {} trees, the node offsets {}", metadata.second,
                               static_cast<int64_t>(arrays.tree_node_begin.size()) - 1));
  const size_t nodes = arrays.node_feature.size();
  if (arrays.node_threshold.size() != nodes || arrays.node_left.size() != nodes ||
      arrays.node_right.size() != nodes)
    return corrupt(fmt::format("node arrays differ in length ({}, {}, {}, {})", nodes,
                               arrays.node_threshold.size(), arrays.node_left.size(),
                               arrays.node_right.size()));
  parts.nodes.resize(nodes);
  for (size_t i = 0; i < nodes; ++i)
    parts.nodes[i] = {arrays.node_feature[i], arrays.node_threshold[i], arrays.node_left[i],
                      arrays.node_right[i]};
  parts.tree_node_begin = arrays.tree_node_begin;
  parts.leaf_values = arrays.leaf_values;
  parts.leaf_weights = arrays.leaf_weights;
  parts.tree_leaf_begin = arrays.tree_leaf_begin;
  return RandomForest::create(std::move(parts));
}

nlohmann::json forest_extra_metadata(const ForestArrays& arrays) {
  const nlohmann::json metadata = nlohmann::json::parse(arrays.metadata, nullptr, false);
  if (metadata.is_discarded() || !metadata.is_object() || !metadata.contains("extra"))
    return nullptr;
  return metadata["extra"];
}

}  // namespace grove
