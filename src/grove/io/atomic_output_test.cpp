// Outputs that appear whole or not at all: create_image_atomically for the chunked stores (Zarr,
// N5), whose plain writers put chunks in place as they go; and the refusal of outputs that cannot
// fit on their disk.
#include <gtest/gtest.h>

#include <filesystem>

#include "grove/io/image.h"
#include "grove/io/io_test_support.h"

namespace grove {
namespace {

using io::testing::TempDir;
namespace fs = std::filesystem;

AnyArray filled(uint8_t value) {
  AnyArray array = AnyArray::allocate(DType::u8, Shape5(1, 1, 6, 5, 1)).value();
  std::memset(array.raw_data(), value, array.bytes());
  return array;
}

uint8_t first_value(const std::string& path) {
  auto data = read_image(path);
  EXPECT_TRUE(data.ok()) << data.error().to_string();
  return data.ok() ? static_cast<const uint8_t*>(data->raw_data())[0] : 0;
}

class AtomicChunkedOutput : public ::testing::TestWithParam<std::string> {};

TEST_P(AtomicChunkedOutput, NothingIsVisibleBeforeCommit) {
  TempDir dir;
  const std::string store = dir.file("out." + GetParam());
  {
    auto writer = create_image_atomically(store, Shape5(1, 1, 6, 5, 1), DType::u8);
    ASSERT_TRUE(writer.ok()) << writer.error().to_string();
    ASSERT_TRUE((*writer)->write(Box5::of(Shape5(1, 1, 6, 5, 1)), filled(3)).ok());
    EXPECT_FALSE(fs::exists(store));
    ASSERT_TRUE((*writer)->commit().ok());
  }
  EXPECT_EQ(first_value(store), 3);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out." + GetParam()});
}

TEST_P(AtomicChunkedOutput, AnUncommittedWriterLeavesNothing) {
  TempDir dir;
  {
    auto writer =
        create_image_atomically(dir.file("out." + GetParam()), Shape5(1, 1, 6, 5, 1), DType::u8);
    ASSERT_TRUE(writer.ok()) << writer.error().to_string();
    ASSERT_TRUE((*writer)->write(Box5::of(Shape5(1, 1, 6, 5, 1)), filled(3)).ok());
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST_P(AtomicChunkedOutput, OverwritingKeepsTheOldOutputUntilCommit) {
  TempDir dir;
  const std::string store = dir.file("out." + GetParam());
  ASSERT_TRUE(write_image(store, filled(1)).ok());
  auto refused = create_image_atomically(store, Shape5(1, 1, 6, 5, 1), DType::u8);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kAlreadyExists);
  WriteOptions options;
  options.overwrite = true;
  auto writer = create_image_atomically(store, Shape5(1, 1, 6, 5, 1), DType::u8, options);
  ASSERT_TRUE(writer.ok()) << writer.error().to_string();
  ASSERT_TRUE((*writer)->write(Box5::of(Shape5(1, 1, 6, 5, 1)), filled(2)).ok());
  EXPECT_EQ(first_value(store), 1);
  ASSERT_TRUE((*writer)->commit().ok());
  EXPECT_EQ(first_value(store), 2);
  writer->reset();
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out." + GetParam()});
}

TEST_P(AtomicChunkedOutput, ANewNodeInAnExistingStoreAppearsOnCommit) {
  TempDir dir;
  const std::string store = dir.file("out." + GetParam());
  ASSERT_TRUE(write_image(store + "/first", filled(1)).ok());
  auto writer = create_image_atomically(store + "/second", Shape5(1, 1, 6, 5, 1), DType::u8);
  ASSERT_TRUE(writer.ok()) << writer.error().to_string();
  ASSERT_TRUE((*writer)->write(Box5::of(Shape5(1, 1, 6, 5, 1)), filled(2)).ok());
  EXPECT_FALSE(fs::exists(store + "/second"));
  ASSERT_TRUE((*writer)->commit().ok());
  writer->reset();
  EXPECT_EQ(first_value(store + "/first"), 1);
  EXPECT_EQ(first_value(store + "/second"), 2);
  auto datasets = list_datasets(store);
  ASSERT_TRUE(datasets.ok());
  EXPECT_EQ(datasets->size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Stores, AtomicChunkedOutput, ::testing::Values("zarr", "n5"));

TEST(OutputSpace, AnOutputLargerThanTheDiskIsRefusedAtOnce) {
  TempDir dir;
  for (const char* name : {"huge.npy", "huge.tif", "huge.zarr", "huge.h5"}) {
    auto writer =
        create_image(dir.file(name), Shape5(1, 1, 1'000'000'000, 1'000'000'000, 4), DType::f32);
    ASSERT_FALSE(writer.ok()) << name;
    EXPECT_EQ(writer.error().code(), ErrorCode::kResourceExhausted) << writer.error().to_string();
    EXPECT_NE(writer.error().to_string().find("free"), std::string::npos)
        << writer.error().to_string();
  }
  EXPECT_TRUE(dir.entries().empty());
}

}  // namespace
}  // namespace grove
