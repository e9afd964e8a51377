#include "grove/workflows/pixel/export.h"

#include <fmt/format.h>
#include <filesystem>

#include "grove/filters/convert_values.h"
#include "grove/io/axes_override.h"
#include "grove/workflows/pixel/overlay.h"

namespace grove {

namespace fs = std::filesystem;

namespace {

std::string replace_all(std::string text, std::string_view key, std::string_view value) {
  for (size_t at = text.find(key); at != std::string::npos;
       at = text.find(key, at + value.size())) {
    text.replace(at, key.size(), value);
  }
  return text;
}

bool is_container(const std::string& format) {
  return format == "hdf5" || format == "zarr" || format == "n5";
}

}  // namespace

Result<std::string> normalize_format(const std::string& format) {
  std::string f;
  for (char ch : format) f += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (f == "hdf5" || f == "h5") return std::string("hdf5");
  if (f == "tif" || f == "tiff" || f == "multipage tiff" || f == "multipage-tiff")
    return std::string("tiff");
  if (f == "png") return std::string("png");
  if (f == "jpg" || f == "jpeg") return std::string("jpeg");
  if (f == "npy" || f == "numpy") return std::string("npy");
  if (f == "zarr" || f == "ome-zarr" || f == "ome zarr") return std::string("zarr");
  if (f == "n5" || f == "compressed n5") return std::string("n5");
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown output format '{}' (expected hdf5, tiff, png, jpeg, npy, zarr or n5)",
                    format);
}

Result<std::string> format_extension(const std::string& format) {
  GROVE_ASSIGN_OR_RETURN(std::string f, normalize_format(format));
  if (f == "hdf5") return std::string(".h5");
  if (f == "tiff") return std::string(".tif");
  if (f == "png") return std::string(".png");
  if (f == "jpeg") return std::string(".jpg");
  if (f == "npy") return std::string(".npy");
  if (f == "zarr") return std::string(".zarr");
  return std::string(".n5");
}

Result<std::string> export_output_path(const ExportRequest& request) {
  GROVE_ASSIGN_OR_RETURN(std::string format, normalize_format(request.format));
  GROVE_ASSIGN_OR_RETURN(std::string extension, format_extension(format));
  const ImagePath input = split_image_path(request.input);
  const fs::path file(input.file);
  std::string dataset_dir = fs::absolute(file).parent_path().string();
  std::string nickname = file.stem().string();
  std::string path = request.output_pattern;
  path = replace_all(path, "{dataset_dir}", dataset_dir);
  path = replace_all(path, "{nickname}", nickname);
  path = replace_all(path, "{result_type}",
                     request.result_type.empty()
                         ? std::string(export_source_result_type(request.source))
                         : request.result_type);
  // ilastik's other placeholders for stacks and subregions, filled as it does for single images.
  path = replace_all(path, "{slice_index}", "");
  if (path.find('{') != std::string::npos) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "unknown placeholder in the output pattern '{}' (known: {{dataset_dir}}, {{nickname}}, "
        "{{result_type}})",
        request.output_pattern);
  }
  // Add the extension unless the pattern already ends in one of this format's.
  const std::string existing = fs::path(split_image_path(path).file).extension().string();
  const bool has_extension =
      existing == extension || (format == "hdf5" && (existing == ".hdf5" || existing == ".hdf")) ||
      (format == "tiff" && existing == ".tiff") || (format == "jpeg" && existing == ".jpeg");
  if (!has_extension) path += extension;
  if (is_container(format) && split_image_path(path).internal.empty() &&
      !request.internal_path.empty()) {
    std::string internal = request.internal_path;
    while (!internal.empty() && internal.front() == '/') internal.erase(0, 1);
    path += "/" + internal;
  }
  return path;
}

