// Tests of N5 specifics, with datasets written here by hand from the N5 spec: reversed
// dimensions, block headers (default and varlength mode, edge blocks cut or full size), the
// old "compressionType", axes / axistags / resolution attributes, and bad metadata and blocks.
#include "grove/io/n5.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "grove/io/chunk_store.h"
#include "grove/io/chunked_test_support.h"
#include "grove/io/codec.h"
#include "grove/io/metadata_json.h"

namespace grove {
namespace {

using json = nlohmann::json;
using testing::pattern_array;
using testing::same_bytes;
using testing::TemporaryDirectory;

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  ASSERT_TRUE(write_file_atomically(path, text).ok());
}

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  ASSERT_TRUE(write_file_atomically(path, std::span<const uint8_t>(bytes)).ok());
}

// A dataset of 5 (y) x 7 (x) int16, value 100*y - x, blocks of 3 x 4: N5 says
// "dimensions": [7, 5], "blockSize": [4, 3].
int16_t value_at(int64_t y, int64_t x) { return static_cast<int16_t>(100 * y - x); }

// Block (by, bx) with its header: extents x first, big-endian data, x fastest.
std::vector<uint8_t> block(int64_t by, int64_t bx, bool cut_at_edge, int mode,
                           Compressor compressor) {
  const int64_t height = cut_at_edge ? std::min<int64_t>(3, 5 - by * 3) : 3;
  const int64_t width = cut_at_edge ? std::min<int64_t>(4, 7 - bx * 4) : 4;
  std::vector<uint8_t> header, data;
  auto put16 = [](std::vector<uint8_t>& out, uint32_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  };
  auto put32 = [&](std::vector<uint8_t>& out, uint32_t v) {
    put16(out, v >> 16);
    put16(out, v & 0xFFFF);
  };
  put16(header, static_cast<uint32_t>(mode));
  put16(header, 2);
  put32(header, static_cast<uint32_t>(width));
  put32(header, static_cast<uint32_t>(height));
  if (mode == 1) put32(header, static_cast<uint32_t>(width * height));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const int64_t gy = by * 3 + y, gx = bx * 4 + x;
      const int16_t v = gy < 5 && gx < 7 ? value_at(gy, gx) : 0;
      put16(data, static_cast<uint16_t>(v));
    }
  }
  if (compressor != Compressor::none) {
    Compression c;
    c.compressor = compressor;
    data = compress(c, data, 2).value();
  }
  header.insert(header.end(), data.begin(), data.end());
  return header;
}

void expect_values(ImageReader& reader, bool block_01_missing) {
  ASSERT_EQ(reader.info().shape, Shape5(1, 1, 5, 7, 1));
  ASSERT_EQ(reader.info().dtype, DType::i16);
  auto all = reader.read_all();
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  const View<int16_t> view = all->view<int16_t>();
  for (int64_t y = 0; y < 5; ++y) {
    for (int64_t x = 0; x < 7; ++x) {
      const bool missing = block_01_missing && y < 3 && x >= 4;
      EXPECT_EQ(view(0, 0, y, x, 0), missing ? 0 : value_at(y, x)) << y << "," << x;
    }
  }
}

json compression_json(Compressor compressor) {
  switch (compressor) {
    case Compressor::gzip: return {{"type", "gzip"}, {"level", -1}};
    case Compressor::zlib: return {{"type", "gzip"}, {"level", -1}, {"useZlib", true}};
    case Compressor::zstd: return {{"type", "zstd"}, {"level", 3}};
    case Compressor::blosc:
      return {{"type", "blosc"}, {"cname", "lz4"}, {"clevel", 5},
              {"shuffle", 1},    {"blocksize", 0}, {"nthreads", 1}};
    case Compressor::bzip2: return {{"type", "bzip2"}, {"blockSize", 9}};
    case Compressor::xz: return {{"type", "xz"}, {"preset", 6}};
    default: return {{"type", "raw"}};
  }
}

TEST(N5, ReadsHandWrittenDatasets) {
  for (bool cut_at_edge : {true, false}) {
    for (int mode : {0, 1}) {
      for (Compressor compressor :
           {Compressor::none, Compressor::gzip, Compressor::zlib, Compressor::zstd,
            Compressor::blosc, Compressor::bzip2, Compressor::xz}) {
        SCOPED_TRACE(fmt::format("cut={} mode={} codec={}", cut_at_edge, mode,
                                 static_cast<int>(compressor)));
        TemporaryDirectory directory("n5_hand");
        const std::filesystem::path root = directory.path() / "c.n5";
        write_text(root / "attributes.json", R"({"n5": "2.0.0"})");
        write_text(root / "data" / "attributes.json",
                   json({{"dimensions", {7, 5}},
                         {"blockSize", {4, 3}},
                         {"dataType", "int16"},
                         {"compression", compression_json(compressor)}})
                       .dump());
        for (int64_t by = 0; by < 2; ++by) {
          for (int64_t bx = 0; bx < 2; ++bx) {
            if (by == 0 && bx == 1) continue;
            // Block paths list the x index first.
            write_bytes(root / "data" / std::to_string(bx) / std::to_string(by),
                        block(by, bx, cut_at_edge, mode, compressor));
          }
        }
        auto reader = open_n5(ImagePath{root.string(), "data"});
        ASSERT_TRUE(reader.ok()) << reader.error().to_string();
        EXPECT_EQ((*reader)->info().axes, "yx");
        expect_values(**reader, true);
        // The container holds one dataset: it opens without naming it.
        auto only = open_n5(ImagePath{root.string(), ""});
        ASSERT_TRUE(only.ok());
        expect_values(**only, true);
      }
    }
  }
}

