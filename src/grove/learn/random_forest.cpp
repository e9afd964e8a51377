#include "grove/learn/random_forest.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace grove {

std::string_view forest_kind_name(ForestKind kind) {
  switch (kind) {
    case ForestKind::kClassification: return "classification";
    case ForestKind::kRegression: return "regression";
  }
  return "unknown";
}

float threshold_as_float(double threshold) {
  if (std::isnan(threshold)) return std::numeric_limits<float>::quiet_NaN();
  if (threshold > static_cast<double>(std::numeric_limits<float>::max()))
    return std::numeric_limits<float>::infinity();
  if (threshold < -static_cast<double>(std::numeric_limits<float>::max()))
    return -std::numeric_limits<float>::max();  // only -inf lies below
  float rounded = static_cast<float>(threshold);
  if (static_cast<double>(rounded) < threshold)
    rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
  return rounded;
}

float threshold_between(float a, float b) {
  // The midpoint of two floats is exact in double; rounding it up keeps a < t <= b.
  return threshold_as_float(0.5 * (static_cast<double>(a) + static_cast<double>(b)));
}

namespace {

Error corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "random forest: " + what);
}

Status check_offsets(const std::vector<int64_t>& begin, int64_t total, const char* what) {
  if (begin.size() < 2) return corrupt(fmt::format("no trees ({} offsets)", what));
  if (begin.front() != 0) return corrupt(fmt::format("{} offsets do not start at 0", what));
  for (size_t t = 1; t < begin.size(); ++t) {
    if (begin[t] <= begin[t - 1])
      return corrupt(fmt::format("tree {} has no {} (offsets {} then {})", t - 1, what,
                                 begin[t - 1], begin[t]));
    if (begin[t] - begin[t - 1] > std::numeric_limits<int32_t>::max())
      return corrupt(fmt::format("tree {} has too many {}", t - 1, what));
  }
  if (begin.back() != total)
    return corrupt(fmt::format("{} offsets end at {} but there are {}", what, begin.back(), total));
  return ok_status();
}

bool row_has_nan(const float* row, int64_t columns) {
  bool nan = false;
  for (int64_t c = 0; c < columns; ++c) nan |= std::isnan(row[c]);
  return nan;
}

// Prediction works on blocks of this many rows, transposed: feature f of row r is at
// x[f * kBlockRows + r], so the values one node compares for neighbouring rows are adjacent in
// memory (one vector load), and the block (49 features: 25 KiB) stays in the L1 cache.
constexpr int64_t kBlockRows = 128;

// Where walks end: a leaf's values, or an inner node's when a depth limit stops the walk.
struct ValueTables {
  const float* leaf;
  const float* inner;
  int64_t outputs;
};

// Walks one row (x points at its first feature in the transposed block) from node `at`, which
// sits at depth `depth`; returns the values where it ends. A branch, not an index: the rows that
// walk alone are neighbours of each other too, so the branches predict well.
template <bool kLimited>
inline const float* walk_row(const ForestNode* nodes, int32_t at, int depth, const float* x,
                             const ValueTables& tables, int max_depth) {
  for (;; ++depth) {
    if constexpr (kLimited) {
      if (depth >= max_depth) return tables.inner + static_cast<int64_t>(at) * tables.outputs;
    }
    const ForestNode& node = nodes[at];
    int32_t next;
    if (x[static_cast<int64_t>(node.feature) * kBlockRows] < node.threshold)
      next = node.children[0];
    else
      next = node.children[1];
    if (next < 0) return tables.leaf + ForestNode::leaf_of(next) * tables.outputs;
    at = next;
  }
}

template <int kOutputs>
inline void add_to_row(double* sum, int64_t row, const float* value, int64_t outputs) {
  if constexpr (kOutputs > 0) outputs = kOutputs;
  for (int64_t c = 0; c < outputs; ++c) sum[c * kBlockRows + row] += value[c];
}

