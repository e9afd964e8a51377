// Autocontext projects in the project file (format version 2): save and load round trip of every
// stage's labels, features, classes and forest; the format version a file records; refusal of
// newer versions and of inconsistent files.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "grove/io/hdf5_file.h"
#include "grove/learn/forest_prediction.h"
#include "grove/project/project.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

class AutocontextProjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("grove_autocontext_project_" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

AnyArray scene(uint32_t seed) {
  AnyArray image = *AnyArray::allocate(DType::u8, Shape5(1, 1, 64, 48, 1));
  std::mt19937 rng(seed);
  image.view<uint8_t>().for_each([&](uint8_t& v) { v = static_cast<uint8_t>(rng() % 64); });
  for (int64_t y = 16; y < 40; ++y)
    for (int64_t x = 10; x < 30; ++x) image.view<uint8_t>()(0, 0, y, x, 0) += 120;
  return image;
}

// Labels: class 1 on the left edge, class 2 inside the bright square (shifted per stage).
AnyArray strokes(int64_t shift) {
  AnyArray labels = *AnyArray::allocate(DType::u8, Shape5(1, 1, 64, 48, 1));
  for (int64_t y = 5; y < 60; ++y) labels.view<uint8_t>()(0, 0, y, 2 + shift, 0) = 1;
  for (int64_t x = 14; x < 26; ++x) labels.view<uint8_t>()(0, 0, 28 + shift, x, 0) = 2;
  return labels;
}

Project trained_project(const AnyArray& image, const std::string& image_path) {
  Project project;
  project.workflow = std::string(kAutocontextWorkflow);
  project.autocontext = Autocontext(3);
  for (size_t k = 0; k < 3; ++k) {
    PixelClassification& stage = project.autocontext.stages[k];
    stage.features = *filters::parse_feature_spec(
        k == 0 ? "GaussianSmoothing:1.0" : "GaussianSmoothing:0.7;LaplacianOfGaussian:1.6");
    stage.forest_options.tree_count = 5;
    stage.forest_options.seed = k;
    PixelLane lane;
    lane.path = image_path;
    lane.nickname = "scene";
    lane.axes = "yx";
    lane.shape = image.shape();
    lane.dtype = DType::u8;
    lane.labels = std::make_shared<LabelStore>(lane.shape);
    EXPECT_TRUE(lane.labels->write(Box5::of(lane.shape), strokes(static_cast<int64_t>(k))).ok());
    stage.lanes.push_back(std::move(lane));
    stage.classes = {{"background", {1, 2, 3}}, {"square", {4, 5, 6}}};
  }
  project.autocontext.stages[2].classes[1].name = "square, stage 3";
  Engine engine;
  auto trained = project.autocontext.train(engine, {array_node(image, "scene")});
  EXPECT_TRUE(trained.ok()) << trained.error().to_string();
  return project;
}

TEST_F(AutocontextProjectTest, SaveAndLoadEveryStage) {
  AnyArray image = scene(1);
  Project project = trained_project(image, path("scene.h5"));
  ASSERT_TRUE(save_project(project, path("p.grove")).ok());
  auto loaded = load_project(path("p.grove"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->workflow, kAutocontextWorkflow);
  ASSERT_EQ(loaded->autocontext.stage_count(), 3u);
  ASSERT_EQ(loaded->autocontext.lanes().size(), 1u);
  EXPECT_EQ(loaded->autocontext.lanes()[0].path, path("scene.h5"));
  for (size_t k = 0; k < 3; ++k) {
    const PixelClassification& saved = project.autocontext.stages[k];
    const PixelClassification& read = loaded->autocontext.stages[k];
    EXPECT_EQ(read.features, saved.features) << k;
    ASSERT_EQ(read.classes.size(), saved.classes.size());
    for (size_t c = 0; c < read.classes.size(); ++c) {
      EXPECT_EQ(read.classes[c].name, saved.classes[c].name);
      EXPECT_EQ(read.classes[c].color, saved.classes[c].color);
    }
    EXPECT_EQ(read.trained_channels, saved.trained_channels) << k;
    ASSERT_TRUE(read.forest);
    EXPECT_EQ(forest_fingerprint(*read.forest), forest_fingerprint(*saved.forest));
    // Each stage kept its own labels.
    AnyArray labels = *read.lanes[0].labels->read(Box5::of(Shape5(1, 1, 64, 48, 1)));
    AnyArray expected = strokes(static_cast<int64_t>(k));
    EXPECT_EQ(std::memcmp(labels.raw_data(), expected.raw_data(), expected.bytes()), 0) << k;
  }
  EXPECT_EQ(loaded->autocontext.stages[1].trained_channels, 3);
  // The loaded project predicts what the saved one did, through all three stages.
  Engine engine;
  NodePtr raw = array_node(image, "scene");
  AnyArray before = *engine.compute(*project.autocontext.probability_node(raw, 2),
                                    Box5::of(Shape5(1, 1, 64, 48, 2)));
  AnyArray after = *engine.compute(*loaded->autocontext.probability_node(raw, 2),
                                   Box5::of(Shape5(1, 1, 64, 48, 2)));
  EXPECT_EQ(std::memcmp(before.raw_data(), after.raw_data(), before.bytes()), 0);

  auto file = hdf5::File::open(path("p.grove"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*file->read_attribute<int64_t>("format_version"), 2);
  EXPECT_TRUE(file->exists("autocontext/stage02/classifier"));
}

TEST_F(AutocontextProjectTest, PixelProjectsKeepFormatOne) {
  Project project;
  ASSERT_TRUE(save_project(project, path("pixel.grove")).ok());
  auto file = hdf5::File::open(path("pixel.grove"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*file->read_attribute<int64_t>("format_version"), 1);
  EXPECT_TRUE(load_project(path("pixel.grove")).ok());
}

TEST_F(AutocontextProjectTest, RefusesNewerAndInconsistentFiles) {
  Project project = trained_project(scene(2), path("scene.h5"));
  ASSERT_TRUE(save_project(project, path("p.grove")).ok());
  {
    auto file = hdf5::File::open(path("p.grove"), hdf5::Access::kReadWrite);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->write_attribute("format_version", int64_t{1}).ok());
  }
  auto old = load_project(path("p.grove"));
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().to_string().find("no autocontext"), std::string::npos);
  {
    auto file = hdf5::File::open(path("p.grove"), hdf5::Access::kReadWrite);
    ASSERT_TRUE(file->write_attribute("format_version", int64_t{kProjectFormatVersion + 1}).ok());
  }
  auto newer = load_project(path("p.grove"));
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.error().to_string().find("newer grove"), std::string::npos);
  {
    auto file = hdf5::File::open(path("p.grove"), hdf5::Access::kReadWrite);
    ASSERT_TRUE(file->write_attribute("format_version", int64_t{2}).ok());
    auto group = file->open_group("autocontext");
    ASSERT_TRUE(group.ok());
    ASSERT_TRUE(group->write_attribute("stage_count", int64_t{1000}).ok());
  }
  auto bad_count = load_project(path("p.grove"));
  ASSERT_FALSE(bad_count.ok());
  EXPECT_NE(bad_count.error().to_string().find("stage count"), std::string::npos);
}

}  // namespace
}  // namespace grove
