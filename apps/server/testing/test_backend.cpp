// The test double of the server's Backend (see test_backend.h). Simple and single-locked on
// purpose: it exists to exercise the server and the page, not to be fast or clever.
#include "test_backend.h"

#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "../brush.h"

namespace grove::server::testing {
namespace {

using nlohmann::json;

struct Image {
  ImageSummary summary;
  AnyArray data;                // t, z, y, x, c in the file's dtype
  std::vector<float> smoothed;  // channel 0, 3×3 mean within each xy plane; t,z,y,x
  std::vector<uint8_t> labels;  // t, z, y, x
  int64_t index(int64_t t, int64_t z, int64_t y, int64_t x) const {
    const Shape5& s = summary.shape;
    return ((t * s.z() + z) * s.y() + y) * s.x() + x;
  }
};

// One undoable edit: the pixels it changed with their values before and after.
struct Edit {
  ImageId image = 0;
  std::vector<int64_t> indices;
  std::vector<uint8_t> before, after;
  Box5 box;
};

struct ClassModel {
  double mean = 0, sigma = 1;
  bool present = false;
};

// Reads an HDF5 dataset (the named one, or the first one found) as u8/u16/f32.
Result<AnyArray> read_hdf5(const std::string& file, std::string internal, std::string& axes) {
  hid_t handle = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (handle < 0) return make_error(ErrorCode::kIo, "cannot open {} as HDF5", file);
  if (internal.empty()) {
    struct Finder {
      std::string found;
    } finder;
    H5Ovisit(
        handle, H5_INDEX_NAME, H5_ITER_NATIVE,
        [](hid_t, const char* name, const H5O_info_t* info, void* data) -> herr_t {
          if (info->type != H5O_TYPE_DATASET) return 0;
          static_cast<Finder*>(data)->found = name;
          return 1;
        },
        &finder);
    internal = finder.found;
  }
  hid_t dataset = internal.empty() ? -1 : H5Dopen2(handle, internal.c_str(), H5P_DEFAULT);
  if (dataset < 0) {
    H5Fclose(handle);
    return make_error(ErrorCode::kNotFound, "no dataset '{}' in {}", internal, file);
  }
  hid_t space = H5Dget_space(dataset);
  int rank = H5Sget_simple_extent_ndims(space);
  hsize_t dims[8] = {};
  if (rank >= 2 && rank <= 5) H5Sget_simple_extent_dims(space, dims, nullptr);
  H5Sclose(space);
  Shape5 shape;
  if (rank == 2) {
    shape = {1, 1, int64_t(dims[0]), int64_t(dims[1]), 1}, axes = "yx";
  } else if (rank == 3 && dims[2] <= 4) {
    shape = {1, 1, int64_t(dims[0]), int64_t(dims[1]), int64_t(dims[2])}, axes = "yxc";
  } else if (rank == 3) {
    shape = {1, int64_t(dims[0]), int64_t(dims[1]), int64_t(dims[2]), 1}, axes = "zyx";
  } else if (rank == 4) {
    shape = {1, int64_t(dims[0]), int64_t(dims[1]), int64_t(dims[2]), int64_t(dims[3])},
    axes = "zyxc";
  } else if (rank == 5) {
    shape = {int64_t(dims[0]), int64_t(dims[1]), int64_t(dims[2]), int64_t(dims[3]),
             int64_t(dims[4])},
    axes = "tzyxc";
  } else {
    H5Dclose(dataset);
    H5Fclose(handle);
    return make_error(ErrorCode::kUnsupported, "the test backend reads 2D to 5D datasets only");
  }
  hid_t type = H5Dget_type(dataset);
  DType dtype = DType::f32;
  hid_t memory_type = H5T_NATIVE_FLOAT;
  if (H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1) {
    dtype = DType::u8, memory_type = H5T_NATIVE_UINT8;
  } else if (H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 2) {
    dtype = DType::u16, memory_type = H5T_NATIVE_UINT16;
  }
  H5Tclose(type);
  Result<AnyArray> array = AnyArray::allocate(dtype, shape);
  if (array.ok() &&
      H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, array->raw_data()) < 0) {
    array = make_error(ErrorCode::kIo, "cannot read {}/{}", file, internal);
  }
  H5Dclose(dataset);
  H5Fclose(handle);
  return array;
}

// A synthetic image: bright discs on a dark, slightly noisy background.
AnyArray synthetic_image(int64_t depth) {
  Shape5 shape(1, depth, 256, 320, 1);
  AnyArray array = AnyArray::allocate(DType::u8, shape).value();
  uint8_t* pixels = static_cast<uint8_t*>(array.raw_data());
  for (int64_t z = 0; z < depth; ++z)
    for (int64_t y = 0; y < 256; ++y)
      for (int64_t x = 0; x < 320; ++x) {
        const int64_t cy = (y / 64) * 64 + 32, cx = (x / 64) * 64 + 32;
        const double distance = std::hypot(double(y - cy), double(x - cx));
        const int noise = static_cast<int>((x * 7 + y * 13 + z * 5) % 17);
        pixels[(z * 256 + y) * 320 + x] = static_cast<uint8_t>((distance < 18 ? 190 : 30) + noise);
      }
  return array;
}

class TestBackend final : public Backend {
 public:
  explicit TestBackend(TestBackendOptions options) : options_(std::move(options)) {
    features_ = FeatureSelection::default_selection();
    if (!options_.project_path.empty() && std::filesystem::exists(options_.project_path)) {
      (void)load(options_.project_path);
    }
    project_path_ = options_.project_path;
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
      summary.labelled_pixels =
          std::count_if(image->labels.begin(), image->labels.end(), [](uint8_t v) { return v; });
      state.images.push_back(summary);
    }
    state.features = features_;
    state.live_update = live_update_;
    state.trained = generation_ > 0 && trained_;
    state.generation = generation_;
    state.can_undo = history_position_ > 0;
    state.can_redo = history_position_ < history_.size();
    return state;
  }