#if defined(__AVX__)
// Walks kGroups groups of 8 neighbouring rows (rows first .. first + 8 * kGroups) through one
// tree. Neighbouring pixels mostly take the same path, so a group walks together, one vector
// compare per node, until it reaches a leaf or its rows part; the groups step in turn so that
// their memory loads overlap. Rows of a group that parted finish alone.
template <bool kLimited, int kGroups, int kOutputs>
void walk_groups(const ForestNode* nodes, const float* x, int64_t first, const ValueTables& tables,
                 int max_depth, double* sum) {
  const int64_t outputs = kOutputs > 0 ? kOutputs : tables.outputs;
  int32_t at[kGroups];
  int below[kGroups];
  int parted_depth[kGroups];
  unsigned walking = (1u << kGroups) - 1;
  unsigned parted = 0;
  unsigned stopped = 0;  // stopped by the depth limit at an inner node
  for (int g = 0; g < kGroups; ++g) {
    at[g] = 0;
    below[g] = 0;
    parted_depth[g] = 0;
  }
  for (int depth = 0; walking != 0; ++depth) {
    if constexpr (kLimited) {
      if (depth >= max_depth) {
        stopped = walking;
        break;
      }
    }
    for (int g = 0; g < kGroups; ++g) {
      if (!((walking >> g) & 1)) continue;
      const ForestNode& node = nodes[at[g]];
      const __m256 values =
          _mm256_loadu_ps(x + first + 8 * g + static_cast<int64_t>(node.feature) * kBlockRows);
      const int mask =
          _mm256_movemask_ps(_mm256_cmp_ps(values, _mm256_set1_ps(node.threshold), _CMP_LT_OQ));
      if (mask == 0xFF || mask == 0) {
        // Both children are loaded with the node; selecting between registers keeps the
        // memory load off the chain from one node to the next.
        const int32_t left = node.children[0];
        const int32_t right = node.children[1];
        const int32_t next = mask == 0 ? right : left;
        at[g] = next;
        if (next < 0) walking &= ~(1u << g);
      } else {
        below[g] = mask;
        parted_depth[g] = depth;
        parted |= 1u << g;
        walking &= ~(1u << g);
      }
    }
  }
  for (int g = 0; g < kGroups; ++g) {
    const int64_t row = first + 8 * g;
    if ((parted >> g) & 1) {
      // at[g] is the node where the group parted, at depth parted_depth[g].
      const ForestNode& node = nodes[at[g]];
      const int depth = parted_depth[g];
      for (int lane = 0; lane < 8; ++lane) {
        const int32_t child = node.children[(below[g] >> lane) & 1 ? 0 : 1];
        const float* v = child < 0 ? tables.leaf + ForestNode::leaf_of(child) * outputs
                                   : walk_row<kLimited>(nodes, child, depth + 1, x + row + lane,
                                                        tables, max_depth);
        add_to_row<kOutputs>(sum, row + lane, v, outputs);
      }
      continue;
    }
    const float* value = ((stopped >> g) & 1) ? tables.inner + static_cast<int64_t>(at[g]) * outputs
                                              : tables.leaf + ForestNode::leaf_of(at[g]) * outputs;
    for (int64_t c = 0; c < outputs; ++c) {
      double* s = sum + c * kBlockRows + row;
      const double add = value[c];
      for (int lane = 0; lane < 8; ++lane) s[lane] += add;
    }
  }
}
#endif

