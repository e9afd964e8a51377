// The grove project: what a user trained, in one HDF5 file that h5py can read (schema in
// docs/project-format.md). Holds the workflow (pixel classification or autocontext) with its
// images, labels, feature selection and classifier(s), and the export settings.
//
// Saving is atomic: the project is written to a temporary file beside the target and renamed
// over it, so a crash or a kill at any point leaves either the old or the new project, never a
// mixture. Opening an older format version upgrades it in memory; a newer one is refused.
#pragma once

#include <string>

#include "grove/workflows/autocontext/autocontext.h"
#include "grove/workflows/pixel/pixel_classification.h"

namespace grove {

// The newest project format this grove reads and writes. A file records the oldest format that
// describes it (pixel classification: 1; autocontext, added in 2: 2), so older groves keep
// opening what they can read.
inline constexpr int kProjectFormatVersion = 2;

// How results are exported by default (ilastik's "Prediction Export" applet settings).
struct ExportSettings {
  ExportSource source = ExportSource::kProbabilities;
  std::string format = "hdf5";  // hdf5, tiff, png, npy, zarr, n5
  // ilastik's placeholders {dataset_dir}, {nickname}, {result_type}; the extension is added.
  std::string filename_pattern = "{dataset_dir}/{nickname}_{result_type}";
  std::string internal_path = "exported_data";
  std::string dtype;       // "" keeps the result's dtype
  std::string axis_order;  // "" keeps t,z,y,x,c minus the axes of size 1
};

struct Project {
  std::string workflow = "pixel-classification";  // or "autocontext" (kAutocontextWorkflow)
  PixelClassification pixel;                      // for "pixel-classification"
  Autocontext autocontext;                        // for "autocontext"
  ExportSettings export_settings;
  // Where the project was loaded from / saved to ("" for a new project).
  std::string path;
};

// Opens a grove project (or, if path is an ilastik .ilp, imports it).
Result<Project> open_project(const std::string& path);
// Opens a grove project file.
Result<Project> load_project(const std::string& path);
// Saves atomically; input paths under the project's directory are stored relative to it.
Status save_project(const Project& project, const std::string& path, bool overwrite = true);
// True if the file is a grove project (HDF5 with the grove attribute).
bool is_grove_project(const std::string& path);

}  // namespace grove