TEST(N5, OldCompressionTypeAndAttributes) {
  TemporaryDirectory directory("n5_attributes");
  const std::filesystem::path root = directory.path() / "a.n5";
  json attributes = {{"dimensions", {7, 5}},
                     {"blockSize", {4, 3}},
                     {"dataType", "int16"},
                     {"compressionType", "gzip"},
                     {"pixelResolution", {{"dimensions", {0.5, 0.25}}, {"unit", "um"}}}};
  write_text(root / "attributes.json", attributes.dump());
  for (int64_t by = 0; by < 2; ++by) {
    for (int64_t bx = 0; bx < 2; ++bx) {
      write_bytes(root / std::to_string(bx) / std::to_string(by),
                  block(by, bx, true, 0, Compressor::gzip));
    }
  }
  auto reader = open_n5(ImagePath{root.string(), ""});
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  expect_values(**reader, false);
  EXPECT_EQ((*reader)->info().compression, "gzip");
  EXPECT_TRUE((*reader)->info().has_pixel_size);
  EXPECT_EQ((*reader)->info().pixel_size[kX], 0.5);
  EXPECT_EQ((*reader)->info().pixel_size[kY], 0.25);
  EXPECT_EQ((*reader)->info().pixel_unit[kY], "um");

  // "axes" in N5 order (x first) name the dimensions: here they say the 5 is c, not y.
  attributes["axes"] = {"x", "c"};
  attributes["resolution"] = {0.125, 1.0};
  attributes["units"] = {"nm", ""};
  write_text(root / "attributes.json", attributes.dump());
  auto named = open_n5(ImagePath{root.string(), ""});
  ASSERT_TRUE(named.ok()) << named.error().to_string();
  EXPECT_EQ((*named)->info().axes, "cx");
  EXPECT_EQ((*named)->info().shape, Shape5(1, 1, 1, 7, 5));
  EXPECT_EQ((*named)->info().stored_shape, (std::vector<int64_t>{5, 7}));
  EXPECT_EQ((*named)->info().internal_path, "");
  EXPECT_EQ((*named)->info().pixel_size[kX], 0.125);
  EXPECT_EQ((*named)->info().pixel_unit[kX], "nm");

  // ilastik's axistags (slowest first).
  attributes.erase("axes");
  attributes["axistags"] =
      R"({"axes": [{"key": "z", "typeFlags": 2}, {"key": "x", "typeFlags": 2}]})";
  write_text(root / "attributes.json", attributes.dump());
  auto tagged = open_n5(ImagePath{root.string(), ""});
  ASSERT_TRUE(tagged.ok());
  EXPECT_EQ((*tagged)->info().axes, "zx");
}

TEST(N5, WritesWhatTheSpecSays) {
  TemporaryDirectory directory("n5_write");
  const std::string file = directory / "w.n5";
  WriteOptions options;
  options.chunk_shape = {1, 1, 3, 4, 1};
  options.compression = "raw";
  options.has_pixel_size = true;
  options.pixel_size = {1, 1, 0.5, 0.25};
  options.pixel_unit = {"", "", "um", "um"};
  AnyArray image = AnyArray::allocate(DType::i16, {1, 1, 5, 7, 1}).value();
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x) image.view<int16_t>()(0, 0, y, x, 0) = value_at(y, x);
  options.axes = "yx";
  auto writer = create_n5(ImagePath{file, "group/data"}, image.shape(), DType::i16, options);
  ASSERT_TRUE(writer.ok()) << writer.error().to_string();
  ASSERT_TRUE((*writer)->write(Box5::of(image.shape()), image).ok());
  ASSERT_TRUE((*writer)->commit().ok());
  const json root = read_json(file + "/attributes.json").value();
  EXPECT_EQ(root["n5"], "2.0.0");
  const json attributes = read_json(file + "/group/data/attributes.json").value();
  EXPECT_EQ(attributes["dimensions"], json({7, 5}));
  EXPECT_EQ(attributes["blockSize"], json({4, 3}));
  EXPECT_EQ(attributes["dataType"], "int16");
  EXPECT_EQ(attributes["compression"]["type"], "raw");
  EXPECT_EQ(attributes["axes"], json({"x", "y"}));
  EXPECT_EQ(attributes["resolution"], json({0.25, 0.5}));
  EXPECT_EQ(attributes["grove"]["complete"], true);
  // Every block byte for byte as the spec lays it out; edge blocks cut to the dataset.
  for (int64_t by = 0; by < 2; ++by) {
    for (int64_t bx = 0; bx < 2; ++bx) {
      auto stored = DirectoryStore(file + "/group/data")
                        .read(std::to_string(bx) + "/" + std::to_string(by), 1000);
      ASSERT_TRUE(stored.ok() && stored->has_value());
      EXPECT_EQ(**stored, block(by, bx, true, 0, Compressor::none)) << by << "," << bx;
    }
  }
  auto listed = list_n5_datasets(file);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].path, "group/data");
  EXPECT_EQ((*listed)[0].shape, image.shape());
  EXPECT_TRUE(is_n5_container(file));
  EXPECT_FALSE(is_n5_container(directory.path().string()));
}

