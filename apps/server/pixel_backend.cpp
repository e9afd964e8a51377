// The Backend over the pixel-classification workflow (see pixel_backend.h).
//
// What works now, over the layers in this build: images through the io layer and the engine
// (raw tiles with priorities and cancellation), sparse labels in the workflow's LabelStore with
// the workflow's brush, one undo history for all images, label classes, the feature selection.
// What waits for the rest of the workflow (issue 6) and the project file (issue 7): training,
// the prediction layers, export and save answer with a clear "not in this build yet" error, and
// the prediction layers show nothing. See the NOTE comments for what to plug in.
#include "pixel_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "grove/engine/engine.h"
#include "grove/engine/node.h"
#include "grove/io/image.h"
#include "grove/workflows/pixel/brush.h"
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

struct ImageEntry {
  ImageSummary summary;
  NodePtr input;
  std::unique_ptr<LabelStore> labels;
};

// One undoable edit: which image, and what the label store returned to undo it.
struct HistoryEntry {
  ImageId image;
  LabelEdit edit;
};

constexpr const char* kNotYet =
    "is not in this build yet (it needs the rest of the pixel-classification workflow)";

class PixelBackend final : public Backend {
 public:
  explicit PixelBackend(const PixelBackendOptions& options)
      : engine_(EngineOptions{options.threads, options.memory_bytes, 0.5}),
        project_path_(options.project_path) {
    features_ = FeatureSelection::default_selection();
  }

  ProjectState state() override {
    std::lock_guard lock(mutex_);
    ProjectState state;
    state.path = project_path_;
    state.name =
        project_path_.empty() ? "untitled" : std::filesystem::path(project_path_).stem().string();
    state.dirty = dirty_;
    state.classes = classes_;
    for (const auto& image : images_) {
      ImageSummary summary = image->summary;
      for (int64_t count : image->labels->counts()) summary.labelled_pixels += count;
      state.images.push_back(summary);
    }
    state.features = features_;
    state.live_update = live_update_;
    state.trained = false;  // NOTE: true once a classifier for the current features exists
    state.generation = generation_;
    state.can_undo = position_ > 0;
    state.can_redo = position_ < history_.size();
    return state;
  }

  Status save(const std::string& path, Progress& progress) override {
    // NOTE: write the grove project file (issue 7): images (paths relative to the project),
    // classes, labels (LabelStore::labelled_blocks), features, classifier, live-update flag.
    return make_error(ErrorCode::kUnsupported, "saving projects {}", kNotYet);
  }

