#include "grove/project/project.h"

#include <fcntl.h>
#include <signal.h>

#include <unistd.h>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>
#include <cmath>
#include <filesystem>
#include <random>

#include "grove/io/hdf5_file.h"
#include "grove/learn/forest_hdf5.h"
#include "grove/learn/forest_prediction.h"
#include "grove/project/ilastik_import.h"

namespace grove {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormatName = "grove-project";

// Paths under the project's directory are stored relative to it, so a project folder can move.
// An image held in memory (the Python module's arrays) has no path, and keeps none.
std::string stored_path(const std::string& input, const fs::path& project_dir) {
  if (input.empty()) return "";
  const ImagePath parts = split_image_path(input);
  std::error_code ec;
  fs::path file = fs::absolute(parts.file, ec).lexically_normal();
  fs::path relative = file.lexically_relative(project_dir);
  std::string result = file.string();
  if (!relative.empty() && relative.native().rfind("..", 0) != 0) result = relative.string();
  if (!parts.internal.empty()) result += "/" + parts.internal;
  return result;
}

std::string resolved_path(const std::string& stored, const fs::path& project_dir) {
  if (stored.empty() || fs::path(stored).is_absolute()) return stored;
  return (project_dir / stored).lexically_normal().string();
}

std::vector<int64_t> shape_vector(const Shape5& s) { return {s[0], s[1], s[2], s[3], s[4]}; }

Result<Shape5> shape_from(const std::vector<int64_t>& v, std::string_view what) {
  if (v.size() != 5)
    return make_error(ErrorCode::kCorrupt, "{} has {} extents, not 5", what, v.size());
  Shape5 s(v[0], v[1], v[2], v[3], v[4]);
  if (!s.valid()) return make_error(ErrorCode::kCorrupt, "{} is not a valid shape", what);
  return s;
}

Status write_lane(hdf5::Group& inputs, size_t index, const PixelLane& lane,
                  const fs::path& project_dir) {
  GROVE_ASSIGN_OR_RETURN(hdf5::Group group, inputs.create_group(fmt::format("lane{:04d}", index)));
  GROVE_RETURN_IF_ERROR(group.write_attribute("path", stored_path(lane.path, project_dir)));
  GROVE_RETURN_IF_ERROR(group.write_attribute("nickname", lane.nickname));
  GROVE_RETURN_IF_ERROR(group.write_attribute("axes", lane.axes));
  GROVE_RETURN_IF_ERROR(group.write_attribute("dtype", std::string(dtype_name(lane.dtype))));
  GROVE_RETURN_IF_ERROR(group.write_attribute("shape", shape_vector(lane.shape)));
  if (lane.has_pixel_size) {
    GROVE_RETURN_IF_ERROR(group.write_attribute(
        "pixel_size", std::vector<double>(lane.pixel_size.begin(), lane.pixel_size.end())));
    GROVE_RETURN_IF_ERROR(group.write_attribute(
        "pixel_unit", std::vector<std::string>(lane.pixel_unit.begin(), lane.pixel_unit.end())));
  }
  return ok_status();
}

Status write_labels(hdf5::Group& labels_group, size_t index, const LabelStore& labels) {
  GROVE_ASSIGN_OR_RETURN(hdf5::Group group,
                         labels_group.create_group(fmt::format("lane{:04d}", index)));
  GROVE_RETURN_IF_ERROR(group.write_attribute("shape", shape_vector(labels.shape())));
  int block_number = 0;
  for (const Box5& box : labels.labelled_blocks()) {
    GROVE_ASSIGN_OR_RETURN(AnyArray data, labels.read(box));
    const Shape5 s = box.shape();
    hdf5::DatasetOptions options;
    options.chunks = {s[0], s[1], s[2], s[3]};
    options.gzip_level = 4;
    GROVE_ASSIGN_OR_RETURN(hdf5::Dataset dataset,
                           group.create_dataset(fmt::format("block{:05d}", block_number++),
                                                DType::u8, {s[0], s[1], s[2], s[3]}, options));
    GROVE_RETURN_IF_ERROR(dataset.write(DType::u8, data.raw_data()));
    std::vector<int64_t> bounds = shape_vector(box.begin);
    for (int64_t e : shape_vector(box.end)) bounds.push_back(e);
    GROVE_RETURN_IF_ERROR(dataset.write_attribute("box", bounds));
  }
  return ok_status();
}

Result<std::shared_ptr<LabelStore>> read_labels(const hdf5::Group& group,
                                                const Shape5& lane_shape) {
  GROVE_ASSIGN_OR_RETURN(std::vector<int64_t> shape_values,
                         group.read_attribute_vector<int64_t>("shape"));
  GROVE_ASSIGN_OR_RETURN(Shape5 shape, shape_from(shape_values, "the label shape"));
  Shape5 expected = lane_shape;
  expected[kC] = 1;
  if (shape != expected) {
    return make_error(ErrorCode::kCorrupt,
                      "labels of shape {} do not match their image of shape {}", shape.to_string(),
                      lane_shape.to_string());
  }
  auto store = std::make_shared<LabelStore>(lane_shape);
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> blocks, group.child_datasets());
  for (const std::string& name : blocks) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Dataset dataset, group.open_dataset(name));
    GROVE_ASSIGN_OR_RETURN(std::vector<int64_t> bounds,
                           dataset.read_attribute_vector<int64_t>("box"));
    if (bounds.size() != 10)
      return make_error(ErrorCode::kCorrupt, "{} has a bad box attribute", dataset.describe());
    Box5 box(Shape5(bounds[0], bounds[1], bounds[2], bounds[3], bounds[4]),
             Shape5(bounds[5], bounds[6], bounds[7], bounds[8], bounds[9]));
    const Shape5 s = box.shape();
    if (box.empty() || !Box5::of(shape).contains(box) ||
        dataset.dims() != std::vector<int64_t>{s[0], s[1], s[2], s[3]}) {
      return make_error(ErrorCode::kCorrupt, "{}: box {} does not fit the labels {}",
                        dataset.describe(), box.to_string(), shape.to_string());
    }
    GROVE_RETURN_IF_ERROR(dataset.check_whole_read(1));
    GROVE_ASSIGN_OR_RETURN(AnyArray data, AnyArray::allocate_uninitialized(DType::u8, s));
    GROVE_RETURN_IF_ERROR(dataset.read(DType::u8, data.raw_data()));
    auto written = store->write(box, data);
    if (!written.ok()) return std::move(written).error();
  }
  return store;
}

