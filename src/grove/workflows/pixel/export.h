// Exporting what a trained pixel classifier computes for new images, block by block and streamed
// into the output file (never the whole result in memory), as `grove run`, `grove --headless`,
// the server's export jobs and the Python module do it. Output names follow ilastik's
// placeholders, outputs appear atomically (temporary name, then rename), an existing output is
// refused unless overwrite is set.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "grove/core/progress.h"
#include "grove/engine/engine.h"
#include "grove/workflows/pixel/pixel_classification.h"

namespace grove {

struct ExportRequest {
  std::string input;       // image path (file, file.h5/dataset, ...)
  std::string input_axes;  // reinterpret the input's axes ("" keeps the file's)
  ExportSource source = ExportSource::kProbabilities;
  // The source as the user named it, for workflows with more sources than ExportSource (an
  // autocontext project's "Probabilities Stage 1"); "" : `source`.
  std::string source_name;
  // ilastik's {result_type} ("" : the source's, e.g. "Probabilities").
  std::string result_type;
  std::optional<size_t> lane;   // for kLabels: which project image the input is
  std::string format = "hdf5";  // hdf5, tiff, png, jpeg, npy, zarr, n5
  // ilastik's placeholders {dataset_dir}, {nickname}, {result_type}; the format's extension is
  // appended when the pattern has none.
  std::string output_pattern = "{dataset_dir}/{nickname}_{result_type}";
  std::string internal_path = "exported_data";           // for hdf5/zarr/n5
  std::optional<DType> dtype;                            // convert the result
  std::optional<std::pair<double, double>> input_range;  // with output_range: a linear map
  std::optional<std::pair<double, double>> output_range;
  std::string output_axes;        // e.g. "tzyxc", "yxc" ("" : the default for the format)
  std::optional<Box5> subregion;  // in t,z,y,x,c of the input
  std::string compression;        // "" : the format's default
  bool overwrite = false;
};

// The output path a request writes (placeholders filled, extension added).
Result<std::string> export_output_path(const ExportRequest& request);

// Computes and writes one export. Returns the output path.
Result<std::string> export_image(Engine& engine, const PixelClassification& workflow,
                                 const ExportRequest& request, Progress* progress = nullptr,
                                 const CancelToken& cancel = {});

// The parts of export_image, for the workflows that build their own graph (autocontext): the
// input as a node, an overlay of probabilities on it, and the writing of a result node (value
// conversion, subregion, output path, streamed block by block).
Result<NodePtr> open_export_input(const ExportRequest& request);
Result<NodePtr> overlay_export_node(Engine& engine, const NodePtr& raw,
                                    const NodePtr& probabilities,
                                    const std::vector<LabelClass>& classes);
Result<std::string> write_export_node(Engine& engine, NodePtr node, const ExportRequest& request,
                                      Progress* progress = nullptr, const CancelToken& cancel = {});

// The file extension of an output format (".h5", ".tif", ...), or an error for an unknown one.
Result<std::string> format_extension(const std::string& format);
// Accepts grove's and ilastik's format names ("hdf5", "tif", "tiff", "multipage tiff", "png",
// "numpy", "npy", "zarr", "n5", ...) and returns grove's.
Result<std::string> normalize_format(const std::string& format);

// ilastik's --cutout_subregion "[(start, ...), (stop, ...)]" (None for unbounded), given in the
// order of `axes` (the input's), as a t,z,y,x,c box clipped to shape.
Result<Box5> parse_subregion(std::string_view text, const std::string& axes, const Shape5& shape);

}  // namespace grove
