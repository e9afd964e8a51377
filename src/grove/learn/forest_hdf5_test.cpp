#include "grove/learn/forest_hdf5.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "grove/learn/forest_test_util.h"
#include "grove/learn/forest_training.h"

namespace grove {
namespace {

namespace fs = std::filesystem;
using forest_test::make_blobs;

class ForestHdf5 : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() /
             ("grove_forest_hdf5_" + std::to_string(getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".h5"))
                .string();
  }
  void TearDown() override { fs::remove(path_); }
  std::string path_;
};

TEST_F(ForestHdf5, SaveLoadPredictsBitForBit) {
  auto blobs = make_blobs(3000, 10, 3, 5, 1.5, 3);
  ForestOptions options;
  options.tree_count = 40;  // enough nodes for the compressed, chunked datasets
  options.out_of_bag_error = true;
  ThreadPool pool(2);
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options, &pool);
  ASSERT_TRUE(forest.ok());
  {
    auto file = hdf5::File::create(path_, true);
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto group = file->create_group("classifier/forest");
    ASSERT_TRUE(group.ok());
    ASSERT_TRUE(save_forest(*group, *forest, nlohmann::json(options)).ok());
    // Saving again over the same group replaces it.
    auto saved = save_forest(*group, *forest, nlohmann::json(options));
    ASSERT_TRUE(saved.ok()) << saved.error().to_string();
  }
  auto file = hdf5::File::open(path_);
  ASSERT_TRUE(file.ok());
  auto group = file->open_group("classifier/forest");
  ASSERT_TRUE(group.ok());
  auto loaded = load_forest(*group);
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  EXPECT_EQ(loaded->parts().nodes, forest->parts().nodes);
  EXPECT_EQ(loaded->training().out_of_bag_error, forest->training().out_of_bag_error);
  auto extra = load_forest_extra(*group);
  ASSERT_TRUE(extra.ok());
  EXPECT_EQ((*extra)["tree_count"], 40);
  auto test = make_blobs(1000, 10, 3, 5, 1.5, 4);
  std::vector<float> a(3000), b(3000);
  ASSERT_TRUE(forest->predict(test.matrix(), MatrixView<float>(a.data(), 1000, 3)).ok());
  ASSERT_TRUE(loaded->predict(test.matrix(), MatrixView<float>(b.data(), 1000, 3)).ok());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST_F(ForestHdf5, DamagedFilesGiveErrors) {
  auto blobs = make_blobs(500, 4, 2, 2, 1.0, 3);
  ForestOptions options;
  options.tree_count = 4;
  auto forest = train_classification_forest(blobs.matrix(), blobs.labels, {}, options);
  ASSERT_TRUE(forest.ok());
  auto file = hdf5::File::create(path_, true);
  ASSERT_TRUE(file.ok());
  auto load_after = [&](const std::function<void(hdf5::Group&)>& damage) {
    if (file->exists("forest")) {
      EXPECT_TRUE(file->remove("forest").ok());
    }
    auto group = file->create_group("forest");
    EXPECT_TRUE(save_forest(*group, *forest).ok());
    damage(*group);
    return load_forest(*group);
  };
  EXPECT_TRUE(load_after([](hdf5::Group&) {}).ok());
  auto missing = load_after([](hdf5::Group& g) { ASSERT_TRUE(g.remove("node_left").ok()); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(missing.error().to_string().find("node_left"), std::string::npos);
  auto bad_json = load_after([](hdf5::Group& g) {
    ASSERT_TRUE(g.remove("metadata").ok());
    ASSERT_TRUE(g.write_string("metadata", "{\"format\": \"grove.random_forest\"").ok());
  });
  ASSERT_FALSE(bad_json.ok());
  EXPECT_EQ(bad_json.error().code(), ErrorCode::kCorrupt);
  auto bad_child = load_after([](hdf5::Group& g) {
    ASSERT_TRUE(g.remove("node_right").ok());
    ASSERT_TRUE(g.write_dataset("node_right", std::vector<int32_t>(3, 1 << 20)).ok());
  });
  ASSERT_FALSE(bad_child.ok());
  EXPECT_EQ(bad_child.error().code(), ErrorCode::kCorrupt);
  auto wrong_type = load_after([](hdf5::Group& g) {
    ASSERT_TRUE(g.remove("leaf_values").ok());
    ASSERT_TRUE(g.write_string("leaf_values", "not numbers").ok());
  });
  ASSERT_FALSE(wrong_type.ok());
  auto nothing = file->require_group("nothing");
  ASSERT_TRUE(nothing.ok());
  auto none = load_forest(*nothing);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace grove
