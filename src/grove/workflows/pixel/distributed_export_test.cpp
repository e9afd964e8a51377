// Tests of distributed_export without MPI: the batch sizes of the queue, a run in one process
// equal to export_image, and --resume after a run that failed partway (its journal lists what
// it finished; only the rest is computed again). The MPI runs are tested in
// tests/cli/test_distributed.py.
#include "grove/workflows/pixel/distributed_export.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "grove/io/zarr.h"

namespace grove {
namespace {

namespace fs = std::filesystem;

TEST(BatchDealer, DealsEveryItemOnceInShrinkingBatches) {
  BatchDealer dealer(1000, 4);
  std::set<int64_t> seen;
  int64_t previous = 1000;
  int batches = 0;
  while (auto range = dealer.take(3)) {
    const int64_t size = range->second - range->first;
    EXPECT_GE(size, std::min<int64_t>(3, dealer.remaining() + size));
    EXPECT_LE(size, previous);
    previous = size;
    for (int64_t i = range->first; i < range->second; ++i) EXPECT_TRUE(seen.insert(i).second);
    ++batches;
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 999);
  // Guided: far fewer batches than items, more than ranks.
  EXPECT_GT(batches, 8);
  EXPECT_LT(batches, 200);
  EXPECT_FALSE(dealer.take(1).has_value());
}

TEST(BatchDealer, StopEndsTheDeal) {
  BatchDealer dealer(10, 2);
  ASSERT_TRUE(dealer.take(1).has_value());
  dealer.stop();
  EXPECT_FALSE(dealer.take(1).has_value());
}

// A group of one whose queue fails after handing out a number of blocks (a killed run).
class FailingGroup : public LocalProcessGroup {
 public:
  explicit FailingGroup(int64_t blocks_before_failure) : left_(blocks_before_failure) {}
  Result<std::unique_ptr<WorkQueue>> deal(int64_t total, int64_t, Progress*) override {
    class Queue : public WorkQueue {
     public:
      Queue(int64_t total, int64_t left) : total_(total), left_(left) {}
      Result<std::optional<std::pair<int64_t, int64_t>>> next(int64_t) override {
        if (left_-- <= 0) return Error(ErrorCode::kCancelled, "killed");
        if (next_ >= total_) return std::optional<std::pair<int64_t, int64_t>>();
        ++next_;
        return std::optional<std::pair<int64_t, int64_t>>(std::make_pair(next_ - 1, next_));
      }
      Status finish(bool) override { return ok_status(); }

     private:
      int64_t total_, left_, next_ = 0;
    };
    return std::unique_ptr<WorkQueue>(new Queue(total, left_));
  }

 private:
  int64_t left_;
};

class DistributedExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 ("grove_distributed_test_" +
                  std::to_string(::testing::UnitTest::GetInstance()->current_test_info()->line()));
    fs::remove_all(directory_);
    fs::create_directories(directory_);
    // A 3-d image with structure at every scale.
    auto image = *AnyArray::allocate(DType::u8, Shape5(1, 24, 40, 40, 1));
    auto view = image.view<uint8_t>();
    for (int64_t z = 0; z < 24; ++z)
      for (int64_t y = 0; y < 40; ++y)
        for (int64_t x = 0; x < 40; ++x)
          view(0, z, y, x, 0) = static_cast<uint8_t>((x * 7 + y * y + z * 13) % 251);
    input_ = (directory_ / "input.npy").string();
    ASSERT_TRUE(write_image(input_, image).ok());
    workflow_.features =
        *filters::parse_feature_spec("GaussianSmoothing:1.0;LaplacianOfGaussian:0.7");
    request_.input = input_;
    request_.source = ExportSource::kFeatures;
    request_.format = "zarr";
    request_.chunk_shape = Shape5(1, 8, 16, 16, 1);
    request_.block_shape = Shape5(1, 8, 16, 16, 1);
  }
  void TearDown() override { fs::remove_all(directory_); }

  AnyArray read(const std::string& output) {
    auto data = read_image(output);
    EXPECT_TRUE(data.ok()) << data.error().to_string();
    return *data;
  }

