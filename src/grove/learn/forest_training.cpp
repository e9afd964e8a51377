#include "grove/learn/forest_training.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>

#include "grove/learn/random_generator.h"

namespace grove {

void to_json(nlohmann::json& json, const ForestOptions& o) {
  json = nlohmann::json{
      {"tree_count", o.tree_count},
      {"features_per_split", o.features_per_split},
      {"max_depth", o.max_depth},
      {"min_leaf_size", o.min_leaf_size},
      {"min_split_size", o.min_split_size},
      {"bootstrap", o.bootstrap},
      {"bootstrap_fraction", o.bootstrap_fraction},
      {"balance_classes", o.balance_classes},
      {"seed", o.seed},
      {"split_search", o.split_search == SplitSearch::kExact ? "exact" : "histogram"},
      {"histogram_bins", o.histogram_bins},
      {"exact_below", o.exact_below},
      {"out_of_bag_error", o.out_of_bag_error},
      {"classes", o.classes},
  };
}

void from_json(const nlohmann::json& json, ForestOptions& o) {
  ForestOptions defaults;
  o.tree_count = json.value("tree_count", defaults.tree_count);
  o.features_per_split = json.value("features_per_split", defaults.features_per_split);
  o.max_depth = json.value("max_depth", defaults.max_depth);
  o.min_leaf_size = json.value("min_leaf_size", defaults.min_leaf_size);
  o.min_split_size = json.value("min_split_size", defaults.min_split_size);
  o.bootstrap = json.value("bootstrap", defaults.bootstrap);
  o.bootstrap_fraction = json.value("bootstrap_fraction", defaults.bootstrap_fraction);
  o.balance_classes = json.value("balance_classes", defaults.balance_classes);
  o.seed = json.value("seed", defaults.seed);
  o.split_search = json.value("split_search", std::string("histogram")) == "exact"
                       ? SplitSearch::kExact
                       : SplitSearch::kHistogram;
  o.histogram_bins = json.value("histogram_bins", defaults.histogram_bins);
  o.exact_below = json.value("exact_below", defaults.exact_below);
  o.out_of_bag_error = json.value("out_of_bag_error", defaults.out_of_bag_error);
  o.classes = json.value("classes", defaults.classes);
}

Status check_forest_options(const ForestOptions& o, int64_t feature_count) {
  auto bad = [](std::string what) {
    return Error(ErrorCode::kInvalidArgument, "random forest option " + what);
  };
  if (o.tree_count < 1 || o.tree_count > 100000)
    return bad(fmt::format("tree_count = {} (must be 1..100000)", o.tree_count));
  if (o.features_per_split < 0 || o.features_per_split > feature_count)
    return bad(fmt::format("features_per_split = {} (must be 0..{}, the number of features)",
                           o.features_per_split, feature_count));
  if (o.max_depth < 0) return bad(fmt::format("max_depth = {} (must be >= 0)", o.max_depth));
  if (o.min_leaf_size < 1)
    return bad(fmt::format("min_leaf_size = {} (must be >= 1)", o.min_leaf_size));
  if (o.min_split_size < 2)
    return bad(fmt::format("min_split_size = {} (must be >= 2)", o.min_split_size));
  if (!(o.bootstrap_fraction > 0.0 && o.bootstrap_fraction <= 1.0))
    return bad(fmt::format("bootstrap_fraction = {} (must be in (0, 1])", o.bootstrap_fraction));
  if (o.histogram_bins < 2 || o.histogram_bins > 256)
    return bad(fmt::format("histogram_bins = {} (must be 2..256)", o.histogram_bins));
  if (o.exact_below < 0) return bad(fmt::format("exact_below = {} (must be >= 0)", o.exact_below));
  for (size_t k = 1; k < o.classes.size(); ++k)
    if (o.classes[k] <= o.classes[k - 1]) return bad("classes: must be strictly ascending");
  return ok_status();
}

namespace {

// Everything the trees share: the samples, their classes or targets and weights, and the
// quantised features.
struct Problem {
  ForestKind kind = ForestKind::kClassification;
  FeatureMatrix features;
  int64_t columns = 0;
  int outputs = 0;                     // classes, or regression outputs
  std::vector<int32_t> class_labels;   // classification
  std::vector<uint32_t> rows_used;     // rows with weight > 0
  std::vector<uint32_t> class_of_row;  // classification, per row
  std::vector<float> targets;          // regression, rows × outputs
  std::vector<float> row_weight;       // per row (class balancing included)
  // Histogram search: bin of every (row, feature), row-major; a value's bin is the number of
  // the feature's edges <= the value, so (bin <= b) == (value < edges[b]).
  std::vector<uint8_t> binned;
  std::vector<std::vector<float>> edges;
  int max_bins = 0;
  int features_per_split = 0;
  ForestOptions options;
};

struct TreeOutput {
  std::vector<ForestNode> nodes;
  std::vector<float> leaf_values;
  std::vector<float> leaf_weights;
  std::vector<double> importance;
  std::vector<uint64_t> in_bag;  // one bit per used row, when the out-of-bag error is wanted
};

struct Sample {
  uint32_t row;
  uint32_t label;  // classification: class index
  float weight;    // bootstrap count × row weight
  uint32_t count;  // bootstrap count
};

struct Split {
  bool found = false;
  double score = -std::numeric_limits<double>::infinity();
  uint32_t feature = 0;
  float threshold = 0.0f;
  int bin = -1;  // >= 0: found from bins (left is bin <= bin)
};

// Grows one tree at a time; holds the scratch memory, reused across trees.
template <bool kRegression>
class TreeBuilder {
 public:
  explicit TreeBuilder(const Problem& problem)
      : problem_(problem),
        options_(problem.options),
        columns_(problem.columns),
        channels_(kRegression ? 1 + problem.outputs : problem.outputs) {
    totals_.resize(channels_);
    left_.resize(channels_);
    right_.resize(channels_);
    order_.resize(columns_);
    if (problem_.max_bins > 0) {
      const size_t slots = static_cast<size_t>(std::max(problem.features_per_split, 1));
      hist_.resize(slots * problem.max_bins * channels_);
      hist_count_.resize(slots * problem.max_bins);
    }
  }

