// `grove --headless --project=P ...`: ilastik's headless command line, accepted unchanged, so
// that Fiji (ilastik4ij), KNIME, CellProfiler and shell scripts that call ilastik can call grove.
// P may be an ilastik .ilp (imported on the fly, never modified) or a grove project.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "command.h"
#include "distributed_run.h"
#include "engine_setup.h"
#include "grove/filters/convert_values.h"
#include "grove/io/axes_override.h"
#include "grove/project/ilastik_import.h"
#include "grove/project/project_export.h"
#include "grove/workflows/pixel/export.h"

namespace grove::cli {

Status run_exports(const Project& project, const std::vector<std::string>& inputs,
                   const ExportRequest& base, const EngineArguments& engine_arguments);

namespace {

// ilastik flags that take a value and that grove implements.
const std::set<std::string> kValueFlags = {"project",
                                           "export_source",
                                           "output_format",
                                           "output_filename_format",
                                           "output_internal_path",
                                           "export_dtype",
                                           "output_axis_order",
                                           "cutout_subregion",
                                           "input_axes",
                                           "pipeline_result_drange",
                                           "export_drange",
                                           "raw_data",
                                           "threads",
                                           "ram_mb"};
// Switches that choose how grove runs: ilastik's --distributed (here with MPI, see
// docs/distributed.md) and grove's --resume.
const std::set<std::string> kGroveSwitches = {"distributed", "resume"};
// ilastik flags that do not change results: accepted, with a warning for those grove ignores.
const std::set<std::string> kHarmlessValueFlags = {
    "logfile", "process_name", "configfile", "fn-lazyflow", "stack_along", "hbp", "workflow"};
const std::set<std::string> kHarmlessSwitches = {
    "headless",        "readonly",        "debug",           "redirect_output", "clean_paths",
    "exit_on_failure", "exit_on_success", "start_recording", "new_project"};
// ilastik flags that would change the result and that grove does not do (yet).
const std::set<std::string> kUnsupportedFlags = {"prediction_mask",
                                                 "retrain",
                                                 "tagged_shape",
                                                 "export_pipeline_result",
                                                 "distributed_block_roi",
                                                 "export_plugin",
                                                 "table_filename",
                                                 "export_object_prediction_img",
                                                 "export_object_probability_img",
                                                 "binary_image",
                                                 "prediction_maps",
                                                 "segmentation_image"};

struct HeadlessArguments {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> positional;
  std::vector<std::string> warnings;
  std::set<std::string> switches;
};

Result<HeadlessArguments> parse(int argc, char** argv) {
  HeadlessArguments out;
  std::string pending;  // a flag waiting for its value(s)
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      pending.clear();
      std::string name = arg.substr(2);
      std::string value;
      const size_t equals = name.find('=');
      const bool has_value = equals != std::string::npos;
      if (has_value) {
        value = name.substr(equals + 1);
        name = name.substr(0, equals);
      }
      if (kUnsupportedFlags.count(name)) {
        return make_error(ErrorCode::kUnsupported,
                          "ilastik's --{} changes the result and grove does not support it yet",
                          name);
      }
      if (kHarmlessSwitches.count(name)) continue;
      if (kGroveSwitches.count(name)) {
        if (has_value) return make_error(ErrorCode::kInvalidArgument, "--{} takes no value", name);
        out.switches.insert(name);
        continue;
      }
      if (kHarmlessValueFlags.count(name)) {
        out.warnings.push_back("ignoring --" + name + " (it does not change the results)");
        if (!has_value && i + 1 < argc && argv[i + 1][0] != '-') ++i;
        continue;
      }
      if (!kValueFlags.count(name)) {
        return make_error(ErrorCode::kInvalidArgument, "unknown headless flag --{}", name);
      }
      if (has_value) {
        out.values[name].push_back(value);
        // --raw_data=a b c: the following plain arguments are more inputs.
        if (name == "raw_data") pending = name;
      } else {
        pending = name;
        out.values[name];
      }
      continue;
    }
    if (!pending.empty()) {
      out.values[pending].push_back(arg);
      if (pending != "raw_data") pending.clear();
      continue;
    }
    out.positional.push_back(arg);
  }
  for (const auto& [name, list] : out.values) {
    if (list.empty()) return make_error(ErrorCode::kInvalidArgument, "--{} needs a value", name);
    if (name != "raw_data" && list.size() > 1) {
      return make_error(ErrorCode::kInvalidArgument, "--{} is given more than once", name);
    }
  }
  return out;
}

