// The engine's guard against absurd image sizes (a damaged or hostile header): a request that
// would take more blocks than any run gets through fails with kResourceExhausted before the list
// of blocks is made, instead of exhausting memory (or running for years).
#include <gtest/gtest.h>

#include <mutex>

#include "grove/engine/engine.h"

namespace grove {
namespace {

// An image of any shape whose pixels are all zero (reads nothing from anywhere).
class ZeroReader final : public ImageReader {
 public:
  explicit ZeroReader(Shape5 shape) { info_.shape = shape; }
  const ImageInfo& info() const override { return info_; }
  Result<AnyArray> read(const Box5& box) override {
    return AnyArray::allocate(info_.dtype, box.shape());
  }

 private:
  ImageInfo info_;
};

TEST(EngineLimits, AbsurdImagesAreRefusedBeforeTheBlockListIsMade) {
  Engine engine(EngineOptions{.threads = 1, .memory_bytes = int64_t{256} << 20});
  const Shape5 shape(1, 1, 1'000'000'000, 1'000'000'000, 1);
  NodePtr node = input_node(std::make_shared<ZeroReader>(shape), "zeros");
  int blocks_run = 0;
  Status status =
      engine.for_each_block(node, Box5::of(shape), {}, [&](const Box5&, const AnyArray&) -> Status {
        ++blocks_run;
        return ok_status();
      });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(status.error().to_string().find("blocks"), std::string::npos)
      << status.error().to_string();
  EXPECT_EQ(blocks_run, 0);
}

TEST(EngineLimits, LargeButReasonableImagesStillRun) {
  Engine engine(EngineOptions{.threads = 1, .memory_bytes = int64_t{256} << 20});
  const Shape5 shape(1, 1, 1000, 1000, 1);
  NodePtr node = input_node(std::make_shared<ZeroReader>(shape), "zeros");
  int64_t pixels = 0;
  Status status = engine.for_each_block(node, Box5::of(shape), {},
                                        [&](const Box5& block, const AnyArray&) -> Status {
                                          static std::mutex mutex;
                                          std::lock_guard lock(mutex);
                                          pixels += block.size();
                                          return ok_status();
                                        });
  ASSERT_TRUE(status.ok()) << status.error().to_string();
  EXPECT_EQ(pixels, shape.size());
}

}  // namespace
}  // namespace grove