  // Returns false if cancelled.
  bool grow(int64_t tree, TreeOutput& out, const CancelToken* cancel) {
    RandomGenerator random(options_.seed, static_cast<uint64_t>(tree));
    draw_samples(random, out);
    for (int64_t f = 0; f < columns_; ++f) order_[f] = static_cast<uint32_t>(f);
    out.importance.assign(columns_, 0.0);

    struct Pending {
      int64_t begin, end;
      int depth;
      int32_t parent;
      bool is_left;
    };
    std::vector<Pending> stack;
    stack.push_back({0, static_cast<int64_t>(samples_.size()), 0, -1, false});
    int64_t processed = 0;
    while (!stack.empty()) {
      if ((++processed & 255) == 0 && cancel != nullptr && cancel->cancelled()) return false;
      const Pending node = stack.back();
      stack.pop_back();
      int64_t count = 0;
      node_totals(node.begin, node.end, totals_.data(), count);
      Split split;
      const bool may_split = (options_.max_depth == 0 || node.depth < options_.max_depth) &&
                             count >= options_.min_split_size &&
                             count >= 2 * static_cast<int64_t>(options_.min_leaf_size) &&
                             !is_pure(node.begin, node.end);
      if (may_split) split = find_split(random, node.begin, node.end, count);
      int64_t middle = node.begin;
      if (split.found) middle = partition(node.begin, node.end, split);
      if (!split.found || middle == node.begin || middle == node.end) {
        const int32_t leaf = make_leaf(out);
        if (node.parent < 0) {
          // A tree that is only a leaf: a root whose both sides lead there.
          out.nodes.push_back({0, std::numeric_limits<float>::infinity(), leaf, leaf});
        } else {
          link(out, node.parent, node.is_left, leaf);
        }
        continue;
      }
      out.importance[split.feature] += std::max(0.0, split.score - score(totals_.data()));
      const int32_t index = static_cast<int32_t>(out.nodes.size());
      out.nodes.push_back({split.feature, split.threshold, 0, 0});
      if (node.parent >= 0) link(out, node.parent, node.is_left, index);
      // Left on top, so the tree comes out in pre-order: children after their parent.
      stack.push_back({middle, node.end, node.depth + 1, index, false});
      stack.push_back({node.begin, middle, node.depth + 1, index, true});
    }
    return true;
  }