// Walks the rows of a transposed block through one tree and adds where each ends to sum
// (outputs × kBlockRows, class-major). Every row gets exactly one addition per tree, in tree
// order, as in the naive walk, so the results are the same bit for bit. kOutputs: the number of
// outputs when known at compile time (2, the usual foreground/background), else 0.
template <bool kLimited, int kOutputs>
void walk_block(const ForestNode* nodes, const float* x, int64_t rows, const ValueTables& tables,
                int max_depth, double* sum) {
  int64_t r = 0;
#if defined(__AVX__)
  for (; r + 32 <= rows; r += 32)
    walk_groups<kLimited, 4, kOutputs>(nodes, x, r, tables, max_depth, sum);
  for (; r + 8 <= rows; r += 8)
    walk_groups<kLimited, 1, kOutputs>(nodes, x, r, tables, max_depth, sum);
#endif
  for (; r < rows; ++r)
    add_to_row<kOutputs>(sum, r, walk_row<kLimited>(nodes, 0, 0, x + r, tables, max_depth),
                         tables.outputs);
}

}  // namespace

Result<RandomForest> RandomForest::create(ForestParts parts) {
  if (parts.kind != ForestKind::kClassification && parts.kind != ForestKind::kRegression)
    return corrupt("unknown kind");
  if (parts.feature_count < 1 || parts.feature_count > std::numeric_limits<int32_t>::max())
    return corrupt(fmt::format("feature count {} out of range", parts.feature_count));
  if (parts.output_count < 1 || parts.output_count > (1 << 20))
    return corrupt(fmt::format("output count {} out of range", parts.output_count));
  if (parts.kind == ForestKind::kClassification) {
    if (static_cast<int64_t>(parts.class_labels.size()) != parts.output_count)
      return corrupt(fmt::format("{} class labels for {} classes", parts.class_labels.size(),
                                 parts.output_count));
    for (size_t k = 1; k < parts.class_labels.size(); ++k)
      if (parts.class_labels[k] <= parts.class_labels[k - 1])
        return corrupt("class labels are not strictly ascending");
  } else if (!parts.class_labels.empty()) {
    return corrupt("a regression forest has class labels");
  }
  const int64_t node_total = static_cast<int64_t>(parts.nodes.size());
  const int64_t leaf_total = static_cast<int64_t>(parts.leaf_weights.size());
  GROVE_RETURN_IF_ERROR(check_offsets(parts.tree_node_begin, node_total, "nodes"));
  GROVE_RETURN_IF_ERROR(check_offsets(parts.tree_leaf_begin, leaf_total, "leaves"));
  if (parts.tree_node_begin.size() != parts.tree_leaf_begin.size())
    return corrupt("node and leaf offsets disagree on the number of trees");
  if (static_cast<int64_t>(parts.leaf_values.size()) != leaf_total * parts.output_count)
    return corrupt(fmt::format("{} leaf values for {} leaves of {} outputs",
                               parts.leaf_values.size(), leaf_total, parts.output_count));
  for (float v : parts.leaf_values)
    if (!std::isfinite(v)) return corrupt("a leaf value is not finite");
  for (float w : parts.leaf_weights)
    if (!std::isfinite(w) || w < 0) return corrupt("a leaf weight is negative or not finite");
  if (!parts.training.gini_importance.empty() &&
      static_cast<int64_t>(parts.training.gini_importance.size()) != parts.feature_count)
    return corrupt("feature importance does not have one value per feature");

  const int64_t trees = static_cast<int64_t>(parts.tree_node_begin.size()) - 1;
  std::vector<int32_t> depth;
  int deepest = 0;
  for (int64_t t = 0; t < trees; ++t) {
    const int64_t first = parts.tree_node_begin[t];
    const int64_t nodes = parts.tree_node_begin[t + 1] - first;
    const int64_t leaves = parts.tree_leaf_begin[t + 1] - parts.tree_leaf_begin[t];
    depth.assign(nodes, 0);
    for (int64_t i = 0; i < nodes; ++i) {
      const ForestNode& node = parts.nodes[first + i];
      if (node.feature >= parts.feature_count)
        return corrupt(fmt::format("tree {} node {} splits on feature {} of {}", t, i, node.feature,
                                   parts.feature_count));
      if (std::isnan(node.threshold))
        return corrupt(fmt::format("tree {} node {} has a NaN threshold", t, i));
      for (int32_t child : {node.left(), node.right()}) {
        if (ForestNode::is_leaf(child)) {
          if (ForestNode::leaf_of(child) >= leaves)
            return corrupt(fmt::format("tree {} node {} points to leaf {} of {}", t, i,
                                       ForestNode::leaf_of(child), leaves));
          deepest = std::max(deepest, depth[i] + 1);
        } else {
          // Children after their parent: every walk moves forward, so it ends.
          if (child <= i || child >= nodes)
            return corrupt(
                fmt::format("tree {} node {} points to node {} (tree has {})", t, i, child, nodes));
          depth[child] = depth[i] + 1;
        }
      }
    }
  }
  RandomForest forest;
  forest.parts_ = std::move(parts);
  forest.max_depth_ = deepest;
  forest.compute_internal_values();
  return forest;
}

