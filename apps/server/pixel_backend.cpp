// The Backend over the pixel-classification and autocontext workflows (see pixel_backend.h): a
// grove Project (src/grove/project/) holding the PixelClassification, or the Autocontext's
// stages (each a PixelClassification with its own labels, classes, features and forest), the
// engine computing tiles with the page's priorities and cancellation, and one undo history over
// the label stores of every stage. The calls act on the selected stage; a pixel project is the
// one-stage case, so both workflows share every line below but the stage bookkeeping.
//
// Threads: state changes and reads take mutex_; training runs on a copy of the stage made
// under the lock and installs its forest under the lock, so tiles never see a half-trained one.
#include "pixel_backend.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "grove/engine/engine.h"
#include "grove/engine/node.h"
#include "grove/filters/feature_selection.h"
#include "grove/io/image.h"
#include "grove/project/project.h"
#include "grove/workflows/autocontext/autocontext_export.h"
#include "grove/workflows/pixel/brush.h"
#include "grove/workflows/pixel/export.h"
#include "grove/workflows/pixel/label_store.h"

namespace grove::server {
namespace {

// The workflow's plane and stroke (namespace grove) from the server's: the yz view shows
// (u, v) = (z, y), the workflow's yz coordinates are (y, z).
grove::BrushStroke workflow_stroke(const server::BrushStroke& stroke) {
  grove::BrushStroke converted;
  converted.t = stroke.where.t;
  converted.slice = stroke.where.slice;
  converted.radius = stroke.radius;
  converted.points = stroke.points;
  switch (stroke.where.plane) {
    case server::Plane::xy: converted.plane = grove::Plane::kXY; break;
    case server::Plane::xz: converted.plane = grove::Plane::kXZ; break;
    case server::Plane::yz:
      converted.plane = grove::Plane::kYZ;
      for (auto& point : converted.points) std::swap(point[0], point[1]);
      break;
  }
  return converted;
}

// A plane region read as a box (t,z,y,x,c) turned into a (1, 1, v, u, c) array.
Result<AnyArray> as_plane_array(const AnyArray& box_array, server::Plane plane) {
  const Shape5& s = box_array.shape();
  switch (plane) {
    case server::Plane::xy: return box_array;  // (1, 1, v=y, u=x, c)
    case server::Plane::xz: {
      // (1, v=z, 1, u=x, c) → (1, 1, v, u, c)
      AnyArray view = box_array.permuted({kT, kY, kZ, kX, kC});
      return view.contiguous_or_copy();
    }
    case server::Plane::yz: {
      // (1, u=z, v=y, 1, c) → (1, 1, v, u, c)
      AnyArray view = box_array.permuted({kT, kX, kY, kZ, kC});
      return view.copy();
    }
  }
  return make_error(ErrorCode::kInternal, "unknown plane for {}", s.to_string());
}

// Every step-th pixel of a (1, 1, v, u, c) array, starting at 0 (nearest-neighbour zoom out).
Result<AnyArray> subsample(const AnyArray& array, int64_t step, int width, int height) {
  if (step == 1 && array.shape().y() == height && array.shape().x() == width) return array;
  GROVE_ASSIGN_OR_RETURN(
      AnyArray out,
      AnyArray::allocate(array.dtype(), Shape5(1, 1, height, width, array.shape().c())));
  const size_t element = dtype_size(array.dtype());
  const int64_t channels = array.shape().c();
  GROVE_ASSIGN_OR_RETURN(AnyArray source, array.contiguous_or_copy());
  const char* in = static_cast<const char*>(source.raw_data());
  char* target = static_cast<char*>(out.raw_data());
  const int64_t in_width = source.shape().x(), in_height = source.shape().y();
  for (int j = 0; j < height; ++j) {
    const int64_t v = std::min<int64_t>(in_height - 1, j * step);
    for (int i = 0; i < width; ++i) {
      const int64_t u = std::min<int64_t>(in_width - 1, i * step);
      std::memcpy(target + (int64_t(j) * width + i) * channels * element,
                  in + (v * in_width + u) * channels * element, channels * element);
    }
  }
  return out;
}

std::string hex_color(const std::array<uint8_t, 3>& color) {
  return fmt::format("#{:02x}{:02x}{:02x}", color[0], color[1], color[2]);
}

std::array<uint8_t, 3> parse_color(const std::string& hex) {
  const unsigned value = static_cast<unsigned>(std::stoul(hex.substr(1), nullptr, 16));
  return {uint8_t(value >> 16), uint8_t(value >> 8), uint8_t(value)};
}

// ilastik's 6 × 7 grid from the workflow's selection (scales off the grid are not shown).
FeatureSelection grid_from_workflow(const filters::FeatureSelection& selection) {
  FeatureSelection grid;
  for (size_t s = 0; s < selection.scales.size(); ++s) {
    for (int column = 0; column < FeatureSelection::kScaleCount; ++column) {
      if (std::abs(selection.scales[s] - FeatureSelection::kScales[column]) > 1e-6) continue;
      for (int family = 0; family < FeatureSelection::kFamilyCount; ++family) {
        grid.selected[family][column] = selection.selected[s][family];
      }
      grid.in_2d[column] = s < selection.compute_in_2d.size() && selection.compute_in_2d[s];
    }
  }
  return grid;
}

filters::FeatureSelection workflow_from_grid(const FeatureSelection& grid) {
  filters::FeatureSelection selection;
  for (int column = 0; column < FeatureSelection::kScaleCount; ++column) {
    std::array<bool, filters::kFamilyCount> row{};
    bool used = false;
    for (int family = 0; family < FeatureSelection::kFamilyCount; ++family) {
      row[family] = grid.selected[family][column] && FeatureSelection::valid_cell(family, column);
      used = used || row[family];
    }
    if (!used) continue;
    selection.scales.push_back(FeatureSelection::kScales[column]);
    selection.selected.push_back(row);
    selection.compute_in_2d.push_back(grid.in_2d[column]);
  }
  return selection;
}

// One undoable edit: which stage and lane, and what the label store returned to undo it.
struct HistoryEntry {
  ImageId image;
  LabelEdit edit;
  size_t stage = 0;
};

// Pixels with labels per class (index = label value) over every lane of a classifier.
int classes_with_labels(const PixelClassification& classifier) {
  std::vector<int64_t> counts;
  for (const auto& lane : classifier.lanes) {
    const std::vector<int64_t> lane_counts = lane.labels->counts();
    if (lane_counts.size() > counts.size()) counts.resize(lane_counts.size(), 0);
    for (size_t k = 1; k < lane_counts.size(); ++k) counts[k] += lane_counts[k];
  }
  int classes = 0;
  for (size_t k = 1; k < counts.size(); ++k) classes += counts[k] > 0;
  return classes;
}

class PixelBackend final : public Backend {
 public:
  PixelBackend(const PixelBackendOptions& options, Project project)
      : engine_(EngineOptions{options.threads, options.memory_bytes, 0.5}),
        project_(std::move(project)) {
    if (project_.path.empty()) project_.path = options.project_path;
    for (const auto& lane : lanes()) {
      lane_ids_.push_back(next_id_++);
      Result<NodePtr> raw = open_input_node(lane.path);  // a missing file: tiles say so
      raw_nodes_.push_back(raw.ok() ? *raw : nullptr);
    }
    prediction_nodes_.assign(stage_count(), std::vector<NodePtr>(lanes().size()));
    if (selected().forest) generation_ = 1;
  }

