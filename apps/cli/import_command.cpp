// `grove import-ilastik PROJECT.ilp -o PROJECT`: converts an ilastik pixel-classification or
// autocontext project (images, labels, classes, features, trained forests) into a grove project.
// The .ilp is only read.
#include <cstdio>

#include "command.h"
#include "engine_setup.h"
#include "grove/project/ilastik_import.h"

namespace grove::cli {

namespace {

struct ImportArguments {
  std::string ilp;
  std::string output;
  std::vector<std::string> raw_data_dirs;
  bool allow_missing = false;
  bool overwrite = false;
};

Status run_import(const ImportArguments& arguments) {
  GROVE_RETURN_IF_ERROR(check_output_writable(arguments.output, arguments.overwrite));
  IlastikImportOptions options;
  options.raw_data_dirs = arguments.raw_data_dirs;
  options.allow_missing_raw_data = arguments.allow_missing;
  GROVE_ASSIGN_OR_RETURN(Project project, import_ilastik_project(arguments.ilp, options));
  GROVE_RETURN_IF_ERROR(save_project(project, arguments.output, arguments.overwrite));
  // One line per classifier: the pixel workflow has one, autocontext one per stage.
  auto describe = [](const PixelClassification& pixel) {
    int64_t labelled = 0;
    for (const PixelLane& lane : pixel.lanes) {
      for (int64_t count : lane.labels->counts()) labelled += count;
    }
    return fmt::format("{} classes, {} labelled pixels, {}", pixel.classes.size(), labelled,
                       pixel.forest
                           ? fmt::format("a forest of {} trees", pixel.forest->tree_count())
                           : std::string("no trained classifier"));
  };
  if (project.workflow == kAutocontextWorkflow) {
    const Autocontext& autocontext = project.autocontext;
    std::printf("imported %zu image(s), autocontext with %zu stages\n", autocontext.lanes().size(),
                autocontext.stage_count());
    for (size_t k = 0; k < autocontext.stage_count(); ++k) {
      std::printf("  stage %zu: %s\n", k + 1, describe(autocontext.stages[k]).c_str());
    }
  } else {
    std::printf("imported %zu image(s), %s\n", project.pixel.lanes.size(),
                describe(project.pixel).c_str());
  }
  std::printf("saved %s\n", arguments.output.c_str());
  return ok_status();
}

}  // namespace

void register_import(CLI::App& app, Action& action) {
  auto arguments = std::make_shared<ImportArguments>();
  CLI::App* command = app.add_subcommand(
      "import-ilastik", "Convert an ilastik pixel-classification or autocontext project");
  command->add_option("ilp", arguments->ilp, "The ilastik project (.ilp)")->required();
  command->add_option("-o,--output", arguments->output, "The grove project to write")->required();
  command->add_option("--raw-data-dir", arguments->raw_data_dirs,
                      "A folder to look for raw data the project cannot find (repeatable)");
  command->add_flag("--allow-missing-data", arguments->allow_missing,
                    "Import even when raw data is missing (fix the paths later)");
  command->add_flag("--overwrite", arguments->overwrite, "Replace an existing output project");
  command->callback(
      [&action, arguments] { action = [arguments] { return run_import(*arguments); }; });
}

}  // namespace grove::cli