void RandomForest::compute_internal_values() {
  const int64_t outputs = parts_.output_count;
  internal_values_.assign(parts_.nodes.size() * outputs, 0.0f);
  std::vector<double> weight, sum(outputs);
  for (int64_t t = 0; t < tree_count(); ++t) {
    const int64_t first = parts_.tree_node_begin[t];
    const int64_t nodes = parts_.tree_node_begin[t + 1] - first;
    const int64_t first_leaf = parts_.tree_leaf_begin[t];
    weight.assign(nodes, 0.0);
    // Children come after parents, so a backward sweep meets children first.
    for (int64_t i = nodes - 1; i >= 0; --i) {
      const ForestNode& node = parts_.nodes[first + i];
      double total = 0.0;
      std::fill(sum.begin(), sum.end(), 0.0);
      const float* child_values[2];
      double child_weight[2];
      int side = 0;
      for (int32_t child : {node.left(), node.right()}) {
        if (ForestNode::is_leaf(child)) {
          const int64_t leaf = first_leaf + ForestNode::leaf_of(child);
          child_values[side] = &parts_.leaf_values[leaf * outputs];
          child_weight[side] = parts_.leaf_weights[leaf];
        } else {
          child_values[side] = &internal_values_[(first + child) * outputs];
          child_weight[side] = weight[child];
        }
        total += child_weight[side];
        ++side;
      }
      for (int s = 0; s < 2; ++s) {
        // Without weights (all zero), the two sides count equally.
        const double w = total > 0 ? child_weight[s] : 1.0;
        for (int64_t c = 0; c < outputs; ++c) sum[c] += w * child_values[s][c];
      }
      const double norm = total > 0 ? total : 2.0;
      for (int64_t c = 0; c < outputs; ++c)
        internal_values_[(first + i) * outputs + c] = static_cast<float>(sum[c] / norm);
      weight[i] = total;
    }
  }
}

Result<RandomForest> RandomForest::merge(std::span<const RandomForest> forests) {
  if (forests.empty()) return make_error(ErrorCode::kInvalidArgument, "no forests to merge");
  const RandomForest& first = forests.front();
  ForestParts parts;
  parts.kind = first.kind();
  parts.feature_count = first.feature_count();
  parts.output_count = first.output_count();
  parts.class_labels = first.class_labels();
  parts.tree_node_begin = {0};
  parts.tree_leaf_begin = {0};
  for (size_t f = 0; f < forests.size(); ++f) {
    const ForestParts& p = forests[f].parts();
    if (forests[f].empty()) return make_error(ErrorCode::kInvalidArgument, "forest {} is empty", f);
    if (p.kind != parts.kind || p.feature_count != parts.feature_count ||
        p.output_count != parts.output_count || p.class_labels != parts.class_labels)
      return make_error(ErrorCode::kInvalidArgument,
                        "forest {} ({} features, {} outputs) does not match forest 0 ({} "
                        "features, {} outputs) in kind, features, outputs or class labels",
                        f, p.feature_count, p.output_count, parts.feature_count,
                        parts.output_count);
    const int64_t node_base = static_cast<int64_t>(parts.nodes.size());
    const int64_t leaf_base = static_cast<int64_t>(parts.leaf_weights.size());
    parts.nodes.insert(parts.nodes.end(), p.nodes.begin(), p.nodes.end());
    parts.leaf_values.insert(parts.leaf_values.end(), p.leaf_values.begin(), p.leaf_values.end());
    parts.leaf_weights.insert(parts.leaf_weights.end(), p.leaf_weights.begin(),
                              p.leaf_weights.end());
    for (size_t t = 1; t < p.tree_node_begin.size(); ++t) {
      parts.tree_node_begin.push_back(node_base + p.tree_node_begin[t]);
      parts.tree_leaf_begin.push_back(leaf_base + p.tree_leaf_begin[t]);
    }
  }
  return create(std::move(parts));
}

