// The interface between `grove serve` and the workflow behind it: everything the browser UI can
// ask for, free of HTTP. The server (apps/server/server.cpp) turns HTTP requests into calls of
// this class; the pixel-classification workflow implements it (pixel_backend.h), and the server
// tests use a small test double (apps/server/testing/test_backend.h).
//
// For whoever implements it:
// - Every method may be called from several HTTP worker threads at once: make it thread-safe.
//   The methods are synchronous; the server runs the long ones (train, export, save) on its own
//   threads, coalesces retraining while the user paints, and pushes progress to the page.
// - Paths handed in (add_image, export, save) have already been checked by the server: they lie
//   under the --root folder and are absolute and canonical (container paths keep their internal
//   part: "/root/a/file.h5/data").
// - Errors are values: a Status/Result whose message the page shows to the user as it is, so say
//   what went wrong in the user's words ("class 3 does not exist", not "index out of range").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grove/core/array.h"
#include "grove/core/cancel.h"
#include "grove/core/progress.h"
#include "grove/core/result.h"
#include "grove/core/shape.h"

namespace grove::server {

// An image of the project; ids are stable for the session and never reused.
using ImageId = int64_t;

// The three orthogonal slice views. A view shows plane coordinates (u to the right, v down):
//   xy: u = x, v = y, the slice index is z
//   xz: u = x, v = z, the slice index is y
//   yz: u = z, v = y, the slice index is x   (so that XY and YZ share the y axis side by side)
enum class Plane { xy, xz, yz };

std::string_view plane_name(Plane plane);                 // "xy", "xz", "yz"
std::optional<Plane> parse_plane(std::string_view name);  // inverse of plane_name
// Width (u) and height (v) of a plane of an image of this shape.
std::array<int64_t, 2> plane_extent(const Shape5& shape, Plane plane);
// Number of slices along the plane's normal (z for xy, y for xz, x for yz).
int64_t plane_depth(const Shape5& shape, Plane plane);
// The t,z,y,x,c box of plane pixels [u0,u1) × [v0,v1) of slice `slice` at time t (all channels).
Box5 plane_box(const Shape5& shape, Plane plane, int64_t t, int64_t slice, int64_t u0, int64_t v0,
               int64_t u1, int64_t v1);

// One 2D slice of one image at one time point.
struct PlaneRef {
  ImageId image = 0;
  Plane plane = Plane::xy;
  int64_t t = 0;
  int64_t slice = 0;  // index along the plane's normal
};

struct ImageSummary {
  ImageId id = 0;
  std::string name;  // short name for the list (file name, plus the internal path if any)
  std::string path;  // absolute path as opened (container paths with their internal part)
  Shape5 shape;      // t, z, y, x, c
  DType dtype = DType::u8;
  std::string axes;  // axes as stored in the file, e.g. "yx", "zyxc"
  std::array<double, 4> pixel_size{1.0, 1.0, 1.0, 1.0};  // t, z, y, x
  std::array<std::string, 4> pixel_unit{"", "", "", ""};
  bool has_pixel_size = false;
  int64_t labelled_pixels = 0;  // pixels carrying a label, all classes
};

// A label class; its label value is its position in the list plus one (0 = unlabelled).
struct LabelClass {
  std::string name;
  std::string color;  // "#rrggbb"
};

// ilastik's feature matrix: family × scale, with a per-scale choice of 2D (per z-slice) or 3D.
struct FeatureSelection {
  static constexpr int kFamilyCount = 6;
  static constexpr int kScaleCount = 7;
  // ilastik's names and order (DESIGN.md §5).
  static constexpr std::array<std::string_view, kFamilyCount> kFamilies{
      "GaussianSmoothing",     "LaplacianOfGaussian",        "GaussianGradientMagnitude",
      "DifferenceOfGaussians", "StructureTensorEigenvalues", "HessianOfGaussianEigenvalues"};
  static constexpr std::array<double, kScaleCount> kScales{0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0};

  // selected[family][scale]; scale 0.3 exists only for GaussianSmoothing.
  std::array<std::array<bool, kScaleCount>, kFamilyCount> selected{};
  // in_2d[scale]: compute this scale's features per z-slice (only matters for 3D images).
  std::array<bool, kScaleCount> in_2d{};