  Status save(const std::string& path, Progress& progress) override {
    std::lock_guard lock(mutex_);
    std::string target = path.empty() ? project_path_ : path;
    if (target.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "the project has no file yet: give a path");
    }
    json project{
        {"classes", json::array()}, {"images", json::array()}, {"live_update", live_update_}};
    for (const auto& label_class : classes_) {
      project["classes"].push_back({{"name", label_class.name}, {"color", label_class.color}});
    }
    project["features"] = {{"selected", features_.selected}, {"in_2d", features_.in_2d}};
    progress.start(static_cast<int64_t>(images_.size()), "saving");
    for (const auto& image : images_) {
      json labels = json::array();
      for (size_t i = 0; i < image->labels.size(); ++i) {
        if (image->labels[i]) labels.push_back({i, image->labels[i]});
      }
      project["images"].push_back({{"path", image->summary.path}, {"labels", labels}});
      progress.advance();
    }
    const std::string temporary = target + ".saving";
    {
      std::ofstream out(temporary);
      out << project.dump();
      if (!out) return make_error(ErrorCode::kIo, "cannot write {}", temporary);
    }
    std::filesystem::rename(temporary, target);
    progress.finish();
    project_path_ = target;
    dirty_ = false;
    return ok_status();
  }

  Result<ImageSummary> add_image(const std::string& path) override {
    auto image = std::make_shared<Image>();
    std::string axes = "zyx";
    const size_t container = path.find(".h5");
    if (container != std::string::npos) {
      std::string file = path.substr(0, container + 3);
      std::string internal = path.size() > container + 4 ? path.substr(container + 4) : "";
      GROVE_ASSIGN_OR_RETURN(image->data, read_hdf5(file, internal, axes));
    } else {
      image->data = synthetic_image(path.find("3d") != std::string::npos ? 24 : 1);
      axes = image->data.shape().z() > 1 ? "zyx" : "yx";
    }
    const Shape5& shape = image->data.shape();
    image->summary.shape = shape;
    image->summary.dtype = image->data.dtype();
    image->summary.axes = axes;
    image->summary.path = path;
    image->summary.name = std::filesystem::path(path).filename().string();
    image->labels.assign(static_cast<size_t>(shape.pixels()), 0);
    compute_smoothed(*image);
    std::lock_guard lock(mutex_);
    image->summary.id = next_image_id_++;
    images_.push_back(image);
    dirty_ = true;
    return image->summary;
  }

  Status remove_image(ImageId id) override {
    std::lock_guard lock(mutex_);
    auto found = std::find_if(images_.begin(), images_.end(),
                              [&](const auto& image) { return image->summary.id == id; });
    if (found == images_.end())
      return make_error(ErrorCode::kNotFound, "image {} does not exist", id);
    images_.erase(found);
    history_.clear();
    history_position_ = 0;
    dirty_ = true;
    return ok_status();
  }

  Result<ValueRange> value_range(ImageId id, int channel) override {
    std::lock_guard lock(mutex_);
    GROVE_ASSIGN_OR_RETURN(std::shared_ptr<Image> image, find(id));
    ValueRange range{1e300, -1e300, 0, 0};
    visit_dtype(image->data.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, uint16_t> ||
                    std::is_same_v<T, float>) {
        image->data.channels(channel, channel + 1).view<T>().for_each([&](T value) {
          range.min = std::min(range.min, double(value));
          range.max = std::max(range.max, double(value));
        });
      }
    });
    range.low = range.min, range.high = range.max;
    return range;
  }

  Status add_class(const LabelClass& label_class) override {
    std::lock_guard lock(mutex_);
    classes_.push_back(label_class);
    dirty_ = true;
    return ok_status();
  }

  Status update_class(int label, const LabelClass& label_class) override {
    std::lock_guard lock(mutex_);
    if (label < 1 || label > int(classes_.size())) {
      return make_error(ErrorCode::kNotFound, "class {} does not exist", label);
    }
    classes_[label - 1] = label_class;
    dirty_ = true;
    return ok_status();
  }

  Status remove_class(int label) override {
    std::lock_guard lock(mutex_);
    if (label < 1 || label > int(classes_.size())) {
      return make_error(ErrorCode::kNotFound, "class {} does not exist", label);
    }
    classes_.erase(classes_.begin() + (label - 1));
    for (auto& image : images_) {
      for (uint8_t& value : image->labels) {
        if (value == label)
          value = 0;
        else if (value > label)
          --value;
      }
    }
    history_.clear();
    history_position_ = 0;
    trained_ = false;
    dirty_ = true;
    return ok_status();
  }

  Result<LabelChange> apply_stroke(const BrushStroke& stroke) override {
    std::lock_guard lock(mutex_);
    GROVE_ASSIGN_OR_RETURN(std::shared_ptr<Image> image, find(stroke.where.image));
    if (stroke.label < 0 || stroke.label > int(classes_.size())) {
      return make_error(ErrorCode::kInvalidArgument, "class {} does not exist", stroke.label);
    }
    const Shape5& shape = image->summary.shape;
    const auto extent = plane_extent(shape, stroke.where.plane);
    GROVE_ASSIGN_OR_RETURN(StrokePixels pixels, rasterize_stroke(stroke, extent[0], extent[1]));
    Edit edit;
    edit.image = image->summary.id;
    for (const auto& [u, v] : pixels.pixels) {
      const int64_t index = pixel_index(*image, stroke.where, u, v);
      if (image->labels[index] == stroke.label) continue;
      edit.indices.push_back(index);
      edit.before.push_back(image->labels[index]);
      edit.after.push_back(static_cast<uint8_t>(stroke.label));
      image->labels[index] = static_cast<uint8_t>(stroke.label);
    }
    LabelChange change{image->summary.id, {}};
    if (edit.indices.empty()) return change;
    edit.box = plane_box(shape, stroke.where.plane, stroke.where.t, stroke.where.slice, pixels.u0,
                         pixels.v0, pixels.u1, pixels.v1)
                   .with_channels(0, 1);
    change.box = edit.box;
    push(std::move(edit));
    return change;
  }

  Result<LabelChange> undo() override {
    std::lock_guard lock(mutex_);
    if (history_position_ == 0) return LabelChange{};
    const Edit& edit = history_[--history_position_];
    return replay(edit, /*forward=*/false);
  }

  Result<LabelChange> redo() override {
    std::lock_guard lock(mutex_);
    if (history_position_ >= history_.size()) return LabelChange{};
    const Edit& edit = history_[history_position_++];
    return replay(edit, /*forward=*/true);
  }

  Result<std::vector<LabelChange>> clear_labels(std::optional<ImageId> id, int label) override {
    std::lock_guard lock(mutex_);
    std::vector<LabelChange> changes;
    for (auto& image : images_) {
      if (id && image->summary.id != *id) continue;
      Edit edit;
      edit.image = image->summary.id;
      for (size_t i = 0; i < image->labels.size(); ++i) {
        uint8_t& value = image->labels[i];
        if (value == 0 || (label > 0 && value != label)) continue;
        edit.indices.push_back(static_cast<int64_t>(i));
        edit.before.push_back(value);
        edit.after.push_back(0);
        value = 0;
      }
      if (edit.indices.empty()) continue;
      edit.box = Box5::of(image->summary.shape).with_channels(0, 1);
      changes.push_back({edit.image, edit.box});
      push(std::move(edit));
    }
    return changes;
  }

  FeatureSelection features() override {
    std::lock_guard lock(mutex_);
    return features_;
  }

  Status set_features(const FeatureSelection& selection) override {
    std::lock_guard lock(mutex_);
    if (selection.selected_count() == 0) {
      return make_error(ErrorCode::kInvalidArgument, "select at least one feature");
    }
    features_ = selection;
    trained_ = false;
    dirty_ = true;
    return ok_status();
  }

  Status set_live_update(bool on) override {
    std::lock_guard lock(mutex_);
    live_update_ = on;
    return ok_status();
  }

  Result<uint64_t> train(const CancelToken& cancel, Progress& progress) override {
    if (options_.train_delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.train_delay_ms));
    }
    std::lock_guard lock(mutex_);
    if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "training cancelled");
    std::vector<double> sum(classes_.size() + 1, 0), squares(classes_.size() + 1, 0);
    std::vector<int64_t> count(classes_.size() + 1, 0);
    progress.start(static_cast<int64_t>(images_.size()), "training");
    for (const auto& image : images_) {
      for (size_t i = 0; i < image->labels.size(); ++i) {
        const uint8_t label = image->labels[i];
        if (label == 0 || label > classes_.size()) continue;
        sum[label] += image->smoothed[i];
        squares[label] += double(image->smoothed[i]) * image->smoothed[i];
        ++count[label];
      }
      progress.advance();
    }
    int present = 0;
    std::vector<ClassModel> models(classes_.size() + 1);
    for (size_t label = 1; label < models.size(); ++label) {
      if (count[label] == 0) continue;
      ++present;
      const double mean = sum[label] / count[label];
      const double variance = squares[label] / count[label] - mean * mean;
      models[label] = {mean, std::max(2.0, std::sqrt(std::max(0.0, variance))), true};
    }
    if (present < 2) {
      return make_error(ErrorCode::kInvalidArgument,
                        "paint labels of at least two classes to train");
    }
    progress.finish();
    models_ = std::move(models);
    trained_ = true;
    return ++generation_;
  }

  Result<std::vector<FeatureImportance>> feature_importance() override {
    std::lock_guard lock(mutex_);
    std::vector<FeatureImportance> list;
    if (!trained_) return list;
    // A test double: made-up shares that favour fine smoothing, deterministic for the tests.
    double total = 0;
    for (int family = 0; family < FeatureSelection::kFamilyCount; ++family) {
      for (int scale = 0; scale < FeatureSelection::kScaleCount; ++scale) {
        if (!features_.selected[family][scale]) continue;
        const double share = 1.0 / (1.0 + family + 0.5 * scale);
        list.push_back({std::string(FeatureSelection::kFamilies[family]),
                        FeatureSelection::kScales[scale], 0, 0, features_.in_2d[scale], share});
        total += share;
      }
    }
    for (auto& item : list) item.importance /= total;
    return list;
  }

  Result<Tile> tile(const TileRequest& request) override {
    std::lock_guard lock(mutex_);
    if (request.cancel.cancelled()) return make_error(ErrorCode::kCancelled, "tile cancelled");
    GROVE_ASSIGN_OR_RETURN(std::shared_ptr<Image> image, find(request.where.image));
    const Shape5& shape = image->summary.shape;
    const auto extent = plane_extent(shape, request.where.plane);
    const int64_t step = int64_t{1} << request.level;
    Tile tile;
    tile.generation = generation_;
    const bool prediction = request.layer == Layer::probabilities ||
                            request.layer == Layer::segmentation ||
                            request.layer == Layer::uncertainty;
    if (prediction && !trained_) return tile;  // nothing to show yet
    const int classes = static_cast<int>(models_.size()) - 1;
    int channels = 1;
    DType dtype = DType::u8;
    if (request.layer == Layer::raw) {
      channels = request.channel < 0 ? int(shape.c()) : 1;
      dtype = image->data.dtype();
    } else if (request.layer == Layer::probabilities) {
      channels = classes, dtype = DType::f32;
    } else if (request.layer == Layer::uncertainty) {
      dtype = DType::f32;
    }
    GROVE_ASSIGN_OR_RETURN(tile.data, AnyArray::allocate(dtype, Shape5(1, 1, request.height,
                                                                       request.width, channels)));
    std::vector<double> probabilities(classes + 1);
    for (int j = 0; j < request.height; ++j) {
      for (int i = 0; i < request.width; ++i) {
        const int64_t u = std::min(extent[0] - 1, (request.u0 + i) * step);
        const int64_t v = std::min(extent[1] - 1, (request.v0 + j) * step);
        const int64_t index = pixel_index(*image, request.where, u, v);
        switch (request.layer) {
          case Layer::raw: copy_raw(*image, index, request.channel, tile.data, j, i); break;
          case Layer::labels:
            tile.data.view<uint8_t>()(0, 0, j, i, 0) = image->labels[index];
            break;
          default: {
            classify(image->smoothed[index], probabilities);
            if (request.layer == Layer::probabilities) {
              for (int k = 0; k < classes; ++k) {
                tile.data.view<float>()(0, 0, j, i, k) = float(probabilities[k + 1]);
              }
            } else if (request.layer == Layer::segmentation) {
              int best = 1;
              for (int k = 2; k <= classes; ++k) {
                if (probabilities[k] > probabilities[best]) best = k;
              }
              tile.data.view<uint8_t>()(0, 0, j, i, 0) = static_cast<uint8_t>(best);
            } else {
              std::vector<double> sorted(probabilities.begin() + 1, probabilities.end());
              std::sort(sorted.rbegin(), sorted.rend());
              const double margin = sorted.size() > 1 ? sorted[0] - sorted[1] : 1.0;
              tile.data.view<float>()(0, 0, j, i, 0) = float(1.0 - margin);
            }
          }
        }
      }
    }
    return tile;
  }

  Result<std::vector<std::string>> export_results(const ExportRequest& request,
                                                  const CancelToken& cancel,
                                                  Progress& progress) override {
    std::vector<std::shared_ptr<Image>> selected;
    {
      std::lock_guard lock(mutex_);
      if (!trained_) return make_error(ErrorCode::kInvalidArgument, "train before exporting");
      for (const auto& image : images_) {
        if (request.images.empty() ||
            std::count(request.images.begin(), request.images.end(), image->summary.id)) {
          selected.push_back(image);
        }
      }
    }
    if (request.format != "npy") {
      return make_error(ErrorCode::kUnsupported, "the test backend exports npy only, not {}",
                        request.format);
    }
    std::vector<std::string> outputs;
    progress.start(static_cast<int64_t>(selected.size()), "exporting");
    for (const auto& image : selected) {
      if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "export cancelled");
      std::filesystem::path source(image->summary.path);
      std::string file = source.string();
      if (size_t container = file.find(".h5/"); container != std::string::npos) {
        file = file.substr(0, container + 3);
      }
      std::string pattern = request.output_pattern.empty()
                                ? "{dataset_dir}/{nickname}_{result_type}.npy"
                                : request.output_pattern;
      auto replace = [&](const std::string& key, const std::string& value) {
        for (size_t at; (at = pattern.find(key)) != std::string::npos;) {
          pattern.replace(at, key.size(), value);
        }
      };
      replace("{dataset_dir}", std::filesystem::path(file).parent_path().string());
      replace("{nickname}", std::filesystem::path(file).stem().string());
      replace("{result_type}", request.source);
      if (!request.overwrite && std::filesystem::exists(pattern)) {
        return make_error(ErrorCode::kAlreadyExists, "{} exists (tick overwrite)", pattern);
      }
      const Shape5& shape = image->summary.shape;
      std::string header =
          fmt::format("{{'descr': '|u1', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
                      shape.z(), shape.y(), shape.x());
      header.resize(((header.size() + 11 + 63) / 64) * 64 - 11, ' ');
      header += '\n';
      std::ofstream out(pattern, std::ios::binary);
      out.write("\x93NUMPY\x01\x00", 8);
      const uint16_t length = static_cast<uint16_t>(header.size());
      out.put(static_cast<char>(length & 0xff)).put(static_cast<char>(length >> 8));
      out << header;
      std::vector<double> probabilities;
      {
        std::lock_guard lock(mutex_);
        probabilities.resize(models_.size());
        for (float value : image->smoothed) {
          classify(value, probabilities);
          int best = 1;
          for (size_t k = 2; k < probabilities.size(); ++k) {
            if (probabilities[k] > probabilities[best]) best = int(k);
          }
          out.put(static_cast<char>(best));
        }
      }
      if (!out) return make_error(ErrorCode::kIo, "cannot write {}", pattern);
      outputs.push_back(pattern);
      progress.advance();
    }
    progress.finish();
    return outputs;
  }

 private:
  Result<std::shared_ptr<Image>> find(ImageId id) {
    for (const auto& image : images_) {
      if (image->summary.id == id) return image;
    }
    return make_error(ErrorCode::kNotFound, "image {} does not exist", id);
  }

  static int64_t pixel_index(const Image& image, const PlaneRef& where, int64_t u, int64_t v) {
    switch (where.plane) {
      case Plane::xy: return image.index(where.t, where.slice, v, u);
      case Plane::xz: return image.index(where.t, v, where.slice, u);
      case Plane::yz: return image.index(where.t, u, v, where.slice);
    }
    return 0;
  }

  static void copy_raw(const Image& image, int64_t pixel, int channel, AnyArray& out, int j,
                       int i) {
    const int64_t channels = image.summary.shape.c();
    visit_dtype(image.data.dtype(), [&](auto zero) {
      using T = decltype(zero);
      const T* in = static_cast<const T*>(image.data.raw_data()) + pixel * channels;
      View<T> target = out.view<T>();
      if (channel >= 0) {
        target(0, 0, j, i, 0) = in[channel];
      } else {
        for (int64_t c = 0; c < channels; ++c) target(0, 0, j, i, c) = in[c];
      }
    });
  }

  static void compute_smoothed(Image& image) {
    const Shape5& s = image.summary.shape;
    image.smoothed.assign(static_cast<size_t>(s.pixels()), 0.0f);
    AnyArray channel0 = image.data.channels(0, 1).convert(DType::f32).value();
    View<float> in = channel0.view<float>();
    for (int64_t t = 0; t < s.t(); ++t)
      for (int64_t z = 0; z < s.z(); ++z)
        for (int64_t y = 0; y < s.y(); ++y)
          for (int64_t x = 0; x < s.x(); ++x) {
            double sum = 0;
            int count = 0;
            for (int64_t dy = -1; dy <= 1; ++dy)
              for (int64_t dx = -1; dx <= 1; ++dx) {
                const int64_t yy = y + dy, xx = x + dx;
                if (yy < 0 || xx < 0 || yy >= s.y() || xx >= s.x()) continue;
                sum += in(t, z, yy, xx, 0);
                ++count;
              }
            image.smoothed[image.index(t, z, y, x)] = float(sum / count);
          }
  }

  void classify(float value, std::vector<double>& probabilities) const {
    double total = 0;
    probabilities.assign(models_.size(), 0.0);
    for (size_t k = 1; k < models_.size(); ++k) {
      if (!models_[k].present) continue;
      const double z = (value - models_[k].mean) / models_[k].sigma;
      probabilities[k] = std::exp(-0.5 * std::min(z * z, 700.0)) / models_[k].sigma + 1e-12;
      total += probabilities[k];
    }
    for (double& p : probabilities) p = total > 0 ? p / total : 0;
  }

  void push(Edit edit) {
    history_.resize(history_position_);
    history_.push_back(std::move(edit));
    history_position_ = history_.size();
    dirty_ = true;
  }

  Result<LabelChange> replay(const Edit& edit, bool forward) {
    GROVE_ASSIGN_OR_RETURN(std::shared_ptr<Image> image, find(edit.image));
    for (size_t i = 0; i < edit.indices.size(); ++i) {
      image->labels[edit.indices[i]] = forward ? edit.after[i] : edit.before[i];
    }
    dirty_ = true;
    return LabelChange{edit.image, edit.box};
  }

  Status load(const std::string& path) {
    std::ifstream in(path);
    json project = json::parse(in, nullptr, false);
    if (project.is_discarded()) return make_error(ErrorCode::kCorrupt, "{} is not JSON", path);
    for (const auto& label_class : project.value("classes", json::array())) {
      classes_.push_back(
          {label_class.value("name", "class"), label_class.value("color", "#ff0000")});
    }
    if (project.contains("features")) {
      features_.selected = project["features"]["selected"];
      features_.in_2d = project["features"]["in_2d"];
    }
    live_update_ = project.value("live_update", false);
    for (const auto& entry : project.value("images", json::array())) {
      Result<ImageSummary> added = add_image(entry.value("path", ""));
      if (!added.ok()) continue;
      auto& labels = images_.back()->labels;
      for (const auto& pair : entry["labels"]) {
        const size_t index = pair[0].get<size_t>();
        if (index < labels.size()) labels[index] = pair[1].get<uint8_t>();
      }
    }
    dirty_ = false;
    return ok_status();
  }

  TestBackendOptions options_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Image>> images_;
  ImageId next_image_id_ = 0;
  std::vector<LabelClass> classes_;
  FeatureSelection features_;
  bool live_update_ = false;
  bool dirty_ = false;
  bool trained_ = false;
  uint64_t generation_ = 0;
  std::vector<ClassModel> models_;
  std::vector<Edit> history_;
  size_t history_position_ = 0;
  std::string project_path_;
};

}  // namespace

std::shared_ptr<Backend> make_test_backend(const TestBackendOptions& options) {
  return std::make_shared<TestBackend>(options);
}

}  // namespace grove::server::testing