  fs::path directory_;
  std::string input_;
  PixelClassification workflow_;
  ExportRequest request_;
  Engine engine_{EngineOptions{2, 256 << 20, 0.05}};
};

bool same_bytes(const AnyArray& a, const AnyArray& b) {
  if (a.dtype() != b.dtype() || !(a.shape() == b.shape())) return false;
  auto x = a.view<float>();
  auto y = b.view<float>();
  const Shape5 s = a.shape();
  for (int64_t z = 0; z < s.z(); ++z)
    for (int64_t yy = 0; yy < s.y(); ++yy)
      for (int64_t xx = 0; xx < s.x(); ++xx)
        for (int64_t c = 0; c < s.c(); ++c)
          if (std::memcmp(&x(0, z, yy, xx, c), &y(0, z, yy, xx, c), sizeof(float)) != 0)
            return false;
  return true;
}

TEST_F(DistributedExportTest, OneProcessEqualsExportImage) {
  request_.output_pattern = (directory_ / "single").string();
  auto single = export_image(engine_, workflow_, request_);
  ASSERT_TRUE(single.ok()) << single.error().to_string();
  request_.output_pattern = (directory_ / "distributed").string();
  LocalProcessGroup group;
  auto stats =
      distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_, group, {});
  ASSERT_TRUE(stats.ok()) << stats.error().to_string();
  EXPECT_EQ(stats->items_total, 3 * 3 * 3);
  EXPECT_EQ(stats->items_computed, 27);
  EXPECT_TRUE(same_bytes(read(*single), read(stats->outputs.front())));
  EXPECT_FALSE(fs::exists(directory_ / "distributed.zarr.grove-run"));
  EXPECT_TRUE(*zarr_is_complete(split_image_path(stats->outputs.front())));
}

TEST_F(DistributedExportTest, ResumeComputesOnlyWhatAFailedRunLeft) {
  for (const std::string format : {"zarr", "hdf5"}) {
    SCOPED_TRACE(format);
    request_.format = format;
    request_.output_pattern = (directory_ / ("single_" + format)).string();
    auto single = export_image(engine_, workflow_, request_);
    ASSERT_TRUE(single.ok()) << single.error().to_string();

    request_.output_pattern = (directory_ / ("resumed_" + format)).string();
    FailingGroup failing(10);
    auto failed = distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_,
                                     failing, {});
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code(), ErrorCode::kCancelled);

    // Without --resume the leftovers are refused, with it only 27 - 10 blocks are computed.
    LocalProcessGroup group;
    auto refused = distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_,
                                      group, {});
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message().find("--resume"), std::string::npos);
    DistributedOptions resume;
    resume.resume = true;
    auto resumed = distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_,
                                      group, resume);
    ASSERT_TRUE(resumed.ok()) << resumed.error().to_string();
    EXPECT_EQ(resumed->items_skipped, 10);
    EXPECT_EQ(resumed->items_computed, 17);
    EXPECT_TRUE(same_bytes(read(*single), read(resumed->outputs.front())));

    // Resuming a finished output computes nothing.
    auto again = distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_,
                                    group, resume);
    ASSERT_TRUE(again.ok()) << again.error().to_string();
    EXPECT_EQ(again->items_computed, 0);
  }
}

TEST_F(DistributedExportTest, ResumeRefusesAnOutputOfADifferentRequest) {
  request_.output_pattern = (directory_ / "changed").string();
  FailingGroup failing(2);
  ASSERT_FALSE(
      distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_, failing, {})
          .ok());
  request_.chunk_shape = Shape5(1, 8, 8, 8, 1);
  request_.block_shape = Shape5(1, 8, 8, 8, 1);
  LocalProcessGroup group;
  DistributedOptions resume;
  resume.resume = true;
  auto refused = distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_,
                                    group, resume);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("computed something else"), std::string::npos);
}

TEST_F(DistributedExportTest, SingleImageFormatsAreRefused) {
  request_.format = "tiff";
  request_.output_pattern = (directory_ / "flat").string();
  LocalProcessGroup group;
  auto refused =
      distributed_export(engine_, pixel_export_functions(engine_, workflow_), request_, group, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("zarr, n5 or hdf5"), std::string::npos);
}

}  // namespace
}  // namespace grove
