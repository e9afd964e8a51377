// Tests of the real backend of `grove serve` over an autocontext project (pixel_backend.h): the
// stage switcher's contract — labels, classes, training and prediction tiles per stage, a later
// stage's prediction running through the earlier stages, save and reload — and that a pixel
// project stays a project of one stage. Uses ilastik's 2d3c.h5 (73 × 187, 3 channels) from the
// shared test data.
#include "pixel_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "grove/project/project.h"

namespace grove::server {
namespace {

const std::string kImage = GROVE_SOURCE_DIR "/../shared/data/ilastik_testdata/inputdata/2d3c.h5";

class AutocontextBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kImage)) GTEST_SKIP() << "test data missing: " << kImage;
    folder_ = std::filesystem::temp_directory_path() /
              ("grove_autocontext_backend_" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  static std::shared_ptr<Backend> open(const std::string& path, int stages) {
    PixelBackendOptions options;
    options.project_path = path;
    options.threads = 2;
    options.stages = stages;
    Result<std::shared_ptr<Backend>> backend = open_pixel_backend(options);
    EXPECT_TRUE(backend.ok()) << backend.error().to_string();
    return backend.ok() ? *backend : nullptr;
  }

  // Two classes, a few small features, and strokes of class 1 and 2 in two places.
  static void label_two_classes(Backend& backend, ImageId image, double offset) {
    ASSERT_TRUE(backend.add_class({"one", "#ff0000"}).ok());
    ASSERT_TRUE(backend.add_class({"two", "#00ff00"}).ok());
    paint(backend, image, 1, {{10 + offset, 10}, {40 + offset, 10}});
    paint(backend, image, 2, {{10 + offset, 50}, {40 + offset, 50}});
  }

  static void paint(Backend& backend, ImageId image, int label,
                    std::vector<std::array<double, 2>> points) {
    BrushStroke stroke;
    stroke.where.image = image;
    stroke.label = label;
    stroke.radius = 2;
    stroke.points = std::move(points);
    Result<LabelChange> change = backend.apply_stroke(stroke);
    ASSERT_TRUE(change.ok()) << change.error().to_string();
    EXPECT_FALSE(change->box.empty());
  }

  static Result<Tile> tile(Backend& backend, ImageId image, Layer layer, int stage) {
    TileRequest request;
    request.where.image = image;
    request.layer = layer;
    request.width = 64;
    request.height = 64;
    request.stage = stage;
    return backend.tile(request);
  }

  // Label value at plane pixel (u, v) of a 64 × 64 labels tile of a stage.
  static int label_at(Backend& backend, ImageId image, int stage, int u, int v) {
    Result<Tile> labels = tile(backend, image, Layer::labels, stage);
    EXPECT_TRUE(labels.ok());
    if (!labels.ok() || !labels->data.raw_data()) return -1;
    return static_cast<const uint8_t*>(labels->data.raw_data())[v * 64 + u];
  }

  static Result<uint64_t> train(Backend& backend) {
    Progress progress;
    return backend.train(CancelToken{}, progress);
  }

  // Adds the image, and to the selected stage a few features and two labelled classes; trains.
  static ImageId add_image_and_train(Backend& backend) {
    Result<ImageSummary> image = backend.add_image(std::filesystem::canonical(kImage).string());
    EXPECT_TRUE(image.ok());
    if (!image.ok()) return -1;
    EXPECT_TRUE(backend.set_features(small_features()).ok());
    label_two_classes(backend, image->id, 0);
    Result<uint64_t> trained = train(backend);
    EXPECT_TRUE(trained.ok()) << trained.error().to_string();
    return image->id;
  }

  static FeatureSelection small_features() {
    FeatureSelection small;
    small.selected[0][2] = small.selected[2][3] = true;
    return small;
  }

  std::filesystem::path folder_;
};