  static bool valid_cell(int family, int scale) { return scale != 0 || family == 0; }
  // Every valid cell selected (ilastik's "all": 49 features on a 1-channel 2D image).
  static FeatureSelection all();
  // A small default for a new project (smoothing, edges and texture at σ 1.0 and 3.5... see .cpp).
  static FeatureSelection default_selection();
  int selected_count() const;
  friend bool operator==(const FeatureSelection&, const FeatureSelection&) = default;
};

// One feature channel's share in the trained forest's decisions.
struct FeatureImportance {
  std::string family;  // one of FeatureSelection::kFamilies
  double scale = 0;
  int channel = 0;    // input channel
  int component = 0;  // eigenvalue index for the eigenvalue families, else 0
  bool in_2d = false;
  double importance = 0;  // e.g. the Gini decrease, normalised to sum 1
};

// What the page shows about the project as a whole.
struct ProjectState {
  std::string path;  // "" while the project has never been saved
  std::string name;
  bool dirty = false;  // unsaved changes
  std::vector<LabelClass> classes;
  std::vector<ImageSummary> images;
  FeatureSelection features;
  bool live_update = false;
  bool trained = false;     // a classifier for the current features exists
  uint64_t generation = 0;  // the classifier generation; bumped by every successful train()
  bool can_undo = false;
  bool can_redo = false;
  // Autocontext projects have several stages (pixel classification: 1). Labels, classes,
  // features, training and the prediction tiles are those of the selected stage (0-based).
  int stage_count = 1;
  int stage = 0;
};

// A brush stroke in one plane: every pixel whose centre lies within `radius` of the polyline
// (plane coordinates, full resolution; pixel (u, v) covers [u, u+1) × [v, v+1)) gets `label`,
// and the pixel under each point always does. See brush.h for a rasteriser to use.
struct BrushStroke {
  PlaneRef where;
  int label = 1;                              // 1..classes.size(); 0 erases
  double radius = 2.0;                        // in pixels; the UI's brush size is the diameter
  std::vector<std::array<double, 2>> points;  // (u, v), at least one
};

// What an edit changed, so that the page refetches only those tiles.
struct LabelChange {
  ImageId image = 0;
  Box5 box;  // t,z,y,x box of changed pixels (c: 0..1); empty when nothing changed
};

// The layers a tile can show.
enum class Layer { raw, labels, probabilities, segmentation, uncertainty };
std::string_view layer_name(Layer layer);  // "raw", "labels", "probabilities", ...
std::optional<Layer> parse_layer(std::string_view name);

// A 2D tile of a plane at a zoom level. At level k each tile pixel stands for 2^k × 2^k plane
// pixels; (u0, v0) and width × height are in level-k pixels, inside the plane's extent at that
// level (ceil(extent / 2^k)): the server clips requests at the edge before asking.
struct TileRequest {
  PlaneRef where;
  Layer layer = Layer::raw;
  int level = 0;
  int64_t u0 = 0, v0 = 0;
  int width = 256, height = 256;
  int channel = -1;    // raw only: one input channel, or -1 for all channels (interleaved)
  int priority = 0;    // higher first: the page ranks visible tiles above prefetching
  int stage = -1;      // which stage's labels and prediction (0-based); -1: the selected stage
  CancelToken cancel;  // cancelled when the page no longer needs the tile (return kCancelled)
};

// A tile's pixels: data has shape (1, 1, height, width, channels), C order (channels fastest).
//   raw:            the image's dtype, channels = all or one
//   labels:         u8 label values (0 = unlabelled), 1 channel
//   probabilities:  f32 in [0, 1] (or u8 0..255), one channel per class
//   segmentation:   u8 label value of the most probable class, 1 channel
//   uncertainty:    f32 in [0, 1] (or u8 0..255), 1 - (p1 - p2) as ilastik defines it
// Prediction layers before any training: a null `data` (the page then shows nothing).
struct Tile {
  AnyArray data;
  uint64_t generation = 0;  // the classifier generation the prediction layers show
};

// Minimum and maximum of an image channel, and robust percentiles for auto-contrast (may come
// from a sample of the image).
struct ValueRange {
  double min = 0, max = 0;
  double low = 0, high = 0;  // e.g. the 0.1 % and 99.9 % percentiles
};

// An export as `grove run` writes it.
struct ExportRequest {
  std::vector<ImageId> images;  // empty: all images
  // probabilities | simple-segmentation | uncertainty; for a project of several stages also
  // "<source>-stage-N" (N from 1) and "probabilities-all-stages" (plain names: the last stage)
  std::string source = "probabilities";
  std::string format = "hdf5";  // hdf5 | tiff | png | npy | zarr | n5
  // ilastik's placeholders {dataset_dir}, {nickname}, {result_type}; "" = the default of
  // `grove run` ("{dataset_dir}/{nickname}_{result_type}" plus the format's extension).
  std::string output_pattern;
  bool overwrite = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // --- project
  virtual ProjectState state() = 0;
  // Saves to path ("" = the project's own path; an error when it has none yet). Atomic.
  virtual Status save(const std::string& path, Progress& progress) = 0;