  Result<ImageSummary> add_image(const std::string& path) override {
    GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(path));
    auto entry = std::make_shared<ImageEntry>();
    const ImageInfo info = reader->info();
    std::error_code error;
    const auto file = split_image_path(path).file;
    const auto modified = std::filesystem::last_write_time(file, error);
    const std::string identity =
        fmt::format("{}@{}", path, error ? 0 : modified.time_since_epoch().count());
    entry->input = input_node(std::shared_ptr<ImageReader>(std::move(reader)), identity);
    entry->labels = std::make_unique<LabelStore>(info.shape);
    entry->summary.shape = info.shape;
    entry->summary.dtype = info.dtype;
    entry->summary.axes = info.axes;
    entry->summary.pixel_size = info.pixel_size;
    entry->summary.pixel_unit = info.pixel_unit;
    entry->summary.has_pixel_size = info.has_pixel_size;
    entry->summary.path = path;
    const ImagePath parts = split_image_path(path);
    entry->summary.name = std::filesystem::path(parts.file).filename().string() +
                          (parts.internal.empty() ? "" : "/" + parts.internal);
    std::lock_guard lock(mutex_);
    entry->summary.id = next_id_++;
    images_.push_back(entry);
    dirty_ = true;
    return entry->summary;
  }

  Status remove_image(ImageId id) override {
    std::lock_guard lock(mutex_);
    auto found = std::find_if(images_.begin(), images_.end(),
                              [&](const auto& image) { return image->summary.id == id; });
    if (found == images_.end())
      return make_error(ErrorCode::kNotFound, "image {} does not exist", id);
    images_.erase(found);
    std::erase_if(history_, [&](const HistoryEntry& entry) { return entry.image == id; });
    position_ = std::min(position_, history_.size());
    dirty_ = true;
    return ok_status();
  }

  Result<ValueRange> value_range(ImageId id, int channel) override {
    GROVE_ASSIGN_OR_RETURN(std::shared_ptr<ImageEntry> image, find(id));
    const Shape5& shape = image->summary.shape;
    // A sample: the middle time point and slice, at most ~4 M pixels of it.
    Box5 box(Shape5(shape.t() / 2, shape.z() / 2, 0, 0, channel),
             Shape5(shape.t() / 2 + 1, shape.z() / 2 + 1, shape.y(), shape.x(), channel + 1));
    const int64_t step =
        std::max<int64_t>(1, static_cast<int64_t>(std::sqrt(double(shape.y() * shape.x()) / 4e6)));
    GROVE_ASSIGN_OR_RETURN(AnyArray data, engine_.compute(image->input, box));
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

  Status add_class(const LabelClass& label_class) override {
    std::lock_guard lock(mutex_);
    if (classes_.size() >= 254)
      return make_error(ErrorCode::kInvalidArgument, "at most 254 classes");
    classes_.push_back(label_class);
    dirty_ = true;
    return ok_status();
  }

  Status update_class(int label, const LabelClass& label_class) override {
    std::lock_guard lock(mutex_);
    if (label < 1 || label > int(classes_.size()))
      return make_error(ErrorCode::kNotFound, "class {} does not exist", label);
    classes_[label - 1] = label_class;
    dirty_ = true;
    return ok_status();
  }

  Status remove_class(int label) override {
    std::lock_guard lock(mutex_);
    if (label < 1 || label > int(classes_.size()))
      return make_error(ErrorCode::kNotFound, "class {} does not exist", label);
    for (auto& image : images_) {
      image->labels->clear_class(static_cast<uint8_t>(label));
      for (int later = label + 1; later <= int(classes_.size()); ++later) {
        image->labels->relabel(static_cast<uint8_t>(later), static_cast<uint8_t>(later - 1));
      }
    }
    classes_.erase(classes_.begin() + (label - 1));
    history_.clear();  // the stored edits refer to the old numbering
    position_ = 0;
    dirty_ = true;
    return ok_status();
  }

  Result<LabelChange> apply_stroke(const server::BrushStroke& stroke) override {
    GROVE_ASSIGN_OR_RETURN(std::shared_ptr<ImageEntry> image, find(stroke.where.image));
    {
      std::lock_guard lock(mutex_);
      if (stroke.label < 0 || stroke.label > int(classes_.size())) {
        return make_error(ErrorCode::kInvalidArgument, "class {} does not exist", stroke.label);
      }
    }
    Result<StrokeMask> mask = rasterize_stroke(workflow_stroke(stroke), image->summary.shape);
    if (!mask.ok()) {
      // A stroke wholly outside the image changes nothing.
      if (mask.error().code() == ErrorCode::kOutOfRange) return LabelChange{image->summary.id, {}};
      return std::move(mask).error();
    }
    GROVE_ASSIGN_OR_RETURN(
        LabelEdit edit,
        image->labels->paint(mask->box, mask->mask, static_cast<uint8_t>(stroke.label)));
    std::lock_guard lock(mutex_);
    history_.resize(position_);
    history_.push_back({image->summary.id, std::move(edit)});
    position_ = history_.size();
    dirty_ = true;
    return LabelChange{image->summary.id, mask->box};
  }

  Result<LabelChange> undo() override { return step(/*back=*/true); }
  Result<LabelChange> redo() override { return step(/*back=*/false); }

  Result<std::vector<LabelChange>> clear_labels(std::optional<ImageId> id, int label) override {
    std::lock_guard lock(mutex_);
    std::vector<LabelChange> changes;
    for (auto& image : images_) {
      if (id && image->summary.id != *id) continue;
      const Box5 whole = Box5::of(image->summary.shape).with_channels(0, 1);
      GROVE_ASSIGN_OR_RETURN(AnyArray before, image->labels->read(whole));
      if (label > 0)
        image->labels->clear_class(static_cast<uint8_t>(label));
      else
        image->labels->clear();
      // NOTE: this keeps the whole image's labels for undo; a sparse edit from the store would
      // be leaner for huge volumes.
      history_.resize(position_);
      history_.push_back({image->summary.id, LabelEdit{whole, std::move(before)}});
      position_ = history_.size();
      changes.push_back({image->summary.id, whole});
    }
    dirty_ = true;
    return changes;
  }

  FeatureSelection features() override {
    std::lock_guard lock(mutex_);
    return features_;
  }

  Status set_features(const FeatureSelection& selection) override {
    if (selection.selected_count() == 0)
      return make_error(ErrorCode::kInvalidArgument, "select at least one feature");
    std::lock_guard lock(mutex_);
    features_ = selection;
    dirty_ = true;
    return ok_status();
  }

  Status set_live_update(bool on) override {
    std::lock_guard lock(mutex_);
    live_update_ = on;
    return ok_status();
  }

  Result<uint64_t> train(const CancelToken& cancel, Progress& progress) override {
    // NOTE: gather training samples (features at labelled pixels, block-wise over
    // LabelStore::labelled_blocks of every image), train the forest (100 trees), install it as
    // the classifier of the prediction nodes, and return ++generation_.
    return make_error(ErrorCode::kUnsupported, "training {}", kNotYet);
  }

  Result<std::vector<FeatureImportance>> feature_importance() override {
    return std::vector<FeatureImportance>{};  // NOTE: from the trained forest
  }

  Result<Tile> tile(const TileRequest& request) override {
    GROVE_ASSIGN_OR_RETURN(std::shared_ptr<ImageEntry> image, find(request.where.image));
    const Shape5& shape = image->summary.shape;
    const auto extent = plane_extent(shape, request.where.plane);
    const int64_t step = int64_t{1} << request.level;
    // The full-resolution region the tile covers (nearest-neighbour sampling reads only the
    // pixels it shows where the reader allows; NOTE: a pyramid op would make coarse levels of
    // huge images cheap).
    const int64_t u0 = request.u0 * step, v0 = request.v0 * step;
    const int64_t u1 = std::min(extent[0], (request.u0 + request.width - 1) * step + 1);
    const int64_t v1 = std::min(extent[1], (request.v0 + request.height - 1) * step + 1);
    Box5 box =
        plane_box(shape, request.where.plane, request.where.t, request.where.slice, u0, v0, u1, v1);
    Tile tile;
    tile.generation = generation_;
    switch (request.layer) {
      case Layer::raw: {
        if (request.channel >= 0) box = box.with_channels(request.channel, request.channel + 1);
        RunOptions options;
        options.context.cancel = request.cancel;
        options.context.priority = request.priority;
        GROVE_ASSIGN_OR_RETURN(AnyArray data, engine_.submit(image->input, box, options).get());
        GROVE_ASSIGN_OR_RETURN(AnyArray plane, as_plane_array(data, request.where.plane));
        GROVE_ASSIGN_OR_RETURN(tile.data, subsample(plane, step, request.width, request.height));
        return tile;
      }
      case Layer::labels: {
        GROVE_ASSIGN_OR_RETURN(AnyArray data, image->labels->read(box.with_channels(0, 1)));
        GROVE_ASSIGN_OR_RETURN(AnyArray plane, as_plane_array(data, request.where.plane));
        GROVE_ASSIGN_OR_RETURN(tile.data, subsample(plane, step, request.width, request.height));
        return tile;
      }
      default:
        // NOTE: probabilities / segmentation / uncertainty of the current classifier through
        // the engine (request.priority, request.cancel, generation in the RequestContext).
        return tile;  // null data: nothing to show before training
    }
  }

  Result<std::vector<std::string>> export_results(const ExportRequest& request,
                                                  const CancelToken& cancel,
                                                  Progress& progress) override {
    // NOTE: the same code path as `grove run --export SOURCE --format FORMAT --output PATTERN`.
    return make_error(ErrorCode::kUnsupported, "export {}", kNotYet);
  }

 private:
  Result<std::shared_ptr<ImageEntry>> find(ImageId id) {
    std::lock_guard lock(mutex_);
    for (const auto& image : images_) {
      if (image->summary.id == id) return image;
    }
    return make_error(ErrorCode::kNotFound, "image {} does not exist", id);
  }

  Result<LabelChange> step(bool back) {
    std::lock_guard lock(mutex_);
    if (back ? position_ == 0 : position_ >= history_.size()) return LabelChange{};
    HistoryEntry& entry = history_[back ? position_ - 1 : position_];
    std::shared_ptr<ImageEntry> image;
    for (const auto& candidate : images_) {
      if (candidate->summary.id == entry.image) image = candidate;
    }
    if (!image) return make_error(ErrorCode::kNotFound, "image {} does not exist", entry.image);
    // Applying an edit returns its inverse: store that for the opposite direction.
    GROVE_ASSIGN_OR_RETURN(LabelEdit inverse, image->labels->undo(entry.edit));
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

  Engine engine_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<ImageEntry>> images_;
  ImageId next_id_ = 0;
  std::vector<LabelClass> classes_;
  FeatureSelection features_;
  bool live_update_ = false;
  bool dirty_ = false;
  uint64_t generation_ = 0;
  std::vector<HistoryEntry> history_;
  size_t position_ = 0;
  std::string project_path_;
};

}  // namespace

Result<std::shared_ptr<Backend>> open_pixel_backend(const PixelBackendOptions& options) {
  if (!options.project_path.empty() && std::filesystem::exists(options.project_path)) {
    // NOTE: open the grove project file (issue 7).
    return make_error(ErrorCode::kUnsupported, "opening project files {}", kNotYet);
  }
  return std::shared_ptr<Backend>(std::make_shared<PixelBackend>(options));
}

}  // namespace grove::server