TEST_F(AutocontextBackendTest, EachStageHasItsLabelsTrainingAndPrediction) {
  std::shared_ptr<Backend> backend = open("", 2);
  ASSERT_TRUE(backend);
  EXPECT_EQ(backend->state().stage_count, 2);
  EXPECT_EQ(backend->state().stage, 0);
  Result<ImageSummary> image = backend->add_image(std::filesystem::canonical(kImage).string());
  ASSERT_TRUE(image.ok()) << image.error().to_string();
  FeatureSelection small;
  small.selected[0][2] = small.selected[2][2] = small.selected[4][4] = true;
  ASSERT_TRUE(backend->set_features(small).ok());

  // Stage 2 cannot train before stage 1 is: it learns from stage 1's probabilities.
  ASSERT_TRUE(backend->select_stage(1).ok());
  EXPECT_EQ(backend->state().stage, 1);
  EXPECT_FALSE(train(*backend).ok());
  EXPECT_FALSE(backend->select_stage(2).ok());

  ASSERT_TRUE(backend->select_stage(0).ok());
  label_two_classes(*backend, image->id, 0);
  Result<uint64_t> first = train(*backend);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  EXPECT_TRUE(backend->state().trained);
  Result<Tile> stage1 = tile(*backend, image->id, Layer::probabilities, 0);
  ASSERT_TRUE(stage1.ok()) << stage1.error().to_string();
  ASSERT_TRUE(stage1->data.raw_data());
  EXPECT_EQ(stage1->data.shape().c(), 2);
  // Stage 2 shows nothing before it is trained, and has no labels yet.
  Result<Tile> untrained = tile(*backend, image->id, Layer::probabilities, 1);
  ASSERT_TRUE(untrained.ok());
  EXPECT_FALSE(untrained->data.raw_data());
  EXPECT_EQ(label_at(*backend, image->id, 1, 20, 10), 0);
  EXPECT_EQ(label_at(*backend, image->id, 0, 20, 10), 1);

  // Stage 2 starts with stage 1's classes; its labels and features are its own.
  ASSERT_TRUE(backend->select_stage(1).ok());
  ProjectState state = backend->state();
  ASSERT_EQ(state.classes.size(), 2u);
  EXPECT_EQ(state.classes[0].name, "one");
  EXPECT_FALSE(state.trained);
  ASSERT_TRUE(backend->set_features(small).ok());
  paint(*backend, image->id, 1, {{30, 20}, {50, 20}});
  paint(*backend, image->id, 2, {{30, 40}, {50, 40}});
  EXPECT_EQ(label_at(*backend, image->id, 1, 40, 20), 1);
  EXPECT_EQ(label_at(*backend, image->id, 0, 40, 20), 0);  // stage 1 unchanged
  Result<uint64_t> second = train(*backend);
  ASSERT_TRUE(second.ok()) << second.error().to_string();
  EXPECT_GT(*second, *first);
  Result<Tile> stage2 = tile(*backend, image->id, Layer::probabilities, -1);  // selected: 2
  ASSERT_TRUE(stage2.ok()) << stage2.error().to_string();
  ASSERT_TRUE(stage2->data.raw_data());
  EXPECT_EQ(stage2->data.shape().c(), 2);
  // Stage 2's forest reads the 3 raw channels and stage 1's two probabilities.
  Result<std::vector<FeatureImportance>> importance = backend->feature_importance();
  ASSERT_TRUE(importance.ok());
  int highest_channel = 0;
  for (const auto& item : *importance) highest_channel = std::max(highest_channel, item.channel);
  EXPECT_EQ(highest_channel, 4);
  EXPECT_TRUE(tile(*backend, image->id, Layer::segmentation, 1).ok());
  EXPECT_TRUE(tile(*backend, image->id, Layer::uncertainty, 1).ok());

  // Export offers every stage's results (ilastik's "Probabilities Stage 1", ...).
  for (const char* source : {"probabilities-stage-1", "simple-segmentation-stage-2",
                             "uncertainty-stage-1", "probabilities-all-stages"}) {
    ExportRequest request;
    request.source = source;
    request.format = "npy";
    request.output_pattern = (folder_ / "{nickname}_{result_type}").string();
    Progress progress;
    Result<std::vector<std::string>> outputs =
        backend->export_results(request, CancelToken{}, progress);
    ASSERT_TRUE(outputs.ok()) << source << ": " << outputs.error().to_string();
    ASSERT_EQ(outputs->size(), 1u);
    EXPECT_TRUE(std::filesystem::exists(outputs->front())) << outputs->front();
  }

  // Retraining stage 1 on other labels changes what stage 2 predicts (its input changed).
  const std::vector<float> before(static_cast<const float*>(stage2->data.raw_data()),
                                  static_cast<const float*>(stage2->data.raw_data()) + 64 * 64 * 2);
  ASSERT_TRUE(backend->select_stage(0).ok());
  paint(*backend, image->id, 2, {{5, 30}, {60, 30}});
  ASSERT_TRUE(train(*backend).ok());
  Result<Tile> after = tile(*backend, image->id, Layer::probabilities, 1);
  ASSERT_TRUE(after.ok() && after->data.raw_data());
  const float* values = static_cast<const float*>(after->data.raw_data());
  EXPECT_NE(before, std::vector<float>(values, values + 64 * 64 * 2));

  // Undo goes back through one history across the stages: the stage-1 stroke.
  ASSERT_TRUE(backend->select_stage(1).ok());
  ASSERT_TRUE(backend->undo().ok());
  EXPECT_EQ(label_at(*backend, image->id, 0, 30, 30), 0);
  EXPECT_EQ(label_at(*backend, image->id, 1, 40, 20), 1);
}