// Reads what write_classifier wrote into pixel, whose lanes are set.
Status read_classifier(const hdf5::Group& group, const std::string& path,
                       PixelClassification& pixel) {
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset names_dataset, group.open_dataset("class_names"));
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> names, names_dataset.read_strings());
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset colors_dataset, group.open_dataset("class_colors"));
  GROVE_ASSIGN_OR_RETURN(std::vector<int64_t> colors, colors_dataset.read_vector<int64_t>());
  if (colors.size() != 3 * names.size())
    return make_error(ErrorCode::kCorrupt, "{}: class colours do not match the names", path);
  for (size_t k = 0; k < names.size(); ++k) {
    LabelClass c{names[k], {}};
    for (int i = 0; i < 3; ++i)
      c.color[i] = static_cast<uint8_t>(std::clamp<int64_t>(colors[3 * k + i], 0, 255));
    pixel.classes.push_back(std::move(c));
  }
  GROVE_ASSIGN_OR_RETURN(std::string features_json, group.read_string("features"));
  auto features = nlohmann::json::parse(features_json, nullptr, false);
  if (features.is_discarded())
    return make_error(ErrorCode::kCorrupt, "{}: the feature selection is not valid JSON", path);
  GROVE_ASSIGN_OR_RETURN(pixel.features, filters::feature_selection_from_json(features));
  GROVE_ASSIGN_OR_RETURN(std::string forest_json, group.read_string("forest_options"));
  auto forest_options = nlohmann::json::parse(forest_json, nullptr, false);
  if (forest_options.is_discarded())
    return make_error(ErrorCode::kCorrupt, "{}: the forest options are not valid JSON", path);
  try {
    pixel.forest_options = forest_options.get<ForestOptions>();
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kCorrupt, "{}: bad forest options: {}", path, e.what());
  }
  if (group.exists("labels")) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Group labels, group.open_group("labels"));
    for (size_t i = 0; i < pixel.lanes.size(); ++i) {
      const std::string name = fmt::format("lane{:04d}", i);
      if (!labels.exists(name)) continue;
      GROVE_ASSIGN_OR_RETURN(hdf5::Group lane_labels, labels.open_group(name));
      GROVE_ASSIGN_OR_RETURN(pixel.lanes[i].labels, read_labels(lane_labels, pixel.lanes[i].shape));
    }
  }
  if (group.exists("classifier")) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Group classifier, group.open_group("classifier"));
    GROVE_ASSIGN_OR_RETURN(RandomForest forest, load_forest(classifier));
    pixel.forest = std::make_shared<const RandomForest>(std::move(forest));
    pixel.forest_id = forest_fingerprint(*pixel.forest);
    GROVE_ASSIGN_OR_RETURN(pixel.trained_channels,
                           classifier.read_attribute<int64_t>("trained_channels"));
    GROVE_ASSIGN_OR_RETURN(int64_t volume, classifier.read_attribute<int64_t>("trained_volume_3d"));
    pixel.trained_volume_3d = volume != 0;
  }
  return ok_status();
}

