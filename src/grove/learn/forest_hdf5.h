// Saving and loading grove's random forests in an HDF5 group (the grove project file keeps its
// classifiers this way), in the layout of forest_storage.h: a "metadata" JSON string dataset and
// one dataset per array. For the project layer.
#pragma once

#include <nlohmann/json.hpp>

#include "grove/io/hdf5_file.h"
#include "grove/learn/random_forest.h"

namespace grove {

// Writes the forest into group (members of the same names are replaced). extra: caller's JSON,
// kept in the metadata (e.g. the training options).
Status save_forest(hdf5::Group& group, const RandomForest& forest,
                   const nlohmann::json& extra = {});
// Reads and checks a forest saved by save_forest: missing or damaged datasets give kCorrupt (or
// kNotFound), a newer format kUnsupported.
Result<RandomForest> load_forest(const hdf5::Group& group);
// The extra JSON saved with the forest (null if none).
Result<nlohmann::json> load_forest_extra(const hdf5::Group& group);

// Reads one dataset as a vector, refusing absurd sizes (a damaged file must not make grove
// allocate gigabytes). Shared with the VIGRA reader.
template <class T>
Result<std::vector<T>> read_forest_dataset(const hdf5::Group& group, std::string_view name);

}  // namespace grove