  ProjectState state() override {
    std::lock_guard lock(mutex_);
    ProjectState state;
    state.path = project_.path;
    state.name =
        project_.path.empty() ? "untitled" : std::filesystem::path(project_.path).stem().string();
    state.dirty = dirty_;
    for (const auto& label_class : selected().classes) {
      state.classes.push_back({label_class.name, hex_color(label_class.color)});
    }
    for (size_t i = 0; i < lanes().size(); ++i) state.images.push_back(summary(i));
    state.features = grid_from_workflow(selected().features);
    state.live_update = live_update_;
    state.trained = selected().forest != nullptr;
    state.generation = generation_;
    state.can_undo = position_ > 0;
    state.can_redo = position_ < history_.size();
    state.stage_count = static_cast<int>(stage_count());
    state.stage = static_cast<int>(stage_);
    return state;
  }

  Status save(const std::string& path, Progress& progress) override {
    std::lock_guard lock(mutex_);
    const std::string target = path.empty() ? project_.path : path;
    if (target.empty())
      return make_error(ErrorCode::kInvalidArgument, "the project has no file yet: give a path");
    progress.start(1, "saving");
    GROVE_RETURN_IF_ERROR(save_project(project_, target));
    project_.path = target;
    dirty_ = false;
    progress.finish();
    return ok_status();
  }

