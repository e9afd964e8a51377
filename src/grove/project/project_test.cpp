#include "grove/project/project.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "grove/io/hdf5_file.h"
#include "grove/learn/forest_training.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() /
           ("grove_project_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  fs::path path;
  static inline int counter = 0;
};

// A project with one image, some labels and a small trained forest.
Project sample_project(const TempDir& dir, int trees = 5) {
  AnyArray image = *AnyArray::allocate(DType::u8, {1, 1, 40, 50, 1});
  std::mt19937 rng(3);
  image.view<uint8_t>().for_each([&](uint8_t& v) { v = static_cast<uint8_t>(rng()); });
  WriteOptions replace;
  replace.overwrite = true;
  EXPECT_TRUE(write_image(dir.file("image.npy"), image, replace).ok());
  Project project;
  PixelClassification& pixel = project.pixel;
  EXPECT_TRUE(pixel.add_lane(dir.file("image.npy")).ok());
  AnyArray mask = *AnyArray::allocate(DType::u8, {1, 1, 3, 20, 1});
  mask.view<uint8_t>().for_each([](uint8_t& v) { v = 1; });
  EXPECT_TRUE(pixel.lanes[0].labels->paint(Box5({0, 0, 5, 5, 0}, {1, 1, 8, 25, 1}), mask, 1).ok());
  EXPECT_TRUE(
      pixel.lanes[0].labels->paint(Box5({0, 0, 30, 20, 0}, {1, 1, 33, 40, 1}), mask, 2).ok());
  pixel.ensure_classes(2);
  pixel.classes[1].name = "nuclei";
  pixel.classes[1].color = {1, 2, 3};
  EXPECT_TRUE(pixel.features.select(filters::FeatureFamily::kLaplacianOfGaussian, 2.5).ok());
  // A forest on random features of the right width.
  const int64_t features = 50;
  std::vector<float> x(200 * features);
  std::vector<int32_t> y(200);
  for (size_t i = 0; i < y.size(); ++i) {
    y[i] = 1 + static_cast<int32_t>(i % 2);
    for (int64_t f = 0; f < features; ++f)
      x[i * features + f] = static_cast<float>(rng() % 1000) + y[i] * 300.0f;
  }
  ForestOptions options;
  options.tree_count = trees;
  auto forest = train_classification_forest(FeatureMatrix(x.data(), 200, features), y, {}, options);
  EXPECT_TRUE(forest.ok());
  pixel.forest = std::make_shared<const RandomForest>(std::move(*forest));
  pixel.forest_id = 42;
  pixel.trained_channels = 1;
  project.export_settings.format = "tiff";
  project.export_settings.source = ExportSource::kUncertainty;
  return project;
}