 private:
  void draw_samples(RandomGenerator& random, TreeOutput& out) {
    const int64_t n = static_cast<int64_t>(problem_.rows_used.size());
    counts_.assign(n, 0);
    if (options_.bootstrap) {
      const int64_t draws =
          std::max<int64_t>(1, std::llround(options_.bootstrap_fraction * static_cast<double>(n)));
      for (int64_t i = 0; i < draws; ++i) ++counts_[random.below(static_cast<uint64_t>(n))];
    } else {
      std::fill(counts_.begin(), counts_.end(), 1u);
    }
    if (options_.out_of_bag_error) {
      out.in_bag.assign((n + 63) / 64, 0);
      for (int64_t i = 0; i < n; ++i)
        if (counts_[i] > 0) out.in_bag[i >> 6] |= uint64_t{1} << (i & 63);
    }
    samples_.clear();
    for (int64_t i = 0; i < n; ++i) {
      if (counts_[i] == 0) continue;
      const uint32_t row = problem_.rows_used[i];
      Sample s;
      s.row = row;
      s.label = kRegression ? 0 : problem_.class_of_row[row];
      s.count = counts_[i];
      s.weight = static_cast<float>(s.count) * problem_.row_weight[row];
      samples_.push_back(s);
    }
  }

  // Adds one sample to a channel vector: class weights (classification), or weight then
  // weighted target sums (regression).
  void add(double* channels, const Sample& s) const {
    if constexpr (kRegression) {
      channels[0] += s.weight;
      const float* y = &problem_.targets[static_cast<int64_t>(s.row) * problem_.outputs];
      for (int m = 0; m < problem_.outputs; ++m) channels[1 + m] += s.weight * y[m];
    } else {
      channels[s.label] += s.weight;
    }
  }

  // Σ S²/W over the channels: the split criterion (larger is better). Gini impurity times the
  // weight is W - Σ S_k²/W; the weighted variance is Σ w y² - S²/W; both fall as this rises.
  double score(const double* channels) const {
    if constexpr (kRegression) {
      const double weight = channels[0];
      if (weight <= 0) return 0.0;
      double sum = 0.0;
      for (int m = 1; m < channels_; ++m) sum += channels[m] * channels[m];
      return sum / weight;
    } else {
      double weight = 0.0, sum = 0.0;
      for (int k = 0; k < channels_; ++k) {
        weight += channels[k];
        sum += channels[k] * channels[k];
      }
      return weight > 0 ? sum / weight : 0.0;
    }
  }

  void node_totals(int64_t begin, int64_t end, double* totals, int64_t& count) const {
    std::fill(totals, totals + channels_, 0.0);
    count = 0;
    for (int64_t i = begin; i < end; ++i) {
      add(totals, samples_[i]);
      count += samples_[i].count;
    }
  }

  bool is_pure(int64_t begin, int64_t end) const {
    if constexpr (kRegression) {
      const int outputs = problem_.outputs;
      const float* first = &problem_.targets[static_cast<int64_t>(samples_[begin].row) * outputs];
      for (int64_t i = begin + 1; i < end; ++i) {
        const float* y = &problem_.targets[static_cast<int64_t>(samples_[i].row) * outputs];
        for (int m = 0; m < outputs; ++m)
          if (y[m] != first[m]) return false;
      }
      return true;
    } else {
      int present = 0;
      for (int k = 0; k < channels_; ++k) present += totals_[k] > 0;
      return present <= 1;
    }
  }

  Split find_split(RandomGenerator& random, int64_t begin, int64_t end, int64_t count) {
    Split best;
    const bool exact = problem_.max_bins == 0 || end - begin < options_.exact_below;
    const int64_t batch = problem_.features_per_split;
    // Try features_per_split random features; if none separates the node, go on drawing.
    for (int64_t drawn = 0; drawn < columns_ && !best.found;) {
      const int64_t take = std::min<int64_t>(batch, columns_ - drawn);
      for (int64_t i = drawn; i < drawn + take; ++i) {
        const int64_t j = i + static_cast<int64_t>(random.below(columns_ - i));
        std::swap(order_[i], order_[j]);
      }
      if (exact)
        search_exact(begin, end, count, &order_[drawn], take, best);
      else
        search_histogram(begin, end, count, &order_[drawn], take, best);
      drawn += take;
    }
    // Bins can hide differences between values; look at the values before giving up.
    if (!best.found && !exact) search_exact(begin, end, count, order_.data(), columns_, best);
    return best;
  }