// One classifier's group (the pixel workflow's "pixel", each autocontext stage's "stageNN"):
// classes, feature selection, forest options, the labels of every lane and the trained forest.
Status write_classifier(hdf5::Group& group, const PixelClassification& pixel) {
  std::vector<std::string> names;
  std::vector<uint8_t> colors;
  for (const LabelClass& c : pixel.classes) {
    names.push_back(c.name);
    colors.insert(colors.end(), c.color.begin(), c.color.end());
  }
  GROVE_RETURN_IF_ERROR(group.write_strings("class_names", names));
  GROVE_RETURN_IF_ERROR(
      group.write_dataset("class_colors", colors, {static_cast<int64_t>(pixel.classes.size()), 3}));
  GROVE_RETURN_IF_ERROR(group.write_string("features", nlohmann::json(pixel.features).dump()));
  GROVE_RETURN_IF_ERROR(
      group.write_string("forest_options", nlohmann::json(pixel.forest_options).dump()));
  GROVE_ASSIGN_OR_RETURN(hdf5::Group labels, group.create_group("labels"));
  for (size_t i = 0; i < pixel.lanes.size(); ++i) {
    if (pixel.lanes[i].labels)
      GROVE_RETURN_IF_ERROR(write_labels(labels, i, *pixel.lanes[i].labels));
  }
  if (pixel.forest) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Group classifier, group.create_group("classifier"));
    GROVE_RETURN_IF_ERROR(save_forest(classifier, *pixel.forest));
    GROVE_RETURN_IF_ERROR(classifier.write_attribute("trained_channels", pixel.trained_channels));
    GROVE_RETURN_IF_ERROR(
        classifier.write_attribute("trained_volume_3d", int64_t{pixel.trained_volume_3d ? 1 : 0}));
  }
  return ok_status();
}

bool is_autocontext(const Project& project) { return project.workflow == kAutocontextWorkflow; }

