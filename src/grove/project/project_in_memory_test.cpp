// Saving and loading grove projects: images that live only in memory (the Python module's numpy
// arrays) keep an empty path, their labels and their shape; images on disk keep their paths.
#include "grove/project/project.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "grove/io/io_test_support.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

PixelLane in_memory_lane(const Shape5& shape) {
  PixelLane lane;
  lane.nickname = "image0";
  lane.shape = shape;
  lane.dtype = DType::f32;
  lane.axes = "yx";
  lane.labels = std::make_shared<LabelStore>(shape);
  return lane;
}

TEST(ProjectTest, InMemoryImageKeepsAnEmptyPathAndItsLabels) {
  io::testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Project project;
  const Shape5 shape(1, 1, 40, 30, 1);
  project.pixel.lanes.push_back(in_memory_lane(shape));
  auto labels = AnyArray::allocate(DType::u8, Shape5(1, 1, 3, 4, 1));
  ASSERT_TRUE(labels.ok());
  labels->view<uint8_t>().for_each([](uint8_t& v) { v = 2; });
  const Box5 box(Shape5(0, 0, 10, 5, 0), Shape5(1, 1, 13, 9, 1));
  ASSERT_TRUE(project.pixel.lanes[0].labels->write(box, *labels).ok());

  const std::string path = dir.file("project.grove");
  Status saved = save_project(project, path);
  ASSERT_TRUE(saved.ok()) << saved.error().to_string();
  Result<Project> loaded = load_project(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  ASSERT_EQ(loaded->pixel.lanes.size(), 1u);
  const PixelLane& lane = loaded->pixel.lanes[0];
  EXPECT_EQ(lane.path, "");  // not the project's folder, which an empty path would resolve to
  EXPECT_EQ(lane.nickname, "image0");
  EXPECT_EQ(lane.shape, shape);
  EXPECT_EQ(lane.axes, "yx");
  const std::vector<int64_t> counts = lane.labels->counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[2], 12);
}

TEST(ProjectTest, ImagePathsUnderTheProjectFolderAreStoredRelative) {
  io::testing::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Project project;
  PixelLane lane = in_memory_lane(Shape5(1, 1, 8, 8, 1));
  lane.path = dir.file("raw.h5") + "/data";
  project.pixel.lanes.push_back(lane);
  fs::create_directories(dir.file("moved"));
  ASSERT_TRUE(save_project(project, dir.file("project.grove")).ok());
  // Moving the folder keeps the image: the path is stored relative to the project.
  fs::rename(dir.file("project.grove"), dir.file("moved/project.grove"));
  Result<Project> loaded = load_project(dir.file("moved/project.grove"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->pixel.lanes[0].path, dir.file("moved/raw.h5") + "/data");
}

}  // namespace
}  // namespace grove