Result<Box5> parse_subregion(std::string_view text, const std::string& axes, const Shape5& shape) {
  // Collect the numbers (or None) of the two tuples.
  std::vector<std::vector<std::optional<int64_t>>> tuples;
  std::string token;
  int depth = 0;
  auto flush = [&]() -> Status {
    std::string t;
    for (char ch : token)
      if (ch != ' ') t += ch;
    token.clear();
    if (t.empty()) return ok_status();
    if (tuples.empty()) return make_error(ErrorCode::kInvalidArgument, "bad subregion '{}'", text);
    if (t == "None" || t == "none") {
      tuples.back().push_back(std::nullopt);
      return ok_status();
    }
    try {
      size_t used = 0;
      const int64_t v = std::stoll(t, &used);
      if (used != t.size()) throw std::invalid_argument("trailing");
      tuples.back().push_back(v);
    } catch (...) {
      return make_error(ErrorCode::kInvalidArgument, "bad number '{}' in subregion '{}'", t, text);
    }
    return ok_status();
  };
  for (char ch : text) {
    if (ch == '(') {
      ++depth;
      tuples.emplace_back();
    } else if (ch == ')' || ch == ',') {
      GROVE_RETURN_IF_ERROR(flush());
      if (ch == ')') --depth;
    } else if (ch != '[' && ch != ']') {
      token += ch;
    }
  }
  GROVE_RETURN_IF_ERROR(flush());
  if (tuples.size() != 2 || tuples[0].size() != tuples[1].size() || depth != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "subregion '{}' is not of the form [(start, ...), (stop, ...)]", text);
  }
  std::string order = axes;
  if (tuples[0].size() != order.size()) {
    if (tuples[0].size() == order.size() + 1 && order.find('c') == std::string::npos) {
      order += 'c';  // ilastik always counts a channel axis
    } else if (tuples[0].size() == 5) {
      order = "tzyxc";
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "subregion '{}' has {} values per corner but the input has axes '{}'", text,
                        tuples[0].size(), axes);
    }
  }
  Box5 box = Box5::of(shape);
  for (size_t i = 0; i < order.size(); ++i) {
    const int axis = static_cast<int>(std::string("tzyxc").find(order[i]));
    if (axis < 0) return make_error(ErrorCode::kInvalidArgument, "bad axis '{}'", order[i]);
    if (tuples[0][i]) box.begin[axis] = *tuples[0][i];
    if (tuples[1][i]) box.end[axis] = *tuples[1][i];
  }
  if (box.empty() || !Box5::of(shape).contains(box)) {
    return make_error(ErrorCode::kOutOfRange, "subregion {} is empty or outside the image {}",
                      box.to_string(), shape.to_string());
  }
  return box;
}

Result<std::string> write_export_plan(Engine& engine, const ExportPlan& plan, Progress* progress,
                                      const CancelToken& cancel) {
  // One process writes the whole image: Zarr/N5 too appear only when complete.
  GROVE_ASSIGN_OR_RETURN(
      std::unique_ptr<ImageWriter> writer,
      create_image_atomically(plan.output, plan.box.shape(), plan.node->info().dtype, plan.options,
                              plan.format));
  RunOptions run_options = plan.run_options;
  run_options.progress = progress;
  run_options.context.cancel = cancel;
  GROVE_RETURN_IF_ERROR(engine.compute_to_writer(plan.node, *writer, plan.box, run_options));
  GROVE_RETURN_IF_ERROR(writer->commit());
  return plan.output;
}

Result<ExportPlan> plan_export(Engine& engine, const PixelClassification& workflow,
                               const ExportRequest& request) {
  GROVE_ASSIGN_OR_RETURN(NodePtr raw, open_export_input(request));
  NodePtr node;
  if (request.source == ExportSource::kOverlay) {
    GROVE_ASSIGN_OR_RETURN(NodePtr probabilities, workflow.probability_node(raw));
    GROVE_ASSIGN_OR_RETURN(node, overlay_export_node(engine, raw, probabilities, workflow.classes));
  } else {
    GROVE_ASSIGN_OR_RETURN(node, workflow.export_node(raw, request.source, request.lane));
  }
  return plan_export_node(std::move(node), request);
}

Result<std::string> export_image(Engine& engine, const PixelClassification& workflow,
                                 const ExportRequest& request, Progress* progress,
                                 const CancelToken& cancel) {
  auto run = [&]() -> Result<std::string> {
    GROVE_ASSIGN_OR_RETURN(ExportPlan plan, plan_export(engine, workflow, request));
    return write_export_plan(engine, plan, progress, cancel);
  };
  return run().context(
      fmt::format("exporting {} of {}", export_source_name(request.source), request.input));
}

