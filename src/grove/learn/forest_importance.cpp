#include "grove/learn/forest_importance.h"

#include <algorithm>
#include <functional>

#include "grove/learn/random_generator.h"

namespace grove {
namespace {

// score(predictions) -> a number where larger is better.
Result<std::vector<double>> permute_and_score(
    const RandomForest& forest, FeatureMatrix features, const PermutationImportanceOptions& options,
    ThreadPool* pool, const std::function<double(const std::vector<float>&)>& score) {
  if (options.repeats < 1)
    return make_error(ErrorCode::kInvalidArgument, "permutation importance: repeats = {} (>= 1)",
                      options.repeats);
  if (features.rows < 2)
    return make_error(ErrorCode::kInvalidArgument,
                      "permutation importance needs at least 2 samples, got {}", features.rows);
  const int64_t rows = features.rows;
  const int64_t columns = features.columns;
  const int64_t outputs = forest.output_count();
  // A private copy whose columns are shuffled and restored one at a time.
  std::vector<float> work(rows * columns);
  for (int64_t r = 0; r < rows; ++r) std::copy_n(features.row(r), columns, &work[r * columns]);
  const FeatureMatrix matrix(work.data(), rows, columns);
  std::vector<float> predictions(rows * outputs);
  const MatrixView<float> out(predictions.data(), rows, outputs);
  GROVE_RETURN_IF_ERROR(forest.predict(matrix, out, pool));
  const double baseline = score(predictions);
  std::vector<double> importance(columns, 0.0);
  std::vector<float> column(rows);
  for (int64_t f = 0; f < columns; ++f) {
    for (int64_t r = 0; r < rows; ++r) column[r] = work[r * columns + f];
    double total = 0.0;
    for (int repeat = 0; repeat < options.repeats; ++repeat) {
      RandomGenerator random(options.seed, static_cast<uint64_t>(f * options.repeats + repeat));
      std::vector<float> shuffled = column;
      for (int64_t i = rows - 1; i > 0; --i)
        std::swap(shuffled[i], shuffled[random.below(static_cast<uint64_t>(i) + 1)]);
      for (int64_t r = 0; r < rows; ++r) work[r * columns + f] = shuffled[r];
      GROVE_RETURN_IF_ERROR(forest.predict(matrix, out, pool));
      total += score(predictions);
    }
    for (int64_t r = 0; r < rows; ++r) work[r * columns + f] = column[r];
    importance[f] = baseline - total / options.repeats;
  }
  return importance;
}

}  // namespace

Result<std::vector<double>> permutation_importance(const RandomForest& forest,
                                                   FeatureMatrix features,
                                                   std::span<const int32_t> labels,
                                                   const PermutationImportanceOptions& options,
                                                   ThreadPool* pool) {
  if (forest.kind() != ForestKind::kClassification)
    return make_error(ErrorCode::kInvalidArgument,
                      "permutation_importance needs a classification forest");
  if (static_cast<int64_t>(labels.size()) != features.rows)
    return make_error(ErrorCode::kInvalidArgument, "{} labels for {} samples", labels.size(),
                      features.rows);
  // Labels as output columns; a label the forest does not know can never be right.
  const auto& classes = forest.class_labels();
  std::vector<int64_t> column_of(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    auto it = std::lower_bound(classes.begin(), classes.end(), labels[i]);
    column_of[i] = (it != classes.end() && *it == labels[i]) ? it - classes.begin() : -1;
  }
  const int64_t outputs = forest.output_count();
  auto accuracy = [&](const std::vector<float>& p) {
    int64_t right = 0;
    for (size_t i = 0; i < column_of.size(); ++i) {
      const float* row = &p[i * outputs];
      right += (std::max_element(row, row + outputs) - row) == column_of[i];
    }
    return static_cast<double>(right) / static_cast<double>(column_of.size());
  };
  return permute_and_score(forest, features, options, pool, accuracy);
}

Result<std::vector<double>> permutation_importance_regression(
    const RandomForest& forest, FeatureMatrix features, FeatureMatrix targets,
    const PermutationImportanceOptions& options, ThreadPool* pool) {
  if (forest.kind() != ForestKind::kRegression)
    return make_error(ErrorCode::kInvalidArgument,
                      "permutation_importance_regression needs a regression forest");
  if (targets.rows != features.rows || targets.columns != forest.output_count())
    return make_error(ErrorCode::kInvalidArgument,
                      "targets are {}×{}, expected {}×{} (samples × outputs)", targets.rows,
                      targets.columns, features.rows, forest.output_count());
  const int64_t outputs = forest.output_count();
  auto negative_error = [&](const std::vector<float>& p) {
    double squared = 0.0;
    for (int64_t r = 0; r < targets.rows; ++r)
      for (int64_t m = 0; m < outputs; ++m) {
        const double d = p[r * outputs + m] - targets(r, m);
        squared += d * d;
      }
    return -squared / static_cast<double>(targets.rows * outputs);
  };
  return permute_and_score(forest, features, options, pool, negative_error);
}

}  // namespace grove