Status write_project_file(const Project& project, const std::string& file_name,
                          const fs::path& project_dir) {
  GROVE_ASSIGN_OR_RETURN(hdf5::File file, hdf5::File::create(file_name, /*overwrite=*/true));
  GROVE_RETURN_IF_ERROR(file.write_attribute("grove_format", kFormatName));
  // The oldest format that describes the file: older groves keep opening pixel projects.
  const int64_t version = is_autocontext(project) ? 2 : 1;
  GROVE_RETURN_IF_ERROR(file.write_attribute("format_version", version));
  GROVE_RETURN_IF_ERROR(file.write_attribute("created_by", "grove 0.1.0"));
  GROVE_RETURN_IF_ERROR(file.write_string("workflow", project.workflow));
  const std::vector<PixelLane>& lanes =
      is_autocontext(project) ? project.autocontext.lanes() : project.pixel.lanes;

  GROVE_ASSIGN_OR_RETURN(hdf5::Group inputs, file.create_group("inputs"));
  for (size_t i = 0; i < lanes.size(); ++i) {
    GROVE_RETURN_IF_ERROR(write_lane(inputs, i, lanes[i], project_dir));
  }

  if (is_autocontext(project)) {
    const Autocontext& autocontext = project.autocontext;
    GROVE_ASSIGN_OR_RETURN(hdf5::Group group, file.create_group("autocontext"));
    GROVE_RETURN_IF_ERROR(
        group.write_attribute("stage_count", static_cast<int64_t>(autocontext.stage_count())));
    for (size_t k = 0; k < autocontext.stage_count(); ++k) {
      GROVE_ASSIGN_OR_RETURN(hdf5::Group stage, group.create_group(fmt::format("stage{:02d}", k)));
      GROVE_RETURN_IF_ERROR(write_classifier(stage, autocontext.stages[k]));
    }
  } else {
    GROVE_ASSIGN_OR_RETURN(hdf5::Group group, file.create_group("pixel"));
    GROVE_RETURN_IF_ERROR(write_classifier(group, project.pixel));
  }

  const ExportSettings& e = project.export_settings;
  GROVE_ASSIGN_OR_RETURN(hdf5::Group export_group, file.create_group("export"));
  GROVE_RETURN_IF_ERROR(
      export_group.write_attribute("source", std::string(export_source_name(e.source))));
  GROVE_RETURN_IF_ERROR(export_group.write_attribute("format", e.format));
  GROVE_RETURN_IF_ERROR(export_group.write_attribute("filename_pattern", e.filename_pattern));
  GROVE_RETURN_IF_ERROR(export_group.write_attribute("internal_path", e.internal_path));
  GROVE_RETURN_IF_ERROR(export_group.write_attribute("dtype", e.dtype));
  GROVE_RETURN_IF_ERROR(export_group.write_attribute("axis_order", e.axis_order));
  return file.flush();
}

Status sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot reopen {} to sync it", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return make_error(ErrorCode::kIo, "cannot sync {} to disk", path);
  return ok_status();
}

// Removes temporary files that saves of this project killed before they finished left behind
// (those whose process is gone).
void remove_stale_temporaries(const fs::path& target) {
  const std::string prefix = fmt::format(".{}.tmp-", target.filename().string());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
      fs::remove(entry.path(), ec);
    }
  }
}

}  // namespace

bool is_grove_project(const std::string& path) {
  if (!hdf5::File::is_hdf5(path)) return false;
  auto file = hdf5::File::open(path);
  if (!file.ok()) return false;
  auto format = file->read_string_attribute("grove_format");
  return format.ok() && *format == kFormatName;
}

