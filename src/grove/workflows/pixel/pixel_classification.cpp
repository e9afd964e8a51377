#include "grove/workflows/pixel/pixel_classification.h"

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>

#include "grove/core/blocking.h"
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
  if (key == "overlay") return ExportSource::kOverlay;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown export source '{}' (expected probabilities, simple-segmentation, "
                    "uncertainty, features, labels or overlay)",
                    name);
}

std::string_view export_source_name(ExportSource source) {
  switch (source) {
    case ExportSource::kProbabilities: return "probabilities";
    case ExportSource::kSimpleSegmentation: return "simple-segmentation";
    case ExportSource::kUncertainty: return "uncertainty";
    case ExportSource::kFeatures: return "features";
    case ExportSource::kLabels: return "labels";
    case ExportSource::kOverlay: return "overlay";
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
    case ExportSource::kOverlay: return "Overlay";
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
  lane.pixel_size = info.pixel_size;
  lane.pixel_unit = info.pixel_unit;
  lane.has_pixel_size = info.has_pixel_size;
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
    case ExportSource::kOverlay:
      return Error(ErrorCode::kInvalidArgument,
                   "an overlay is made by export_image, which knows the engine");
  }
  return Error(ErrorCode::kInternal, "unknown export source");
}

namespace {

uint64_t mix_hash(uint64_t hash, uint64_t value) {
  hash ^= value + 0x9E3779B97F4A7C15ull + (hash << 6) + (hash >> 2);
  return hash;
}

// One label block with labels in it: where they are and what they are.
struct LabelledBlock {
  Box5 tight;       // bounding box of the labelled pixels (one channel)
  AnyArray labels;  // uint8 labels of `tight`
  std::array<uint64_t, 3> key;
  std::shared_ptr<const TrainingRowCache::Entry> rows;  // cached or computed
};

Box5 bounding_box(const Box5& a, const Box5& b) {
  Box5 out;
  for (int axis = 0; axis < kRank; ++axis) {
    out.begin[axis] = std::min(a.begin[axis], b.begin[axis]);
    out.end[axis] = std::max(a.end[axis], b.end[axis]);
  }
  return out;
}

// Reads block's labels; nullopt when it holds none. The key names the features of its pixels.
Result<std::optional<LabelledBlock>> read_labelled_block(const LabelStore& store, const Box5& block,
                                                         uint64_t feature_identity) {
  GROVE_ASSIGN_OR_RETURN(AnyArray labels, store.read(block.with_channels(0, 1)));
  View<const uint8_t> l = labels.view<uint8_t>();
  const Shape5 s = labels.shape();
  Shape5 low = s;
  Shape5 high = Shape5::filled(0);
  uint64_t content = 0xCBF29CE484222325ull;
  for (int64_t t = 0; t < s[kT]; ++t)
    for (int64_t z = 0; z < s[kZ]; ++z)
      for (int64_t y = 0; y < s[kY]; ++y)
        for (int64_t x = 0; x < s[kX]; ++x) {
          const uint8_t value = l(t, z, y, x, 0);
          if (value == 0) continue;
          const Shape5 at(t, z, y, x, 0);
          for (int axis = 0; axis < kC; ++axis) {
            low[axis] = std::min(low[axis], at[axis]);
            high[axis] = std::max(high[axis], at[axis] + 1);
          }
          content = mix_hash(
              content,
              static_cast<uint64_t>((((t * s[kZ] + z) * s[kY] + y) * s[kX] + x)) << 8 | value);
        }
  if (high[kT] == 0) return std::optional<LabelledBlock>();
  low[kC] = 0;
  high[kC] = 1;
  const Box5 relative(low, high);
  LabelledBlock out;
  out.tight = relative.translated(block.begin).with_channels(0, 1);
  GROVE_ASSIGN_OR_RETURN(out.labels, labels.crop(relative).copy());
  uint64_t position = 0;
  for (int axis = 0; axis < kC; ++axis)
    position = mix_hash(position, static_cast<uint64_t>(block.begin[axis]));
  out.key = {feature_identity, position, content};
  return std::optional<LabelledBlock>(std::move(out));
}

// Groups the tight boxes so that each group's features are computed once on the group's
// bounding box: two groups merge when computing their union (input with halo, plus the
// per-pixel work on the output) costs no more than computing both, and the union's features
// stay a modest array. Labels on a few slices of a volume become a few slabs; scattered
// strokes stay apart. Returns the groups' boxes (with all channels).
std::vector<Box5> group_boxes(const std::vector<Box5>& tight, const filters::PixelFeatures& op,
                              const ArrayInfo& raw, int64_t channels) {
  const Box5 bounds = Box5::of(raw.shape);
  auto cost = [&](const Box5& box) {
    const Box5 in = input_box(op, box.with_channels(0, raw.shape.c()), raw).intersect(bounds);
    // The first separable pass reads the whole input box; the eigenvalues and the rest of the
    // passes scale with the output.
    return static_cast<double>(in.shape().pixels()) +
           4.0 * static_cast<double>(box.shape().pixels());
  };
  constexpr int64_t kMaximumGroupBytes = int64_t{256} << 20;
  std::vector<Box5> groups;
  for (const Box5& box : tight) groups.push_back(box);
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t i = 0; i < groups.size(); ++i) {
      for (size_t j = i + 1; j < groups.size();) {
        const Box5 both = bounding_box(groups[i], groups[j]);
        if (both.shape().pixels() * channels * 4 <= kMaximumGroupBytes &&
            cost(both) <= cost(groups[i]) + cost(groups[j])) {
          groups[i] = both;
          groups.erase(groups.begin() + static_cast<std::ptrdiff_t>(j));
          merged = true;
          j = i + 1;  // the grown group may now absorb groups it skipped
        } else {
          ++j;
        }
      }
    }
  }
  for (Box5& group : groups) group = group.with_channels(0, channels);
  return groups;
}

}  // namespace

