// `grove info FILE...`: what grove sees in image files, for people checking their data before a
// run and for scripts (--json): format, axes as stored, shape in t,z,y,x,c, dtype, pixel size,
// chunking and compression, and for containers (HDF5, .ilp) the datasets inside.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command.h"
#include "grove/io/axes.h"
#include "grove/io/image.h"

namespace grove::cli {

namespace {

using json = nlohmann::ordered_json;

json shape_json(const Shape5& shape) {
  json out = json::object();
  for (int a = 0; a < kRank; ++a) out[std::string(1, kAxisNames[a])] = shape[a];
  return out;
}

std::string join_extents(const std::vector<int64_t>& extents, const char* separator) {
  std::string out;
  for (size_t i = 0; i < extents.size(); ++i) {
    if (i > 0) out += separator;
    out += std::to_string(extents[i]);
  }
  return out;
}

// What info reports about one path.
struct Report {
  std::string path;
  std::string format;
  bool has_image = false;
  ImageInfo image;
  bool container = false;
  std::vector<DatasetEntry> datasets;
};

Result<Report> inspect(const std::string& path) {
  Report report;
  report.path = path;
  GROVE_ASSIGN_OR_RETURN(report.format, image_format(path));
  report.container = is_container_format(report.format);
  const ImagePath parsed = split_image_path(path);
  if (report.container && parsed.internal.empty()) {
    GROVE_ASSIGN_OR_RETURN(report.datasets, list_datasets(path));
    // A container with exactly one image dataset is that image.
    if (report.datasets.size() != 1) return report;
  }
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(path));
  report.image = reader->info();
  report.has_image = true;
  return report;
}

json to_json(const Report& report) {
  json out;
  out["path"] = report.path;
  out["format"] = report.format;
  if (report.has_image) {
    const ImageInfo& info = report.image;
    out["dataset"] = info.internal_path.empty() ? json(nullptr) : json(info.internal_path);
    out["axes"] = info.axes;
    out["stored_shape"] = info.stored_shape;
    out["shape"] = shape_json(info.shape);
    out["dtype"] = std::string(dtype_name(info.dtype));
    if (info.has_pixel_size) {
      json size = json::object(), unit = json::object();
      for (int a = 0; a < 4; ++a) {
        size[std::string(1, kAxisNames[a])] = info.pixel_size[a];
        unit[std::string(1, kAxisNames[a])] = info.pixel_unit[a];
      }
      out["pixel_size"] = size;
      out["pixel_unit"] = unit;
    } else {
      out["pixel_size"] = nullptr;
      out["pixel_unit"] = nullptr;
    }
    if (info.chunk_shape != Shape5::filled(0)) {
      out["chunks"] = io::stored_dims(info.chunk_shape, info.axes);
    } else {
      out["chunks"] = nullptr;
    }
    out["compression"] = info.compression;
  }
  if (report.container) {
    json list = json::array();
    for (const auto& entry : report.datasets) {
      json item;
      item["path"] = entry.path;
      item["stored_shape"] = entry.stored_shape;
      item["axes"] = entry.axes;
      item["shape"] = shape_json(entry.shape);
      item["dtype"] = std::string(dtype_name(entry.dtype));
      item["compression"] = entry.compression;
      list.push_back(item);
    }
    out["datasets"] = list;
  }
  return out;
}

std::string to_text(const Report& report) {
  std::string out = report.path + "\n";
  out += fmt::format("  format:      {}\n", report.format);
  if (report.has_image) {
    const ImageInfo& info = report.image;
    if (!info.internal_path.empty()) out += fmt::format("  dataset:     {}\n", info.internal_path);
    out += fmt::format("  axes:        {} (stored shape {})\n", info.axes,
                       join_extents(info.stored_shape, " x "));
    out += fmt::format("  shape:       t={} z={} y={} x={} c={}\n", info.shape.t(), info.shape.z(),
                       info.shape.y(), info.shape.x(), info.shape.c());
    out += fmt::format("  dtype:       {}\n", dtype_name(info.dtype));
    if (info.has_pixel_size) {
      std::string sizes;
      for (int a = 0; a < 4; ++a) {
        const bool stored = info.shape[a] > 1 || a == kY || a == kX;
        if (!stored) continue;
        if (!sizes.empty()) sizes += ", ";
        sizes += fmt::format("{}={:g}", kAxisNames[a], info.pixel_size[a]);
        if (!info.pixel_unit[a].empty()) sizes += " " + info.pixel_unit[a];
      }
      out += fmt::format("  pixel size:  {}\n", sizes);
    } else {
      out += "  pixel size:  unknown\n";
    }
    std::string storage = info.compression.empty() ? "none" : info.compression;
    if (info.chunk_shape != Shape5::filled(0)) {
      storage += fmt::format(", chunks {}",
                             join_extents(io::stored_dims(info.chunk_shape, info.axes), " x "));
    }
    out += fmt::format("  storage:     {}\n", storage);
  }
  // An image named inside its container (file.h5/path) lists nothing; the container alone does.
  if (report.container && (!report.datasets.empty() || !report.has_image)) {
    out += fmt::format("  datasets:    {}\n", report.datasets.size());
    for (const auto& entry : report.datasets) {
      out += fmt::format("    {}  ({})  {}  {}  {}\n", entry.path,
                         join_extents(entry.stored_shape, ", "), dtype_name(entry.dtype),
                         entry.axes, entry.compression);
    }
  }
  return out;
}

struct InfoArguments {
  std::vector<std::string> files;
  bool json = false;
};

Status run_info(const InfoArguments& arguments) {
  std::vector<Report> reports;
  std::optional<Error> first_error;
  for (const auto& path : arguments.files) {
    auto report = inspect(path);
    if (!report.ok()) {
      if (!first_error) first_error = std::move(report).error();
      continue;
    }
    reports.push_back(std::move(report).value());
  }
  if (arguments.json) {
    json list = json::array();
    for (const auto& report : reports) list.push_back(to_json(report));
    std::fputs((list.dump(2) + "\n").c_str(), stdout);
  } else {
    for (size_t i = 0; i < reports.size(); ++i) {
      if (i > 0) std::fputs("\n", stdout);
      std::fputs(to_text(reports[i]).c_str(), stdout);
    }
  }
  std::fflush(stdout);
  if (first_error) return std::move(*first_error);
  return ok_status();
}

}  // namespace

void register_info(CLI::App& app, Action& action) {
  auto arguments = std::make_shared<InfoArguments>();
  CLI::App* command = app.add_subcommand(
      "info", "Show format, axes, shape (t,z,y,x,c), dtype, pixel size and datasets of images");
  command
      ->add_option("files", arguments->files,
                   "Image files; containers as file.h5 (lists its datasets) or "
                   "file.h5/internal/path")
      ->required();
  command->add_flag("--json", arguments->json, "Machine-readable output (a JSON array)");
  command->callback(
      [arguments, &action] { action = [arguments] { return run_info(*arguments); }; });
}

}  // namespace grove::cli