std::span<const ForestNode> RandomForest::tree_nodes(int64_t tree) const {
  const int64_t begin = parts_.tree_node_begin[tree];
  return {parts_.nodes.data() + begin,
          static_cast<size_t>(parts_.tree_node_begin[tree + 1] - begin)};
}

const float* RandomForest::tree_leaf_values(int64_t tree) const {
  return parts_.leaf_values.data() + parts_.tree_leaf_begin[tree] * parts_.output_count;
}

Status RandomForest::check_prediction_shapes(FeatureMatrix features, MatrixView<float> out) const {
  if (empty()) return make_error(ErrorCode::kInvalidArgument, "the random forest has no trees");
  if (features.columns != feature_count())
    return make_error(ErrorCode::kInvalidArgument,
                      "the random forest expects {} features per sample, the input has {}",
                      feature_count(), features.columns);
  if (features.rows < 0 || features.row_stride < features.columns ||
      (features.rows > 0 && features.data == nullptr))
    return make_error(ErrorCode::kInvalidArgument, "invalid feature matrix ({} rows, stride {})",
                      features.rows, features.row_stride);
  if (out.rows != features.rows || out.columns != output_count() || out.row_stride < out.columns ||
      (out.rows > 0 && out.data == nullptr))
    return make_error(ErrorCode::kInvalidArgument,
                      "prediction output is {}×{}, expected {}×{} (samples × {})", out.rows,
                      out.columns, features.rows, output_count(),
                      kind() == ForestKind::kClassification ? "classes" : "outputs");
  return ok_status();
}

void RandomForest::predict_block(FeatureMatrix features, MatrixView<float> out,
                                 int max_depth) const {
  const int64_t columns = features.columns;
  const int64_t outputs = output_count();
  const int64_t trees = tree_count();
  const double tree_total = static_cast<double>(trees);
  const float nan_value =
      kind() == ForestKind::kClassification ? 0.0f : std::numeric_limits<float>::quiet_NaN();
  std::vector<float> transposed(columns * kBlockRows);
  std::vector<double> sum(outputs * kBlockRows);
  std::vector<uint8_t> has_nan(kBlockRows);
  for (int64_t begin = 0; begin < features.rows; begin += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, features.rows - begin);
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = features.row(begin + r);
      for (int64_t c = 0; c < columns; ++c) transposed[c * kBlockRows + r] = x[c];
    }
    // NaN rows, found column by column (contiguous, so it vectorises).
    std::fill(has_nan.begin(), has_nan.end(), 0);
    for (int64_t c = 0; c < columns; ++c) {
      const float* column = &transposed[c * kBlockRows];
      for (int64_t r = 0; r < rows; ++r) has_nan[r] |= column[r] != column[r];
    }
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t t = 0; t < trees; ++t) {
      const ForestNode* nodes = parts_.nodes.data() + parts_.tree_node_begin[t];
      const ValueTables tables{tree_leaf_values(t),
                               internal_values_.data() + parts_.tree_node_begin[t] * outputs,
                               outputs};
      const float* x = transposed.data();
      if (max_depth > 0) {
        walk_block<true, 0>(nodes, x, rows, tables, max_depth, sum.data());
      } else if (outputs == 2) {
        walk_block<false, 2>(nodes, x, rows, tables, max_depth, sum.data());
      } else {
        walk_block<false, 0>(nodes, x, rows, tables, max_depth, sum.data());
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* o = out.row(begin + r);
      for (int64_t c = 0; c < outputs; ++c)
        o[c] = has_nan[r] ? nan_value : static_cast<float>(sum[c * kBlockRows + r] / tree_total);
    }
  }
}