Result<TrainingSet> PixelClassification::collect_training_set(Engine& engine,
                                                              const std::vector<NodePtr>& raw_nodes,
                                                              const RunOptions& options) const {
  TrainingSet set;
  std::map<std::array<uint64_t, 3>, std::shared_ptr<const TrainingRowCache::Entry>> used;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const PixelLane& lane = lanes[i];
    if (!lane.labels || lane.labels->empty()) continue;
    NodePtr raw = i < raw_nodes.size() ? raw_nodes[i] : nullptr;
    if (!raw) {
      GROVE_ASSIGN_OR_RETURN(raw, open_input_node(lane.path));
    }
    GROVE_ASSIGN_OR_RETURN(NodePtr feature, feature_node(raw, /*cacheable=*/false));
    const int64_t channels = feature->info().shape.c();
    if (set.feature_count != 0 && set.feature_count != channels) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "{} gives {} features but the other images give {} (different channel counts?)",
          lane.path, channels, set.feature_count);
    }
    set.feature_count = channels;

    std::vector<LabelledBlock> blocks;
    for (const Box5& block : lane.labels->labelled_blocks()) {
      GROVE_ASSIGN_OR_RETURN(std::optional<LabelledBlock> labelled,
                             read_labelled_block(*lane.labels, block, feature->identity()));
      if (labelled) blocks.push_back(std::move(*labelled));
    }
    std::vector<size_t> missing;
    {
      std::lock_guard lock(training_rows->mutex);
      for (size_t b = 0; b < blocks.size(); ++b) {
        auto found = training_rows->entries.find(blocks[b].key);
        if (found != training_rows->entries.end()) {
          blocks[b].rows = found->second;
        } else {
          missing.push_back(b);
        }
      }
    }
    if (!missing.empty()) {
      std::vector<Box5> tight;
      for (size_t b : missing) tight.push_back(blocks[b].tight);
      const filters::PixelFeatures op{features};
      std::vector<Box5> pieces;
      for (const Box5& group : group_boxes(tight, op, raw->info(), channels)) {
        for (const Box5& piece :
             Blocking{group, engine.plan_block_shape(*feature, group, options)}.blocks()) {
          pieces.push_back(piece);
        }
      }
      // Each piece adds the rows of the labelled pixels inside it, with their raster index
      // within their block's tight box, to one slot per (block, piece); sorting by that index
      // afterwards gives each block its rows in raster order, whatever order pieces finish in.
      struct Found {
        std::vector<int64_t> order;
        std::vector<float> features;
        std::vector<int32_t> labels;
      };
      // found[p]: what piece p found, per block (index into missing); each piece writes only its
      // own slot, so the pieces need no lock.
      std::vector<std::vector<std::pair<size_t, Found>>> found(pieces.size());
      Status status = engine.run_blocks(
          feature, pieces, options, [&](const Box5& piece, const AnyArray& data) -> Status {
            const size_t p = static_cast<size_t>(std::find(pieces.begin(), pieces.end(), piece) -
                                                 pieces.begin());
            View<const float> f = data.view<float>();
            for (size_t m = 0; m < missing.size(); ++m) {
              const LabelledBlock& block = blocks[missing[m]];
              const Box5 overlap = block.tight.intersect(piece.with_channels(0, 1));
              if (overlap.empty()) continue;
              View<const uint8_t> l = block.labels.view<uint8_t>();
              const Shape5 extent = block.tight.shape();
              Found& into = found[p].emplace_back(m, Found{}).second;
              for (int64_t t = overlap.begin[kT]; t < overlap.end[kT]; ++t)
                for (int64_t z = overlap.begin[kZ]; z < overlap.end[kZ]; ++z)
                  for (int64_t y = overlap.begin[kY]; y < overlap.end[kY]; ++y)
                    for (int64_t x = overlap.begin[kX]; x < overlap.end[kX]; ++x) {
                      const int64_t bt = t - block.tight.begin[kT], bz = z - block.tight.begin[kZ],
                                    by = y - block.tight.begin[kY], bx = x - block.tight.begin[kX];
                      const uint8_t value = l(bt, bz, by, bx, 0);
                      if (value == 0) continue;
                      into.order.push_back(((bt * extent[kZ] + bz) * extent[kY] + by) * extent[kX] +
                                           bx);
                      into.labels.push_back(value);
                      const float* pixel = &f(t - piece.begin[kT], z - piece.begin[kZ],
                                              y - piece.begin[kY], x - piece.begin[kX], 0);
                      into.features.insert(into.features.end(), pixel, pixel + channels);
                    }
            }
            return ok_status();
          });
      GROVE_RETURN_IF_ERROR(
          std::move(status).context(fmt::format("computing the features of {}", lane.path)));
      std::vector<std::vector<const Found*>> of_block(missing.size());
      for (const auto& piece_found : found)
        for (const auto& [m, what] : piece_found) of_block[m].push_back(&what);
      for (size_t m = 0; m < missing.size(); ++m) {
        std::vector<std::pair<int64_t, std::pair<size_t, size_t>>> index;  // order, (part, row)
        for (size_t part = 0; part < of_block[m].size(); ++part) {
          for (size_t r = 0; r < of_block[m][part]->order.size(); ++r)
            index.push_back({of_block[m][part]->order[r], {part, r}});
        }
        std::sort(index.begin(), index.end());
        auto entry = std::make_shared<TrainingRowCache::Entry>();
        entry->features.reserve(index.size() * static_cast<size_t>(channels));
        entry->labels.reserve(index.size());
        for (const auto& [order, at] : index) {
          const Found& from = *of_block[m][at.first];
          entry->labels.push_back(from.labels[at.second]);
          const float* row = from.features.data() + at.second * static_cast<size_t>(channels);
          entry->features.insert(entry->features.end(), row, row + channels);
        }
        blocks[missing[m]].rows = std::move(entry);
      }
    }
    for (const LabelledBlock& block : blocks) {
      set.features.insert(set.features.end(), block.rows->features.begin(),
                          block.rows->features.end());
      set.labels.insert(set.labels.end(), block.rows->labels.begin(), block.rows->labels.end());
      used[block.key] = block.rows;
    }
  }
  {
    std::lock_guard lock(training_rows->mutex);
    training_rows->entries = std::move(used);
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