  Result<ImageSummary> add_image(const std::string& path) override {
    GROVE_ASSIGN_OR_RETURN(NodePtr raw, open_input_node(path));
    std::lock_guard lock(mutex_);
    GROVE_ASSIGN_OR_RETURN(size_t index, autocontext() ? project_.autocontext.add_lane(path)
                                                       : project_.pixel.add_lane(path));
    lane_ids_.push_back(next_id_++);
    raw_nodes_.push_back(raw);
    for (auto& nodes : prediction_nodes_) nodes.resize(lanes().size());
    dirty_ = true;
    return summary(index);
  }

  Status remove_image(ImageId id) override {
    std::lock_guard lock(mutex_);
    GROVE_ASSIGN_OR_RETURN(size_t index, lane_index(id));
    for (size_t k = 0; k < stage_count(); ++k) {
      stage(k).lanes.erase(stage(k).lanes.begin() + index);
      prediction_nodes_[k].erase(prediction_nodes_[k].begin() + index);
    }
    lane_ids_.erase(lane_ids_.begin() + index);
    raw_nodes_.erase(raw_nodes_.begin() + index);
    std::erase_if(history_, [&](const HistoryEntry& entry) { return entry.image == id; });
    position_ = std::min(position_, history_.size());
    dirty_ = true;
    return ok_status();
  }

  Result<ValueRange> value_range(ImageId id, int channel) override {
    NodePtr raw;
    Shape5 shape;
    {
      std::lock_guard lock(mutex_);
      GROVE_ASSIGN_OR_RETURN(size_t index, lane_index(id));
      raw = raw_nodes_[index];
      shape = lanes()[index].shape;
    }
    if (!raw) return make_error(ErrorCode::kNotFound, "image {} cannot be read", id);
    // A sample: the middle time point and slice, at most ~4 M pixels of it.
    Box5 box(Shape5(shape.t() / 2, shape.z() / 2, 0, 0, channel),
             Shape5(shape.t() / 2 + 1, shape.z() / 2 + 1, shape.y(), shape.x(), channel + 1));
    const int64_t step =
        std::max<int64_t>(1, static_cast<int64_t>(std::sqrt(double(shape.y() * shape.x()) / 4e6)));
    GROVE_ASSIGN_OR_RETURN(AnyArray data, engine_.compute(raw, box));
    GROVE_ASSIGN_OR_RETURN(AnyArray values, data.convert(DType::f64));
    std::vector<double> sample;
    const View<double> view = values.view<double>();
    for (int64_t y = 0; y < view.shape().y(); y += step)
      for (int64_t x = 0; x < view.shape().x(); x += step) sample.push_back(view(0, 0, y, x, 0));
    if (sample.empty()) return ValueRange{};
    std::sort(sample.begin(), sample.end());
    auto at = [&](double fraction) {
      return sample[static_cast<size_t>(fraction * (sample.size() - 1))];
    };
    return ValueRange{sample.front(), sample.back(), at(0.001), at(0.999)};
  }

  Status add_class(const server::LabelClass& label_class) override {
    std::lock_guard lock(mutex_);
    if (selected().classes.size() >= 254)
      return make_error(ErrorCode::kInvalidArgument, "at most 254 classes");
    selected().classes.push_back({label_class.name, parse_color(label_class.color)});
    dirty_ = true;
    return ok_status();
  }

  Status update_class(int label, const server::LabelClass& label_class) override {
    std::lock_guard lock(mutex_);
    auto& classes = selected().classes;
    if (label < 1 || label > int(classes.size()))
      return make_error(ErrorCode::kNotFound, "class {} does not exist", label);
    classes[label - 1] = {label_class.name, parse_color(label_class.color)};
    dirty_ = true;
    return ok_status();
  }

