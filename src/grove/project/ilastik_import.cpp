#include "grove/project/ilastik_import.h"

#include <fmt/format.h>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "grove/io/axes_override.h"
#include "grove/io/hdf5_file.h"
#include "grove/learn/forest_prediction.h"
#include "grove/learn/vigra_forest.h"

namespace grove {

namespace fs = std::filesystem;

namespace {

// ilastik's axistags JSON -> "yxc".
Result<std::string> axes_from_axistags(const std::string& json_text) {
  auto json = nlohmann::json::parse(json_text, nullptr, false);
  if (json.is_discarded() || !json.contains("axes") || !json["axes"].is_array()) {
    return Error(ErrorCode::kCorrupt, "axistags are not valid JSON");
  }
  std::string axes;
  for (const auto& axis : json["axes"]) {
    if (!axis.contains("key") || !axis["key"].is_string())
      return Error(ErrorCode::kCorrupt, "an axistag has no key");
    const std::string key = axis["key"].get<std::string>();
    if (key.size() != 1 || std::string("tzyxc").find(key[0]) == std::string::npos ||
        axes.find(key[0]) != std::string::npos) {
      return make_error(ErrorCode::kUnsupported, "unsupported axis '{}' in axistags", key);
    }
    axes += key;
  }
  return axes;
}

// Finds the raw data file of a lane: the stored path (absolute, or relative to the .ilp), then
// the search folders.
std::optional<std::string> locate_raw_data(const std::string& stored, const fs::path& ilp_dir,
                                           const std::vector<std::string>& search_dirs) {
  const ImagePath parts = split_image_path(stored);
  auto with_internal = [&](const fs::path& file) {
    return parts.internal.empty() ? file.string() : file.string() + "/" + parts.internal;
  };
  std::error_code ec;
  fs::path file(parts.file);
  if (file.is_absolute() && fs::exists(file, ec)) return with_internal(file);
  if (!file.is_absolute() && fs::exists(ilp_dir / file, ec))
    return with_internal((ilp_dir / file).lexically_normal());
  for (const std::string& dir : search_dirs) {
    if (!file.is_absolute() && fs::exists(fs::path(dir) / file, ec))
      return with_internal(fs::path(dir) / file);
    if (fs::exists(fs::path(dir) / file.filename(), ec))
      return with_internal(fs::path(dir) / file.filename());
  }
  // A project moved from another machine usually travels with its data beside it.
  if (fs::exists(ilp_dir / file.filename(), ec)) return with_internal(ilp_dir / file.filename());
  return std::nullopt;
}

// Maps a box given in `axes` order (each axis begin:end) into t,z,y,x,c.
Result<Box5> box_from_axes(const std::vector<std::pair<int64_t, int64_t>>& ranges,
                           const std::string& axes) {
  if (ranges.size() != axes.size()) {
    return make_error(ErrorCode::kCorrupt, "a label block has {} ranges for the {} axes '{}'",
                      ranges.size(), axes.size(), axes);
  }
  Box5 box(Shape5::filled(0), Shape5::filled(1));
  for (size_t i = 0; i < axes.size(); ++i) {
    const int axis = static_cast<int>(std::string("tzyxc").find(axes[i]));
    box.begin[axis] = ranges[i].first;
    box.end[axis] = ranges[i].second;
  }
  return box;
}

Result<filters::FeatureSelection> read_feature_selection(const hdf5::File& file,
                                                         const std::string& group_name) {
  GROVE_ASSIGN_OR_RETURN(hdf5::Group group, file.open_group(group_name));
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset scales_dataset, group.open_dataset("Scales"));
  GROVE_ASSIGN_OR_RETURN(std::vector<double> scales, scales_dataset.read_vector<double>());
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset ids_dataset, group.open_dataset("FeatureIds"));
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> ids, ids_dataset.read_strings());
  GROVE_ASSIGN_OR_RETURN(hdf5::Dataset matrix_dataset, group.open_dataset("SelectionMatrix"));
  GROVE_ASSIGN_OR_RETURN(std::vector<int64_t> matrix, matrix_dataset.read_vector<int64_t>());
  if (matrix.size() != ids.size() * scales.size()) {
    return make_error(ErrorCode::kCorrupt,
                      "{}: the selection matrix has {} entries for {} features × {} scales",
                      group_name, matrix.size(), ids.size(), scales.size());
  }
  std::vector<bool> in_2d(scales.size(), false);
  if (group.exists("ComputeIn2d")) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Dataset in_2d_dataset, group.open_dataset("ComputeIn2d"));
    GROVE_ASSIGN_OR_RETURN(std::vector<int64_t> flags, in_2d_dataset.read_vector<int64_t>());
    for (size_t s = 0; s < std::min(flags.size(), scales.size()); ++s) in_2d[s] = flags[s] != 0;
  }
  nlohmann::json json;
  json["scales"] = scales;
  json["feature_ids"] = ids;
  nlohmann::json rows = nlohmann::json::array();
  for (size_t f = 0; f < ids.size(); ++f) {
    nlohmann::json row = nlohmann::json::array();
    for (size_t s = 0; s < scales.size(); ++s) row.push_back(matrix[f * scales.size() + s] != 0);
    rows.push_back(row);
  }
  json["selection_matrix"] = rows;
  json["compute_in_2d"] = in_2d;
  return filters::feature_selection_from_json(json);
}

