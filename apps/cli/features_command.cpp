// `grove features INPUT -o OUT [--features SPEC] [--threads N] [--ram-mb N]` (DESIGN.md §7):
// ilastik's pixel features of an image as float32 (..., F) in ilastik's channel order, computed
// block-wise by the engine and streamed into OUT (HDF5: dataset exported_data unless OUT names
// one). For people checking what the classifier sees, and scripts feeding other tools.
#include <cstdio>
#include <string>

#include "command.h"
#include "grove/core/memory.h"
#include "grove/engine/engine.h"
#include "grove/filters/pixel_features.h"

namespace grove::cli {

namespace {

struct FeaturesArguments {
  std::string input;
  std::string output;
  std::string spec = "all";
  int threads = 0;
  int64_t ram_mb = 0;
  bool overwrite = false;
  // Float features barely compress, and gzip would take far longer than computing them.
  std::string compression = "none";
};

// The output path with ilastik's default dataset for containers given without one.
std::string output_path(const std::string& output) {
  const ImagePath path = split_image_path(output);
  if (!path.internal.empty()) return output;
  for (const char* extension : {".h5", ".hdf5", ".hdf"}) {
    const std::string ext = extension;
    if (path.file.size() >= ext.size() &&
        path.file.compare(path.file.size() - ext.size(), ext.size(), ext) == 0) {
      return path.file + "/exported_data";
    }
  }
  return output;
}

Status run_features(const FeaturesArguments& arguments) {
  auto selection = filters::parse_feature_spec(arguments.spec);
  if (!selection.ok()) return std::move(selection).error().add_context("--features");
  if (arguments.threads < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--threads must be 0 (all cores) or more, got {}", arguments.threads);
  }
  if (arguments.ram_mb < 0 || arguments.ram_mb > (int64_t{1} << 40)) {
    return make_error(ErrorCode::kInvalidArgument, "--ram-mb must be 0 (default) to 2^40, got {}",
                      arguments.ram_mb);
  }
  // Before the input is opened: its header's sizes are checked against the budget.
  set_file_allocation_limit(arguments.ram_mb * (int64_t{1} << 20));
  GROVE_ASSIGN_OR_RETURN(NodePtr input, open_input_node(arguments.input));
  auto op = make_op(filters::PixelFeatures{*selection});
  GROVE_ASSIGN_OR_RETURN(NodePtr features, apply_op(op, input));
  const ArrayInfo& info = features->info();
  WriteOptions options;
  options.overwrite = arguments.overwrite;
  options.compression = arguments.compression;
  const std::string output = output_path(arguments.output);
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageWriter> writer,
                         create_image_atomically(output, info.shape, DType::f32, options)
                             .context("writing the features of " + arguments.input));
  EngineOptions engine_options;
  engine_options.threads = arguments.threads;
  engine_options.memory_bytes = arguments.ram_mb * (int64_t{1} << 20);
  Engine engine(engine_options);
  GROVE_RETURN_IF_ERROR(engine.compute_to_writer(features, *writer, Box5::of(info.shape))
                            .context("computing features of " + arguments.input));
  GROVE_RETURN_IF_ERROR(writer->commit());
  return ok_status();
}

}  // namespace

void register_features(CLI::App& app, Action& action) {
  auto arguments = std::make_shared<FeaturesArguments>();
  CLI::App* command = app.add_subcommand(
      "features", "Compute ilastik's pixel features (float32, ilastik's channel order)");
  command->add_option("input", arguments->input, "The image (file, or file.h5/internal/path)")
      ->required();
  command
      ->add_option("-o,--output", arguments->output,
                   "The output image (HDF5: dataset exported_data)")
      ->required();
  command
      ->add_option(
          "--features", arguments->spec,
          "Features: 'all' or 'Family:scale,scale;Family:scale' with ilastik's family names "
          "(GaussianSmoothing, LaplacianOfGaussian, GaussianGradientMagnitude, "
          "DifferenceOfGaussians, StructureTensorEigenvalues, "
          "HessianOfGaussianEigenvalues); 'ComputeIn2d:scales' computes those scales "
          "slice by slice")
      ->capture_default_str();
  command->add_option("--threads", arguments->threads, "Worker threads (0: all cores)");
  command->add_option("--ram-mb", arguments->ram_mb,
                      "Memory budget in MiB (0: half the machine's RAM)");
  command->add_flag("--overwrite", arguments->overwrite, "Replace the output if it exists");
  command
      ->add_option("--compression", arguments->compression,
                   "Compression of chunked outputs (none, gzip, lzf, blosc, zstd, ...)")
      ->capture_default_str();
  command->callback(
      [arguments, &action] { action = [arguments] { return run_features(*arguments); }; });
}

}  // namespace grove::cli
