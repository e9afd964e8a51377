// Conformance tests run against every chunked store (Zarr v2, Zarr v3, N5): round trips of all
// dtypes, codecs and chunkings with edge chunks in 2-d to 5-d, block-wise and unaligned writes
// from several threads, reads that touch only the chunks they need, missing chunks, resume
// queries, and atomic chunk writes under SIGKILL.
#include "grove/io/chunked_array.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <random>
#include <thread>

#include "grove/core/blocking.h"
#include "grove/io/chunk_store.h"
#include "grove/io/chunked_test_support.h"
#include "grove/io/codec.h"
#include "grove/io/n5.h"
#include "grove/io/zarr.h"

namespace grove {
namespace {

using testing::pattern_array;
using testing::same_bytes;
using testing::TemporaryDirectory;

struct StoreKind {
  std::string name;
  int zarr_version;  // 0 for N5
  std::string extension;
};

const StoreKind kStores[] = {{"zarr2", 2, ".zarr"}, {"zarr3", 3, ".zarr"}, {"n5", 0, ".n5"}};

Result<std::unique_ptr<ImageWriter>> create_store(const StoreKind& kind, const ImagePath& path,
                                                  const Shape5& shape, DType dtype,
                                                  WriteOptions options) {
  if (kind.zarr_version == 0) return create_n5(path, shape, dtype, options);
  options.zarr_version = kind.zarr_version;
  return create_zarr(path, shape, dtype, options);
}

Result<std::unique_ptr<ImageReader>> open_store(const StoreKind& kind, const ImagePath& path) {
  return kind.zarr_version == 0 ? open_n5(path) : open_zarr(path);
}

Result<std::unique_ptr<ImageWriter>> open_store_writer(const StoreKind& kind,
                                                       const ImagePath& path) {
  return kind.zarr_version == 0 ? open_n5_writer(path) : open_zarr_writer(path);
}

// Writes image whole, reads it back whole and in a few sub-boxes.
void check_round_trip(const StoreKind& kind, const AnyArray& image, WriteOptions options,
                      const std::string& label) {
  SCOPED_TRACE(kind.name + " " + label);
  TemporaryDirectory directory("round_trip");
  const ImagePath path{directory / ("image" + kind.extension), ""};
  auto writer = create_store(kind, path, image.shape(), image.dtype(), options);
  ASSERT_TRUE(writer.ok()) << writer.error().to_string();
  Status written = (*writer)->write(Box5::of(image.shape()), image);
  ASSERT_TRUE(written.ok()) << written.error().to_string();
  ASSERT_TRUE((*writer)->commit().ok());
  auto reader = open_store(kind, path);
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  const ImageInfo& info = (*reader)->info();
  // N5 has no bool: it comes back as uint8 0/1.
  const DType expected_dtype =
      kind.zarr_version == 0 && image.dtype() == DType::boolean ? DType::u8 : image.dtype();
  EXPECT_EQ(info.dtype, expected_dtype);
  EXPECT_EQ(info.shape, image.shape());
  auto all = (*reader)->read_all();
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  const AnyArray expected =
      image.dtype() == expected_dtype ? image : image.convert(expected_dtype).value();
  EXPECT_TRUE(same_bytes(*all, expected));
  std::mt19937 random(7);
  for (int i = 0; i < 5; ++i) {
    Box5 box;
    for (int a = 0; a < kRank; ++a) {
      const int64_t extent = image.shape()[a];
      box.begin[a] = static_cast<int64_t>(random() % extent);
      box.end[a] = box.begin[a] + 1 + static_cast<int64_t>(random() % (extent - box.begin[a]));
    }
    auto part = (*reader)->read(box);
    ASSERT_TRUE(part.ok()) << part.error().to_string();
    EXPECT_TRUE(same_bytes(*part, expected.crop(box))) << box.to_string();
  }
}

TEST(ChunkedStores, AllDTypesRoundTrip) {
  WriteOptions options;
  options.chunk_shape = {1, 3, 4, 5, 2};
  for (const StoreKind& kind : kStores) {
    for (DType dtype : kAllDTypes) {
      check_round_trip(kind, pattern_array(dtype, {1, 5, 9, 11, 3}, 1), options,
                       std::string(dtype_name(dtype)));
    }
  }
}

TEST(ChunkedStores, AllCodecsRoundTrip) {
  std::vector<std::string> names = {"none", "gzip", "zlib", "zstd", "bzip2", "xz", "blosc"};
  for (const std::string& inner : blosc_inner_codecs()) names.push_back("blosc-" + inner);
  for (const StoreKind& kind : kStores) {
    for (const std::string& name : names) {
      if (kind.zarr_version == 3 && (name == "zlib" || name == "bzip2" || name == "xz")) continue;
      for (DType dtype : {DType::u16, DType::f64}) {
        WriteOptions options;
        options.compression = name;
        options.chunk_shape = {1, 1, 16, 16, 1};
        check_round_trip(kind, pattern_array(dtype, {1, 1, 37, 53, 2}, 2), options, name);
      }
    }
  }
}

TEST(ChunkedStores, ShapesFrom2dTo5dWithEdgeChunks) {
  struct Case {
    Shape5 shape, chunk;
    std::string axes;
  };
  const Case cases[] = {
      {{1, 1, 37, 53, 1}, {1, 1, 16, 16, 1}, ""},     // 2-d, stored y,x,c
      {{1, 1, 37, 53, 1}, {1, 1, 16, 16, 1}, "yx"},   // 2-d, no channel axis stored
      {{1, 9, 20, 22, 1}, {1, 4, 8, 8, 1}, "zyx"},    // 3-d
      {{1, 1, 20, 22, 3}, {1, 1, 7, 9, 2}, "yxc"},    // 2-d with channels cut across chunks
      {{4, 1, 10, 12, 1}, {3, 1, 4, 5, 1}, "tyx"},    // time series
      {{1, 5, 10, 11, 3}, {1, 2, 3, 4, 2}, "czyx"},   // 4-d, channels first
      {{3, 4, 10, 12, 2}, {2, 3, 4, 5, 1}, "tczyx"},  // 5-d
      {{3, 4, 10, 12, 2}, {2, 3, 4, 5, 1}, "xyzct"},  // 5-d, reversed
      {{1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}, ""},         // a single pixel
  };
  for (const StoreKind& kind : kStores) {
    for (const Case& c : cases) {
      WriteOptions options;
      options.chunk_shape = c.chunk;
      options.axes = c.axes;
      check_round_trip(kind, pattern_array(DType::f32, c.shape, 3), options,
                       c.shape.to_string() + " " + c.axes);
    }
  }
}

// Writes image block by block from several threads: aligned blocks, or unaligned ones that
// share chunks (read-modify-write under the writer's chunk locks).
void check_blockwise_writes(const StoreKind& kind, const Shape5& block_shape,
                            const std::string& label) {
  SCOPED_TRACE(kind.name + " " + label);
  TemporaryDirectory directory("blockwise");
  const ImagePath path{directory / ("image" + kind.extension), "volume"};
  const AnyArray image = pattern_array(DType::u16, {1, 13, 29, 31, 2}, 4);
  WriteOptions options;
  options.chunk_shape = {1, 4, 8, 8, 2};
  options.compression = "zstd";
  auto writer = create_store(kind, path, image.shape(), image.dtype(), options);
  ASSERT_TRUE(writer.ok()) << writer.error().to_string();
  Blocking blocking{Box5::of(image.shape()), block_shape};
  std::vector<Box5> blocks = blocking.blocks();
  std::shuffle(blocks.begin(), blocks.end(), std::mt19937(11));
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < blocks.size(); i = next++) {
        Status status = (*writer)->write(blocks[i], image.crop(blocks[i]));
        if (!status.ok()) {
          ADD_FAILURE() << status.error().to_string();
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  auto reader = open_store(kind, path);
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  auto all = (*reader)->read_all();
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  EXPECT_TRUE(same_bytes(*all, image));
}

TEST(ChunkedStores, ThreadsWritingAlignedBlocks) {
  for (const StoreKind& kind : kStores) check_blockwise_writes(kind, {1, 8, 16, 8, 2}, "aligned");
}

TEST(ChunkedStores, ThreadsWritingUnalignedBlocks) {
  for (const StoreKind& kind : kStores) check_blockwise_writes(kind, {1, 3, 5, 7, 1}, "unaligned");
}

TEST(ChunkedStores, ThreadsReadingOneReader) {
  for (const StoreKind& kind : kStores) {
    SCOPED_TRACE(kind.name);
    TemporaryDirectory directory("threads_read");
    const ImagePath path{directory / ("image" + kind.extension), ""};
    const AnyArray image = pattern_array(DType::f32, {1, 7, 30, 33, 2}, 12);
    WriteOptions options;
    options.chunk_shape = {1, 3, 8, 8, 1};
    auto writer = create_store(kind, path, image.shape(), image.dtype(), options);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(Box5::of(image.shape()), image).ok());
    auto reader = open_store(kind, path);
    ASSERT_TRUE(reader.ok());
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 random(static_cast<unsigned>(t));
        for (int i = 0; i < 40; ++i) {
          Box5 box;
          for (int a = 0; a < kRank; ++a) {
            const int64_t extent = image.shape()[a];
            box.begin[a] = static_cast<int64_t>(random() % extent);
            box.end[a] =
                box.begin[a] + 1 + static_cast<int64_t>(random() % (extent - box.begin[a]));
          }
          auto part = (*reader)->read(box);
          if (!part.ok() || !same_bytes(*part, image.crop(box))) ++mismatches;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(mismatches.load(), 0);
  }
}

TEST(ChunkedStores, WritesConvertTheDType) {
  for (const StoreKind& kind : kStores) {
    TemporaryDirectory directory("convert");
    const ImagePath path{directory / ("image" + kind.extension), ""};
    const AnyArray source = pattern_array(DType::f64, {1, 1, 10, 10, 1}, 5);
    auto writer = create_store(kind, path, source.shape(), DType::i16, {});
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(Box5::of(source.shape()), source).ok());
    auto read = (*open_store(kind, path))->read_all();
    ASSERT_TRUE(read.ok());
    EXPECT_TRUE(same_bytes(*read, source.convert(DType::i16).value())) << kind.name;
  }
}

TEST(ChunkedStores, MissingChunksReadAsFillAndResumeSeesWrittenChunks) {
  for (const StoreKind& kind : kStores) {
    SCOPED_TRACE(kind.name);
    TemporaryDirectory directory("missing");
    const ImagePath path{directory / ("image" + kind.extension), ""};
    const AnyArray image = pattern_array(DType::i32, {1, 1, 20, 20, 1}, 6);
    WriteOptions options;
    options.chunk_shape = {1, 1, 8, 8, 1};
    auto writer = create_store(kind, path, image.shape(), image.dtype(), options);
    ASSERT_TRUE(writer.ok());
    const Box5 written{{0, 0, 8, 0, 0}, {1, 1, 16, 8, 1}};
    ASSERT_TRUE((*writer)->write(written, image.crop(written)).ok());
    EXPECT_TRUE(*(*writer)->box_written(written));
    EXPECT_TRUE(*(*writer)->box_written(Box5{{0, 0, 9, 1, 0}, {1, 1, 12, 5, 1}}));
    EXPECT_FALSE(*(*writer)->box_written(Box5{{0, 0, 8, 0, 0}, {1, 1, 16, 9, 1}}));
    EXPECT_FALSE(*(*writer)->box_written(Box5::of(image.shape())));
    // Before commit, the array is already readable: unwritten chunks are the fill value 0.
    auto all = (*open_store(kind, path))->read_all();
    ASSERT_TRUE(all.ok());
    AnyArray expected = AnyArray::allocate(DType::i32, image.shape()).value();
    ASSERT_TRUE(image.crop(written).copy_into(expected.crop(written)).ok());
    EXPECT_TRUE(same_bytes(*all, expected));
    // Another writer (as another process would) completes the image; then commit.
    if (kind.zarr_version == 0) {
      EXPECT_FALSE(*n5_is_complete(path));
    } else {
      EXPECT_FALSE(*zarr_is_complete(path));
    }
    auto second = open_store_writer(kind, path);
    ASSERT_TRUE(second.ok()) << second.error().to_string();
    ASSERT_TRUE((*second)->write(Box5::of(image.shape()), image).ok());
    EXPECT_TRUE(*(*second)->box_written(Box5::of(image.shape())));
    ASSERT_TRUE((*second)->commit().ok());
    if (kind.zarr_version == 0) {
      EXPECT_TRUE(*n5_is_complete(path));
    } else {
      EXPECT_TRUE(*zarr_is_complete(path));
    }
    EXPECT_TRUE(same_bytes((*open_store(kind, path))->read_all().value(), image));
  }
}

std::vector<std::filesystem::path> chunk_files(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name == ".zarray" || name == ".zattrs" || name == ".zgroup" ||
        name == "zarr.json" || name == "attributes.json") {
      continue;
    }
    files.push_back(entry.path());
  }
  return files;
}

