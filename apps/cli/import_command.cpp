// `grove import-ilastik PROJECT.ilp -o PROJECT`: converts an ilastik pixel-classification project
// (images, labels, classes, features, trained forests) into a grove project. The .ilp is only read.
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
  const PixelClassification& pixel = project.pixel;
  int64_t labelled = 0;
  for (const PixelLane& lane : pixel.lanes) {
    for (int64_t count : lane.labels->counts()) labelled += count;
  }
  std::printf("imported %zu image(s), %zu classes, %lld labelled pixels, %s\n", pixel.lanes.size(),
              pixel.classes.size(), static_cast<long long>(labelled),
              pixel.forest ? fmt::format("a forest of {} trees", pixel.forest->tree_count()).c_str()
                           : "no trained classifier");
  std::printf("saved %s\n", arguments.output.c_str());
  return ok_status();
}

}  // namespace

void register_import(CLI::App& app, Action& action) {
  auto arguments = std::make_shared<ImportArguments>();
  CLI::App* command =
      app.add_subcommand("import-ilastik", "Convert an ilastik pixel-classification project");
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