Status save_project(const Project& project, const std::string& path, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) {
    return make_error(ErrorCode::kAlreadyExists, "{} exists (use --overwrite to replace it)", path);
  }
  if (fs::exists(path, ec) && !is_grove_project(path)) {
    return make_error(ErrorCode::kAlreadyExists,
                      "{} exists and is not a grove project; refusing to replace it", path);
  }
  const fs::path target = fs::absolute(path, ec);
  const fs::path dir = target.parent_path();
  std::random_device random;
  const std::string temporary =
      (dir / fmt::format(".{}.tmp-{}-{:08x}", target.filename().string(), ::getpid(), random()))
          .string();
  remove_stale_temporaries(target);
  Status status = write_project_file(project, temporary, dir);
  if (status.ok()) status = sync_file(temporary);
  if (status.ok()) {
    fs::rename(temporary, target, ec);
    if (ec)
      status = make_error(ErrorCode::kIo, "cannot rename {} to {}: {}", temporary, target.string(),
                          ec.message());
  }
  if (!status.ok()) {
    fs::remove(temporary, ec);
    return std::move(status).context(fmt::format("saving the project {}", path));
  }
  return ok_status();
}

Result<Project> load_project(const std::string& path) {
  auto load = [&]() -> Result<Project> {
    GROVE_ASSIGN_OR_RETURN(hdf5::File file, hdf5::File::open(path));
    auto format = file.read_string_attribute("grove_format");
    if (!format.ok() || *format != kFormatName) {
      return make_error(ErrorCode::kInvalidArgument, "{} is not a grove project", path);
    }
    GROVE_ASSIGN_OR_RETURN(int64_t version, file.read_attribute<int64_t>("format_version"));
    if (version > kProjectFormatVersion) {
      return make_error(
          ErrorCode::kUnsupported,
          "{} was written by a newer grove (project format {}, this grove reads up to {}); "
          "update grove to open it",
          path, version, kProjectFormatVersion);
    }
    if (version < 1)
      return make_error(ErrorCode::kCorrupt, "bad project format version {}", version);
    // Upgrades go here, one step per version, so every old project reads into the current
    // model. Version 2 only added workflow "autocontext": a version 1 file reads as it is.
    Project project;
    project.path = path;
    const fs::path project_dir = fs::absolute(path).parent_path();
    GROVE_ASSIGN_OR_RETURN(project.workflow, file.read_string("workflow"));
    if (project.workflow != "pixel-classification" && project.workflow != kAutocontextWorkflow) {
      return make_error(ErrorCode::kUnsupported,
                        "{} is a '{}' project, which this grove cannot open", path,
                        project.workflow);
    }
    std::vector<PixelLane> lanes;
    GROVE_ASSIGN_OR_RETURN(hdf5::Group inputs, file.open_group("inputs"));
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> lane_names, inputs.child_groups());
    for (const std::string& name : lane_names) {
      GROVE_ASSIGN_OR_RETURN(hdf5::Group group, inputs.open_group(name));
      PixelLane lane;
      GROVE_ASSIGN_OR_RETURN(std::string stored, group.read_string_attribute("path"));
      lane.path = resolved_path(stored, project_dir);
      GROVE_ASSIGN_OR_RETURN(lane.nickname, group.read_string_attribute("nickname"));
      GROVE_ASSIGN_OR_RETURN(lane.axes, group.read_string_attribute("axes"));
      GROVE_ASSIGN_OR_RETURN(std::string dtype, group.read_string_attribute("dtype"));
      auto parsed = parse_dtype(dtype);
      if (!parsed)
        return make_error(ErrorCode::kCorrupt, "{}: unknown dtype '{}'", group.describe(), dtype);
      lane.dtype = *parsed;
      GROVE_ASSIGN_OR_RETURN(std::vector<int64_t> shape,
                             group.read_attribute_vector<int64_t>("shape"));
      GROVE_ASSIGN_OR_RETURN(lane.shape, shape_from(shape, group.describe() + " shape"));
      if (group.has_attribute("pixel_size")) {
        GROVE_ASSIGN_OR_RETURN(std::vector<double> size,
                               group.read_attribute_vector<double>("pixel_size"));
        GROVE_ASSIGN_OR_RETURN(std::vector<std::string> unit,
                               group.read_string_attribute_vector("pixel_unit"));
        if (size.size() != 4 || unit.size() != 4) {
          return make_error(ErrorCode::kCorrupt, "{}: pixel_size and pixel_unit need 4 values",
                            group.describe());
        }
        for (size_t a = 0; a < 4; ++a) {
          if (!(size[a] > 0) || !std::isfinite(size[a])) {
            return make_error(ErrorCode::kCorrupt, "{}: pixel size {} is not positive",
                              group.describe(), size[a]);
          }
          lane.pixel_size[a] = size[a];
          lane.pixel_unit[a] = unit[a];
        }
        lane.has_pixel_size = true;
      }
      lane.labels = std::make_shared<LabelStore>(lane.shape);
      lanes.push_back(std::move(lane));
    }
    if (project.workflow == kAutocontextWorkflow) {
      if (version < 2) {
        return make_error(ErrorCode::kCorrupt,
                          "{} says project format {}, which has no autocontext projects", path,
                          version);
      }
      GROVE_ASSIGN_OR_RETURN(hdf5::Group group, file.open_group("autocontext"));
      GROVE_ASSIGN_OR_RETURN(int64_t stage_count, group.read_attribute<int64_t>("stage_count"));
      if (stage_count < 1 || stage_count > static_cast<int64_t>(kMaximumAutocontextStages)) {
        return make_error(ErrorCode::kCorrupt, "{}: bad autocontext stage count {}", path,
                          stage_count);
      }
      project.autocontext = Autocontext(static_cast<size_t>(stage_count));
      for (size_t k = 0; k < project.autocontext.stage_count(); ++k) {
        PixelClassification& stage = project.autocontext.stages[k];
        for (const PixelLane& lane : lanes) {
          stage.lanes.push_back(lane);
          stage.lanes.back().labels = std::make_shared<LabelStore>(lane.shape);
        }
        GROVE_ASSIGN_OR_RETURN(hdf5::Group stage_group,
                               group.open_group(fmt::format("stage{:02d}", k)));
        GROVE_RETURN_IF_ERROR(read_classifier(stage_group, path, stage)
                                  .context(fmt::format("reading stage {}", k + 1)));
      }
    } else {
      project.pixel.lanes = std::move(lanes);
      GROVE_ASSIGN_OR_RETURN(hdf5::Group group, file.open_group("pixel"));
      GROVE_RETURN_IF_ERROR(read_classifier(group, path, project.pixel));
    }
    if (file.exists("export")) {
      GROVE_ASSIGN_OR_RETURN(hdf5::Group e, file.open_group("export"));
      ExportSettings& settings = project.export_settings;
      GROVE_ASSIGN_OR_RETURN(std::string source, e.read_string_attribute("source"));
      GROVE_ASSIGN_OR_RETURN(settings.source, parse_export_source(source));
      GROVE_ASSIGN_OR_RETURN(settings.format, e.read_string_attribute("format"));
      GROVE_ASSIGN_OR_RETURN(settings.filename_pattern,
                             e.read_string_attribute("filename_pattern"));
      GROVE_ASSIGN_OR_RETURN(settings.internal_path, e.read_string_attribute("internal_path"));
      GROVE_ASSIGN_OR_RETURN(settings.dtype, e.read_string_attribute("dtype"));
      GROVE_ASSIGN_OR_RETURN(settings.axis_order, e.read_string_attribute("axis_order"));
    }
    return project;
  };
  return load().context(fmt::format("opening the project {}", path));
}

Result<Project> open_project(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return make_error(ErrorCode::kNotFound, "project {} does not exist", path);
  if (is_grove_project(path)) return load_project(path);
  if (hdf5::File::is_hdf5(path)) return import_ilastik_project(path, {});
  return make_error(ErrorCode::kInvalidArgument,
                    "{} is neither a grove project nor an ilastik project", path);
}

}  // namespace grove