TEST(N5, BoolIsStoredAsUint8) {
  TemporaryDirectory directory("n5_bool");
  const std::string file = directory / "b.n5";
  const AnyArray mask = pattern_array(DType::boolean, {1, 1, 6, 6, 1}, 3);
  auto writer = create_n5(ImagePath{file, ""}, mask.shape(), DType::boolean, {});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->write(Box5::of(mask.shape()), mask).ok());
  auto read = (*open_n5(ImagePath{file, ""}))->read_all();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->dtype(), DType::u8);
  EXPECT_TRUE(same_bytes(*read, mask.convert(DType::u8).value()));
}

TEST(N5, BadMetadataAndBlocksGiveClearErrors) {
  const json good = {{"dimensions", {7, 5}},
                     {"blockSize", {4, 3}},
                     {"dataType", "int16"},
                     {"compression", {{"type", "raw"}}}};
  auto with = [&](const char* key, json value) {
    json j = good;
    j[key] = std::move(value);
    return j;
  };
  const std::pair<std::string, json> cases[] = {
      {"negative dimension", with("dimensions", {-7, 5})},
      {"zero block", with("blockSize", {0, 3})},
      {"huge block", with("blockSize", {100000, 100000})},
      {"unknown type", with("dataType", "object")},
      {"unknown compression", with("compression", {{"type", "lz4"}})},
      {"compression without type", with("compression", {{"level", 1}})},
      {"rank mismatch", with("blockSize", {4})},
      {"huge dimensions", with("dimensions", {int64_t{1} << 40, int64_t{1} << 40})},
  };
  for (const auto& [name, attributes] : cases) {
    SCOPED_TRACE(name);
    TemporaryDirectory directory("n5_bad");
    const std::filesystem::path root = directory.path() / "bad.n5";
    write_text(root / "attributes.json", attributes.dump());
    auto reader = open_n5(ImagePath{root.string(), ""});
    ASSERT_FALSE(reader.ok());
    const ErrorCode code = reader.error().code();
    EXPECT_TRUE(code == ErrorCode::kCorrupt || code == ErrorCode::kUnsupported ||
                code == ErrorCode::kResourceExhausted)
        << reader.error().to_string();
    EXPECT_NE(reader.error().to_string().find("bad.n5"), std::string::npos)
        << reader.error().to_string();
  }

  TemporaryDirectory directory("n5_bad_blocks");
  const std::filesystem::path root = directory.path() / "blocks.n5";
  write_text(root / "attributes.json", good.dump());
  auto read_with = [&](std::vector<uint8_t> bytes) {
    write_bytes(root / "0" / "0", bytes);
    return (*open_n5(ImagePath{root.string(), ""}))->read(Box5{{0, 0, 0, 0, 0}, {1, 1, 3, 4, 1}});
  };
  ASSERT_TRUE(read_with(block(0, 0, true, 0, Compressor::none)).ok());
  std::vector<uint8_t> bad = block(0, 0, true, 0, Compressor::none);
  bad[3] = 3;  // three dimensions
  EXPECT_EQ(read_with(bad).error().code(), ErrorCode::kCorrupt);
  bad = block(0, 0, true, 0, Compressor::none);
  bad[7] = 200;  // x extent 200 > block size 4
  EXPECT_EQ(read_with(bad).error().code(), ErrorCode::kCorrupt);
  bad = block(0, 0, true, 0, Compressor::none);
  bad[1] = 2;  // object mode
  EXPECT_EQ(read_with(bad).error().code(), ErrorCode::kUnsupported);
  bad = block(0, 0, true, 0, Compressor::none);
  bad.resize(bad.size() - 1);  // truncated
  EXPECT_EQ(read_with(bad).error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(read_with({0, 0}).error().code(), ErrorCode::kCorrupt);  // no header
  bad = block(0, 0, true, 1, Compressor::none);
  bad[15] = 99;  // varlength count differs from the block's
  EXPECT_FALSE(read_with(bad).ok());
}

}  // namespace
}  // namespace grove