TEST(Project, SaveAndLoadRoundTrip) {
  TempDir dir;
  Project project = sample_project(dir);
  ASSERT_TRUE(save_project(project, dir.file("p.grove")).ok());
  EXPECT_TRUE(is_grove_project(dir.file("p.grove")));
  auto loaded = load_project(dir.file("p.grove"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  const PixelClassification& a = project.pixel;
  const PixelClassification& b = loaded->pixel;
  ASSERT_EQ(b.lanes.size(), 1u);
  EXPECT_EQ(fs::path(b.lanes[0].path), fs::path(dir.file("image.npy")));
  EXPECT_EQ(b.lanes[0].shape, a.lanes[0].shape);
  EXPECT_EQ(b.lanes[0].labels->counts(), a.lanes[0].labels->counts());
  auto la = a.lanes[0].labels->read(Box5::of({1, 1, 40, 50, 1}));
  auto lb = b.lanes[0].labels->read(Box5::of({1, 1, 40, 50, 1}));
  ASSERT_TRUE(la.ok() && lb.ok());
  EXPECT_EQ(std::memcmp(la->raw_data(), lb->raw_data(), la->bytes()), 0);
  ASSERT_EQ(b.classes.size(), 2u);
  EXPECT_EQ(b.classes[1].name, "nuclei");
  EXPECT_EQ(b.classes[1].color, (std::array<uint8_t, 3>{1, 2, 3}));
  EXPECT_EQ(b.features, a.features);
  ASSERT_TRUE(b.forest);
  EXPECT_EQ(b.forest->parts().nodes, a.forest->parts().nodes);
  EXPECT_EQ(b.trained_channels, 1);
  EXPECT_EQ(loaded->export_settings.format, "tiff");
  EXPECT_EQ(loaded->export_settings.source, ExportSource::kUncertainty);
  // The image path is stored relative to the project, so the folder can move.
  auto file = hdf5::File::open(dir.file("p.grove"));
  ASSERT_TRUE(file.ok());
  auto lane = file->open_group("inputs/lane0000");
  ASSERT_TRUE(lane.ok());
  EXPECT_EQ(*lane->read_string_attribute("path"), "image.npy");
  // npy records no pixel size: none is stored, none is invented.
  EXPECT_FALSE(lane->has_attribute("pixel_size"));
  EXPECT_FALSE(b.lanes[0].has_pixel_size);
}

TEST(Project, PixelSizesRoundTrip) {
  TempDir dir;
  Project project = sample_project(dir);
  PixelLane& lane = project.pixel.lanes[0];
  lane.pixel_size = {2.0, 0.5, 0.125, 0.125};
  lane.pixel_unit = {"s", "micrometer", "micrometer", "micrometer"};
  lane.has_pixel_size = true;
  ASSERT_TRUE(save_project(project, dir.file("p.grove")).ok());
  auto loaded = load_project(dir.file("p.grove"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  const PixelLane& back = loaded->pixel.lanes[0];
  EXPECT_TRUE(back.has_pixel_size);
  EXPECT_EQ(back.pixel_size, lane.pixel_size);
  EXPECT_EQ(back.pixel_unit, lane.pixel_unit);
  // A corrupt pixel size is refused with a message, not used.
  {
    auto file = hdf5::File::open(dir.file("p.grove"), hdf5::Access::kReadWrite);
    ASSERT_TRUE(file.ok());
    auto group = file->open_group("inputs/lane0000");
    ASSERT_TRUE(group.ok());
    ASSERT_TRUE(
        group->write_attribute("pixel_size", std::vector<double>{1.0, -1.0, 1.0, 1.0}).ok());
  }
  auto corrupt = load_project(dir.file("p.grove"));
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.error().to_string().find("pixel size"), std::string::npos);
}

TEST(Project, RefusesNewerVersionsAndForeignFiles) {
  TempDir dir;
  Project project = sample_project(dir);
  ASSERT_TRUE(save_project(project, dir.file("p.grove")).ok());
  {
    auto file = hdf5::File::open(dir.file("p.grove"), hdf5::Access::kReadWrite);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->write_attribute("format_version", int64_t{kProjectFormatVersion + 1}).ok());
  }
  auto newer = load_project(dir.file("p.grove"));
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(newer.error().to_string().find("newer grove"), std::string::npos);

  // A file that is not a grove project is never replaced.
  ASSERT_TRUE(
      write_image(dir.file("data.h5/x"), *AnyArray::allocate(DType::u8, {1, 1, 2, 2, 1})).ok());
  Status overwrite = save_project(project, dir.file("data.h5"));
  ASSERT_FALSE(overwrite.ok());
  EXPECT_TRUE(read_image(dir.file("data.h5/x")).ok());
  ASSERT_TRUE(save_project(project, dir.file("p2.grove"), false).ok());
  Status again = save_project(project, dir.file("p2.grove"), false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
}

TEST(Project, CorruptProjectsGiveErrors) {
  TempDir dir;
  Project project = sample_project(dir);
  ASSERT_TRUE(save_project(project, dir.file("p.grove")).ok());
  {
    auto file = hdf5::File::open(dir.file("p.grove"), hdf5::Access::kReadWrite);
    ASSERT_TRUE(file.ok());
    auto labels = file->open_group("pixel/labels/lane0000");
    ASSERT_TRUE(labels.ok());
    auto names = labels->child_datasets();
    ASSERT_TRUE(names.ok() && !names->empty());
    auto block = labels->open_dataset(names->front());
    ASSERT_TRUE(block.ok());
    ASSERT_TRUE(
        block->write_attribute("box", std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 9999, 9999, 1})
            .ok());
  }
  auto loaded = load_project(dir.file("p.grove"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code(), ErrorCode::kCorrupt);
  // Truncated file.
  const auto size = fs::file_size(dir.file("p.grove"));
  fs::resize_file(dir.file("p.grove"), size / 2);
  EXPECT_FALSE(load_project(dir.file("p.grove")).ok());
  EXPECT_FALSE(open_project(dir.file("missing.grove")).ok());
}

// Killing a save at any point leaves the old project or the new one, both loadable.
TEST(Project, SaveSurvivesKillAtAnyPoint) {
  TempDir dir;
  Project old_project = sample_project(dir, 3);
  ASSERT_TRUE(save_project(old_project, dir.file("p.grove")).ok());
  Project new_project = sample_project(dir, 60);  // a bigger file: saving takes a while
  new_project.pixel.classes[0].name = "new";
  std::mt19937 rng(11);
  int saw_old = 0, saw_new = 0;
  for (int round = 0; round < 12; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (;;) {
        if (!save_project(new_project, dir.file("p.grove")).ok()) ::_exit(3);
        if (!save_project(old_project, dir.file("p.grove")).ok()) ::_exit(3);
      }
    }
    ::usleep(2000 + rng() % 40000);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    auto loaded = load_project(dir.file("p.grove"));
    ASSERT_TRUE(loaded.ok()) << "round " << round << ": " << loaded.error().to_string();
    if (loaded->pixel.classes[0].name == "new") {
      ++saw_new;
      EXPECT_EQ(loaded->pixel.forest->tree_count(), 60);
    } else {
      ++saw_old;
      EXPECT_EQ(loaded->pixel.forest->tree_count(), 3);
    }
  }
  EXPECT_EQ(saw_old + saw_new, 12);
  // A later save succeeds and removes the temporary files the killed saves left.
  EXPECT_TRUE(save_project(old_project, dir.file("p.grove")).ok());
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    EXPECT_EQ(entry.path().filename().string().find(".p.grove.tmp-"), std::string::npos)
        << entry.path();
  }
}

}  // namespace
}  // namespace grove