  Status remove_class(int label) override {
    std::lock_guard lock(mutex_);
    auto& classes = selected().classes;
    if (label < 1 || label > int(classes.size()))
      return make_error(ErrorCode::kNotFound, "class {} does not exist", label);
    for (auto& lane : selected().lanes) {
      lane.labels->clear_class(static_cast<uint8_t>(label));
      for (int later = label + 1; later <= int(classes.size()); ++later) {
        lane.labels->relabel(static_cast<uint8_t>(later), static_cast<uint8_t>(later - 1));
      }
    }
    classes.erase(classes.begin() + (label - 1));
    history_.clear();  // the stored edits refer to the old numbering
    position_ = 0;
    dirty_ = true;
    return ok_status();
  }

  Result<LabelChange> apply_stroke(const server::BrushStroke& stroke) override {
    std::shared_ptr<LabelStore> labels;
    Shape5 shape;
    size_t stage_painted = 0;
    {
      std::lock_guard lock(mutex_);
      GROVE_ASSIGN_OR_RETURN(size_t index, lane_index(stroke.where.image));
      if (stroke.label < 0 || stroke.label > int(selected().classes.size())) {
        return make_error(ErrorCode::kInvalidArgument, "class {} does not exist", stroke.label);
      }
      labels = selected().lanes[index].labels;
      shape = selected().lanes[index].shape;
      stage_painted = stage_;
    }
    Result<StrokeMask> mask = rasterize_stroke(workflow_stroke(stroke), shape);
    if (!mask.ok()) {
      // A stroke wholly outside the image changes nothing.
      if (mask.error().code() == ErrorCode::kOutOfRange) return LabelChange{stroke.where.image, {}};
      return std::move(mask).error();
    }
    GROVE_ASSIGN_OR_RETURN(
        LabelEdit edit, labels->paint(mask->box, mask->mask, static_cast<uint8_t>(stroke.label)));
    std::lock_guard lock(mutex_);
    history_.resize(position_);
    history_.push_back({stroke.where.image, std::move(edit), stage_painted});
    position_ = history_.size();
    dirty_ = true;
    return LabelChange{stroke.where.image, mask->box};
  }

  Result<LabelChange> undo() override { return step(/*back=*/true); }
  Result<LabelChange> redo() override { return step(/*back=*/false); }

  Result<std::vector<LabelChange>> clear_labels(std::optional<ImageId> id, int label) override {
    std::lock_guard lock(mutex_);
    std::vector<LabelChange> changes;
    for (size_t i = 0; i < lanes().size(); ++i) {
      if (id && lane_ids_[i] != *id) continue;
      auto& lane = selected().lanes[i];
      const Box5 whole = Box5::of(lane.shape).with_channels(0, 1);
      GROVE_ASSIGN_OR_RETURN(AnyArray before, lane.labels->read(whole));
      if (label > 0)
        lane.labels->clear_class(static_cast<uint8_t>(label));
      else
        lane.labels->clear();
      // NOTE: keeps the whole image's labels for undo; a sparse edit would be leaner for huge
      // volumes.
      history_.resize(position_);
      history_.push_back({lane_ids_[i], LabelEdit{whole, std::move(before)}, stage_});
      position_ = history_.size();
      changes.push_back({lane_ids_[i], whole});
    }
    dirty_ = true;
    return changes;
  }

  FeatureSelection features() override {
    std::lock_guard lock(mutex_);
    return grid_from_workflow(selected().features);
  }

  Status set_features(const FeatureSelection& selection) override {
    if (selection.selected_count() == 0)
      return make_error(ErrorCode::kInvalidArgument, "select at least one feature");
    filters::FeatureSelection converted = workflow_from_grid(selection);
    GROVE_RETURN_IF_ERROR(converted.validate());
    std::lock_guard lock(mutex_);
    selected().features = std::move(converted);
    // The forest was trained on the old features: it cannot read the new ones.
    selected().forest = nullptr;
    forget_predictions_from(stage_);
    dirty_ = true;
    return ok_status();
  }

  Status set_live_update(bool on) override {
    std::lock_guard lock(mutex_);
    live_update_ = on;
    return ok_status();
  }

