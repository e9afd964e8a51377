#include "grove/workflows/pixel/pixel_classification.h"

#include <fmt/format.h>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>

#include "grove/filters/pixel_features.h"
#include "grove/learn/forest_prediction.h"
#include "grove/learn/uncertainty.h"
#include "grove/segment/simple_segmentation.h"

namespace grove {

namespace {

// ilastik's label colours.
constexpr std::array<std::array<uint8_t, 3>, 12> kClassColors = {{{255, 0, 0},
                                                                  {0, 255, 0},
                                                                  {255, 255, 0},
                                                                  {0, 0, 255},
                                                                  {255, 0, 255},
                                                                  {0, 255, 255},
                                                                  {255, 105, 180},
                                                                  {102, 205, 170},
                                                                  {165, 42, 42},
                                                                  {31, 119, 180},
                                                                  {255, 127, 14},
                                                                  {148, 103, 189}}};

// A lane's labels as an image node (for the "Labels" export).
class LabelNode final : public Node {
 public:
  explicit LabelNode(std::shared_ptr<LabelStore> labels) : labels_(std::move(labels)) {
    info_ = ArrayInfo{labels_->shape(), DType::u8};
    identity_ =
        reinterpret_cast<uintptr_t>(labels_.get()) * 0x9E3779B97F4A7C15ull + labels_->generation();
    cache_block_shape_ = labels_->block_shape();
  }
  std::string describe() const override { return "labels"; }
  Status compute(Engine&, const Box5& box, const AnyArray& out,
                 const RequestContext&) const override {
    GROVE_ASSIGN_OR_RETURN(AnyArray data, labels_->read(box));
    return data.copy_into(out);
  }
  int64_t working_bytes(const Box5& box) const override { return 2 * box.size(); }

 private:
  std::shared_ptr<LabelStore> labels_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::array<uint8_t, 3> default_class_color(size_t index) {
  return kClassColors[index % kClassColors.size()];
}

Result<ExportSource> parse_export_source(std::string_view name) {
  std::string key;
  for (char ch : name) {
    if (ch == ' ' || ch == '_') ch = '-';
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (key == "probabilities") return ExportSource::kProbabilities;
  if (key == "simple-segmentation" || key == "segmentation")
    return ExportSource::kSimpleSegmentation;
  if (key == "uncertainty") return ExportSource::kUncertainty;
  if (key == "features") return ExportSource::kFeatures;
  if (key == "labels") return ExportSource::kLabels;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown export source '{}' (expected probabilities, simple-segmentation, "
                    "uncertainty, features or labels)",
                    name);
}

std::string_view export_source_name(ExportSource source) {
  switch (source) {
    case ExportSource::kProbabilities: return "probabilities";
    case ExportSource::kSimpleSegmentation: return "simple-segmentation";
    case ExportSource::kUncertainty: return "uncertainty";
    case ExportSource::kFeatures: return "features";
    case ExportSource::kLabels: return "labels";
  }
  return "probabilities";
}

std::string_view export_source_result_type(ExportSource source) {
  switch (source) {
    case ExportSource::kProbabilities: return "Probabilities";
    case ExportSource::kSimpleSegmentation: return "Simple Segmentation";
    case ExportSource::kUncertainty: return "Uncertainty";
    case ExportSource::kFeatures: return "Features";
    case ExportSource::kLabels: return "Labels";
  }
  return "Probabilities";
}

Result<size_t> PixelClassification::add_lane(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(path));
  const ImageInfo& info = reader->info();
  if (!lanes.empty() && lanes.front().shape.c() != info.shape.c()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "{} has {} channels but the project's images have {}", path, info.shape.c(),
                      lanes.front().shape.c());
  }
  PixelLane lane;
  lane.path = path;
  lane.nickname = std::filesystem::path(split_image_path(path).file).stem().string();
  lane.shape = info.shape;
  lane.dtype = info.dtype;
  lane.axes = info.axes;
  lane.labels = std::make_shared<LabelStore>(info.shape);
  lanes.push_back(std::move(lane));
  return lanes.size() - 1;
}

void PixelClassification::ensure_classes(size_t count) {
  while (classes.size() < count) {
    const size_t index = classes.size();
    classes.push_back(LabelClass{fmt::format("Label {}", index + 1), default_class_color(index)});
  }
}

Result<NodePtr> PixelClassification::feature_node(const NodePtr& raw, bool cacheable) const {
  GROVE_RETURN_IF_ERROR(features.validate());
  if (features.empty()) return Error(ErrorCode::kInvalidArgument, "no features are selected");
  return apply_op(make_op(filters::PixelFeatures{features}), raw, cacheable);
}

Result<NodePtr> PixelClassification::probability_node(const NodePtr& raw, bool cacheable,
                                                      int preview_depth) const {
  if (!forest)
    return Error(ErrorCode::kInvalidArgument, "the project has no trained classifier yet");
  if (trained_channels > 0 && raw->info().shape.c() != trained_channels) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the project was trained on images with {} channel(s) but this image has {}",
                      trained_channels, raw->info().shape.c());
  }
  GROVE_ASSIGN_OR_RETURN(NodePtr feature, feature_node(raw, cacheable));
  ForestPrediction prediction{forest, forest_id, preview_depth};
  return apply_op(make_op(std::move(prediction)), feature, cacheable);
}