  // Scores the boundary after `left` (left_count samples) and keeps it if best so far.
  bool consider(int64_t left_count, int64_t count, double& split_score) {
    const int64_t right_count = count - left_count;
    if (left_count < options_.min_leaf_size || right_count < options_.min_leaf_size) return false;
    for (int c = 0; c < channels_; ++c) right_[c] = totals_[c] - left_[c];
    split_score = score(left_.data()) + score(right_.data());
    return true;
  }

  void search_histogram(int64_t begin, int64_t end, int64_t count, const uint32_t* features,
                        int64_t feature_count, Split& best) {
    const int max_bins = problem_.max_bins;
    const int64_t columns = columns_;
    for (int64_t j = 0; j < feature_count; ++j) {
      const int bins = static_cast<int>(problem_.edges[features[j]].size()) + 1;
      std::fill_n(&hist_[j * max_bins * channels_], bins * channels_, 0.0);
      std::fill_n(&hist_count_[j * max_bins], bins, 0u);
    }
    const uint8_t* binned = problem_.binned.data();
    for (int64_t i = begin; i < end; ++i) {
      const Sample& s = samples_[i];
      const uint8_t* row = binned + static_cast<int64_t>(s.row) * columns;
      for (int64_t j = 0; j < feature_count; ++j) {
        const int bin = row[features[j]];
        hist_count_[j * max_bins + bin] += s.count;
        add(&hist_[(j * max_bins + bin) * channels_], s);
      }
    }
    for (int64_t j = 0; j < feature_count; ++j) {
      const std::vector<float>& edges = problem_.edges[features[j]];
      const int bins = static_cast<int>(edges.size()) + 1;
      const double* hist = &hist_[j * max_bins * channels_];
      const uint32_t* hist_count = &hist_count_[j * max_bins];
      std::fill(left_.begin(), left_.end(), 0.0);
      int64_t left_count = 0;
      for (int b = 0; b + 1 < bins; ++b) {
        if (hist_count[b] == 0) continue;
        left_count += hist_count[b];
        for (int c = 0; c < channels_; ++c) left_[c] += hist[b * channels_ + c];
        if (count - left_count < options_.min_leaf_size) break;
        double split_score;
        if (consider(left_count, count, split_score) && split_score > best.score) {
          best = {true, split_score, features[j], edges[b], b};
        }
      }
    }
  }