std::string value_of(const HeadlessArguments& a, const std::string& name,
                     const std::string& fallback = "") {
  auto it = a.values.find(name);
  return it == a.values.end() ? fallback : it->second.front();
}

Status run(const HeadlessArguments& a) {
  const std::string project_path = value_of(a, "project");
  if (project_path.empty())
    return Error(ErrorCode::kInvalidArgument, "--headless needs --project=PROJECT");
  for (const std::string& warning : a.warnings)
    std::fprintf(stderr, "grove: warning: %s\n", warning.c_str());
  EngineArguments engine;
  if (auto threads = value_of(a, "threads"); !threads.empty())
    engine.threads = std::atoi(threads.c_str());
  if (auto ram = value_of(a, "ram_mb"); !ram.empty()) engine.ram_mb = std::atoll(ram.c_str());
  GROVE_RETURN_IF_ERROR(apply_memory_budget(engine));
  GROVE_ASSIGN_OR_RETURN(Project project, open_project(project_path));
  std::vector<std::string> inputs;
  if (auto it = a.values.find("raw_data"); it != a.values.end()) inputs = it->second;
  inputs.insert(inputs.end(), a.positional.begin(), a.positional.end());
  if (inputs.empty())
    return Error(ErrorCode::kInvalidArgument, "no input images given (add them after the flags)");

  const ExportSettings& settings = project.export_settings;
  ExportRequest request;
  request.source = settings.source;
  if (auto source = value_of(a, "export_source"); !source.empty()) {
    GROVE_RETURN_IF_ERROR(set_export_source(project, source, request).context("--export_source"));
  }
  GROVE_ASSIGN_OR_RETURN(request.format,
                         std::move(normalize_format(value_of(a, "output_format", settings.format)))
                             .context("--output_format"));
  request.output_pattern = value_of(a, "output_filename_format", settings.filename_pattern);
  request.internal_path = value_of(a, "output_internal_path", settings.internal_path);
  request.output_axes = value_of(a, "output_axis_order", settings.axis_order);
  request.input_axes = value_of(a, "input_axes");
  if (auto dtype = value_of(a, "export_dtype", settings.dtype); !dtype.empty()) {
    auto parsed = parse_dtype(dtype);
    if (!parsed)
      return make_error(ErrorCode::kInvalidArgument, "--export_dtype: unknown dtype '{}'", dtype);
    request.dtype = *parsed;
  }
  const std::string pipeline_range = value_of(a, "pipeline_result_drange");
  const std::string export_range = value_of(a, "export_drange");
  if (!pipeline_range.empty() || !export_range.empty()) {
    if (pipeline_range.empty() || export_range.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "--pipeline_result_drange and --export_drange go together");
    }
    GROVE_ASSIGN_OR_RETURN(
        auto in,
        std::move(filters::parse_value_range(pipeline_range)).context("--pipeline_result_drange"));
    GROVE_ASSIGN_OR_RETURN(
        auto out, std::move(filters::parse_value_range(export_range)).context("--export_drange"));
    request.input_range = in;
    request.output_range = out;
  }
  // ilastik overwrites its outputs.
  request.overwrite = true;
  const std::string cutout = value_of(a, "cutout_subregion");
  DistributedArguments distributed;
  distributed.distributed = a.switches.count("distributed") > 0;
  distributed.resume = a.switches.count("resume") > 0;
  if (distributed.distributed || distributed.resume) {
    // --resume continues outputs; ilastik's habit of overwriting them would restart instead.
    if (distributed.resume) request.overwrite = false;
    if (!cutout.empty()) {
      GROVE_ASSIGN_OR_RETURN(std::vector<std::string> files, expand_inputs(inputs));
      if (files.size() != 1) {
        return Error(ErrorCode::kUnsupported,
                     "--cutout_subregion with --distributed needs exactly one input image");
      }
      GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader,
                             open_image_with_axes(files.front(), request.input_axes));
      GROVE_ASSIGN_OR_RETURN(
          Box5 box, std::move(parse_subregion(cutout, reader->info().axes, reader->info().shape))
                        .context("--cutout_subregion"));
      request.subregion = box;
    }
    return run_distributed(project, inputs, request, engine, distributed);
  }
  if (cutout.empty()) return run_exports(project, inputs, request, engine);
  // The subregion is given in each input's axes.
  GROVE_ASSIGN_OR_RETURN(std::vector<std::string> files, expand_inputs(inputs));
  for (const std::string& file : files) {
    GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader,
                           open_image_with_axes(file, request.input_axes));
    GROVE_ASSIGN_OR_RETURN(
        Box5 box, std::move(parse_subregion(cutout, reader->info().axes, reader->info().shape))
                      .context("--cutout_subregion"));
    ExportRequest one = request;
    one.subregion = box;
    GROVE_RETURN_IF_ERROR(run_exports(project, {file}, one, engine));
  }
  return ok_status();
}

}  // namespace