TEST(ChunkedStores, ReadsTouchOnlyTheChunksTheyNeed) {
  for (const StoreKind& kind : kStores) {
    SCOPED_TRACE(kind.name);
    TemporaryDirectory directory("touch");
    const ImagePath path{directory / ("image" + kind.extension), ""};
    const AnyArray image = pattern_array(DType::u8, {1, 6, 40, 40, 1}, 8);
    WriteOptions options;
    options.chunk_shape = {1, 2, 10, 10, 1};
    options.axes = "zyx";
    auto writer = create_store(kind, path, image.shape(), image.dtype(), options);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(Box5::of(image.shape()), image).ok());
    const size_t all_chunks = chunk_files(path.file).size();
    ASSERT_EQ(all_chunks, 3u * 4u * 4u);
    // z 2..3 (1 chunk), y 15..24 (2 chunks), x 0..9 (1 chunk).
    const Box5 box{{0, 2, 15, 0, 0}, {1, 4, 25, 10, 1}};
    auto opened = open_store(kind, path);
    ASSERT_TRUE(opened.ok());
    auto* chunked = dynamic_cast<ChunkedImageReader*>(opened->get());
    ASSERT_NE(chunked, nullptr);
    ASSERT_TRUE(chunked->read(box).ok());
    EXPECT_EQ(chunked->chunks_fetched(), 2);
    // Delete every chunk the box does not touch: the box still reads its real values.
    const std::string kept_a = kind.zarr_version == 0   ? "0/1/1"
                               : kind.zarr_version == 2 ? "1/1/0"
                                                        : "c/1/1/0";
    const std::string kept_b = kind.zarr_version == 0   ? "0/2/1"
                               : kind.zarr_version == 2 ? "1/2/0"
                                                        : "c/1/2/0";
    const std::filesystem::path array_directory =
        kind.zarr_version == 0 ? path.file : path.file + "/0";
    size_t removed = 0;
    for (const auto& file : chunk_files(path.file)) {
      const std::string key = std::filesystem::relative(file, array_directory).string();
      if (key != kept_a && key != kept_b) removed += std::filesystem::remove(file);
    }
    ASSERT_EQ(removed, all_chunks - 2);
    auto part = (*open_store(kind, path))->read(box);
    ASSERT_TRUE(part.ok()) << part.error().to_string();
    EXPECT_TRUE(same_bytes(*part, image.crop(box)));
  }
}