  // --- images
  virtual Result<ImageSummary> add_image(const std::string& path) = 0;
  virtual Status remove_image(ImageId image) = 0;
  virtual Result<ValueRange> value_range(ImageId image, int channel) = 0;

  // --- label classes (the label value of a class is its position + 1). Removing a class
  // removes its labels and renumbers the classes after it, as ilastik does.
  virtual Status add_class(const LabelClass& label_class) = 0;
  virtual Status update_class(int label, const LabelClass& label_class) = 0;
  virtual Status remove_class(int label) = 0;

  // --- labelling; undo and redo go through one history for all images
  virtual Result<LabelChange> apply_stroke(const BrushStroke& stroke) = 0;
  virtual Result<LabelChange> undo() = 0;  // nothing to undo: an empty change
  virtual Result<LabelChange> redo() = 0;
  // Removes the labels of one class (label > 0) or of all classes (label 0) in one image, or in
  // all images (image nullopt). Undoable.
  virtual Result<std::vector<LabelChange>> clear_labels(std::optional<ImageId> image,
                                                        int label) = 0;

  // --- features and training
  virtual FeatureSelection features() = 0;
  virtual Status set_features(const FeatureSelection& selection) = 0;
  // Whether the page asked for live update (stored in the project; the server acts on it).
  virtual Status set_live_update(bool on) = 0;
  // Trains on the labels of all images with the current features and makes the new classifier
  // the one tiles use; returns its generation (> every earlier one). Fewer than two classes with
  // labels: an error saying so. Should check `cancel` between steps.
  virtual Result<uint64_t> train(const CancelToken& cancel, Progress& progress) = 0;
  // Of the classifier in use; empty before training.
  virtual Result<std::vector<FeatureImportance>> feature_importance() = 0;

  // --- autocontext stages: selects the stage that the label, class, feature and training calls
  // act on. A project of one stage has only stage 0.
  virtual Status select_stage(int stage) {
    if (stage == 0) return ok_status();
    return make_error(ErrorCode::kInvalidArgument, "stage {} does not exist: the project has 1",
                      stage + 1);
  }
  // Makes the project one of `count` stages: 1 is pixel classification, more is autocontext.
  // Growing keeps everything (a pixel project becomes stage 1); shrinking drops the last
  // stages with their labels and classifiers.
  virtual Status set_stage_count(int count) {
    if (count == 1) return ok_status();
    return make_error(ErrorCode::kInvalidArgument, "this project cannot have stages");
  }

  // --- tiles (the hot path: called for every visible tile, many at once)
  virtual Result<Tile> tile(const TileRequest& request) = 0;

  // --- export: writes the outputs and returns their paths; progress per block, stops with a
  // kCancelled error when cancel is set.
  virtual Result<std::vector<std::string>> export_results(const ExportRequest& request,
                                                          const CancelToken& cancel,
                                                          Progress& progress) = 0;
};

}  // namespace grove::server