  void search_exact(int64_t begin, int64_t end, int64_t count, const uint32_t* features,
                    int64_t feature_count, Split& best) {
    const int64_t n = end - begin;
    sorted_.resize(n);
    for (int64_t j = 0; j < feature_count; ++j) {
      const uint32_t feature = features[j];
      for (int64_t i = 0; i < n; ++i)
        sorted_[i] = {problem_.features(samples_[begin + i].row, feature),
                      static_cast<uint32_t>(begin + i)};
      std::sort(sorted_.begin(), sorted_.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      if (sorted_.front().first == sorted_.back().first) continue;
      std::fill(left_.begin(), left_.end(), 0.0);
      int64_t left_count = 0;
      for (int64_t i = 0; i + 1 < n; ++i) {
        const Sample& s = samples_[sorted_[i].second];
        add(left_.data(), s);
        left_count += s.count;
        if (sorted_[i].first == sorted_[i + 1].first) continue;
        if (count - left_count < options_.min_leaf_size) break;
        double split_score;
        if (consider(left_count, count, split_score) && split_score > best.score) {
          best = {true, split_score, feature,
                  threshold_between(sorted_[i].first, sorted_[i + 1].first), -1};
        }
      }
    }
  }

  int64_t partition(int64_t begin, int64_t end, const Split& split) {
    auto first = samples_.begin() + begin;
    auto last = samples_.begin() + end;
    if (split.bin >= 0) {
      const uint8_t* binned = problem_.binned.data() + split.feature;
      const int64_t columns = columns_;
      const int bin = split.bin;
      return std::partition(first, last,
                            [&](const Sample& s) {
                              return binned[static_cast<int64_t>(s.row) * columns] <= bin;
                            }) -
             samples_.begin();
    }
    const FeatureMatrix& features = problem_.features;
    const uint32_t feature = split.feature;
    const float threshold = split.threshold;
    return std::partition(first, last,
                          [&](const Sample& s) { return features(s.row, feature) < threshold; }) -
           samples_.begin();
  }

  int32_t make_leaf(TreeOutput& out) {
    const int64_t leaf = static_cast<int64_t>(out.leaf_weights.size());
    double weight = 0.0;
    if constexpr (kRegression) {
      weight = totals_[0];
      for (int m = 1; m < channels_; ++m)
        out.leaf_values.push_back(static_cast<float>(weight > 0 ? totals_[m] / weight : 0.0));
    } else {
      for (int k = 0; k < channels_; ++k) weight += totals_[k];
      for (int k = 0; k < channels_; ++k)
        out.leaf_values.push_back(static_cast<float>(weight > 0 ? totals_[k] / weight : 0.0));
    }
    out.leaf_weights.push_back(static_cast<float>(weight));
    return ForestNode::leaf_child(leaf);
  }

  static void link(TreeOutput& out, int32_t parent, bool is_left, int32_t child) {
    if (is_left)
      out.nodes[parent].children[0] = child;
    else
      out.nodes[parent].children[1] = child;
  }

  const Problem& problem_;
  const ForestOptions& options_;
  const int64_t columns_;
  const int channels_;
  std::vector<uint32_t> counts_;
  std::vector<Sample> samples_;
  std::vector<uint32_t> order_;
  std::vector<double> totals_, left_, right_;
  std::vector<double> hist_;
  std::vector<uint32_t> hist_count_;
  std::vector<std::pair<float, uint32_t>> sorted_;
};

Status check_features(FeatureMatrix features, int64_t expected_rows) {
  if (features.rows < 1)
    return make_error(ErrorCode::kInvalidArgument, "no training samples (no labels?)");
  if (features.columns < 1)
    return make_error(ErrorCode::kInvalidArgument, "training samples have no features");
  if (features.data == nullptr || features.row_stride < features.columns)
    return make_error(ErrorCode::kInvalidArgument, "invalid feature matrix");
  if (features.rows > static_cast<int64_t>(std::numeric_limits<uint32_t>::max()) - 1)
    return make_error(ErrorCode::kResourceExhausted, "{} training samples are too many",
                      features.rows);
  if (features.rows != expected_rows)
    return make_error(ErrorCode::kInvalidArgument,
                      "{} feature rows but {} labels or targets: one per sample needed",
                      features.rows, expected_rows);
  for (int64_t r = 0; r < features.rows; ++r) {
    const float* row = features.row(r);
    for (int64_t c = 0; c < features.columns; ++c)
      if (!std::isfinite(row[c]))
        return make_error(ErrorCode::kInvalidArgument,
                          "training feature {} of sample {} is {}: features must be finite", c, r,
                          row[c]);
  }
  return ok_status();
}

Status set_weights(Problem& problem, std::span<const float> weights) {
  const int64_t rows = problem.features.rows;
  if (!weights.empty() && static_cast<int64_t>(weights.size()) != rows)
    return make_error(ErrorCode::kInvalidArgument, "{} sample weights for {} samples",
                      weights.size(), rows);
  problem.row_weight.assign(rows, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    if (!weights.empty()) {
      const float w = weights[r];
      if (!std::isfinite(w) || w < 0)
        return make_error(ErrorCode::kInvalidArgument,
                          "sample weight {} of sample {} (must be finite and >= 0)", w, r);
      problem.row_weight[r] = w;
    }
    if (problem.row_weight[r] > 0) problem.rows_used.push_back(static_cast<uint32_t>(r));
  }
  if (problem.rows_used.empty())
    return make_error(ErrorCode::kInvalidArgument, "every sample has weight 0");
  return ok_status();
}

// Quantiles of each feature (over at most this many rows) give its bin edges.
constexpr int64_t kEdgeSampleRows = 100000;

void quantise(Problem& problem, ThreadPool* pool) {
  const int64_t rows = problem.features.rows;
  const int64_t columns = problem.columns;
  const int bins = problem.options.histogram_bins;
  problem.edges.assign(columns, {});
  const int64_t step = std::max<int64_t>(1, (rows + kEdgeSampleRows - 1) / kEdgeSampleRows);
  auto edges_of = [&](int64_t feature) {
    std::vector<float> values;
    values.reserve(rows / step + 1);
    for (int64_t r = 0; r < rows; r += step) values.push_back(problem.features(r, feature));
    std::sort(values.begin(), values.end());
    std::vector<float>& edges = problem.edges[feature];
    std::vector<float> unique_values(values);
    unique_values.erase(std::unique(unique_values.begin(), unique_values.end()),
                        unique_values.end());
    if (static_cast<int64_t>(unique_values.size()) <= bins) {
      // Few distinct values: one bin each, the search is exact.
      for (size_t i = 0; i + 1 < unique_values.size(); ++i)
        edges.push_back(threshold_between(unique_values[i], unique_values[i + 1]));
      return;
    }
    const int64_t n = static_cast<int64_t>(values.size());
    for (int j = 1; j < bins; ++j) {
      const int64_t at = j * n / bins;
      const float below = values[at - 1];
      const float above = values[at];
      const float edge = below < above
                             ? threshold_between(below, above)
                             : std::nextafter(below, std::numeric_limits<float>::infinity());
      if (edges.empty() || edge > edges.back()) edges.push_back(edge);
    }
    // A heavy last value can leave an edge above every value: harmless, its bin is empty.
  };
  // Each feature's edges padded with +inf to 256 entries, so that a value's bin (the number of
  // edges <= it) takes 8 branch-free halving steps.
  auto padded_edges = [&] {
    std::vector<float> padded(columns * 256, std::numeric_limits<float>::infinity());
    for (int64_t f = 0; f < columns; ++f)
      std::copy(problem.edges[f].begin(), problem.edges[f].end(), &padded[f * 256]);
    return padded;
  };
  std::vector<float> padded;
  auto bin_rows = [&](int64_t chunk, int64_t chunk_rows) {
    const int64_t begin = chunk * chunk_rows;
    const int64_t end = std::min(rows, begin + chunk_rows);
    for (int64_t r = begin; r < end; ++r) {
      const float* row = problem.features.row(r);
      uint8_t* out = &problem.binned[r * columns];
      for (int64_t f = 0; f < columns; ++f) {
        const float* edges = &padded[f * 256];
        const float value = row[f];
        int bin = 0;
        for (int step = 128; step >= 1; step >>= 1)
          bin += edges[bin + step - 1] <= value ? step : 0;
        out[f] = static_cast<uint8_t>(bin);
      }
    }
  };
  problem.binned.resize(rows * columns);
  constexpr int64_t kChunkRows = 4096;
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  if (pool != nullptr) {
    pool->parallel_for(columns, edges_of);
    padded = padded_edges();
    pool->parallel_for(chunks, [&](int64_t c) { bin_rows(c, kChunkRows); });
  } else {
    for (int64_t f = 0; f < columns; ++f) edges_of(f);
    padded = padded_edges();
    for (int64_t c = 0; c < chunks; ++c) bin_rows(c, kChunkRows);
  }
  problem.max_bins = 1;
  for (const auto& edges : problem.edges)
    problem.max_bins = std::max(problem.max_bins, static_cast<int>(edges.size()) + 1);
}

// Out-of-bag error from the trees' in-bag bits: per row, the mean of the trees that did not see
// it. Rows are processed in fixed chunks summed in order, so the result does not depend on the
// thread count.
double out_of_bag_error(const Problem& problem, const std::vector<TreeOutput>& trees,
                        ThreadPool* pool) {
  const int64_t n = static_cast<int64_t>(problem.rows_used.size());
  const int outputs = problem.outputs;
  constexpr int64_t kChunkRows = 1024;
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  std::vector<double> chunk_error(chunks, 0.0);
  std::vector<int64_t> chunk_rows(chunks, 0);
  auto run = [&](int64_t chunk) {
    std::vector<double> sum(outputs);
    const int64_t end = std::min(n, (chunk + 1) * kChunkRows);
    for (int64_t i = chunk * kChunkRows; i < end; ++i) {
      const uint32_t row = problem.rows_used[i];
      const float* x = problem.features.row(row);
      std::fill(sum.begin(), sum.end(), 0.0);
      int64_t votes = 0;
      for (const TreeOutput& tree : trees) {
        if ((tree.in_bag[i >> 6] >> (i & 63)) & 1) continue;
        int32_t at = 0;
        do {
          const ForestNode& node = tree.nodes[at];
          at = node.next(x[node.feature]);
        } while (at >= 0);
        const float* v = &tree.leaf_values[ForestNode::leaf_of(at) * outputs];
        for (int c = 0; c < outputs; ++c) sum[c] += v[c];
        ++votes;
      }
      if (votes == 0) continue;
      ++chunk_rows[chunk];
      if (problem.kind == ForestKind::kClassification) {
        const int64_t best = std::max_element(sum.begin(), sum.end()) - sum.begin();
        chunk_error[chunk] += best != problem.class_of_row[row] ? 1.0 : 0.0;
      } else {
        double squared = 0.0;
        for (int m = 0; m < outputs; ++m) {
          const double d =
              sum[m] / votes - problem.targets[static_cast<int64_t>(row) * outputs + m];
          squared += d * d;
        }
        chunk_error[chunk] += squared / outputs;
      }
    }
  };
  if (pool != nullptr)
    pool->parallel_for(chunks, run);
  else
    for (int64_t c = 0; c < chunks; ++c) run(c);
  double error = 0.0;
  int64_t counted = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    error += chunk_error[c];
    counted += chunk_rows[c];
  }
  return counted > 0 ? error / static_cast<double>(counted)
                     : std::numeric_limits<double>::quiet_NaN();
}

template <bool kRegression>
Result<RandomForest> train(Problem& problem, ThreadPool* pool, const CancelToken* cancel,
                           Progress* progress) {
  const ForestOptions& options = problem.options;
  if (options.split_search == SplitSearch::kHistogram) quantise(problem, pool);

  std::vector<TreeOutput> trees(options.tree_count);
  std::mutex mutex;
  std::vector<std::unique_ptr<TreeBuilder<kRegression>>> idle;
  std::atomic<bool> cancelled{false};
  if (progress != nullptr) progress->start(options.tree_count, "training random forest");
  auto grow = [&](int64_t t) {
    if (cancelled.load() || (cancel != nullptr && cancel->cancelled())) {
      cancelled = true;
      return;
    }
    std::unique_ptr<TreeBuilder<kRegression>> builder;
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        builder = std::move(idle.back());
        idle.pop_back();
      }
    }
    if (!builder) builder = std::make_unique<TreeBuilder<kRegression>>(problem);
    if (!builder->grow(t, trees[t], cancel)) cancelled = true;
    {
      std::lock_guard lock(mutex);
      idle.push_back(std::move(builder));
    }
    if (progress != nullptr) progress->advance();
  };
  if (pool != nullptr)
    pool->parallel_for(options.tree_count, grow);
  else
    for (int64_t t = 0; t < options.tree_count; ++t) grow(t);
  if (progress != nullptr) progress->finish();
  if (cancelled) return make_error(ErrorCode::kCancelled, "random forest training cancelled");