// The project's images ("Input Data/infos/laneNNNN/Raw Data"), with empty labels.
Result<std::vector<PixelLane>> read_lanes(const hdf5::File& file, const std::string& ilp_path,
                                          const IlastikImportOptions& options) {
  const fs::path ilp_dir = fs::absolute(ilp_path).parent_path();
  std::vector<PixelLane> result;
  if (file.exists("Input Data/infos")) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Group infos, file.open_group("Input Data/infos"));
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> lanes, infos.child_groups());
    for (const std::string& lane_name : lanes) {
      const std::string raw = lane_name + "/Raw Data";
      if (!infos.exists(raw + "/filePath")) continue;
      GROVE_ASSIGN_OR_RETURN(hdf5::Group info, infos.open_group(raw));
      GROVE_ASSIGN_OR_RETURN(std::string stored, info.read_string("filePath"));
      std::string location = "FileSystem";
      if (info.exists("location")) {
        GROVE_ASSIGN_OR_RETURN(location, info.read_string("location"));
      }
      std::string axes;
      if (info.exists("axistags")) {
        GROVE_ASSIGN_OR_RETURN(std::string tags, info.read_string("axistags"));
        GROVE_ASSIGN_OR_RETURN(axes, axes_from_axistags(tags));
      }
      PixelLane lane;
      if (location == "ProjectInternal") {
        lane.path = fs::absolute(ilp_path).string() + (stored.front() == '/' ? "" : "/") + stored;
      } else {
        auto found = locate_raw_data(stored, ilp_dir, options.raw_data_dirs);
        if (!found && !options.allow_missing_raw_data) {
          return make_error(
              ErrorCode::kNotFound,
              "the raw data of {} is missing: looked for '{}' (relative to {}); give the "
              "folder that holds it with --raw-data-dir DIR",
              lane_name, stored, ilp_dir.string());
        }
        lane.path = found.value_or(stored);
      }
      if (info.exists("nickname")) {
        GROVE_ASSIGN_OR_RETURN(lane.nickname, info.read_string("nickname"));
      } else {
        lane.nickname = fs::path(split_image_path(lane.path).file).stem().string();
      }
      lane.axes = axes;
      auto reader = open_image_with_axes(lane.path, axes);
      if (reader.ok()) {
        const ImageInfo& info = (*reader)->info();
        lane.shape = info.shape;
        lane.dtype = info.dtype;
        lane.pixel_size = info.pixel_size;
        lane.pixel_unit = info.pixel_unit;
        lane.has_pixel_size = info.has_pixel_size;
      } else if (!options.allow_missing_raw_data) {
        return std::move(reader).error().add_context(
            fmt::format("opening the raw data of {}", lane_name));
      }
      lane.labels = std::make_shared<LabelStore>(lane.shape);
      result.push_back(std::move(lane));
    }
  }
  return result;
}