TEST(ChunkedStores, RefusesExistingOutputUnlessOverwrite) {
  for (const StoreKind& kind : kStores) {
    TemporaryDirectory directory("exists");
    const ImagePath path{directory / ("image" + kind.extension), ""};
    ASSERT_TRUE(create_store(kind, path, {1, 1, 4, 4, 1}, DType::u8, {}).ok());
    auto again = create_store(kind, path, {1, 1, 4, 4, 1}, DType::u8, {});
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
    WriteOptions overwrite;
    overwrite.overwrite = true;
    auto replaced = create_store(kind, path, {1, 1, 6, 6, 1}, DType::u16, overwrite);
    ASSERT_TRUE(replaced.ok()) << replaced.error().to_string();
    EXPECT_EQ((*open_store(kind, path))->info().shape, Shape5(1, 1, 6, 6, 1));
    // Something that is not a store is never deleted.
    const std::string plain = directory / ("plain" + kind.extension);
    std::filesystem::create_directories(plain);
    ASSERT_TRUE(write_file_atomically(plain + "/notes.txt", std::string("keep me")).ok());
    auto refused = create_store(kind, ImagePath{plain, ""}, {1, 1, 4, 4, 1}, DType::u8, overwrite);
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(std::filesystem::exists(plain + "/notes.txt"));
  }
}