  Result<uint64_t> train(const CancelToken& cancel, Progress& progress) override {
    PixelClassification copy;
    std::vector<NodePtr> inputs;
    size_t trained_stage = 0;
    int64_t input_channels = 0;  // of a later stage: the raw channels and the probabilities
    {
      std::lock_guard lock(mutex_);
      trained_stage = stage_;
      copy = selected();  // lanes share their label stores; the forest is replaced below
      inputs = raw_nodes_;
      if (trained_stage > 0) {
        // A later stage learns from the raw channels and the stage before's probabilities.
        for (size_t k = 0; k < trained_stage; ++k) {
          if (!stage(k).forest) {
            return make_error(ErrorCode::kInvalidArgument,
                              "train stage {} first: stage {} learns from its probabilities", k + 1,
                              trained_stage + 1);
          }
        }
        for (size_t i = 0; i < inputs.size(); ++i) {
          if (!inputs[i] || copy.lanes[i].labels->empty()) continue;
          GROVE_ASSIGN_OR_RETURN(inputs[i],
                                 project_.autocontext.stage_input_node(inputs[i], trained_stage));
          input_channels = inputs[i]->info().shape.c();
        }
      }
    }
    if (classes_with_labels(copy) < 2) {
      return make_error(ErrorCode::kInvalidArgument,
                        "paint labels of at least two classes to train");
    }
    RunOptions options;
    options.context.cancel = cancel;
    options.context.priority = 1000;  // training before prefetching, the viewport's tiles wait
    options.progress = &progress;
    GROVE_ASSIGN_OR_RETURN(TrainingReport report, copy.train(engine_, inputs, options));
    (void)report;
    if (input_channels > 0) copy.trained_channels = input_channels;
    std::lock_guard lock(mutex_);
    if (trained_stage >= stage_count()) return make_error(ErrorCode::kCancelled, "stage removed");
    PixelClassification& target = stage(trained_stage);
    target.forest = copy.forest;
    target.forest_id = copy.forest_id;
    target.trained_channels = copy.trained_channels;
    target.trained_volume_3d = copy.trained_volume_3d;
    // The later stages read this one's probabilities: their predictions change too.
    forget_predictions_from(trained_stage);
    dirty_ = true;
    return ++generation_;
  }

  Status set_stage_count(int count) override {
    if (count < 1 || static_cast<size_t>(count) > kMaximumAutocontextStages) {
      return make_error(ErrorCode::kInvalidArgument, "a project has 1 to {} stages, not {}",
                        kMaximumAutocontextStages, count);
    }
    std::lock_guard lock(mutex_);
    const size_t wanted = static_cast<size_t>(count);
    if (wanted == stage_count()) return ok_status();
    if (wanted < stage_count()) {
      history_.clear();  // edits of the dropped stages cannot be undone any more
      position_ = 0;
    }
    if (wanted == 1) {
      project_.pixel = std::move(project_.autocontext.stages.front());
      project_.autocontext = Autocontext();
      project_.workflow = "pixel-classification";
    } else {
      if (!autocontext()) {
        project_.autocontext.stages.assign(1, std::move(project_.pixel));
        project_.pixel = PixelClassification();
        project_.workflow = std::string(kAutocontextWorkflow);
      }
      std::vector<PixelClassification>& stages = project_.autocontext.stages;
      stages.resize(std::min(stages.size(), wanted));
      while (stages.size() < wanted) {
        // The same images with empty labels of their own; the features of stage 1 to start with.
        PixelClassification next;
        next.features = stages.front().features;
        for (PixelLane lane : stages.front().lanes) {
          lane.labels = std::make_shared<LabelStore>(lane.shape);
          next.lanes.push_back(std::move(lane));
        }
        stages.push_back(std::move(next));
      }
    }
    stage_ = std::min(stage_, wanted - 1);
    prediction_nodes_.resize(wanted, std::vector<NodePtr>(lanes().size()));
    dirty_ = true;
    return ok_status();
  }

  Status select_stage(int stage_index) override {
    std::lock_guard lock(mutex_);
    if (stage_index < 0 || static_cast<size_t>(stage_index) >= stage_count()) {
      return make_error(ErrorCode::kInvalidArgument, "stage {} does not exist: the project has {}",
                        stage_index + 1, stage_count());
    }
    stage_ = static_cast<size_t>(stage_index);
    // A later stage starts with the classes of the nearest stage before it that has some (names
    // and colours only), so that the user need not define them again.
    for (size_t earlier = stage_; earlier-- > 0 && selected().classes.empty();) {
      if (stage(earlier).classes.empty()) continue;
      selected().classes = stage(earlier).classes;
      dirty_ = true;
    }
    return ok_status();
  }

