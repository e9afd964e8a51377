// `grove autocontext train --image IMG --labels LBL [--labels2 LBL2] [--stages N] -o PROJECT`:
// trains an autocontext project (pixel classifiers in a row, each later stage reading the raw
// image plus the previous stage's probabilities) from label images, stage after stage, and
// saves it; `grove run PROJECT ...` then exports any stage's results.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "engine_setup.h"
#include "grove/project/project.h"
#include "label_image.h"

namespace grove::cli {

namespace {

struct AutocontextTrainArguments {
  std::vector<std::string> images;
  std::vector<std::string> labels;        // stage 1 (and every stage without its own)
  std::vector<std::string> later_labels;  // stages 2..N
  int stages = static_cast<int>(kDefaultAutocontextStages);
  std::string spec = "all";
  std::string later_spec;  // "" : spec
  int trees = 100;
  uint64_t seed = 0;
  std::string output;
  bool overwrite = false;
  EngineArguments engine;
};

Status run_autocontext_train(const AutocontextTrainArguments& arguments) {
  GROVE_RETURN_IF_ERROR(apply_memory_budget(arguments.engine));
  if (arguments.images.empty())
    return Error(ErrorCode::kInvalidArgument, "give at least one --image");
  if (arguments.images.size() != arguments.labels.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "got {} --image but {} --labels; give one label image per image",
                      arguments.images.size(), arguments.labels.size());
  }
  if (!arguments.later_labels.empty() && arguments.later_labels.size() != arguments.images.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "got {} --image but {} --labels2; give one stage-2 label image per image "
                      "(or none, to use --labels for every stage)",
                      arguments.images.size(), arguments.later_labels.size());
  }
  if (arguments.stages < 2 || arguments.stages > static_cast<int>(kMaximumAutocontextStages)) {
    return make_error(ErrorCode::kInvalidArgument, "--stages must be 2..{}, got {}",
                      kMaximumAutocontextStages, arguments.stages);
  }
  if (arguments.trees < 1 || arguments.trees > 100000) {
    return make_error(ErrorCode::kInvalidArgument, "--trees must be 1..100000, got {}",
                      arguments.trees);
  }
  GROVE_ASSIGN_OR_RETURN(
      filters::FeatureSelection first_selection,
      std::move(filters::parse_feature_spec(arguments.spec)).context("--features"));
  filters::FeatureSelection later_selection = first_selection;
  if (!arguments.later_spec.empty()) {
    GROVE_ASSIGN_OR_RETURN(
        later_selection,
        std::move(filters::parse_feature_spec(arguments.later_spec)).context("--features2"));
  }
  GROVE_RETURN_IF_ERROR(check_output_writable(arguments.output, arguments.overwrite));

  Project project;
  project.workflow = std::string(kAutocontextWorkflow);
  Autocontext& autocontext = project.autocontext;
  autocontext = Autocontext(static_cast<size_t>(arguments.stages));
  for (size_t k = 0; k < autocontext.stage_count(); ++k) {
    PixelClassification& stage = autocontext.stages[k];
    stage.features = k == 0 ? first_selection : later_selection;
    stage.forest_options.tree_count = arguments.trees;
    // Each stage its own stream of random numbers, reproducible from --seed.
    stage.forest_options.seed = arguments.seed + k;
  }
  for (size_t i = 0; i < arguments.images.size(); ++i) {
    GROVE_ASSIGN_OR_RETURN(size_t lane, autocontext.add_lane(arguments.images[i]));
    for (size_t k = 0; k < autocontext.stage_count(); ++k) {
      const std::string& labels = k > 0 && !arguments.later_labels.empty()
                                      ? arguments.later_labels[i]
                                      : arguments.labels[i];
      GROVE_RETURN_IF_ERROR(load_label_image(labels, autocontext.stages[k].lanes[lane]));
    }
  }
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                         make_engine(arguments.engine, /*interactive=*/false));
  for (size_t k = 0; k < autocontext.stage_count(); ++k) {
    Progress progress = Progress::terminal_bar();
    RunOptions options;
    options.progress = &progress;
    GROVE_ASSIGN_OR_RETURN(TrainingReport report, autocontext.train_stage(*engine, k, {}, options));
    const PixelClassification& stage = autocontext.stages[k];
    std::printf("stage %zu: trained on %lld labelled pixels (", k + 1,
                static_cast<long long>(report.labelled_pixels));
    for (size_t c = 0; c < report.pixels_per_class.size(); ++c) {
      std::printf("%sclass %zu: %lld", c ? ", " : "", c + 1,
                  static_cast<long long>(report.pixels_per_class[c]));
    }
    std::printf(
        "), %lld input channels, %lld features, %d trees: features %.2f s, training %.2f s\n",
        static_cast<long long>(stage.trained_channels),
        static_cast<long long>(stage.forest->feature_count()), arguments.trees,
        report.seconds_features, report.seconds_training);
  }
  GROVE_RETURN_IF_ERROR(save_project(project, arguments.output, arguments.overwrite));
  std::printf("saved %s\n", arguments.output.c_str());
  return ok_status();
}

}  // namespace

void register_autocontext(CLI::App& app, Action& action) {
  CLI::App* command =
      app.add_subcommand("autocontext",
                         "Autocontext: pixel classifiers in a row, each reading the previous one's "
                         "probabilities");
  command->require_subcommand(1);
  auto arguments = std::make_shared<AutocontextTrainArguments>();
  CLI::App* train = command->add_subcommand(
      "train", "Train every stage of an autocontext project from label images and save it");
  train->add_option("--image", arguments->images, "An image to train on (repeat for several)")
      ->required();
  train
      ->add_option("--labels", arguments->labels,
                   "Its label image for stage 1 (and every stage without its own): same shape, "
                   "0 = unlabelled, k = class k (repeat, in the order of --image)")
      ->required();
  train->add_option("--labels2", arguments->later_labels,
                    "Its label image for stage 2 and later (repeat, in the order of --image; "
                    "default: --labels)");
  train->add_option("--stages", arguments->stages, "Number of stages (2..16)")
      ->capture_default_str();
  train
      ->add_option("--features", arguments->spec,
                   "Stage 1's features: 'all' or 'Family:scale,scale;...' (ilastik's names)")
      ->capture_default_str();
  train->add_option("--features2", arguments->later_spec,
                    "The later stages' features (default: --features), computed on the image's "
                    "channels and the previous stage's probabilities");
  train->add_option("--trees", arguments->trees, "Number of trees per stage")
      ->capture_default_str();
  train->add_option("--seed", arguments->seed, "Random seed (same seed and data: same forests)")
      ->capture_default_str();
  train->add_option("-o,--output", arguments->output, "The project file to write")->required();
  train->add_flag("--overwrite", arguments->overwrite, "Replace an existing project file");
  add_engine_options(*train, arguments->engine);
  train->callback(
      [&action, arguments] { action = [arguments] { return run_autocontext_train(*arguments); }; });
}

}  // namespace grove::cli