TEST_F(AutocontextBackendTest, SaveAndReloadKeepsEveryStage) {
  const std::string path = (folder_ / "stages.grove").string();
  {
    std::shared_ptr<Backend> backend = open(path, 3);
    ASSERT_TRUE(backend);
    const ImageId image = add_image_and_train(*backend);
    ASSERT_TRUE(backend->select_stage(1).ok());
    ASSERT_TRUE(backend->set_features(small_features()).ok());
    paint(*backend, image, 1, {{30, 20}, {50, 20}});
    paint(*backend, image, 2, {{30, 40}, {50, 40}});
    ASSERT_TRUE(train(*backend).ok());
    ASSERT_TRUE(backend->select_stage(2).ok());
    paint(*backend, image, 2, {{20, 5}, {20, 25}});
    Progress progress;
    Status saved = backend->save("", progress);
    ASSERT_TRUE(saved.ok()) << saved.error().to_string();
  }
  Result<Project> project = open_project(path);
  ASSERT_TRUE(project.ok()) << project.error().to_string();
  EXPECT_EQ(project->workflow, kAutocontextWorkflow);
  ASSERT_EQ(project->autocontext.stage_count(), 3u);

  std::shared_ptr<Backend> reopened = open(path, 1);  // an existing project keeps its stages
  ASSERT_TRUE(reopened);
  ProjectState state = reopened->state();
  EXPECT_EQ(state.stage_count, 3);
  ASSERT_EQ(state.images.size(), 1u);
  const ImageId image = state.images[0].id;
  EXPECT_TRUE(state.trained);  // stage 1's forest
  EXPECT_EQ(label_at(*reopened, image, 0, 20, 10), 1);
  EXPECT_EQ(label_at(*reopened, image, 0, 20, 50), 2);
  EXPECT_EQ(label_at(*reopened, image, 2, 20, 15), 2);
  EXPECT_EQ(label_at(*reopened, image, 1, 20, 15), 0);
  for (int stage : {0, 1}) {
    Result<Tile> prediction = tile(*reopened, image, Layer::probabilities, stage);
    ASSERT_TRUE(prediction.ok()) << prediction.error().to_string();
    EXPECT_TRUE(prediction->data.raw_data()) << "stage " << stage + 1;
  }
  ASSERT_TRUE(reopened->select_stage(1).ok());
  EXPECT_TRUE(reopened->state().trained);
  ASSERT_TRUE(reopened->select_stage(2).ok());
  EXPECT_FALSE(reopened->state().trained);
}

TEST_F(AutocontextBackendTest, APixelProjectGrowsStagesAndShrinksBack) {
  std::shared_ptr<Backend> backend = open("", 1);
  ASSERT_TRUE(backend);
  const ImageId image = add_image_and_train(*backend);

  // The pixel project becomes stage 1 of 3, with its labels, classes and classifier.
  ASSERT_TRUE(backend->set_stage_count(3).ok());
  ProjectState state = backend->state();
  EXPECT_EQ(state.stage_count, 3);
  EXPECT_EQ(state.stage, 0);
  EXPECT_TRUE(state.trained);
  EXPECT_EQ(state.classes.size(), 2u);
  EXPECT_EQ(label_at(*backend, image, 0, 20, 10), 1);
  EXPECT_EQ(label_at(*backend, image, 2, 20, 10), 0);
  ASSERT_TRUE(backend->select_stage(2).ok());
  paint(*backend, image, 1, {{20, 5}, {20, 25}});
  EXPECT_FALSE(backend->set_stage_count(0).ok());
  EXPECT_FALSE(backend->set_stage_count(17).ok());

  // Two stages: the third is gone, and the selection moves to the last stage left.
  ASSERT_TRUE(backend->set_stage_count(2).ok());
  EXPECT_EQ(backend->state().stage, 1);
  EXPECT_EQ(label_at(*backend, image, 1, 20, 15), 0);
  EXPECT_FALSE(tile(*backend, image, Layer::labels, 2).ok());

  const std::string path = (folder_ / "grown.grove").string();
  Progress progress;
  ASSERT_TRUE(backend->save(path, progress).ok());
  Result<Project> saved = open_project(path);
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->workflow, kAutocontextWorkflow);
  EXPECT_EQ(saved->autocontext.stage_count(), 2u);

  // Back to pixel classification: stage 1 is the project.
  ASSERT_TRUE(backend->set_stage_count(1).ok());
  state = backend->state();
  EXPECT_EQ(state.stage_count, 1);
  EXPECT_TRUE(state.trained);
  EXPECT_EQ(label_at(*backend, image, -1, 20, 50), 2);
  Result<Tile> prediction = tile(*backend, image, Layer::probabilities, -1);
  ASSERT_TRUE(prediction.ok());
  EXPECT_TRUE(prediction->data.raw_data());
}

TEST_F(AutocontextBackendTest, APixelProjectHasOneStage) {
  std::shared_ptr<Backend> backend = open("", 1);
  ASSERT_TRUE(backend);
  EXPECT_EQ(backend->state().stage_count, 1);
  EXPECT_TRUE(backend->select_stage(0).ok());
  Status refused = backend->select_stage(1);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().to_string().find("stage 2 does not exist"), std::string::npos);
  PixelBackendOptions too_many;
  too_many.stages = 99;
  EXPECT_FALSE(open_pixel_backend(too_many).ok());
}

}  // namespace
}  // namespace grove::server