Result<NodePtr> open_export_input(const ExportRequest& request) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader,
                         open_image_with_axes(request.input, request.input_axes));
  std::string identity = request.input + "|" + request.input_axes;
  return input_node(std::shared_ptr<ImageReader>(std::move(reader)), identity);
}

Result<NodePtr> overlay_export_node(Engine& engine, const NodePtr& raw,
                                    const NodePtr& probabilities,
                                    const std::vector<LabelClass>& classes) {
  OverlayStyle style;
  for (const LabelClass& c : classes) style.colors.push_back(c.color);
  while (style.colors.size() < static_cast<size_t>(probabilities->info().shape.c())) {
    style.colors.push_back(default_class_color(style.colors.size()));
  }
  GROVE_ASSIGN_OR_RETURN(auto range, value_range(engine, raw));
  style.display_min = range.first;
  style.display_max = range.second;
  return overlay_node(raw, probabilities, style);
}

Result<ExportPlan> plan_export_node(NodePtr node, const ExportRequest& request) {
  ExportPlan plan;
  GROVE_ASSIGN_OR_RETURN(plan.format, normalize_format(request.format));
  const std::string& format = plan.format;
  // Value conversion: asked for, or needed by 8/16-bit-only formats.
  std::optional<DType> dtype = request.dtype;
  bool map_range = request.input_range && request.output_range;
  std::pair<double, double> input_range{0, 1}, output_range{0, 1};
  if (map_range) {
    input_range = *request.input_range;
    output_range = *request.output_range;
  }
  const DType result_dtype = node->info().dtype;
  if ((format == "png" || format == "jpeg") && dtype_is_float(dtype.value_or(result_dtype))) {
    // PNG and JPEG hold integers only: probabilities and uncertainties (0..1) go to 0..255.
    dtype = DType::u8;
    if (!map_range) {
      map_range = true;
      input_range = {0.0, 1.0};
      output_range = {0.0, 255.0};
    }
  }
  if (dtype || map_range) {
    filters::ConvertValues convert;
    convert.dtype = dtype.value_or(result_dtype);
    convert.map_range = map_range;
    convert.input_min = input_range.first;
    convert.input_max = input_range.second;
    convert.output_min = output_range.first;
    convert.output_max = output_range.second;
    GROVE_ASSIGN_OR_RETURN(node, apply_op(make_op(convert), node));
  }

  Box5 box = Box5::of(node->info().shape);
  if (request.subregion) {
    box = request.subregion->with_channels(0, node->info().shape.c());
    if (!Box5::of(node->info().shape).contains(box)) {
      return make_error(ErrorCode::kOutOfRange, "subregion {} is outside the image {}",
                        box.to_string(), node->info().shape.to_string());
    }
  }
  GROVE_ASSIGN_OR_RETURN(plan.output, export_output_path(request));
  WriteOptions& options = plan.options;
  options.overwrite = request.overwrite;
  options.axes = request.output_axes;
  options.compression = request.compression;
  plan.run_options.block_shape = request.block_shape;
  if (is_container(format)) {
    // Chunks the engine's blocks align to, so that no chunk is written twice.
    const Shape5 extent = box.shape();
    options.chunk_shape = request.chunk_shape;
    if (options.chunk_shape.size() == 0) {
      options.chunk_shape =
          extent.z() > 1 ? Shape5(1, 64, 64, 64, extent.c()) : Shape5(1, 1, 256, 256, extent.c());
    }
    options.chunk_shape[kC] = extent.c();
    for (int a = 0; a < kRank; ++a)
      options.chunk_shape[a] = std::clamp<int64_t>(options.chunk_shape[a], 1, extent[a]);
    // Blocks aligned to the store's chunks, so no chunk is written twice.
    plan.run_options.align_to = options.chunk_shape;
  }
  plan.node = std::move(node);
  plan.box = box;
  return plan;
}

Result<std::string> write_export_node(Engine& engine, NodePtr node, const ExportRequest& request,
                                      Progress* progress, const CancelToken& cancel) {
  GROVE_ASSIGN_OR_RETURN(ExportPlan plan, plan_export_node(std::move(node), request));
  return write_export_plan(engine, plan, progress, cancel);
}

}  // namespace grove