Result<NodePtr> PixelClassification::export_node(const NodePtr& raw, ExportSource source,
                                                 std::optional<size_t> lane) const {
  switch (source) {
    case ExportSource::kProbabilities: return probability_node(raw);
    case ExportSource::kFeatures: return feature_node(raw);
    case ExportSource::kSimpleSegmentation: {
      GROVE_ASSIGN_OR_RETURN(NodePtr p, probability_node(raw));
      return apply_op(make_op(SimpleSegmentation{}), p);
    }
    case ExportSource::kUncertainty: {
      GROVE_ASSIGN_OR_RETURN(NodePtr p, probability_node(raw));
      return apply_op(make_op(Uncertainty{}), p);
    }
    case ExportSource::kLabels: {
      if (!lane || *lane >= lanes.size()) {
        return Error(ErrorCode::kInvalidArgument,
                     "labels can only be exported for the project's own images");
      }
      return NodePtr(std::make_shared<LabelNode>(lanes[*lane].labels));
    }
  }
  return Error(ErrorCode::kInternal, "unknown export source");
}

Result<TrainingSet> PixelClassification::collect_training_set(Engine& engine,
                                                              const std::vector<NodePtr>& raw_nodes,
                                                              const RunOptions& options) const {
  TrainingSet set;
  std::mutex mutex;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const PixelLane& lane = lanes[i];
    if (!lane.labels || lane.labels->empty()) continue;
    NodePtr raw = i < raw_nodes.size() ? raw_nodes[i] : nullptr;
    if (!raw) {
      GROVE_ASSIGN_OR_RETURN(raw, open_input_node(lane.path));
    }
    GROVE_ASSIGN_OR_RETURN(NodePtr feature, feature_node(raw, /*cacheable=*/true));
    const int64_t channels = feature->info().shape.c();
    if (set.feature_count != 0 && set.feature_count != channels) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "{} gives {} features but the other images give {} (different channel counts?)",
          lane.path, channels, set.feature_count);
    }
    set.feature_count = channels;
    std::vector<Box5> blocks;
    for (const Box5& block : lane.labels->labelled_blocks()) {
      blocks.push_back(block.with_channels(0, channels));
    }
    Status status = engine.run_blocks(
        feature, blocks, options, [&](const Box5& block, const AnyArray& data) -> Status {
          GROVE_ASSIGN_OR_RETURN(AnyArray labels, lane.labels->read(block.with_channels(0, 1)));
          View<const uint8_t> l = labels.view<uint8_t>();
          View<const float> f = data.view<float>();
          std::vector<float> rows;
          std::vector<int32_t> ids;
          const Shape5 s = labels.shape();
          for (int64_t t = 0; t < s[0]; ++t)
            for (int64_t z = 0; z < s[1]; ++z)
              for (int64_t y = 0; y < s[2]; ++y)
                for (int64_t x = 0; x < s[3]; ++x) {
                  const uint8_t value = l(t, z, y, x, 0);
                  if (value == 0) continue;
                  ids.push_back(value);
                  const float* pixel = &f(t, z, y, x, 0);
                  rows.insert(rows.end(), pixel, pixel + channels);
                }
          std::lock_guard lock(mutex);
          set.features.insert(set.features.end(), rows.begin(), rows.end());
          set.labels.insert(set.labels.end(), ids.begin(), ids.end());
          return ok_status();
        });
    GROVE_RETURN_IF_ERROR(
        std::move(status).context(fmt::format("computing the features of {}", lane.path)));
  }
  if (set.labels.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "there are no labels: paint some pixels of each class first");
  }
  return set;
}

Result<TrainingReport> PixelClassification::train(Engine& engine,
                                                  const std::vector<NodePtr>& raw_nodes,
                                                  const RunOptions& options) {
  TrainingReport report;
  auto start = std::chrono::steady_clock::now();
  GROVE_ASSIGN_OR_RETURN(TrainingSet set, collect_training_set(engine, raw_nodes, options));
  report.seconds_features = seconds_since(start);
  report.labelled_pixels = set.rows();
  int32_t highest = 0;
  for (int32_t label : set.labels) highest = std::max(highest, label);
  report.pixels_per_class.assign(static_cast<size_t>(highest), 0);
  for (int32_t label : set.labels) ++report.pixels_per_class[static_cast<size_t>(label - 1)];
  int present = 0;
  for (int64_t count : report.pixels_per_class) present += count > 0 ? 1 : 0;
  if (present < 2) {
    return Error(
        ErrorCode::kInvalidArgument,
        "training needs labels of at least two classes; paint some pixels of another class");
  }
  ensure_classes(static_cast<size_t>(highest));
  ForestOptions forest_settings = forest_options;
  // Every class of the project gets a probability channel, labelled or not (as in ilastik).
  forest_settings.classes.clear();
  for (size_t k = 1; k <= classes.size(); ++k)
    forest_settings.classes.push_back(static_cast<int32_t>(k));
  start = std::chrono::steady_clock::now();
  FeatureMatrix matrix(set.features.data(), set.rows(), set.feature_count);
  GROVE_ASSIGN_OR_RETURN(
      RandomForest trained,
      train_classification_forest(matrix, set.labels, {}, forest_settings, &engine.pool(),
                                  &options.context.cancel, options.progress));
  report.seconds_training = seconds_since(start);
  forest = std::make_shared<const RandomForest>(std::move(trained));
  forest_id = forest_fingerprint(*forest);
  trained_channels = lanes.empty() ? 0 : lanes.front().shape.c();
  for (const PixelLane& lane : lanes) {
    if (lane.labels && !lane.labels->empty()) {
      trained_channels = lane.shape.c();
      trained_volume_3d = lane.shape.z() > 1;
      break;
    }
  }
  return report;
}

}  // namespace grove