  ForestParts parts;
  parts.kind = problem.kind;
  parts.feature_count = problem.columns;
  parts.output_count = problem.outputs;
  parts.class_labels = problem.class_labels;
  parts.tree_node_begin = {0};
  parts.tree_leaf_begin = {0};
  std::vector<double> importance(problem.columns, 0.0);
  for (const TreeOutput& tree : trees) {
    parts.nodes.insert(parts.nodes.end(), tree.nodes.begin(), tree.nodes.end());
    parts.leaf_values.insert(parts.leaf_values.end(), tree.leaf_values.begin(),
                             tree.leaf_values.end());
    parts.leaf_weights.insert(parts.leaf_weights.end(), tree.leaf_weights.begin(),
                              tree.leaf_weights.end());
    parts.tree_node_begin.push_back(static_cast<int64_t>(parts.nodes.size()));
    parts.tree_leaf_begin.push_back(static_cast<int64_t>(parts.leaf_weights.size()));
    for (int64_t f = 0; f < problem.columns; ++f) importance[f] += tree.importance[f];
  }
  double importance_sum = 0.0;
  for (double v : importance) importance_sum += v;
  if (importance_sum > 0)
    for (double& v : importance) v /= importance_sum;
  parts.training.gini_importance = std::move(importance);
  parts.training.sample_count = problem.features.rows;
  if (options.out_of_bag_error)
    parts.training.out_of_bag_error = out_of_bag_error(problem, trees, pool);
  return RandomForest::create(std::move(parts)).context("building the trained forest");
}

