// `grove run PROJECT INPUT... [--export SOURCE] [--format F] [--output PATTERN] ...`: applies a
// trained project to new images, block by block under the memory budget, one output per input
// (DESIGN.md §7). The batch entry point for scripts and clusters.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "distributed_run.h"
#include "engine_setup.h"
#include "grove/filters/convert_values.h"
#include "grove/project/project.h"
#include "grove/project/project_export.h"
#include "grove/workflows/pixel/export.h"

namespace grove::cli {

namespace {

struct RunArguments {
  std::string project;
  std::vector<std::string> inputs;
  std::string source;
  std::string format;
  std::string output;
  std::string output_axes;
  std::string input_axes;
  std::string dtype;
  std::string compression;
  bool overwrite = false;
  EngineArguments engine;
  DistributedArguments distributed;
};

}  // namespace

Status run_exports(const Project& project, const std::vector<std::string>& inputs,
                   const ExportRequest& base, const EngineArguments& engine_arguments) {
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> files, expand_inputs(inputs));
  if (files.empty()) return Error(ErrorCode::kInvalidArgument, "give at least one input image");
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                         make_engine(engine_arguments, /*interactive=*/false));
  for (const std::string& file : files) {
    ExportRequest request = base;
    request.input = file;
    if (request.source == ExportSource::kLabels) {
      const std::vector<PixelLane>& lanes = project_lanes(project);
      for (size_t i = 0; i < lanes.size(); ++i) {
        if (lanes[i].path == file) request.lane = i;
      }
    }
    Progress progress = Progress::terminal_bar();
    GROVE_ASSIGN_OR_RETURN(std::string output,
                           export_project_image(*engine, project, request, &progress));
    std::printf("%s -> %s\n", file.c_str(), output.c_str());
    std::fflush(stdout);
  }
  return ok_status();
}

namespace {

Status run_run(const RunArguments& arguments) {
  GROVE_RETURN_IF_ERROR(apply_memory_budget(arguments.engine));
  GROVE_ASSIGN_OR_RETURN(Project project, open_project(arguments.project));
  ExportRequest request;
  const ExportSettings& settings = project.export_settings;
  request.source = settings.source;
  if (!arguments.source.empty()) {
    GROVE_RETURN_IF_ERROR(
        set_export_source(project, arguments.source, request).context("--export"));
  }
  request.format = arguments.format.empty() ? settings.format : arguments.format;
  GROVE_ASSIGN_OR_RETURN(request.format,
                         std::move(normalize_format(request.format)).context("--format"));
  request.output_pattern = arguments.output.empty() ? settings.filename_pattern : arguments.output;
  request.internal_path = settings.internal_path;
  request.output_axes = arguments.output_axes.empty() ? settings.axis_order : arguments.output_axes;
  request.input_axes = arguments.input_axes;
  request.compression = arguments.compression;
  request.overwrite = arguments.overwrite;
  const std::string dtype = arguments.dtype.empty() ? settings.dtype : arguments.dtype;
  if (!dtype.empty()) {
    auto parsed = parse_dtype(dtype);
    if (!parsed)
      return make_error(ErrorCode::kInvalidArgument, "--dtype: unknown dtype '{}'", dtype);
    request.dtype = *parsed;
  }
  GROVE_RETURN_IF_ERROR(apply_shape_options(arguments.distributed, request));
  if (arguments.distributed.any()) {
    return run_distributed(project, arguments.inputs, request, arguments.engine,
                           arguments.distributed);
  }
  return run_exports(project, arguments.inputs, request, arguments.engine);
}

}  // namespace

void register_run(CLI::App& app, Action& action) {
  auto arguments = std::make_shared<RunArguments>();
  CLI::App* run =
      app.add_subcommand("run", "Apply a trained project (grove or ilastik .ilp) to images");
  run->add_option("project", arguments->project, "The project file (grove project or ilastik .ilp)")
      ->required();
  run->add_option("inputs", arguments->inputs, "Images to process (files, file.h5/dataset, globs)")
      ->required();
  run->add_option(
      "--export", arguments->source,
      "What to write: probabilities, simple-segmentation, uncertainty, features, labels, overlay; "
      "for autocontext projects also per stage ('probabilities-stage-1') and "
      "probabilities-all-stages");
  run->add_option("--format", arguments->format,
                  "Output format: hdf5, tiff, png, jpeg, npy, zarr, n5");
  run->add_option("-o,--output", arguments->output,
                  "Output path pattern with {dataset_dir}, {nickname}, {result_type} (default: "
                  "{dataset_dir}/{nickname}_{result_type} plus the format's extension)");
  run->add_option("--output-axes", arguments->output_axes,
                  "Axis order of the output, e.g. tzyxc or yxc");
  run->add_option("--input-axes", arguments->input_axes,
                  "Read the inputs with these axes, e.g. xy or tzyxc");
  run->add_option("--dtype", arguments->dtype,
                  "Convert the output to this dtype (uint8, float32, ...)");
  run->add_option("--compression", arguments->compression,
                  "Compression: none, gzip, zstd, blosc, lzw, deflate");
  run->add_flag("--overwrite", arguments->overwrite, "Replace existing outputs");
  add_engine_options(*run, arguments->engine);
  add_distributed_options(*run, arguments->distributed);
  run->callback([&action, arguments] { action = [arguments] { return run_run(*arguments); }; });
}

}  // namespace grove::cli
