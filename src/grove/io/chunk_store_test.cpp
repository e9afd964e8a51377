// Tests of the directory key-value store: values round-trip, oversized values are refused,
// writes leave no temporaries, concurrent writers of different keys do not interfere.
#include "grove/io/chunk_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "grove/io/chunked_test_support.h"

namespace grove {
namespace {

using testing::TemporaryDirectory;

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

size_t count_files(const std::filesystem::path& root) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
    n += entry.is_regular_file();
  return n;
}

TEST(DirectoryStore, WritesReadsAndRemoves) {
  TemporaryDirectory directory("store");
  DirectoryStore store(directory.path());
  EXPECT_FALSE(store.exists("c/0/1"));
  auto missing = store.read("c/0/1", 100);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(store.write("c/0/1", bytes_of("hello")).ok());
  EXPECT_TRUE(store.exists("c/0/1"));
  auto value = store.read("c/0/1", 100);
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_EQ(**value, bytes_of("hello"));
  ASSERT_TRUE(store.write("c/0/1", bytes_of("bye")).ok());
  EXPECT_EQ(**store.read("c/0/1", 100), bytes_of("bye"));
  EXPECT_EQ(count_files(directory.path()), 1u);  // no temporaries left
  ASSERT_TRUE(store.remove("c/0/1").ok());
  EXPECT_FALSE(store.exists("c/0/1"));
  EXPECT_TRUE(store.remove("c/0/1").ok());
}

TEST(DirectoryStore, RefusesValuesOverTheLimit) {
  TemporaryDirectory directory("store_limit");
  DirectoryStore store(directory.path());
  ASSERT_TRUE(store.write("big", std::vector<uint8_t>(1000, 7)).ok());
  auto value = store.read("big", 999);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().code(), ErrorCode::kCorrupt);
}

TEST(DirectoryStore, PartialReadsStayInsideTheFile) {
  TemporaryDirectory directory("store_partial");
  DirectoryStore store(directory.path());
  ASSERT_TRUE(store.write("shard", bytes_of("0123456789")).ok());
  auto file = store.open("shard");
  ASSERT_TRUE(file.ok() && file->has_value());
  EXPECT_EQ((*file)->size(), 10);
  EXPECT_EQ(*(*file)->read(3, 4), bytes_of("3456"));
  EXPECT_FALSE((*file)->read(8, 4).ok());
  EXPECT_FALSE((*file)->read(-1, 2).ok());
}

TEST(DirectoryStore, ConcurrentWritersOfDifferentKeys) {
  TemporaryDirectory directory("store_threads");
  DirectoryStore store(directory.path());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string key = "a/" + std::to_string(t) + "/" + std::to_string(i);
        if (!store.write(key, std::vector<uint8_t>(100 + i, static_cast<uint8_t>(t))).ok())
          ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count_files(directory.path()), 400u);
  for (int t = 0; t < 8; ++t) {
    auto value = store.read("a/" + std::to_string(t) + "/49", 1000);
    ASSERT_TRUE(value.ok() && value->has_value());
    EXPECT_EQ(**value, std::vector<uint8_t>(149, static_cast<uint8_t>(t)));
  }
}

TEST(DirectoryStore, UnwritableDirectoryIsAnError) {
  TemporaryDirectory directory("store_unwritable");
  // A file where a directory should be.
  ASSERT_TRUE(write_file_atomically(directory.path() / "blocker", std::string("x")).ok());
  DirectoryStore store(directory.path() / "blocker");
  Status status = store.write("0.0", bytes_of("data"));
  EXPECT_FALSE(status.ok());
}

TEST(DirectoryStore, StaleTemporariesAreRecognisedAndRemoved) {
  TemporaryDirectory directory("store_stale");
  ASSERT_TRUE(
      write_file_atomically(directory.path() / ".0.0.grove-tmp-123-4", std::string("partial"))
          .ok());
  ASSERT_TRUE(write_file_atomically(directory.path() / "0.1", std::string("chunk")).ok());
  EXPECT_TRUE(is_temporary_name(".0.0.grove-tmp-123-4"));
  EXPECT_FALSE(is_temporary_name("0.1"));
  auto removed = remove_stale_temporaries(directory.path());
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(count_files(directory.path()), 1u);
}

}  // namespace
}  // namespace grove