int default_features_per_split(ForestKind kind, int64_t columns) {
  if (kind == ForestKind::kClassification)
    return static_cast<int>(
        std::max<int64_t>(1, std::llround(std::sqrt(static_cast<double>(columns)))));
  return static_cast<int>(std::max<int64_t>(1, columns / 3));
}

}  // namespace

Result<RandomForest> train_classification_forest(FeatureMatrix features,
                                                 std::span<const int32_t> labels,
                                                 std::span<const float> sample_weights,
                                                 const ForestOptions& options, ThreadPool* pool,
                                                 const CancelToken* cancel, Progress* progress) {
  GROVE_RETURN_IF_ERROR(check_features(features, static_cast<int64_t>(labels.size())));
  GROVE_RETURN_IF_ERROR(check_forest_options(options, features.columns));
  Problem problem;
  problem.kind = ForestKind::kClassification;
  problem.features = features;
  problem.columns = features.columns;
  problem.options = options;
  GROVE_RETURN_IF_ERROR(set_weights(problem, sample_weights));

  // Class labels: given, or the distinct labels of the samples used.
  if (!options.classes.empty()) {
    problem.class_labels = options.classes;
  } else {
    for (uint32_t r : problem.rows_used) problem.class_labels.push_back(labels[r]);
    std::sort(problem.class_labels.begin(), problem.class_labels.end());
    problem.class_labels.erase(
        std::unique(problem.class_labels.begin(), problem.class_labels.end()),
        problem.class_labels.end());
  }
  // Each training thread keeps per-bin class histograms; this bounds their memory (tens of MB).
  if (problem.class_labels.size() > 4096)
    return make_error(ErrorCode::kInvalidArgument, "{} classes are too many (at most 4096)",
                      problem.class_labels.size());
  problem.outputs = static_cast<int>(problem.class_labels.size());
  problem.class_of_row.assign(features.rows, 0);
  std::vector<double> class_weight(problem.outputs, 0.0);
  for (uint32_t r : problem.rows_used) {
    const auto it =
        std::lower_bound(problem.class_labels.begin(), problem.class_labels.end(), labels[r]);
    if (it == problem.class_labels.end() || *it != labels[r])
      return make_error(ErrorCode::kInvalidArgument,
                        "label {} of sample {} is not one of the {} classes given", labels[r], r,
                        problem.class_labels.size());
    problem.class_of_row[r] = static_cast<uint32_t>(it - problem.class_labels.begin());
    class_weight[problem.class_of_row[r]] += problem.row_weight[r];
  }
  const int64_t present =
      std::count_if(class_weight.begin(), class_weight.end(), [](double w) { return w > 0; });
  if (present < 2)
    return make_error(ErrorCode::kInvalidArgument,
                      "training needs samples of at least two classes; all {} labelled samples "
                      "are of class {}",
                      problem.rows_used.size(), labels[problem.rows_used.front()]);
  if (options.balance_classes) {
    double total = 0.0;
    for (double w : class_weight) total += w;
    for (uint32_t r : problem.rows_used)
      problem.row_weight[r] *= static_cast<float>(
          total / (static_cast<double>(present) * class_weight[problem.class_of_row[r]]));
  }
  problem.features_per_split = options.features_per_split > 0
                                   ? options.features_per_split
                                   : default_features_per_split(problem.kind, problem.columns);
  return train<false>(problem, pool, cancel, progress).context("training a classification forest");
}