TEST(ChunkedStores, BoxesOutsideTheImageAreErrors) {
  for (const StoreKind& kind : kStores) {
    TemporaryDirectory directory("outside");
    const ImagePath path{directory / ("image" + kind.extension), ""};
    auto writer = create_store(kind, path, {1, 1, 4, 4, 1}, DType::u8, {});
    ASSERT_TRUE(writer.ok());
    const Box5 outside{{0, 0, 0, 0, 0}, {1, 1, 5, 4, 1}};
    EXPECT_EQ((*writer)
                  ->write(outside, AnyArray::allocate(DType::u8, outside.shape()).value())
                  .error()
                  .code(),
              ErrorCode::kOutOfRange);
    const Box5 inside{{0, 0, 0, 0, 0}, {1, 1, 2, 2, 1}};
    EXPECT_EQ((*writer)
                  ->write(inside, AnyArray::allocate(DType::u8, {1, 1, 3, 2, 1}).value())
                  .error()
                  .code(),
              ErrorCode::kInvalidArgument);
    EXPECT_EQ((*open_store(kind, path))->read(outside).error().code(), ErrorCode::kOutOfRange);
  }
}

// A child process rewrites all chunks over and over, each time with one value per chunk, and is
// killed at a random moment. Every chunk file then present must decode whole and hold one value:
// no reader ever sees a partly written chunk.
TEST(ChunkedStores, ChunkWritesAreAtomicUnderSigkill) {
  for (const StoreKind& kind : kStores) {
    for (const std::string compression : {"none", "gzip"}) {
      SCOPED_TRACE(kind.name + " " + compression);
      TemporaryDirectory directory("sigkill");
      const ImagePath path{directory / ("image" + kind.extension), ""};
      const Shape5 shape{1, 1, 512, 512, 1};
      WriteOptions options;
      options.chunk_shape = {1, 1, 256, 256, 1};
      options.compression = compression;
      options.compression_level = 1;
      ASSERT_TRUE(create_store(kind, path, shape, DType::u32, options).ok());
      std::mt19937 random(42);
      for (int round = 0; round < 6; ++round) {
        const pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
          auto writer = open_store_writer(kind, path);
          if (!writer.ok()) ::_exit(3);
          AnyArray block = AnyArray::allocate(DType::u32, {1, 1, 256, 256, 1}).value();
          for (uint32_t generation = 1;; ++generation) {
            for (int64_t y = 0; y < 512; y += 256) {
              for (int64_t x = 0; x < 512; x += 256) {
                uint32_t* values = static_cast<uint32_t*>(block.raw_data());
                for (int64_t i = 0; i < block.size(); ++i)
                  values[i] = generation * 4 + static_cast<uint32_t>(y / 256 * 2 + x / 256);
                if (!(*writer)
                         ->write(Box5{{0, 0, y, x, 0}, {1, 1, y + 256, x + 256, 1}}, block)
                         .ok())
                  ::_exit(4);
              }
            }
          }
        }
        std::this_thread::sleep_for(std::chrono::microseconds(2000 + random() % 30000));
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status))
            << "the writer exited early with status " << WEXITSTATUS(status);
        auto reader = open_store(kind, path);
        ASSERT_TRUE(reader.ok());
        for (int64_t y = 0; y < 512; y += 256) {
          for (int64_t x = 0; x < 512; x += 256) {
            auto chunk = (*reader)->read(Box5{{0, 0, y, x, 0}, {1, 1, y + 256, x + 256, 1}});
            ASSERT_TRUE(chunk.ok()) << "round " << round << ": " << chunk.error().to_string();
            const uint32_t* values = static_cast<const uint32_t*>(chunk->raw_data());
            const uint32_t first = values[0];
            EXPECT_TRUE(first == 0 || first % 4 == static_cast<uint32_t>(y / 256 * 2 + x / 256));
            for (int64_t i = 1; i < chunk->size(); ++i) {
              if (values[i] != first) {
                ADD_FAILURE() << "chunk mixes two writes";
                break;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace grove
