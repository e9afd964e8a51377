#include "grove/learn/vigra_forest.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "grove/learn/forest_hdf5.h"

namespace grove {
namespace {

constexpr int32_t kVigraSplitNode = 0;          // i_ThresholdNode
constexpr int32_t kVigraLeafNode = 0x40000000;  // e_ConstProbNode
constexpr int64_t kVigraTopologyHeader = 2;     // column count, class count

Error corrupt(int64_t tree, const std::string& what) {
  return Error(ErrorCode::kCorrupt, fmt::format("VIGRA random forest tree {}: {}", tree, what));
}

// Appends one VIGRA tree to parts in grove's layout (pre-order, children after parents).
Status convert_tree(const VigraTree& tree, int64_t tree_index, int64_t columns, int64_t classes,
                    ForestParts& parts) {
  const std::vector<int32_t>& topology = tree.topology;
  const std::vector<double>& parameters = tree.parameters;
  const int64_t topology_size = static_cast<int64_t>(topology.size());
  const int64_t parameter_size = static_cast<int64_t>(parameters.size());
  if (topology_size < kVigraTopologyHeader + 2)
    return corrupt(tree_index, fmt::format("topology has only {} entries", topology_size));
  if (topology[0] != columns || topology[1] != classes)
    return corrupt(tree_index, fmt::format("topology says {} features and {} classes, the forest "
                                           "{} and {}",
                                           topology[0], topology[1], columns, classes));
  const int64_t first_node = static_cast<int64_t>(parts.nodes.size());
  const int64_t first_leaf = static_cast<int64_t>(parts.leaf_weights.size());
  std::vector<bool> visited(topology_size, false);

  struct Pending {
    int64_t at;      // topology index
    int32_t parent;  // grove node index in this tree, -1 for the root
    bool is_left;
  };
  std::vector<Pending> stack{{kVigraTopologyHeader, -1, false}};
  while (!stack.empty()) {
    const Pending pending = stack.back();
    stack.pop_back();
    const int64_t at = pending.at;
    if (at < kVigraTopologyHeader || at + 1 >= topology_size)
      return corrupt(tree_index,
                     fmt::format("node index {} outside the topology ({})", at, topology_size));
    if (visited[at]) return corrupt(tree_index, fmt::format("node {} is reached twice", at));
    visited[at] = true;
    const int32_t type = topology[at];
    const int64_t parameter = topology[at + 1];
    int32_t child;
    if (type == kVigraLeafNode) {
      if (parameter < 0 || parameter + 1 + classes > parameter_size)
        return corrupt(tree_index, fmt::format("leaf parameters at {} outside the parameters ({})",
                                               parameter, parameter_size));
      double sum = 0.0;
      for (int64_t k = 0; k < classes; ++k) {
        const double p = parameters[parameter + 1 + k];
        if (!std::isfinite(p) || p < 0)
          return corrupt(tree_index, fmt::format("leaf at {} has probability {}", at, p));
        sum += p;
      }
      if (!(sum > 0)) return corrupt(tree_index, fmt::format("leaf at {} is all zero", at));
      // VIGRA divides by the sum of the leaves' values; with each leaf normalised, that is
      // the mean over trees, which is what grove computes.
      for (int64_t k = 0; k < classes; ++k)
        parts.leaf_values.push_back(static_cast<float>(parameters[parameter + 1 + k] / sum));
      const double weight = parameters[parameter];
      parts.leaf_weights.push_back(std::isfinite(weight) && weight >= 0 ? static_cast<float>(weight)
                                                                        : 0.0f);
      child =
          ForestNode::leaf_child(static_cast<int64_t>(parts.leaf_weights.size()) - 1 - first_leaf);
      if (pending.parent < 0) {
        // A tree that is only a leaf: a root whose both sides lead there.
        parts.nodes.push_back({0, std::numeric_limits<float>::infinity(), child, child});
        continue;
      }
    } else if (type == kVigraSplitNode) {
      if (at + 4 >= topology_size)
        return corrupt(tree_index, fmt::format("split node at {} runs past the topology", at));
      if (parameter < 0 || parameter + 1 >= parameter_size)
        return corrupt(tree_index, fmt::format("split parameters at {} outside the parameters "
                                               "({})",
                                               parameter, parameter_size));
      const int64_t column = topology[at + 4];
      if (column < 0 || column >= columns)
        return corrupt(tree_index,
                       fmt::format("split node at {} uses feature {} of {}", at, column, columns));
      const double threshold = parameters[parameter + 1];
      if (std::isnan(threshold))
        return corrupt(tree_index, fmt::format("split node at {} has a NaN threshold", at));
      const int64_t index = static_cast<int64_t>(parts.nodes.size()) - first_node;
      if (index >= std::numeric_limits<int32_t>::max())
        return corrupt(tree_index, "too many nodes");
      parts.nodes.push_back({static_cast<uint32_t>(column), threshold_as_float(threshold), 0, 0});
      child = static_cast<int32_t>(index);
      // Left on top: pre-order.
      stack.push_back({topology[at + 3], child, false});
      stack.push_back({topology[at + 2], child, true});
    } else {
      return make_error(ErrorCode::kUnsupported,
                        "VIGRA random forest tree {}: node type {:#x} at {} (only threshold "
                        "splits and constant-probability leaves are supported)",
                        tree_index, type, at);
    }
    if (pending.parent >= 0) {
      ForestNode& parent = parts.nodes[first_node + pending.parent];
      parent.children[pending.is_left ? 0 : 1] = child;
    }
  }
  parts.tree_node_begin.push_back(static_cast<int64_t>(parts.nodes.size()));
  parts.tree_leaf_begin.push_back(static_cast<int64_t>(parts.leaf_weights.size()));
  return ok_status();
}

}  // namespace

Result<RandomForest> forest_from_vigra(const VigraForest& vigra) {
  if (vigra.column_count < 1 || vigra.column_count > std::numeric_limits<int32_t>::max())
    return make_error(ErrorCode::kCorrupt, "VIGRA random forest: {} features", vigra.column_count);
  if (vigra.class_count < 1 || vigra.class_count > 65536)
    return make_error(ErrorCode::kCorrupt, "VIGRA random forest: {} classes", vigra.class_count);
  if (vigra.trees.empty()) return make_error(ErrorCode::kCorrupt, "VIGRA random forest: no trees");
  if (vigra.predict_weighted)
    return make_error(ErrorCode::kUnsupported,
                      "VIGRA random forest predicts weighted by leaf size (predict_weighted_), "
                      "which grove does not support");
  ForestParts parts;
  parts.kind = ForestKind::kClassification;
  parts.feature_count = vigra.column_count;
  parts.output_count = vigra.class_count;
  if (vigra.labels.empty()) {
    for (int64_t k = 0; k < vigra.class_count; ++k)
      parts.class_labels.push_back(static_cast<int32_t>(k));
  } else {
    if (static_cast<int64_t>(vigra.labels.size()) != vigra.class_count)
      return make_error(ErrorCode::kCorrupt, "VIGRA random forest: {} labels for {} classes",
                        vigra.labels.size(), vigra.class_count);
    for (int64_t label : vigra.labels) {
      if (label < std::numeric_limits<int32_t>::min() ||
          label > std::numeric_limits<int32_t>::max())
        return make_error(ErrorCode::kCorrupt, "VIGRA random forest: class label {}", label);
      parts.class_labels.push_back(static_cast<int32_t>(label));
    }
    for (size_t k = 1; k < parts.class_labels.size(); ++k)
      if (parts.class_labels[k] <= parts.class_labels[k - 1])
        return make_error(ErrorCode::kUnsupported,
                          "VIGRA random forest: class labels are not in ascending order");
  }
  parts.tree_node_begin = {0};
  parts.tree_leaf_begin = {0};
  for (size_t t = 0; t < vigra.trees.size(); ++t)
    GROVE_RETURN_IF_ERROR(convert_tree(vigra.trees[t], static_cast<int64_t>(t), vigra.column_count,
                                       vigra.class_count, parts));
  return RandomForest::create(std::move(parts));
}

namespace {

// VIGRA stores its scalars as one-element float64 datasets.
Result<double> read_vigra_scalar(const hdf5::Group& group, const std::string& name) {
  GROVE_ASSIGN_OR_RETURN(std::vector<double> values, read_forest_dataset<double>(group, name));
  if (values.empty())
    return make_error(ErrorCode::kCorrupt, "VIGRA random forest {}: {} is empty", group.describe(),
                      name);
  return values[0];
}

// "Tree_12" -> 12, for ordering trees as VIGRA numbered them.
int64_t tree_number(const std::string& name) {
  int64_t number = 0;
  for (char c : name.substr(5)) {
    if (c < '0' || c > '9') return std::numeric_limits<int64_t>::max();
    number = number * 10 + (c - '0');
    if (number > (int64_t{1} << 40)) return std::numeric_limits<int64_t>::max();
  }
  return number;
}

}  // namespace

Result<VigraForest> read_vigra_forest(const hdf5::Group& group) {
  auto read = [&]() -> Result<VigraForest> {
    VigraForest vigra;
    GROVE_ASSIGN_OR_RETURN(double columns, read_vigra_scalar(group, "_ext_param/column_count_"));
    GROVE_ASSIGN_OR_RETURN(double classes, read_vigra_scalar(group, "_ext_param/class_count_"));
    if (!(columns >= 1 && columns <= 1e9) || !(classes >= 1 && classes <= 65536))
      return make_error(ErrorCode::kCorrupt, "{} features and {} classes", columns, classes);
    vigra.column_count = static_cast<int64_t>(columns);
    vigra.class_count = static_cast<int64_t>(classes);
    if (group.exists("_ext_param/labels")) {
      GROVE_ASSIGN_OR_RETURN(vigra.labels,
                             read_forest_dataset<int64_t>(group, "_ext_param/labels"));
    }
    if (group.exists("_options/predict_weighted_")) {
      GROVE_ASSIGN_OR_RETURN(double weighted,
                             read_vigra_scalar(group, "_options/predict_weighted_"));
      vigra.predict_weighted = weighted != 0.0;
    }
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> members, group.child_groups());
    std::vector<std::string> trees;
    for (const std::string& name : members)
      if (name.rfind("Tree_", 0) == 0) trees.push_back(name);
    std::stable_sort(trees.begin(), trees.end(), [](const std::string& a, const std::string& b) {
      return tree_number(a) < tree_number(b);
    });
    for (const std::string& name : trees) {
      VigraTree tree;
      GROVE_ASSIGN_OR_RETURN(tree.topology,
                             read_forest_dataset<int32_t>(group, name + "/topology"));
      GROVE_ASSIGN_OR_RETURN(tree.parameters,
                             read_forest_dataset<double>(group, name + "/parameters"));
      vigra.trees.push_back(std::move(tree));
    }
    if (group.exists("_options/tree_count_")) {
      GROVE_ASSIGN_OR_RETURN(double count, read_vigra_scalar(group, "_options/tree_count_"));
      if (count != static_cast<double>(vigra.trees.size()))
        return make_error(ErrorCode::kCorrupt, "_options/tree_count_ is {} but there are {} trees",
                          count, vigra.trees.size());
    }
    return vigra;
  };
  return read().context("reading the VIGRA random forest " + group.describe());
}

Result<RandomForest> read_ilastik_forests(const hdf5::Group& group) {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> members, group.child_groups());
  std::vector<RandomForest> forests;
  for (const std::string& name : members) {
    if (name.rfind("Forest", 0) != 0 || !group.exists(name + "/_ext_param")) continue;
    GROVE_ASSIGN_OR_RETURN(hdf5::Group forest_group, group.open_group(name));
    GROVE_ASSIGN_OR_RETURN(VigraForest vigra, read_vigra_forest(forest_group));
    auto forest = forest_from_vigra(vigra);
    if (!forest.ok())
      return std::move(forest).context("converting the VIGRA random forest " +
                                       forest_group.describe());
    forests.push_back(std::move(forest).value());
  }
  if (forests.empty())
    return make_error(ErrorCode::kNotFound, "no VIGRA random forest (Forest*) in {}",
                      group.describe());
  return RandomForest::merge(forests).context("merging the forests of " + group.describe());
}

}  // namespace grove
