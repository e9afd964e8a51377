// The random forest of the Python module: training on a numpy feature matrix, prediction,
// importances and pickling (through the forest's storage arrays). The scikit-learn conventions
// (any labels, classes_, get_params, ...) and the docstrings are in grove/_forest.py.
#include <fmt/format.h>

#include "bindings.h"
#include "conversion.h"
#include "grove/learn/forest_importance.h"
#include "grove/learn/forest_storage.h"
#include "grove/learn/forest_training.h"

namespace grove::python {

namespace {

using Matrix = py::array_t<float, py::array::c_style | py::array::forcecast>;
using Labels = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
using Weights = py::array_t<float, py::array::c_style | py::array::forcecast>;

FeatureMatrix matrix_of(const Matrix& x, const char* what) {
  if (x.ndim() != 2) {
    raise_python(PyExc_ValueError,
                 fmt::format("{} must be 2-dimensional (samples × features), got {} dimension(s)",
                             what, x.ndim()));
  }
  return FeatureMatrix(x.data(), x.shape(0), x.shape(1));
}

std::span<const int32_t> labels_of(const Labels& y, int64_t rows) {
  if (y.ndim() != 1 || y.shape(0) != rows) {
    raise_python(PyExc_ValueError,
                 fmt::format("y must be 1-dimensional with one label per sample ({}), got shape "
                             "{}",
                             rows, py::str(py::tuple(y.attr("shape"))).cast<std::string>()));
  }
  return {y.data(), static_cast<size_t>(rows)};
}

// Python holds forests as shared, never changed after training.
using Forest = std::shared_ptr<RandomForest>;

Forest train(const Matrix& x, const Labels& y, const std::optional<Weights>& weights,
             const std::string& options_json, int threads) {
  const ForestOptions options = forest_options_from_json(options_json);
  const FeatureMatrix features = matrix_of(x, "X");
  if (features.rows == 0) raise_python(PyExc_ValueError, "X has no samples");
  const std::span<const int32_t> labels = labels_of(y, features.rows);
  std::span<const float> sample_weights;
  if (weights) {
    if (weights->ndim() != 1 || weights->shape(0) != features.rows) {
      raise_python(
          PyExc_ValueError,
          fmt::format("sample_weight must hold one weight per sample ({})", features.rows));
    }
    sample_weights = {weights->data(), static_cast<size_t>(features.rows)};
  }
  RandomForest forest = check(run_without_gil([&](const CancelToken& cancel) {
    ThreadPool pool(threads);
    return train_classification_forest(features, labels, sample_weights, options, &pool, &cancel);
  }));
  return std::make_shared<RandomForest>(std::move(forest));
}

py::array_t<float> predict(const Forest& forest, const Matrix& x, int threads) {
  const FeatureMatrix features = matrix_of(x, "X");
  if (features.columns != forest->feature_count()) {
    raise_python(PyExc_ValueError,
                 fmt::format("X has {} features, but the forest was trained with {}",
                             features.columns, forest->feature_count()));
  }
  py::array_t<float> out({features.rows, forest->output_count()});
  MatrixView<float> probabilities(out.mutable_data(), features.rows, forest->output_count());
  check(run_without_gil([&](const CancelToken&) {
    ThreadPool pool(threads);
    return forest->predict(features, probabilities, &pool);
  }));
  return out;
}

std::vector<double> permutation(const Forest& forest, const Matrix& x, const Labels& y, int repeats,
                                uint64_t seed, int threads) {
  const FeatureMatrix features = matrix_of(x, "X");
  const std::span<const int32_t> labels = labels_of(y, features.rows);
  if (repeats < 1) {
    raise_python(PyExc_ValueError, fmt::format("n_repeats must be at least 1, got {}", repeats));
  }
  PermutationImportanceOptions options;
  options.repeats = repeats;
  options.seed = seed;
  return check(run_without_gil([&](const CancelToken&) {
    ThreadPool pool(threads);
    return permutation_importance(*forest, features, labels, options, &pool);
  }));
}

template <class T>
py::array_t<T> numpy_copy(const std::vector<T>& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

template <class T>
std::vector<T> vector_of(const py::handle& value) {
  auto array = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(value);
  if (!array || array.ndim() != 1) raise_python(PyExc_ValueError, "corrupt pickled forest");
  return std::vector<T>(array.data(), array.data() + array.shape(0));
}

py::tuple forest_state(const Forest& forest) {
  const ForestArrays arrays = forest_to_arrays(*forest);
  return py::make_tuple(arrays.metadata, numpy_copy(arrays.node_feature),
                        numpy_copy(arrays.node_threshold), numpy_copy(arrays.node_left),
                        numpy_copy(arrays.node_right), numpy_copy(arrays.tree_node_begin),
                        numpy_copy(arrays.leaf_values), numpy_copy(arrays.leaf_weights),
                        numpy_copy(arrays.tree_leaf_begin));
}

Forest forest_from_state(const py::tuple& state) {
  if (state.size() != 9) raise_python(PyExc_ValueError, "corrupt pickled forest");
  ForestArrays arrays;
  arrays.metadata = state[0].cast<std::string>();
  arrays.node_feature = vector_of<uint32_t>(state[1]);
  arrays.node_threshold = vector_of<float>(state[2]);
  arrays.node_left = vector_of<int32_t>(state[3]);
  arrays.node_right = vector_of<int32_t>(state[4]);
  arrays.tree_node_begin = vector_of<int64_t>(state[5]);
  arrays.leaf_values = vector_of<float>(state[6]);
  arrays.leaf_weights = vector_of<float>(state[7]);
  arrays.tree_leaf_begin = vector_of<int64_t>(state[8]);
  return std::make_shared<RandomForest>(check(forest_from_arrays(arrays)));
}

}  // namespace

void bind_forest(py::module_& module) {
  py::class_<RandomForest, Forest>(module, "_Forest")
      .def_property_readonly("n_features", &RandomForest::feature_count)
      .def_property_readonly("n_outputs", &RandomForest::output_count)
      .def_property_readonly("n_trees", &RandomForest::tree_count)
      .def_property_readonly("n_nodes", &RandomForest::node_count)
      .def_property_readonly("depth", &RandomForest::max_depth)
      .def_property_readonly("class_labels", &RandomForest::class_labels)
      .def_property_readonly(
          "n_training_samples",
          [](const RandomForest& forest) { return forest.training().sample_count; })
      .def_property_readonly(
          "gini_importance",
          [](const RandomForest& forest) { return numpy_copy(forest.training().gini_importance); })
      .def_property_readonly(
          "out_of_bag_error",
          [](const RandomForest& forest) { return forest.training().out_of_bag_error; })
      .def("predict", &predict, py::arg("X"), py::arg("threads"))
      .def(py::pickle(&forest_state, &forest_from_state));
  module.def("_train_forest", &train, py::arg("X"), py::arg("y"), py::arg("sample_weight"),
             py::arg("options"), py::arg("threads"));
  module.def("_permutation_importance", &permutation, py::arg("forest"), py::arg("X"), py::arg("y"),
             py::arg("repeats"), py::arg("seed"), py::arg("threads"));
}

}  // namespace grove::python
