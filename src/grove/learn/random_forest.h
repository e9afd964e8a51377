// RandomForest: a trained random forest (classification or regression) and its fast prediction.
// The classifier behind pixel, object, edge and division classification, and the regressor
// behind density counting. Training lives in forest_training.h, storage in forest_storage.h,
// reading ilastik's (VIGRA's) forests in vigra_forest.h.
//
// Layout for speed: all trees' nodes are 16-byte records in one array, tree after tree, each
// tree's nodes in pre-order (a child always comes after its parent, which also proves that every
// walk ends). Leaves are rows of one value table (class probabilities, or regression values).
// Prediction walks one block of samples through one tree after another, so that a tree and the
// block's features stay in cache; the block is transposed so that neighbouring samples (pixels),
// which mostly take the same path, walk together 8 at a time with one vector compare per node.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "grove/core/result.h"
#include "grove/core/thread_pool.h"
#include "grove/learn/feature_matrix.h"

namespace grove {

enum class ForestKind : uint8_t { kClassification, kRegression };

std::string_view forest_kind_name(ForestKind kind);

// One split. A sample whose feature value is < threshold goes left, any other (ties and NaN
// included) goes right: VIGRA's rule, so that ilastik's forests give the same answers here.
struct ForestNode {
  uint32_t feature = 0;
  float threshold = 0.0f;
  // children[0] (left) takes values < threshold, children[1] (right) the others. A child is a
  // node of the same tree (index >= 0, relative to the tree's first node) or a leaf (~leaf, that
  // is -1 - leaf, relative to the tree's first leaf).
  int32_t children[2] = {0, 0};

  // The child a feature value leads to; an index, not a branch, so walks do not mispredict.
  int32_t next(float value) const { return children[!(value < threshold)]; }
  int32_t left() const { return children[0]; }
  int32_t right() const { return children[1]; }

  static constexpr int32_t leaf_child(int64_t leaf) { return static_cast<int32_t>(-1 - leaf); }
  static constexpr bool is_leaf(int32_t child) { return child < 0; }
  static constexpr int64_t leaf_of(int32_t child) { return -1 - static_cast<int64_t>(child); }

  friend bool operator==(const ForestNode& a, const ForestNode& b) {
    return a.feature == b.feature && a.threshold == b.threshold && a.children[0] == b.children[0] &&
           a.children[1] == b.children[1];
  }
};
static_assert(sizeof(ForestNode) == 16);

// What training measured; empty for imported forests.
struct ForestTrainingInfo {
  int64_t sample_count = 0;             // training rows
  std::vector<double> gini_importance;  // per feature, impurity decrease summed over all splits,
                                        // normalised to sum 1 (variance decrease for regression)
  // Out-of-bag error: classification, the fraction of rows whose out-of-bag vote is wrong;
  // regression, the mean squared error averaged over outputs. Set when asked for in training.
  std::optional<double> out_of_bag_error;
};

// The plain parts of a forest: what it is built from, stored as and checked from.
struct ForestParts {
  ForestKind kind = ForestKind::kClassification;
  int64_t feature_count = 0;
  // Columns of a prediction: the classes (classification) or the regression outputs.
  int64_t output_count = 0;
  // Classification: the label (class id) each output column stands for, ascending.
  std::vector<int32_t> class_labels;
  std::vector<ForestNode> nodes;         // all trees, one after the other
  std::vector<int64_t> tree_node_begin;  // tree_count + 1 offsets into nodes
  std::vector<float> leaf_values;   // leaf_count × output_count; a class distribution sums to 1
  std::vector<float> leaf_weights;  // per leaf, the training weight that reached it
  std::vector<int64_t> tree_leaf_begin;  // tree_count + 1 offsets into the leaves
  ForestTrainingInfo training;
};

struct PredictOptions {
  // 0: walk every tree to its leaves. d > 0: stop at depth d (the root is depth 0) and use what
  // the training samples that reached that node gave (their class distribution or mean): a
  // faster, coarser preview for interactive use.
  int max_depth = 0;
  // Samples per parallel task (0: 1024). Within a task, blocks of 128 samples walk through one
  // tree after another.
  int64_t block_rows = 0;
};

class RandomForest {
 public:
  RandomForest() = default;

  // Checks every part (sizes, offsets, every child inside its tree and after its parent, every
  // feature index < feature_count, finite thresholds or ±inf, finite leaf values, class labels
  // ascending and unique) and builds the forest. Parts read from a file go through here, so a
  // corrupt file gives an error, never a crash.
  static Result<RandomForest> create(ForestParts parts);

  // The trees of several forests as one forest: its prediction is the mean over all trees, i.e.
  // the forests' predictions averaged weighted by their tree counts (what ilastik does with the
  // one forest per thread it trains). All must agree in kind, features and outputs.
  static Result<RandomForest> merge(std::span<const RandomForest> forests);

  ForestKind kind() const { return parts_.kind; }
  int64_t feature_count() const { return parts_.feature_count; }
  int64_t output_count() const { return parts_.output_count; }
  const std::vector<int32_t>& class_labels() const { return parts_.class_labels; }
  int64_t tree_count() const { return static_cast<int64_t>(parts_.tree_node_begin.size()) - 1; }
  int64_t node_count() const { return static_cast<int64_t>(parts_.nodes.size()); }
  int64_t leaf_count() const { return static_cast<int64_t>(parts_.leaf_weights.size()); }
  const ForestParts& parts() const { return parts_; }
  const ForestTrainingInfo& training() const { return parts_.training; }
  bool empty() const { return tree_count() <= 0; }
  // Depth of the deepest leaf: the number of nodes on the longest walk from a root (a tree that
  // is only a leaf is stored as a root whose both sides are that leaf, and counts 1).
  int max_depth() const { return max_depth_; }

  // The nodes and leaf values of one tree.
  std::span<const ForestNode> tree_nodes(int64_t tree) const;
  const float* tree_leaf_values(int64_t tree) const;

  // Predicts every row of features into out (rows × output_count): the mean over the trees of
  // the leaves' values. Classification rows that hold a NaN get all-zero probabilities (as VIGRA
  // and ilastik do); regression rows that hold a NaN get NaN. Runs on pool (and the calling
  // thread) when given. The result does not depend on the pool or the block size.
  Status predict(FeatureMatrix features, MatrixView<float> out, ThreadPool* pool = nullptr,
                 const PredictOptions& options = {}) const;
  // The same, one sample and one tree at a time with no tricks: the reference the fast path is
  // tested against (bit for bit).
  Status predict_naive(FeatureMatrix features, MatrixView<float> out,
                       const PredictOptions& options = {}) const;
  // Classification: the label of the most probable class of each row (the first on ties);
  // rows with NaN get class_labels()[0].
  Result<std::vector<int32_t>> predict_labels(FeatureMatrix features,
                                              ThreadPool* pool = nullptr) const;

 private:
  Status check_prediction_shapes(FeatureMatrix features, MatrixView<float> out) const;
  void predict_block(FeatureMatrix features, MatrixView<float> out, int max_depth) const;
  void compute_internal_values();

  ForestParts parts_;
  // Per node, the value the training samples that reached it gave (for PredictOptions::max_depth).
  std::vector<float> internal_values_;
  int max_depth_ = 0;
};

// Rounds a double threshold to the float t with (x < t) == (x < threshold) for every float x:
// the smallest float not below it. VIGRA keeps thresholds as doubles; grove as floats.
float threshold_as_float(double threshold);
// A threshold between two adjacent training values a < b (a < t <= b): their midpoint.
float threshold_between(float a, float b);

}  // namespace grove