// One pixel classifier of the project into pixel (whose lanes are set): its classes (group/
// LabelNames, LabelColors), labels (group/LabelSets), feature selection (features_group) and
// forests (group/ClassifierForests). ilastik's pixel workflow has one ("PixelClassification",
// "FeatureSelections"); autocontext one per stage ("PixelClassification01", ...).
Status read_classifier_stage(const hdf5::File& file, const std::string& group,
                             const std::string& features_group, PixelClassification& pixel) {
  // Classes.
  if (file.exists(group + "/LabelNames")) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Dataset names_dataset, file.open_dataset(group + "/LabelNames"));
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> names, names_dataset.read_strings());
    std::vector<int64_t> colors;
    if (file.exists(group + "/LabelColors")) {
      GROVE_ASSIGN_OR_RETURN(hdf5::Dataset colors_dataset,
                             file.open_dataset(group + "/LabelColors"));
      GROVE_ASSIGN_OR_RETURN(colors, colors_dataset.read_vector<int64_t>());
    }
    for (size_t k = 0; k < names.size(); ++k) {
      LabelClass c{names[k], default_class_color(k)};
      if (colors.size() >= 3 * (k + 1)) {
        for (int i = 0; i < 3; ++i)
          c.color[i] = static_cast<uint8_t>(std::clamp<int64_t>(colors[3 * k + i], 0, 255));
      }
      pixel.classes.push_back(std::move(c));
    }
  }

  // Labels: LabelSets/labelsNNN (one per lane) / blockNNNN with blockSlice in the lane's axes.
  if (file.exists(group + "/LabelSets")) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Group sets, file.open_group(group + "/LabelSets"));
    GROVE_ASSIGN_OR_RETURN(std::vector<std::string> set_names, sets.child_groups());
    for (size_t i = 0; i < set_names.size() && i < pixel.lanes.size(); ++i) {
      PixelLane& lane = pixel.lanes[i];
      GROVE_ASSIGN_OR_RETURN(hdf5::Group set, sets.open_group(set_names[i]));
      GROVE_ASSIGN_OR_RETURN(std::vector<std::string> blocks, set.child_datasets());
      for (const std::string& block_name : blocks) {
        GROVE_ASSIGN_OR_RETURN(hdf5::Dataset block, set.open_dataset(block_name));
        GROVE_ASSIGN_OR_RETURN(std::string slice, block.read_string_attribute("blockSlice"));
        GROVE_ASSIGN_OR_RETURN(auto ranges, parse_block_slice(slice));
        std::string block_axes = lane.axes;
        if (block.has_attribute("axistags")) {
          GROVE_ASSIGN_OR_RETURN(std::string tags, block.read_string_attribute("axistags"));
          GROVE_ASSIGN_OR_RETURN(block_axes, axes_from_axistags(tags));
        } else if (block_axes.find('c') == std::string::npos) {
          block_axes += 'c';
        }
        GROVE_ASSIGN_OR_RETURN(Box5 box, box_from_axes(ranges, block_axes));
        box = box.with_channels(0, 1);
        if (!Box5::of(lane.labels->shape()).contains(box)) {
          return make_error(ErrorCode::kCorrupt, "label block {} ({}) lies outside its image {}",
                            block_name, slice, lane.shape.to_string());
        }
        GROVE_ASSIGN_OR_RETURN(AnyArray stored, block.read_array(block_axes));
        if (stored.shape() != box.shape()) {
          return make_error(ErrorCode::kCorrupt,
                            "label block {} has shape {} but its blockSlice {} says {}", block_name,
                            stored.shape().to_string(), slice, box.shape().to_string());
        }
        auto written = lane.labels->write(box, stored);
        if (!written.ok()) return std::move(written).error();
      }
    }
  }

  // Features and classifier.
  if (file.exists(features_group + "/SelectionMatrix")) {
    GROVE_ASSIGN_OR_RETURN(pixel.features, read_feature_selection(file, features_group));
  }
  if (file.exists(group + "/ClassifierForests")) {
    GROVE_ASSIGN_OR_RETURN(hdf5::Group forests, file.open_group(group + "/ClassifierForests"));
    GROVE_ASSIGN_OR_RETURN(RandomForest forest, read_ilastik_forests(forests));
    pixel.forest = std::make_shared<const RandomForest>(std::move(forest));
    pixel.forest_id = forest_fingerprint(*pixel.forest);
    if (!pixel.lanes.empty()) {
      pixel.trained_channels = pixel.lanes.front().shape.c();
      pixel.trained_volume_3d = pixel.lanes.front().shape.z() > 1;
    }
    pixel.ensure_classes(static_cast<size_t>(pixel.forest->output_count()));
  }
  return ok_status();
}

// ilastik's autocontext workflows: "AutocontextTwoStage", "AutocontextThreeStage",
// "AutocontextFourStage" (and older names starting with "Autocontext" / "New Autocontext").
bool is_ilastik_autocontext(const std::string& workflow) {
  return workflow.rfind("Autocontext", 0) == 0 || workflow.rfind("New Autocontext", 0) == 0;
}

// ilastik names stage k's groups PixelClassification and FeatureSelections for k = 0, and
// PixelClassificationNN, FeatureSelectionsNN (NN = k, two digits) after.
std::string stage_group_name(const std::string& base, size_t stage) {
  return stage == 0 ? base : fmt::format("{}{:02d}", base, stage);
}