Result<RandomForest> train_regression_forest(FeatureMatrix features, FeatureMatrix targets,
                                             std::span<const float> sample_weights,
                                             const ForestOptions& options, ThreadPool* pool,
                                             const CancelToken* cancel, Progress* progress) {
  GROVE_RETURN_IF_ERROR(check_features(features, targets.rows));
  GROVE_RETURN_IF_ERROR(check_forest_options(options, features.columns));
  if (targets.columns < 1 || targets.columns > 4096 || targets.data == nullptr ||
      targets.row_stride < targets.columns)
    return make_error(ErrorCode::kInvalidArgument,
                      "regression targets: {} outputs per sample (1..4096)", targets.columns);
  Problem problem;
  problem.kind = ForestKind::kRegression;
  problem.features = features;
  problem.columns = features.columns;
  problem.options = options;
  problem.outputs = static_cast<int>(targets.columns);
  GROVE_RETURN_IF_ERROR(set_weights(problem, sample_weights));
  problem.targets.resize(targets.rows * targets.columns);
  for (int64_t r = 0; r < targets.rows; ++r)
    for (int64_t m = 0; m < targets.columns; ++m) {
      const float y = targets(r, m);
      if (!std::isfinite(y))
        return make_error(ErrorCode::kInvalidArgument,
                          "regression target {} of sample {} is {}: targets must be finite", m, r,
                          y);
      problem.targets[r * targets.columns + m] = y;
    }
  problem.features_per_split = options.features_per_split > 0
                                   ? options.features_per_split
                                   : default_features_per_split(problem.kind, problem.columns);
  return train<true>(problem, pool, cancel, progress).context("training a regression forest");
}

}  // namespace grove
