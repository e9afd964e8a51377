// `grove pixel train --image IMG --labels LBL [--image IMG2 --labels LBL2 ...] -o PROJECT`:
// trains a pixel classifier from label images (0 = unlabelled, k = class k) and saves the
// project, for scripted training without the browser.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "engine_setup.h"
#include "grove/core/blocking.h"
#include "grove/project/project.h"
#include "label_image.h"

namespace grove::cli {

namespace {

struct TrainArguments {
  std::vector<std::string> images;
  std::vector<std::string> labels;
  std::string spec = "all";
  int trees = 100;
  uint64_t seed = 0;
  std::string output;
  bool overwrite = false;
  EngineArguments engine;
};

}  // namespace

// Copies a label image into the lane's sparse label store, block by block (label_image.h).
Status load_label_image(const std::string& path, PixelLane& lane) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(path));
  const ImageInfo& info = reader->info();
  Shape5 expected = lane.shape;
  expected[kC] = 1;
  Shape5 got = info.shape;
  if (got.c() != 1) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "label image {} has {} channels; labels need one channel (0 = unlabelled, k = class k)",
        path, got.c());
  }
  if (got != expected) {
    return make_error(ErrorCode::kInvalidArgument,
                      "label image {} has shape {} but its image {} has {}", path, got.to_string(),
                      lane.path, lane.shape.to_string());
  }
  if (dtype_is_float(info.dtype)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "label image {} holds {} values; labels must be integers", path,
                      dtype_name(info.dtype));
  }
  const Blocking blocking{Box5::of(got), lane.labels->block_shape()};
  // As the engine does (engine.cpp kMaxBlocks): an absurd extent is refused before the list of
  // blocks is made.
  if (blocking.block_count() > (int64_t{1} << 21)) {
    return make_error(ErrorCode::kResourceExhausted,
                      "label image {} of shape {} is too large to read (is its size right?)", path,
                      got.to_string());
  }
  for (const Box5& block : blocking.blocks()) {
    GROVE_ASSIGN_OR_RETURN(AnyArray data, reader->read(block));
    auto written = lane.labels->write(block, data);
    if (!written.ok()) return std::move(written).error().add_context(path);
  }
  return ok_status();
}

namespace {

Status run_train(const TrainArguments& arguments) {
  GROVE_RETURN_IF_ERROR(apply_memory_budget(arguments.engine));
  if (arguments.images.empty())
    return Error(ErrorCode::kInvalidArgument, "give at least one --image");
  if (arguments.images.size() != arguments.labels.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "got {} --image but {} --labels; give one label image per image",
                      arguments.images.size(), arguments.labels.size());
  }
  if (arguments.trees < 1 || arguments.trees > 100000) {
    return make_error(ErrorCode::kInvalidArgument, "--trees must be 1..100000, got {}",
                      arguments.trees);
  }
  GROVE_ASSIGN_OR_RETURN(
      filters::FeatureSelection selection,
      std::move(filters::parse_feature_spec(arguments.spec)).context("--features"));
  GROVE_RETURN_IF_ERROR(check_output_writable(arguments.output, arguments.overwrite));
  Project project;
  PixelClassification& pixel = project.pixel;
  pixel.features = selection;
  pixel.forest_options.tree_count = arguments.trees;
  pixel.forest_options.seed = arguments.seed;
  for (size_t i = 0; i < arguments.images.size(); ++i) {
    GROVE_ASSIGN_OR_RETURN(size_t lane, pixel.add_lane(arguments.images[i]));
    GROVE_RETURN_IF_ERROR(load_label_image(arguments.labels[i], pixel.lanes[lane]));
  }
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                         make_engine(arguments.engine, /*interactive=*/false));
  Progress progress = Progress::terminal_bar();
  RunOptions options;
  options.progress = &progress;
  GROVE_ASSIGN_OR_RETURN(TrainingReport report, pixel.train(*engine, {}, options));
  GROVE_RETURN_IF_ERROR(save_project(project, arguments.output, arguments.overwrite));
  std::printf("trained on %lld labelled pixels (", static_cast<long long>(report.labelled_pixels));
  for (size_t k = 0; k < report.pixels_per_class.size(); ++k) {
    std::printf("%sclass %zu: %lld", k ? ", " : "", k + 1,
                static_cast<long long>(report.pixels_per_class[k]));
  }
  std::printf("), %lld features, %d trees: features %.2f s, training %.2f s\n",
              static_cast<long long>(pixel.forest->feature_count()), arguments.trees,
              report.seconds_features, report.seconds_training);
  std::printf("saved %s\n", arguments.output.c_str());
  return ok_status();
}

}  // namespace

void register_pixel(CLI::App& app, Action& action) {
  CLI::App* pixel = app.add_subcommand("pixel", "Pixel classification");
  pixel->require_subcommand(1);
  auto arguments = std::make_shared<TrainArguments>();
  CLI::App* train = pixel->add_subcommand(
      "train", "Train a pixel classifier from label images and save the project");
  train->add_option("--image", arguments->images, "An image to train on (repeat for several)")
      ->required();
  train
      ->add_option("--labels", arguments->labels,
                   "Its label image: same shape, 0 = unlabelled, k = class k (repeat, in the order "
                   "of --image)")
      ->required();
  train
      ->add_option("--features", arguments->spec,
                   "Features: 'all' or 'Family:scale,scale;...' (ilastik's family names)")
      ->capture_default_str();
  train->add_option("--trees", arguments->trees, "Number of trees")->capture_default_str();
  train->add_option("--seed", arguments->seed, "Random seed (same seed and data: same forest)")
      ->capture_default_str();
  train->add_option("-o,--output", arguments->output, "The project file to write")->required();
  train->add_flag("--overwrite", arguments->overwrite, "Replace an existing project file");
  add_engine_options(*train, arguments->engine);
  train->callback([&action, arguments] { action = [arguments] { return run_train(*arguments); }; });
}

}  // namespace grove::cli
