// Parity with VIGRA: the forests stored in ilastik's test projects, read and converted by grove,
// predict what python3-vigra predicts (the reference comes from vigra_forest_reference.py, run
// here), to 1e-6, including features sitting exactly on thresholds.
#include "grove/learn/vigra_forest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "grove/learn/forest_hdf5.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

const std::string kData = GROVE_SOURCE_DIR "/../shared/data/ilastik_testdata";

template <class T>
std::vector<T> read_raw(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<T> values(static_cast<size_t>(in.tellg()) / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(T)));
  return values;
}

struct Case {
  const char* zip;
  const char* project;
  const char* group;
};

const Case kCases[] = {
    {"api_projects.zip", "PixelClass.ilp", "PixelClassification/ClassifierForests"},
    {"api_projects.zip", "PixelClass3D.ilp", "PixelClassification/ClassifierForests"},
    {"api_projects.zip", "PixelClass3Channel.ilp", "PixelClassification/ClassifierForests"},
    {"api_projects.zip", "PixelClass3D_2D_3D_feature_mix.ilp",
     "PixelClassification/ClassifierForests"},
    {"api_projects.zip", "2464_PixelClassification_xy_input.ilp",
     "PixelClassification/ClassifierForests"},
    {"api_projects.zip", "Autocontext_2D.ilp", "PixelClassification/ClassifierForests"},
    {"api_projects.zip", "Autocontext_2D.ilp", "PixelClassification01/ClassifierForests"},
    {"api_projects.zip", "Autocontext_3D.ilp", "PixelClassification/ClassifierForests"},
    {"api_projects.zip", "Autocontext_3D.ilp", "PixelClassification01/ClassifierForests"},
    {"test_projects.zip", "PixelClassification2d.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification2d3c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification2d_units.ilp",
     "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification3d.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification3d1c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification3d2c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification5t2d1c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification5t2d2c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "PixelClassification5t3d2c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "Autocontext2d3c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "Autocontext2d3c.ilp", "PixelClassification01/ClassifierForests"},
    {"test_projects.zip", "Autocontext5t2d1c.ilp", "PixelClassification/ClassifierForests"},
    {"test_projects.zip", "Autocontext5t2d1c.ilp", "PixelClassification01/ClassifierForests"},
    {"test_projects.zip", "ObjectClassification2d3c_wPred.ilp",
     "ObjectClassification/ClassifierForests"},
    {"test_projects.zip", "TrackingwLearning5t2d1c_wBin.ilp",
     "CountClassification/ClassifierForests"},
    {"test_projects.zip", "TrackingwLearning5t2d1c_wBin.ilp",
     "DivisionDetection/ClassifierForests"},
    {"test_projects.zip", "Boundary-basedSegmentationwMulticut3d.ilp",
     "Training and Multicut/Output"},
};

// Runs the reference script once for all cases; returns its output folder ("" with a reason if
// the shared data or the oracle is missing).
std::string reference_folder(std::string& skip_reason) {
  static std::string folder;
  static std::string reason;
  static bool done = false;
  if (!done) {
    done = true;
    if (!fs::exists(kData + "/api_projects.zip")) {
      reason = "shared test data not found at " + kData;
    } else {
      folder = (fs::temp_directory_path() / ("grove_vigra_forest_test_" + std::to_string(getpid())))
                   .string();
      fs::create_directories(folder);
      std::string command = "/usr/bin/python3 " GROVE_SOURCE_DIR
                            "/src/grove/learn/vigra_forest_reference.py '" +
                            folder + "'";
      for (const Case& c : kCases)
        command += " '" + kData + "/" + c.zip + ":" + c.project + ":" + c.group + "'";
      if (std::system(command.c_str()) != 0) {
        // The oracle is a test dependency (python3-vigra, scripts/install-deps): a missing one is
        // a failure, not a skip.
        reason = "";
        folder = "FAILED: " + command;
      }
    }
  }
  skip_reason = reason;
  return folder;
}

TEST(VigraForest, PredictsAsVigraOnIlastikProjects) {
  std::string skip;
  const std::string folder = reference_folder(skip);
  if (!skip.empty()) GTEST_SKIP() << skip;
  ASSERT_EQ(folder.rfind("FAILED", 0), std::string::npos) << folder;
  for (size_t i = 0; i < std::size(kCases); ++i) {
    const Case& c = kCases[i];
    SCOPED_TRACE(std::string(c.project) + " " + c.group);
    const fs::path dir = fs::path(folder) / std::to_string(i);
    std::ifstream meta_file(dir / "meta.json");
    const auto meta = nlohmann::json::parse(meta_file);
    auto file = hdf5::File::open((dir / "project.ilp").string());
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto group = file->open_group(c.group);
    ASSERT_TRUE(group.ok()) << group.error().to_string();
    auto forest = read_ilastik_forests(*group);
    ASSERT_TRUE(forest.ok()) << forest.error().to_string();
    const int64_t rows = meta["rows"], columns = meta["columns"], classes = meta["classes"];
    EXPECT_EQ(forest->feature_count(), columns);
    EXPECT_EQ(forest->output_count(), classes);
    EXPECT_EQ(forest->tree_count(), meta["trees"].get<int64_t>());
    EXPECT_EQ(forest->class_labels(), meta["labels"].get<std::vector<int32_t>>());
    const auto features = read_raw<float>(dir / "features.f32");
    const auto reference = read_raw<float>(dir / "reference.f32");
    ASSERT_EQ(static_cast<int64_t>(features.size()), rows * columns);
    ASSERT_EQ(static_cast<int64_t>(reference.size()), rows * classes);
    std::vector<float> predicted(rows * classes), naive(rows * classes);
    ThreadPool pool(2);
    ASSERT_TRUE(forest
                    ->predict(FeatureMatrix(features.data(), rows, columns),
                              MatrixView<float>(predicted.data(), rows, classes), &pool)
                    .ok());
    ASSERT_TRUE(forest
                    ->predict_naive(FeatureMatrix(features.data(), rows, columns),
                                    MatrixView<float>(naive.data(), rows, classes))
                    .ok());
    double worst = 0;
    for (size_t k = 0; k < predicted.size(); ++k)
      worst = std::max(worst, static_cast<double>(std::abs(predicted[k] - reference[k])));
    EXPECT_LE(worst, 1e-6);
    EXPECT_EQ(predicted, naive);
    // The NaN row (the last) is all zeros, as in VIGRA.
    for (int64_t k = 0; k < classes; ++k) EXPECT_EQ(predicted[(rows - 1) * classes + k], 0.0f);
    // A matrix of the wrong width is refused.
    EXPECT_FALSE(forest
                     ->predict(FeatureMatrix(features.data(), rows / 2, columns + 1),
                               MatrixView<float>(predicted.data(), rows / 2, classes))
                     .ok());
  }
}

TEST(VigraForest, ProjectsWithoutForestsAndCorruptForestsGiveErrors) {
  std::string skip;
  const std::string folder = reference_folder(skip);
  if (!skip.empty()) GTEST_SKIP() << skip;
  ASSERT_EQ(folder.rfind("FAILED", 0), std::string::npos) << folder;
  // Copy one VIGRA forest into a scratch file, then damage it in several ways.
  const fs::path source = fs::path(folder) / "0" / "project.ilp";
  const fs::path scratch = fs::path(folder) / "damaged.h5";
  auto damage = [&](const std::function<void(hdf5::Group&)>& change) -> Result<RandomForest> {
    fs::copy_file(source, scratch, fs::copy_options::overwrite_existing);
    {
      auto file = hdf5::File::open(scratch.string(), hdf5::Access::kReadWrite);
      EXPECT_TRUE(file.ok());
      auto forest = file->open_group("PixelClassification/ClassifierForests/Forest0000");
      EXPECT_TRUE(forest.ok());
      change(*forest);
    }
    auto file = hdf5::File::open(scratch.string());
    EXPECT_TRUE(file.ok());
    auto group = file->open_group("PixelClassification/ClassifierForests");
    EXPECT_TRUE(group.ok());
    return read_ilastik_forests(*group);
  };
  auto unchanged = damage([](hdf5::Group&) {});
  ASSERT_TRUE(unchanged.ok()) << unchanged.error().to_string();

  auto replace = [](hdf5::Group& g, const std::string& name, auto values) {
    ASSERT_TRUE(g.remove(name).ok());
    ASSERT_TRUE(g.write_dataset(name, values).ok());
  };
  auto bad_child = damage([&](hdf5::Group& g) {
    auto topology = g.open_dataset("Tree_00/topology")->read_vector<int32_t>().value();
    topology[4] = 100000;
    replace(g, "Tree_00/topology", topology);
  });
  ASSERT_FALSE(bad_child.ok());
  EXPECT_EQ(bad_child.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(bad_child.error().to_string().find("Forest0000"), std::string::npos)
      << bad_child.error().to_string();

  auto short_parameters =
      damage([&](hdf5::Group& g) { replace(g, "Tree_01/parameters", std::vector<double>{1.0}); });
  ASSERT_FALSE(short_parameters.ok());
  EXPECT_EQ(short_parameters.error().code(), ErrorCode::kCorrupt);

  auto missing_topology =
      damage([&](hdf5::Group& g) { ASSERT_TRUE(g.remove("Tree_02/topology").ok()); });
  ASSERT_FALSE(missing_topology.ok());

  auto wrong_count = damage(
      [&](hdf5::Group& g) { replace(g, "_ext_param/column_count_", std::vector<double>{7.0}); });
  ASSERT_FALSE(wrong_count.ok());
  EXPECT_EQ(wrong_count.error().code(), ErrorCode::kCorrupt);

  // No forests at all: PixelClassNoClassifier.ilp has the group layout but no ForestNNNN.
  auto empty = hdf5::File::create((fs::path(folder) / "empty.h5").string(), true);
  ASSERT_TRUE(empty.ok());
  auto group = empty->require_group("PixelClassification/ClassifierForests");
  ASSERT_TRUE(group.ok());
  auto none = read_ilastik_forests(*group);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace grove