Result<Autocontext> read_autocontext(const hdf5::File& file, const std::string& workflow,
                                     const std::vector<PixelLane>& lanes) {
  size_t stage_count = 0;
  while (stage_count < kMaximumAutocontextStages &&
         file.exists(stage_group_name("PixelClassification", stage_count))) {
    ++stage_count;
  }
  if (stage_count < 2) {
    return make_error(ErrorCode::kUnsupported,
                      "this ilastik '{}' project has no second stage (no group "
                      "PixelClassification01): grove reads the autocontext layout of ilastik 1.2 "
                      "and later",
                      workflow);
  }
  Autocontext autocontext(stage_count);
  const int64_t raw_channels = lanes.empty() ? 0 : lanes.front().shape.c();
  const bool volume = !lanes.empty() && lanes.front().shape.z() > 1;
  for (size_t k = 0; k < stage_count; ++k) {
    PixelClassification& stage = autocontext.stages[k];
    for (const PixelLane& lane : lanes) {
      stage.lanes.push_back(lane);
      stage.lanes.back().labels = std::make_shared<LabelStore>(lane.shape);
    }
    GROVE_RETURN_IF_ERROR(read_classifier_stage(file, stage_group_name("PixelClassification", k),
                                                stage_group_name("FeatureSelections", k), stage)
                              .context(fmt::format("reading stage {}", k + 1)));
    if (!stage.forest || lanes.empty()) continue;
    // Stage k reads the raw channels and stage k-1's probabilities.
    int64_t channels = raw_channels;
    if (k > 0) {
      const PixelClassification& previous = autocontext.stages[k - 1];
      channels += previous.forest ? previous.forest->output_count()
                                  : static_cast<int64_t>(previous.classes.size());
    }
    stage.trained_channels = channels;
    const int64_t expected = filters::feature_channel_count(stage.features, channels, volume);
    if (stage.forest->feature_count() != expected) {
      return make_error(ErrorCode::kCorrupt,
                        "stage {}'s forest reads {} features, but its feature selection gives {} "
                        "on {} input channels",
                        k + 1, stage.forest->feature_count(), expected, channels);
    }
  }
  return autocontext;
}

}  // namespace

Result<std::vector<std::pair<int64_t, int64_t>>> parse_block_slice(std::string_view text) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    return make_error(ErrorCode::kCorrupt, "bad blockSlice '{}'", text);
  }
  std::string_view body = text.substr(1, text.size() - 2);
  while (!body.empty()) {
    const size_t comma = body.find(',');
    std::string_view part = body.substr(0, comma);
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos)
      return make_error(ErrorCode::kCorrupt, "bad blockSlice '{}'", text);
    try {
      const int64_t begin = std::stoll(std::string(part.substr(0, colon)));
      const int64_t end = std::stoll(std::string(part.substr(colon + 1)));
      if (begin < 0 || end < begin)
        return make_error(ErrorCode::kCorrupt, "bad blockSlice '{}'", text);
      out.emplace_back(begin, end);
    } catch (...) {
      return make_error(ErrorCode::kCorrupt, "bad blockSlice '{}'", text);
    }
    if (comma == std::string_view::npos) break;
    body = body.substr(comma + 1);
  }
  return out;
}

Result<Project> import_ilastik_project(const std::string& ilp_path,
                                       const IlastikImportOptions& options) {
  auto run = [&]() -> Result<Project> {
    GROVE_ASSIGN_OR_RETURN(hdf5::File file, hdf5::File::open(ilp_path, hdf5::Access::kReadOnly));
    GROVE_ASSIGN_OR_RETURN(std::string workflow, file.read_string("workflowName"));
    Project project;
    if (is_ilastik_autocontext(workflow)) {
      GROVE_ASSIGN_OR_RETURN(std::vector<PixelLane> lanes, read_lanes(file, ilp_path, options));
      GROVE_ASSIGN_OR_RETURN(project.autocontext, read_autocontext(file, workflow, lanes));
      project.workflow = std::string(kAutocontextWorkflow);
    } else if (workflow == "Pixel Classification") {
      PixelClassification& pixel = project.pixel;
      GROVE_ASSIGN_OR_RETURN(pixel.lanes, read_lanes(file, ilp_path, options));
      GROVE_RETURN_IF_ERROR(
          read_classifier_stage(file, "PixelClassification", "FeatureSelections", pixel));
    } else {
      return make_error(ErrorCode::kUnsupported,
                        "this is an ilastik '{}' project; grove can import Pixel Classification "
                        "and Autocontext projects so far",
                        workflow);
    }

    // Export settings.
    if (file.exists("Prediction Export/OutputFilenameFormat")) {
      GROVE_ASSIGN_OR_RETURN(project.export_settings.filename_pattern,
                             file.read_string("Prediction Export/OutputFilenameFormat"));
    }
    if (file.exists("Prediction Export/OutputInternalPath")) {
      GROVE_ASSIGN_OR_RETURN(project.export_settings.internal_path,
                             file.read_string("Prediction Export/OutputInternalPath"));
    }
    return project;
  };
  return run().context(fmt::format("importing the ilastik project {}", ilp_path));
}

}  // namespace grove