  Result<std::vector<FeatureImportance>> feature_importance() override {
    std::lock_guard lock(mutex_);
    std::vector<FeatureImportance> list;
    const PixelClassification& classifier = selected();
    const auto& forest = classifier.forest;
    if (!forest) return list;
    const std::vector<double>& gini = forest->training().gini_importance;
    const bool volume = classifier.trained_volume_3d;
    for (const auto& item :
         filters::feature_layout(classifier.features, classifier.trained_channels, volume)) {
      for (int64_t channel = 0; channel < classifier.trained_channels; ++channel) {
        for (int component = 0; component < item.components; ++component) {
          const size_t index =
              static_cast<size_t>(item.first_channel + channel * item.components + component);
          if (index >= gini.size()) continue;
          list.push_back({std::string(filters::family_id(item.family)),
                          classifier.features.scales[item.scale_index], static_cast<int>(channel),
                          component, volume && item.spatial_rank == 2, gini[index]});
        }
      }
    }
    return list;
  }

  Result<Tile> tile(const TileRequest& request) override {
    NodePtr node;
    std::shared_ptr<LabelStore> labels;
    Shape5 shape;
    Tile tile;
    const bool prediction = request.layer == Layer::probabilities ||
                            request.layer == Layer::segmentation ||
                            request.layer == Layer::uncertainty;
    {
      std::lock_guard lock(mutex_);
      GROVE_ASSIGN_OR_RETURN(size_t index, lane_index(request.where.image));
      const size_t shown = request.stage < 0 ? stage_ : static_cast<size_t>(request.stage);
      if (shown >= stage_count()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "stage {} does not exist: the project has {}", shown + 1, stage_count());
      }
      shape = lanes()[index].shape;
      labels = stage(shown).lanes[index].labels;
      tile.generation = generation_;
      node = raw_nodes_[index];
      if (prediction) {
        // Nothing to show before this stage and every stage before it are trained.
        for (size_t k = 0; k <= shown; ++k) {
          if (!stage(k).forest || !node) return tile;
        }
        NodePtr& cached = prediction_nodes_[shown][index];
        if (!cached) {
          if (autocontext()) {
            // Later stages read stage 1's cached features where they fit in the cache.
            Autocontext workflow = project_.autocontext;
            workflow.share_features_within(engine_);
            GROVE_ASSIGN_OR_RETURN(cached,
                                   workflow.probability_node(node, shown, /*cacheable=*/true));
          } else {
            GROVE_ASSIGN_OR_RETURN(cached,
                                   project_.pixel.probability_node(node, /*cacheable=*/true));
          }
        }
        node = cached;
      }
    }
    if (!node && request.layer != Layer::labels)
      return make_error(ErrorCode::kNotFound, "image {} cannot be read", request.where.image);
    const auto extent = plane_extent(shape, request.where.plane);
    const int64_t step = int64_t{1} << request.level;
    // The full-resolution region the tile covers, sampled at every step-th pixel (NOTE: a
    // pyramid op would make coarse levels of huge images cheap).
    const int64_t u0 = request.u0 * step, v0 = request.v0 * step;
    const int64_t u1 = std::min(extent[0], (request.u0 + request.width - 1) * step + 1);
    const int64_t v1 = std::min(extent[1], (request.v0 + request.height - 1) * step + 1);
    Box5 box =
        plane_box(shape, request.where.plane, request.where.t, request.where.slice, u0, v0, u1, v1);
    AnyArray data;
    if (request.layer == Layer::labels) {
      GROVE_ASSIGN_OR_RETURN(data, labels->read(box.with_channels(0, 1)));
    } else {
      box = box.with_channels(0, node->info().shape.c());
      if (request.layer == Layer::raw && request.channel >= 0)
        box = box.with_channels(request.channel, request.channel + 1);
      RunOptions options;
      options.context.cancel = request.cancel;
      options.context.priority = request.priority;
      options.context.generation = tile.generation;
      GROVE_ASSIGN_OR_RETURN(data, engine_.submit(node, box, options).get());
    }
    GROVE_ASSIGN_OR_RETURN(AnyArray plane, as_plane_array(data, request.where.plane));
    GROVE_ASSIGN_OR_RETURN(AnyArray sampled, subsample(plane, step, request.width, request.height));
    if (request.layer == Layer::segmentation || request.layer == Layer::uncertainty) {
      GROVE_ASSIGN_OR_RETURN(sampled, derive(sampled, request.layer));
    }
    tile.data = std::move(sampled);
    return tile;
  }

