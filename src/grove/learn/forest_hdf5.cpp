#include "grove/learn/forest_hdf5.h"

#include "grove/learn/forest_storage.h"

namespace grove {

namespace {

// More elements than any forest needs (a billion-node forest would not fit in memory anyway).
constexpr int64_t kMaxForestDatasetElements = int64_t{1} << 28;

template <class T>
Status write_array(hdf5::Group& group, const char* name, const std::vector<T>& values) {
  if (group.exists(name)) GROVE_RETURN_IF_ERROR(group.remove(name));
  const int64_t n = static_cast<int64_t>(values.size());
  hdf5::DatasetOptions options;
  if (n > 4096) {
    // Large arrays compress well (small integers, repeated probabilities).
    options.chunks = {std::min<int64_t>(n, 1 << 16)};
    options.gzip_level = 4;
    options.shuffle = true;
  }
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset dataset,
                         group.create_dataset(name, dtype_of<T>, {n}, options));
  if (n == 0) return ok_status();
  return dataset.write(dtype_of<T>, values.data());
}

}  // namespace

template <class T>
Result<std::vector<T>> read_forest_dataset(const hdf5::Group& group, std::string_view name) {
  if (!group.exists(name))
    return make_error(ErrorCode::kCorrupt, "random forest in {}: dataset {} is missing",
                      group.describe(), name);
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset dataset, group.open_dataset(name));
  if (dataset.element_count() > kMaxForestDatasetElements)
    return make_error(ErrorCode::kCorrupt, "random forest dataset {} claims {} elements",
                      dataset.describe(), dataset.element_count());
  return dataset.read_vector<T>().context("reading a random forest");
}

template Result<std::vector<float>> read_forest_dataset(const hdf5::Group&, std::string_view);
template Result<std::vector<double>> read_forest_dataset(const hdf5::Group&, std::string_view);
template Result<std::vector<int32_t>> read_forest_dataset(const hdf5::Group&, std::string_view);
template Result<std::vector<uint32_t>> read_forest_dataset(const hdf5::Group&, std::string_view);
template Result<std::vector<int64_t>> read_forest_dataset(const hdf5::Group&, std::string_view);

Status save_forest(hdf5::Group& group, const RandomForest& forest, const nlohmann::json& extra) {
  if (forest.empty())
    return make_error(ErrorCode::kInvalidArgument, "cannot save an empty random forest");
  const ForestArrays arrays = forest_to_arrays(forest, extra);
  auto save = [&]() -> Status {
    if (group.exists("metadata")) GROVE_RETURN_IF_ERROR(group.remove("metadata"));
    GROVE_RETURN_IF_ERROR(group.write_string("metadata", arrays.metadata));
    GROVE_RETURN_IF_ERROR(write_array(group, "node_feature", arrays.node_feature));
    GROVE_RETURN_IF_ERROR(write_array(group, "node_threshold", arrays.node_threshold));
    GROVE_RETURN_IF_ERROR(write_array(group, "node_left", arrays.node_left));
    GROVE_RETURN_IF_ERROR(write_array(group, "node_right", arrays.node_right));
    GROVE_RETURN_IF_ERROR(write_array(group, "tree_node_begin", arrays.tree_node_begin));
    GROVE_RETURN_IF_ERROR(write_array(group, "leaf_values", arrays.leaf_values));
    GROVE_RETURN_IF_ERROR(write_array(group, "leaf_weights", arrays.leaf_weights));
    GROVE_RETURN_IF_ERROR(write_array(group, "tree_leaf_begin", arrays.tree_leaf_begin));
    return ok_status();
  };
  return save().context("saving the random forest to " + group.describe());
}

Result<RandomForest> load_forest(const hdf5::Group& group) {
  auto load = [&]() -> Result<RandomForest> {
    ForestArrays arrays;
    if (!group.exists("metadata"))
      return make_error(ErrorCode::kNotFound, "no random forest here (no metadata dataset)");
    GROVE_ASSIGN_OR_RETURN(arrays.metadata, group.read_string("metadata"));
    GROVE_ASSIGN_OR_RETURN(arrays.node_feature,
                           read_forest_dataset<uint32_t>(group, "node_feature"));
    GROVE_ASSIGN_OR_RETURN(arrays.node_threshold,
                           read_forest_dataset<float>(group, "node_threshold"));
    GROVE_ASSIGN_OR_RETURN(arrays.node_left, read_forest_dataset<int32_t>(group, "node_left"));
    GROVE_ASSIGN_OR_RETURN(arrays.node_right, read_forest_dataset<int32_t>(group, "node_right"));
    GROVE_ASSIGN_OR_RETURN(arrays.tree_node_begin,
                           read_forest_dataset<int64_t>(group, "tree_node_begin"));
    GROVE_ASSIGN_OR_RETURN(arrays.leaf_values, read_forest_dataset<float>(group, "leaf_values"));
    GROVE_ASSIGN_OR_RETURN(arrays.leaf_weights, read_forest_dataset<float>(group, "leaf_weights"));
    GROVE_ASSIGN_OR_RETURN(arrays.tree_leaf_begin,
                           read_forest_dataset<int64_t>(group, "tree_leaf_begin"));
    return forest_from_arrays(arrays);
  };
  return load().context("loading the random forest in " + group.describe());
}

Result<nlohmann::json> load_forest_extra(const hdf5::Group& group) {
  ForestArrays arrays;
  GROVE_ASSIGN_OR_RETURN(arrays.metadata, group.read_string("metadata"));
  return forest_extra_metadata(arrays);
}

}  // namespace grove