Status RandomForest::predict(FeatureMatrix features, MatrixView<float> out, ThreadPool* pool,
                             const PredictOptions& options) const {
  GROVE_RETURN_IF_ERROR(check_prediction_shapes(features, out));
  if (options.max_depth < 0)
    return make_error(ErrorCode::kInvalidArgument, "max_depth {} < 0", options.max_depth);
  const int64_t block =
      options.block_rows > 0 ? std::min<int64_t>(options.block_rows, 1 << 20) : 1024;
  const int64_t blocks = (features.rows + block - 1) / block;
  auto run = [&](int64_t b) {
    const int64_t begin = b * block;
    const int64_t end = std::min(features.rows, begin + block);
    predict_block(features.row_range(begin, end), out.row_range(begin, end), options.max_depth);
  };
  if (pool != nullptr && blocks > 1) {
    pool->parallel_for(blocks, run);
  } else {
    for (int64_t b = 0; b < blocks; ++b) run(b);
  }
  return ok_status();
}

Status RandomForest::predict_naive(FeatureMatrix features, MatrixView<float> out,
                                   const PredictOptions& options) const {
  GROVE_RETURN_IF_ERROR(check_prediction_shapes(features, out));
  const int64_t outputs = output_count();
  std::vector<double> sum(outputs);
  for (int64_t r = 0; r < features.rows; ++r) {
    const float* row = features.row(r);
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t t = 0; t < tree_count(); ++t) {
      const ForestNode* nodes = parts_.nodes.data() + parts_.tree_node_begin[t];
      const float* values = tree_leaf_values(t);
      const float* inner = internal_values_.data() + parts_.tree_node_begin[t] * outputs;
      int32_t at = 0;
      const float* value = nullptr;
      for (int depth = 0; value == nullptr; ++depth) {
        if (options.max_depth > 0 && depth >= options.max_depth) {
          value = inner + static_cast<int64_t>(at) * outputs;
          break;
        }
        const ForestNode& node = nodes[at];
        const int32_t next = node.next(row[node.feature]);
        if (ForestNode::is_leaf(next))
          value = values + ForestNode::leaf_of(next) * outputs;
        else
          at = next;
      }
      for (int64_t c = 0; c < outputs; ++c) sum[c] += value[c];
    }
    float* o = out.row(r);
    for (int64_t c = 0; c < outputs; ++c) {
      if (row_has_nan(row, features.columns))
        o[c] =
            kind() == ForestKind::kClassification ? 0.0f : std::numeric_limits<float>::quiet_NaN();
      else
        o[c] = static_cast<float>(sum[c] / static_cast<double>(tree_count()));
    }
  }
  return ok_status();
}

Result<std::vector<int32_t>> RandomForest::predict_labels(FeatureMatrix features,
                                                          ThreadPool* pool) const {
  if (kind() != ForestKind::kClassification)
    return make_error(ErrorCode::kInvalidArgument, "predict_labels needs a classification forest");
  std::vector<float> probabilities(features.rows * output_count());
  GROVE_RETURN_IF_ERROR(predict(
      features, MatrixView<float>(probabilities.data(), features.rows, output_count()), pool));
  std::vector<int32_t> labels(features.rows);
  for (int64_t r = 0; r < features.rows; ++r) {
    const float* p = &probabilities[r * output_count()];
    labels[r] = class_labels()[std::max_element(p, p + output_count()) - p];
  }
  return labels;
}

}  // namespace grove
