// Importing ilastik 1.2–1.4 pixel-classification and autocontext projects (.ilp, HDF5; layout
// in DESIGN.md §5): raw data paths and axis tags, label sets with names and colours, the feature
// selection (with ComputeIn2d) and the stored VIGRA forests, so that grove predicts what ilastik
// predicted. Autocontext projects hold one such classifier per stage (PixelClassification,
// PixelClassification01, ...; FeatureSelections, FeatureSelections01, ...).
// The .ilp is opened read-only and never modified.
#pragma once

#include <string>
#include <vector>

#include "grove/project/project.h"

namespace grove {

struct IlastikImportOptions {
  // Folders searched for raw data the project names but that is not where it says (by the
  // stored relative path, then by file name).
  std::vector<std::string> raw_data_dirs;
  // Import even if a lane's raw data cannot be found (its path is kept; labels are kept).
  bool allow_missing_raw_data = false;
};

Result<Project> import_ilastik_project(const std::string& ilp_path,
                                       const IlastikImportOptions& options);

// "[26:64,36:101,0:1]" -> begin/end per axis.
Result<std::vector<std::pair<int64_t, int64_t>>> parse_block_slice(std::string_view text);

}  // namespace grove