  Result<std::vector<std::string>> export_results(const server::ExportRequest& request,
                                                  const CancelToken& cancel,
                                                  Progress& progress) override {
    Project copy;
    std::vector<std::string> inputs;
    {
      std::lock_guard lock(mutex_);
      copy = project_;
      for (size_t i = 0; i < lanes().size(); ++i) {
        if (request.images.empty() ||
            std::count(request.images.begin(), request.images.end(), lane_ids_[i])) {
          inputs.push_back(lanes()[i].path);
        }
      }
    }
    ExportSource source = ExportSource::kProbabilities;
    if (copy.workflow == kAutocontextWorkflow) {
      GROVE_ASSIGN_OR_RETURN(
          AutocontextSource parsed,
          parse_autocontext_source(request.source, copy.autocontext.stages.size()));
      // The stages up to the one exported need forests (all of them for "all stages").
      const size_t last = parsed.all_stages
                              ? copy.autocontext.stages.size() - 1
                              : parsed.stage.value_or(copy.autocontext.stages.size() - 1);
      for (size_t k = 0; k <= last; ++k) {
        if (!copy.autocontext.stages[k].forest)
          return make_error(ErrorCode::kInvalidArgument, "train stage {} before exporting", k + 1);
      }
    } else {
      if (!copy.pixel.forest)
        return make_error(ErrorCode::kInvalidArgument, "train before exporting");
      GROVE_ASSIGN_OR_RETURN(source, parse_export_source(request.source));
    }
    std::vector<std::string> outputs;
    for (const auto& input : inputs) {
      grove::ExportRequest job;
      job.input = input;
      job.source = source;
      job.format = request.format;
      if (!request.output_pattern.empty()) job.output_pattern = request.output_pattern;
      job.overwrite = request.overwrite;
      std::string output;
      if (copy.workflow == kAutocontextWorkflow) {
        job.source_name = request.source;
        GROVE_ASSIGN_OR_RETURN(
            output, export_autocontext_image(engine_, copy.autocontext, job, &progress, cancel));
      } else {
        GROVE_ASSIGN_OR_RETURN(output, export_image(engine_, copy.pixel, job, &progress, cancel));
      }
      outputs.push_back(output);
    }
    return outputs;
  }

 private:
  // Simple segmentation (label of the most probable class) or uncertainty (1 - (p1 - p2)) of a
  // (1, 1, h, w, K) probability tile.
  static Result<AnyArray> derive(const AnyArray& probabilities, Layer layer) {
    GROVE_ASSIGN_OR_RETURN(AnyArray p, probabilities.convert(DType::f32));
    const Shape5 shape = p.shape();
    const int64_t classes = shape.c();
    const bool segmentation = layer == Layer::segmentation;
    GROVE_ASSIGN_OR_RETURN(AnyArray out, AnyArray::allocate(segmentation ? DType::u8 : DType::f32,
                                                            Shape5(1, 1, shape.y(), shape.x(), 1)));
    const float* in = static_cast<const float*>(p.raw_data());
    for (int64_t i = 0; i < shape.y() * shape.x(); ++i) {
      const float* pixel = in + i * classes;
      int64_t best = 0;
      float first = -1, second = -1;
      for (int64_t k = 0; k < classes; ++k) {
        if (pixel[k] > first) {
          second = first, first = pixel[k], best = k;
        } else if (pixel[k] > second) {
          second = pixel[k];
        }
      }
      if (segmentation) {
        static_cast<uint8_t*>(out.raw_data())[i] = static_cast<uint8_t>(best + 1);
      } else {
        static_cast<float*>(out.raw_data())[i] = classes > 1 ? 1.0f - (first - second) : 0.0f;
      }
    }
    return out;
  }

  ImageSummary summary(size_t index) const {
    const PixelLane& lane = lanes()[index];
    ImageSummary summary;
    summary.id = lane_ids_[index];
    summary.path = lane.path;
    const ImagePath parts = split_image_path(lane.path);
    summary.name = std::filesystem::path(parts.file).filename().string() +
                   (parts.internal.empty() ? "" : "/" + parts.internal);
    summary.shape = lane.shape;
    summary.dtype = lane.dtype;
    summary.axes = lane.axes;
    // The selected stage's labels (the lanes of every stage share the image).
    for (int64_t count : selected().lanes[index].labels->counts()) summary.labelled_pixels += count;
    return summary;
  }