bool is_headless_call(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--headless") return true;
  }
  return false;
}

namespace {

constexpr const char* kHeadlessUsage =
    R"(grove --headless: ilastik's headless command line, for scripts written for ilastik
Usage: grove --headless --project=PROJECT [FLAGS] [--raw_data=] IMAGE...

  --project=P                 grove project or ilastik .ilp (pixel classification, autocontext)
  --raw_data IMAGE...         images to process (or plain arguments after the flags)
  --export_source=S           "Probabilities", "Simple Segmentation", "Uncertainty", "Features",
                              "Labels"; autocontext: "Probabilities Stage 2", "Probabilities All
                              Stages", ... (default: the project's export settings)
  --output_format=F           hdf5, tiff, png, jpeg, npy, zarr, n5 (ilastik's names accepted)
  --output_filename_format=P  with {dataset_dir}, {nickname}, {result_type}
  --output_internal_path=P    dataset inside HDF5/Zarr/N5 outputs (default exported_data)
  --export_dtype=T            uint8, uint16, float32, ...
  --pipeline_result_drange=(a,b) --export_drange=(c,d)   map values from one range to another
  --output_axis_order=A       e.g. tzyxc, zyxc, yxc
  --cutout_subregion=[(..),(..)]   export only this box (start, stop per axis)
  --input_axes=A              read the images with these axes
  --threads=N --ram_mb=M      (also LAZYFLOW_THREADS, LAZYFLOW_TOTAL_RAM_MB)
  --distributed               under mpirun/srun: share the blocks of one image (zarr, n5, hdf5)
                              or a batch's images among the processes (docs/distributed.md)
  --resume                    finish an interrupted run, computing only what is missing

Flags that do not change results (--logfile, --readonly, ...) are accepted; flags for features
grove does not have yet are refused with a message. Exit status: 0 done, 2 bad input.
)";

}  // namespace

int run_headless(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHeadlessUsage, stdout);
      return kExitOk;
    }
  }
  auto parsed = parse(argc, argv);
  if (!parsed.ok()) return report_error(parsed.error());
  Status status = run(*parsed);
  if (!status.ok()) return report_error(status.error());
  return kExitOk;
}

}  // namespace grove::cli
