// The pixel-classification workflow: images (lanes) with sparse labels, a feature selection, a
// random forest trained on the features of the labelled pixels, and the lazy prediction and
// export graphs that the CLI, the server and the Python module run on the engine.
//
// Training never computes whole feature images: only the blocks that hold labels, block-wise
// through the engine (cached in interactive use, so retraining after an edit reruns only the
// forest). Prediction is a chain of nodes: raw -> features -> forest -> export.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "grove/engine/engine.h"
#include "grove/filters/feature_selection.h"
#include "grove/learn/forest_training.h"
#include "grove/learn/random_forest.h"
#include "grove/workflows/pixel/label_store.h"

namespace grove {

struct LabelClass {
  std::string name;
  std::array<uint8_t, 3> color{255, 0, 0};
};

// ilastik's default label colours, in order.
std::array<uint8_t, 3> default_class_color(size_t index);

// One image of the project with its labels.
struct PixelLane {
  std::string path;      // where the raw data is (absolute at run time)
  std::string nickname;  // file name without extension (ilastik's {nickname})
  Shape5 shape;          // t, z, y, x, c
  DType dtype = DType::u8;
  std::string axes;  // as stored in the file
  // Physical size of a pixel along t, z, y, x where the file records one (for the user's
  // information and exports; the features work in pixels, as ilastik's).
  std::array<double, 4> pixel_size{1.0, 1.0, 1.0, 1.0};
  std::array<std::string, 4> pixel_unit{"", "", "", ""};
  bool has_pixel_size = false;
  std::shared_ptr<LabelStore> labels;
};

// What may be exported (ilastik's export sources).
// kOverlay (grove's own): the raw image with the class colours blended in, RGB uint8.
enum class ExportSource {
  kProbabilities,
  kSimpleSegmentation,
  kUncertainty,
  kFeatures,
  kLabels,
  kOverlay
};
// "probabilities", "simple-segmentation", ... and ilastik's "Probabilities",
// "Simple Segmentation", "Uncertainty", "Features", "Labels".
Result<ExportSource> parse_export_source(std::string_view name);
std::string_view export_source_name(ExportSource source);         // "probabilities", ...
std::string_view export_source_result_type(ExportSource source);  // ilastik's {result_type}

// The labelled pixels' features and class ids, gathered from every lane.
struct TrainingSet {
  std::vector<float> features;  // rows × feature_count, row-major
  std::vector<int32_t> labels;  // class ids 1..K
  int64_t feature_count = 0;
  int64_t rows() const { return static_cast<int64_t>(labels.size()); }
};

struct TrainingReport {
  int64_t labelled_pixels = 0;
  std::vector<int64_t> pixels_per_class;  // index k-1 for class k
  double seconds_features = 0;
  double seconds_training = 0;
};

// The features and class ids of the labelled pixels of label blocks seen by earlier trainings,
// keyed by (feature node identity, block position, label contents): retraining after a stroke
// recomputes the features of the blocks the stroke changed only. Shared by copies of a
// PixelClassification (the server trains on a copy); holds only what the last training used.
struct TrainingRowCache {
  struct Entry {
    std::vector<float> features;
    std::vector<int32_t> labels;
  };
  std::mutex mutex;
  std::map<std::array<uint64_t, 3>, std::shared_ptr<const Entry>> entries;
};

class PixelClassification {
 public:
  filters::FeatureSelection features = filters::FeatureSelection::all();
  ForestOptions forest_options;
  std::vector<LabelClass> classes;
  std::vector<PixelLane> lanes;
  // The trained (or imported) classifier and the input channel count it was trained on.
  std::shared_ptr<const RandomForest> forest;
  int64_t trained_channels = 0;
  bool trained_volume_3d = false;
  uint64_t forest_id = 0;  // changes whenever the forest does
  std::shared_ptr<TrainingRowCache> training_rows = std::make_shared<TrainingRowCache>();

  // Adds an image by path (opens it to learn its shape); its labels start empty.
  Result<size_t> add_lane(const std::string& path);
  // Adds classes up to count with default names and colours.
  void ensure_classes(size_t count);

  // raw -> pixel features.
  Result<NodePtr> feature_node(const NodePtr& raw, bool cacheable = false) const;
  // raw -> features -> class probabilities (needs a trained forest).
  Result<NodePtr> probability_node(const NodePtr& raw, bool cacheable = false,
                                   int preview_depth = 0) const;
  // raw -> what `source` exports. kLabels needs lane (the lane's labels as an image).
  Result<NodePtr> export_node(const NodePtr& raw, ExportSource source,
                              std::optional<size_t> lane = std::nullopt) const;

  // Gathers the features of every labelled pixel of every lane, block-wise on the engine: the
  // features are computed on the tight boxes of the labels (merged where their halos overlap
  // enough that one box costs less), not on whole blocks, and reused from training_rows.
  // raw_nodes[i] is lane i's raw data (nullptr: opened from the lane's path).
  Result<TrainingSet> collect_training_set(Engine& engine, const std::vector<NodePtr>& raw_nodes,
                                           const RunOptions& options = {}) const;
  // Collects the training set and trains the forest on it (sets forest, forest_id,
  // trained_channels).
  Result<TrainingReport> train(Engine& engine, const std::vector<NodePtr>& raw_nodes = {},
                               const RunOptions& options = {});
};

}  // namespace grove