  Result<size_t> lane_index(ImageId id) const {
    for (size_t i = 0; i < lane_ids_.size(); ++i) {
      if (lane_ids_[i] == id) return i;
    }
    return make_error(ErrorCode::kNotFound, "image {} does not exist", id);
  }

  Result<LabelChange> step(bool back) {
    std::lock_guard lock(mutex_);
    if (back ? position_ == 0 : position_ >= history_.size()) return LabelChange{};
    HistoryEntry& entry = history_[back ? position_ - 1 : position_];
    GROVE_ASSIGN_OR_RETURN(size_t index, lane_index(entry.image));
    // Applying an edit returns its inverse: keep that for the opposite direction.
    if (entry.stage >= stage_count()) return LabelChange{};
    GROVE_ASSIGN_OR_RETURN(LabelEdit inverse,
                           stage(entry.stage).lanes[index].labels->undo(entry.edit));
    const Box5 box = entry.edit.box;
    entry.edit = std::move(inverse);
    if (back) {
      --position_;
    } else {
      ++position_;
    }
    dirty_ = true;
    return LabelChange{entry.image, box};
  }

  // The stage bookkeeping: the one difference between the two workflows. Callers hold mutex_.
  bool autocontext() const { return project_.workflow == kAutocontextWorkflow; }
  size_t stage_count() const { return autocontext() ? project_.autocontext.stages.size() : 1; }
  PixelClassification& stage(size_t k) {
    return autocontext() ? project_.autocontext.stages[k] : project_.pixel;
  }
  const PixelClassification& stage(size_t k) const {
    return autocontext() ? project_.autocontext.stages[k] : project_.pixel;
  }
  PixelClassification& selected() { return stage(stage_); }
  const PixelClassification& selected() const { return stage(stage_); }
  // The project's images (every stage has the same, each with its own labels).
  const std::vector<PixelLane>& lanes() const { return stage(0).lanes; }
  // Drops the prediction graphs of stage `first` and the stages after it, which read its output.
  void forget_predictions_from(size_t first) {
    for (size_t k = first; k < prediction_nodes_.size(); ++k) {
      for (auto& node : prediction_nodes_[k]) node = nullptr;
    }
  }

  Engine engine_;
  std::mutex mutex_;
  Project project_;
  std::vector<ImageId> lane_ids_;   // parallel to the lanes
  std::vector<NodePtr> raw_nodes_;  // parallel to the lanes
  // [stage][lane], for the current forests (null: to build)
  std::vector<std::vector<NodePtr>> prediction_nodes_;
  size_t stage_ = 0;  // the selected stage
  ImageId next_id_ = 0;
  bool live_update_ = false;
  bool dirty_ = false;
  uint64_t generation_ = 0;
  std::vector<HistoryEntry> history_;
  size_t position_ = 0;
};

}  // namespace

Result<std::shared_ptr<Backend>> open_pixel_backend(const PixelBackendOptions& options) {
  Project project;
  if (!options.project_path.empty() && std::filesystem::exists(options.project_path)) {
    GROVE_ASSIGN_OR_RETURN(project, open_project(options.project_path));
    // An ilastik project is read, never written: saving goes to a grove project beside it.
    std::filesystem::path opened(options.project_path);
    std::string extension = opened.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (extension == ".ilp") project.path = opened.replace_extension(".grove").string();
  } else if (options.stages >= 2) {
    if (static_cast<size_t>(options.stages) > kMaximumAutocontextStages) {
      return make_error(ErrorCode::kInvalidArgument, "--autocontext: at most {} stages, not {}",
                        kMaximumAutocontextStages, options.stages);
    }
    project.workflow = std::string(kAutocontextWorkflow);
    project.autocontext = Autocontext(static_cast<size_t>(options.stages));
    for (auto& stage : project.autocontext.stages)
      stage.features = filters::FeatureSelection::all();
  } else {
    project.pixel.features = filters::FeatureSelection::all();
  }
  return std::shared_ptr<Backend>(std::make_shared<PixelBackend>(options, std::move(project)));
}

}  // namespace grove::server
