// Tests of Zarr specifics: hand-written v2 stores (F order, "." keys, big-endian, NaN fill),
// hand-written v3 stores (transpose, crc32c, sharding), OME-Zarr 0.4/0.5 metadata round trips,
// hierarchy resolution and listing, and corrupt or hostile metadata and chunks. The stores are
// written here from the specs (zarr-specs v2 and v3, OME-NGFF 0.4 and 0.5), not by grove's
// writer, so reader and writer are checked against the specs separately.
#include "grove/io/zarr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "grove/core/memory.h"
#include "grove/io/chunk_store.h"
#include "grove/io/chunked_array.h"
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

std::vector<uint8_t> compressed(Compressor compressor, const std::vector<uint8_t>& raw) {
  Compression c;
  c.compressor = compressor;
  return compress(c, raw, 2).value();
}

// A 2-d uint16 array 5 x 7 with value 100*y + x, as chunks of 3 x 4 (edges padded).
uint16_t value_at(int64_t y, int64_t x) { return static_cast<uint16_t>(100 * y + x); }

// The raw bytes of chunk (cy, cx): chunk 3x4 in C or F order, little or big endian.
std::vector<uint8_t> chunk_bytes(int64_t cy, int64_t cx, bool fortran, bool big_endian) {
  std::vector<uint8_t> raw;
  auto push = [&](int64_t y, int64_t x) {
    const uint16_t v = y < 5 && x < 7 ? value_at(y, x) : 0xFFFF;
    raw.push_back(static_cast<uint8_t>(big_endian ? v >> 8 : v & 0xFF));
    raw.push_back(static_cast<uint8_t>(big_endian ? v & 0xFF : v >> 8));
  };
  if (fortran) {
    for (int64_t x = 0; x < 4; ++x)
      for (int64_t y = 0; y < 3; ++y) push(cy * 3 + y, cx * 4 + x);
  } else {
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t x = 0; x < 4; ++x) push(cy * 3 + y, cx * 4 + x);
  }
  return raw;
}

void expect_values(ImageReader& reader, bool chunk_01_missing, uint16_t fill) {
  ASSERT_EQ(reader.info().shape, Shape5(1, 1, 5, 7, 1));
  ASSERT_EQ(reader.info().dtype, DType::u16);
  auto all = reader.read_all();
  ASSERT_TRUE(all.ok()) << all.error().to_string();
  const View<uint16_t> view = all->view<uint16_t>();
  for (int64_t y = 0; y < 5; ++y) {
    for (int64_t x = 0; x < 7; ++x) {
      const bool missing = chunk_01_missing && y < 3 && x >= 4;
      EXPECT_EQ(view(0, 0, y, x, 0), missing ? fill : value_at(y, x)) << y << "," << x;
    }
  }
}

TEST(Zarr, ReadsHandWrittenV2InEveryLayout) {
  for (bool fortran : {false, true}) {
    for (bool big_endian : {false, true}) {
      for (const std::string separator : {".", "/"}) {
        for (Compressor compressor : {Compressor::none, Compressor::zlib, Compressor::blosc}) {
          SCOPED_TRACE(fmt::format("F={} BE={} sep={} codec={}", fortran, big_endian, separator,
                                   static_cast<int>(compressor)));
          TemporaryDirectory directory("v2_layouts");
          const std::filesystem::path root = directory.path() / "a.zarr";
          json compressor_json = nullptr;
          if (compressor == Compressor::zlib) compressor_json = {{"id", "zlib"}, {"level", 1}};
          if (compressor == Compressor::blosc) {
            compressor_json = {{"id", "blosc"},
                               {"cname", "zstd"},
                               {"clevel", 3},
                               {"shuffle", 2},
                               {"blocksize", 0}};
          }
          write_text(root / ".zarray", json({{"zarr_format", 2},
                                             {"shape", {5, 7}},
                                             {"chunks", {3, 4}},
                                             {"dtype", big_endian ? ">u2" : "<u2"},
                                             {"compressor", compressor_json},
                                             {"fill_value", 4242},
                                             {"order", fortran ? "F" : "C"},
                                             {"filters", nullptr},
                                             {"dimension_separator", separator}})
                                           .dump());
          for (int64_t cy = 0; cy < 2; ++cy) {
            for (int64_t cx = 0; cx < 2; ++cx) {
              if (cy == 0 && cx == 1) continue;  // missing: reads as the fill value
              std::vector<uint8_t> bytes = chunk_bytes(cy, cx, fortran, big_endian);
              if (compressor != Compressor::none) bytes = compressed(compressor, bytes);
              write_bytes(root / (std::to_string(cy) + separator + std::to_string(cx)), bytes);
            }
          }
          auto reader = open_zarr(ImagePath{root.string(), ""});
          ASSERT_TRUE(reader.ok()) << reader.error().to_string();
          EXPECT_EQ((*reader)->info().axes, "yx");
          expect_values(**reader, true, 4242);
        }
      }
    }
  }
}

TEST(Zarr, FillValuesNanInfinityNullAndBool) {
  struct Case {
    std::string dtype;
    json fill;
    double expected;
  };
  const Case cases[] = {{"<f4", "NaN", std::nan("")},
                        {"<f8", "Infinity", INFINITY},
                        {"<f8", "-Infinity", -INFINITY},
                        {"<f4", nullptr, 0.0},
                        {"<i2", -7, -7.0},
                        {"|b1", true, 1.0},
                        {"<u8", 18446744073709551615ull, 0}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dtype + " " + c.fill.dump());
    TemporaryDirectory directory("fill");
    const std::filesystem::path root = directory.path() / "f.zarr";
    write_text(root / ".zarray", json({{"zarr_format", 2},
                                       {"shape", {2, 2}},
                                       {"chunks", {2, 2}},
                                       {"dtype", c.dtype},
                                       {"compressor", nullptr},
                                       {"fill_value", c.fill},
                                       {"order", "C"},
                                       {"filters", nullptr}})
                                     .dump());
    auto reader = open_zarr(ImagePath{root.string(), ""});
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    auto all = (*reader)->read_all();
    ASSERT_TRUE(all.ok());
    visit_dtype(all->dtype(), [&](auto v) {
      using T = decltype(v);
      const T got = all->view<T>()(0, 0, 1, 1, 0);
      if constexpr (std::is_same_v<T, uint64_t>) {
        EXPECT_EQ(got, 18446744073709551615ull);
      } else if (std::isnan(c.expected)) {
        EXPECT_TRUE(std::isnan(static_cast<double>(got)));
      } else {
        EXPECT_EQ(static_cast<double>(got), c.expected);
      }
    });
  }
}

// A v3 array 5 x 7 uint16, chunks 3 x 4, written from the spec by hand.
json v3_array_json(const json& codecs, const json& key_encoding = {{"name", "default"}}) {
  return {{"zarr_format", 3},
          {"node_type", "array"},
          {"shape", {5, 7}},
          {"data_type", "uint16"},
          {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", {3, 4}}}}}},
          {"chunk_key_encoding", key_encoding},
          {"fill_value", 4242},
          {"codecs", codecs},
          {"attributes", json::object()}};
}

void append_crc(std::vector<uint8_t>& bytes) {
  const uint32_t crc = crc32c(bytes);
  for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<uint8_t>(crc >> (8 * b)));
}

TEST(Zarr, ReadsHandWrittenV3WithTransposeChecksumsAndKeyEncodings) {
  for (bool transpose : {false, true}) {
    for (bool big_endian : {false, true}) {
      for (bool v2_keys : {false, true}) {
        SCOPED_TRACE(fmt::format("transpose={} BE={} v2keys={}", transpose, big_endian, v2_keys));
        TemporaryDirectory directory("v3");
        const std::filesystem::path root = directory.path() / "a.zarr";
        json codecs = json::array();
        // transpose order [1, 0]: the encoded array is x,y, i.e. Fortran order on disk.
        if (transpose)
          codecs.push_back({{"name", "transpose"}, {"configuration", {{"order", {1, 0}}}}});
        codecs.push_back(
            {{"name", "bytes"}, {"configuration", {{"endian", big_endian ? "big" : "little"}}}});
        codecs.push_back({{"name", "gzip"}, {"configuration", {{"level", 5}}}});
        codecs.push_back({{"name", "crc32c"}});
        const json encoding = v2_keys
                                  ? json({{"name", "v2"}, {"configuration", {{"separator", "."}}}})
                                  : json({{"name", "default"}});
        write_text(root / "zarr.json", v3_array_json(codecs, encoding).dump());
        for (int64_t cy = 0; cy < 2; ++cy) {
          for (int64_t cx = 0; cx < 2; ++cx) {
            if (cy == 0 && cx == 1) continue;
            std::vector<uint8_t> bytes =
                compressed(Compressor::gzip, chunk_bytes(cy, cx, transpose, big_endian));
            append_crc(bytes);
            const std::string key =
                v2_keys ? fmt::format("{}.{}", cy, cx) : fmt::format("c/{}/{}", cy, cx);
            write_bytes(root / key, bytes);
          }
        }
        auto reader = open_zarr(ImagePath{root.string(), ""});
        ASSERT_TRUE(reader.ok()) << reader.error().to_string();
        EXPECT_EQ((*reader)->info().format, "zarr3");
        expect_values(**reader, true, 4242);
      }
    }
  }
}

// Sharding (zarr-specs v3 sharding_indexed): a shard holds inner chunks back to back, then an
// index of (offset, nbytes) little-endian uint64 pairs per inner chunk in C order (both
// 2^64-1 for an empty one), followed by the index's crc32c.
TEST(Zarr, ReadsShardedV3) {
  for (bool index_at_start : {false, true}) {
    SCOPED_TRACE(index_at_start ? "index at start" : "index at end");
    TemporaryDirectory directory("sharded");
    const std::filesystem::path root = directory.path() / "s.zarr";
    // Shards of 6 x 8 = 2 x 2 inner chunks of 3 x 4; the array 5 x 7 fits in one shard.
    json array = v3_array_json(json::array());
    array["chunk_grid"]["configuration"]["chunk_shape"] = {6, 8};
    array["codecs"] =
        json::array({{{"name", "sharding_indexed"},
                      {"configuration",
                       {{"chunk_shape", {3, 4}},
                        {"codecs",
                         {{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                          {{"name", "zstd"}, {"configuration", {{"level", 1}}}}}},
                        {"index_codecs",
                         {{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                          {{"name", "crc32c"}}}},
                        {"index_location", index_at_start ? "start" : "end"}}}}});
    write_text(root / "zarr.json", array.dump());
    std::vector<std::vector<uint8_t>> inner;
    for (int64_t cy = 0; cy < 2; ++cy) {
      for (int64_t cx = 0; cx < 2; ++cx) {
        inner.push_back(cy == 0 && cx == 1
                            ? std::vector<uint8_t>()
                            : compressed(Compressor::zstd, chunk_bytes(cy, cx, false, false)));
      }
    }
    const uint64_t index_size = 4 * 16 + 4;
    std::vector<uint8_t> index;
    uint64_t offset = index_at_start ? index_size : 0;
    auto put64 = [&](uint64_t v) {
      for (int b = 0; b < 8; ++b) index.push_back(static_cast<uint8_t>(v >> (8 * b)));
    };
    for (const auto& chunk : inner) {
      if (chunk.empty()) {
        put64(~uint64_t{0});
        put64(~uint64_t{0});
      } else {
        put64(offset);
        put64(chunk.size());
        offset += chunk.size();
      }
    }
    append_crc(index);
    std::vector<uint8_t> shard;
    if (index_at_start) shard = index;
    for (const auto& chunk : inner) shard.insert(shard.end(), chunk.begin(), chunk.end());
    if (!index_at_start) shard.insert(shard.end(), index.begin(), index.end());
    write_bytes(root / "c/0/0", shard);
    auto reader = open_zarr(ImagePath{root.string(), ""});
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    EXPECT_EQ((*reader)->info().chunk_shape, Shape5(1, 1, 3, 4, 1));
    expect_values(**reader, true, 4242);
    // grove does not write shards: a clear refusal.
    auto writer = open_zarr_writer(ImagePath{root.string(), ""});
    ASSERT_FALSE(writer.ok());
    EXPECT_EQ(writer.error().code(), ErrorCode::kUnsupported);
    // A damaged index is caught by its checksum.
    shard[index_at_start ? 3 : shard.size() - 10] ^= 0xFF;
    write_bytes(root / "c/0/0", shard);
    auto damaged = (*open_zarr(ImagePath{root.string(), ""}))->read_all();
    ASSERT_FALSE(damaged.ok());
    EXPECT_EQ(damaged.error().code(), ErrorCode::kCorrupt);
  }
}

TEST(Zarr, OmeZarr04And05MetadataRoundTrip) {
  for (int version : {2, 3}) {
    SCOPED_TRACE(version);
    TemporaryDirectory directory("ome");
    const std::string file = directory / "image.ome.zarr";
    WriteOptions options;
    options.zarr_version = version;
    options.has_pixel_size = true;
    options.pixel_size = {2.5, 0.5, 0.25, 0.125};
    options.pixel_unit = {"s", "um", "um", "nm"};
    const AnyArray image = pattern_array(DType::u8, {3, 4, 10, 12, 2}, 9);
    auto writer = create_zarr(ImagePath{file, ""}, image.shape(), image.dtype(), options);
    ASSERT_TRUE(writer.ok()) << writer.error().to_string();
    ASSERT_TRUE((*writer)->write(Box5::of(image.shape()), image).ok());
    ASSERT_TRUE((*writer)->commit().ok());

    // The metadata as the specs lay it out.
    json multiscales;
    if (version == 2) {
      EXPECT_TRUE(std::filesystem::exists(file + "/.zgroup"));
      EXPECT_TRUE(std::filesystem::exists(file + "/0/.zarray"));
      multiscales = read_json(file + "/.zattrs").value()["multiscales"];
      EXPECT_EQ(multiscales[0]["version"], "0.4");
    } else {
      const json group = read_json(file + "/zarr.json").value();
      EXPECT_EQ(group["node_type"], "group");
      EXPECT_EQ(group["attributes"]["ome"]["version"], "0.5");
      multiscales = group["attributes"]["ome"]["multiscales"];
      EXPECT_EQ(read_json(file + "/0/zarr.json").value()["dimension_names"],
                json({"t", "c", "z", "y", "x"}));
    }
    const json& axes = multiscales[0]["axes"];
    ASSERT_EQ(axes.size(), 5u);
    EXPECT_EQ(axes[0], json({{"name", "t"}, {"type", "time"}, {"unit", "second"}}));
    EXPECT_EQ(axes[1], json({{"name", "c"}, {"type", "channel"}}));
    EXPECT_EQ(axes[2], json({{"name", "z"}, {"type", "space"}, {"unit", "micrometer"}}));
    EXPECT_EQ(axes[4], json({{"name", "x"}, {"type", "space"}, {"unit", "nanometer"}}));
    EXPECT_EQ(multiscales[0]["datasets"][0]["path"], "0");
    EXPECT_EQ(multiscales[0]["datasets"][0]["coordinateTransformations"][0]["scale"],
              json({2.5, 1.0, 0.5, 0.25, 0.125}));

    // Read back: opening the image opens level 0, with its axes and pixel size.
    auto reader = open_zarr(ImagePath{file, ""});
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    const ImageInfo& info = (*reader)->info();
    EXPECT_EQ(info.axes, "tczyx");
    EXPECT_EQ(info.shape, image.shape());
    EXPECT_EQ(info.stored_shape, (std::vector<int64_t>{3, 2, 4, 10, 12}));
    EXPECT_EQ(info.internal_path, "0");
    EXPECT_TRUE(info.has_pixel_size);
    EXPECT_EQ(info.pixel_size, (std::array<double, 4>{2.5, 0.5, 0.25, 0.125}));
    EXPECT_EQ(info.pixel_unit[kX], "nanometer");
    EXPECT_TRUE(same_bytes((*reader)->read_all().value(), image));
    // The level by its own path reads the same, axes found in the parent group.
    auto level = open_zarr(ImagePath{file, "0"});
    ASSERT_TRUE(level.ok());
    EXPECT_EQ((*level)->info().axes, "tczyx");
    EXPECT_EQ((*level)->info().pixel_size[kZ], 0.5);
  }
}

// OME-Zarr 0.4 as other tools write it: a multiscale pyramid with a global scale too.
TEST(Zarr, OpensTheHighestResolutionOfAPyramid) {
  TemporaryDirectory directory("pyramid");
  const std::filesystem::path root = directory.path() / "p.ome.zarr";
  write_text(root / ".zgroup", R"({"zarr_format": 2})");
  json multiscales = json::array(
      {{{"version", "0.4"},
        {"axes",
         {{{"name", "c"}, {"type", "channel"}},
          {{"name", "y"}, {"type", "space"}, {"unit", "micrometer"}},
          {{"name", "x"}, {"type", "space"}, {"unit", "micrometer"}}}},
        {"datasets",
         {{{"path", "s0"},
           {"coordinateTransformations", {{{"type", "scale"}, {"scale", {1, 0.5, 0.5}}}}}},
          {{"path", "s1"},
           {"coordinateTransformations", {{{"type", "scale"}, {"scale", {1, 1.0, 1.0}}}}}}}},
        {"coordinateTransformations", {{{"type", "scale"}, {"scale", {1, 2, 2}}}}}}});
  write_text(root / ".zattrs", json({{"multiscales", multiscales}}).dump());
  for (const auto& [level, extent] : {std::pair<std::string, int>{"s0", 8}, {"s1", 4}}) {
    write_text(root / level / ".zarray", json({{"zarr_format", 2},
                                               {"shape", {2, extent, extent}},
                                               {"chunks", {1, 4, 4}},
                                               {"dtype", "|u1"},
                                               {"compressor", nullptr},
                                               {"fill_value", 0},
                                               {"order", "C"},
                                               {"filters", nullptr}})
                                             .dump());
  }
  auto reader = open_zarr(ImagePath{root.string(), ""});
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  EXPECT_EQ((*reader)->info().shape, Shape5(1, 1, 8, 8, 2));
  EXPECT_EQ((*reader)->info().axes, "cyx");
  EXPECT_DOUBLE_EQ((*reader)->info().pixel_size[kY], 1.0);  // 0.5 * 2
  auto coarse = open_zarr(ImagePath{root.string(), "s1"});
  ASSERT_TRUE(coarse.ok());
  EXPECT_EQ((*coarse)->info().shape, Shape5(1, 1, 4, 4, 2));
  EXPECT_DOUBLE_EQ((*coarse)->info().pixel_size[kX], 2.0);

  auto listed = list_zarr_datasets(root.string());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].path, "s0");
  EXPECT_EQ((*listed)[1].path, "s1");
  EXPECT_EQ((*listed)[1].shape, Shape5(1, 1, 4, 4, 2));
  EXPECT_EQ((*listed)[1].axes, "cyx");
  EXPECT_TRUE(is_zarr_store(root.string()));
  EXPECT_FALSE(is_zarr_store(directory.path().string()));
}

TEST(Zarr, GroupsResolveOrExplainWhichArrayToName) {
  TemporaryDirectory directory("groups");
  const std::string file = directory / "g.zarr";
  WriteOptions options;
  ASSERT_TRUE(create_zarr(ImagePath{file, "raw"}, {1, 1, 4, 4, 1}, DType::u8, options).ok());
  // One image in the store: the store opens it.
  auto only = open_zarr(ImagePath{file, ""});
  ASSERT_TRUE(only.ok()) << only.error().to_string();
  ASSERT_TRUE(
      create_zarr(ImagePath{file, "nested/labels"}, {1, 1, 4, 4, 1}, DType::u16, options).ok());
  auto ambiguous = open_zarr(ImagePath{file, ""});
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(ambiguous.error().message().find("nested/labels/0"), std::string::npos);
  auto labels = open_zarr(ImagePath{file, "nested/labels"});
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ((*labels)->info().dtype, DType::u16);
  auto listed = list_zarr_datasets(file);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].path, "nested/labels/0");
  EXPECT_EQ((*listed)[1].path, "raw/0");
  EXPECT_EQ(open_zarr(ImagePath{file, "nothing"}).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(open_zarr(ImagePath{file, "../etc"}).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(open_zarr(ImagePath{directory / "absent.zarr", ""}).error().code(),
            ErrorCode::kNotFound);
}

TEST(Zarr, AxesFromArrayDimensionsOrTheGuess) {
  TemporaryDirectory directory("dims");
  const std::filesystem::path root = directory.path() / "d.zarr";
  json zarray = {{"zarr_format", 2}, {"shape", {6, 5, 3}},    {"chunks", {6, 5, 3}},
                 {"dtype", "|u1"},   {"compressor", nullptr}, {"fill_value", 0},
                 {"order", "C"},     {"filters", nullptr}};
  write_text(root / ".zarray", zarray.dump());
  EXPECT_EQ((*open_zarr(ImagePath{root.string(), ""}))->info().axes, "yxc");  // small last axis
  write_text(root / ".zattrs", R"({"_ARRAY_DIMENSIONS": ["z", "y", "x"]})");
  EXPECT_EQ((*open_zarr(ImagePath{root.string(), ""}))->info().axes, "zyx");
  EXPECT_EQ((*open_zarr(ImagePath{root.string(), ""}))->info().shape, Shape5(1, 6, 5, 3, 1));
  // Names that are no axis letters are ignored.
  write_text(root / ".zattrs", R"({"_ARRAY_DIMENSIONS": ["depth", "lat", "lon"]})");
  EXPECT_EQ((*open_zarr(ImagePath{root.string(), ""}))->info().axes, "yxc");
}

// Metadata and chunks that are wrong, hostile or unsupported: each a clear error, no crash and
// no giant allocation.
TEST(Zarr, BadMetadataGivesClearErrors) {
  const json good = {{"zarr_format", 2}, {"shape", {10, 10}},     {"chunks", {5, 5}},
                     {"dtype", "<u2"},   {"compressor", nullptr}, {"fill_value", 0},
                     {"order", "C"},     {"filters", nullptr}};
  struct Case {
    std::string name;
    std::string text;  // .zarray contents
    ErrorCode code;
  };
  auto with = [&](const char* key, json value) {
    json j = good;
    j[key] = std::move(value);
    return j.dump();
  };
  const Case cases[] = {
      {"invalid json", "{\"zarr_format\": 2, ", ErrorCode::kCorrupt},
      {"not an object", "[1, 2]", ErrorCode::kCorrupt},
      {"wrong format", with("zarr_format", 3), ErrorCode::kCorrupt},
      {"negative shape", with("shape", {-1, 10}), ErrorCode::kCorrupt},
      {"huge shape", with("shape", {int64_t{1} << 40, int64_t{1} << 40}), ErrorCode::kCorrupt},
      {"shape not numbers", with("shape", {"a", 1}), ErrorCode::kCorrupt},
      {"fractional shape", with("shape", {1.5, 2}), ErrorCode::kCorrupt},
      {"zero chunk", with("chunks", {0, 5}), ErrorCode::kCorrupt},
      {"giant chunk", with("chunks", {100000, 100000}), ErrorCode::kResourceExhausted},
      {"rank mismatch", with("chunks", {5}), ErrorCode::kCorrupt},
      {"too many dimensions",
       [&] {
         json j = good;
         j["shape"] = {1, 1, 1, 1, 1, 2, 2};
         j["chunks"] = {1, 1, 1, 1, 1, 2, 2};
         return j.dump();
       }(),
       ErrorCode::kUnsupported},
      {"unknown dtype", with("dtype", "<c8"), ErrorCode::kUnsupported},
      {"structured dtype", with("dtype", json::array({{"a", "<u2"}})), ErrorCode::kUnsupported},
      {"float16", with("dtype", "<f2"), ErrorCode::kUnsupported},
      {"unknown compressor", with("compressor", {{"id", "lz4"}}), ErrorCode::kUnsupported},
      {"compressor without id", with("compressor", {{"level", 1}}), ErrorCode::kCorrupt},
      {"filters", with("filters", {{{"id", "delta"}, {"dtype", "<u2"}}}), ErrorCode::kUnsupported},
      {"bad order", with("order", "K"), ErrorCode::kCorrupt},
      {"bad separator", with("dimension_separator", "-"), ErrorCode::kCorrupt},
      {"fill out of range", with("fill_value", 70000), ErrorCode::kCorrupt},
      {"fill NaN for ints", with("fill_value", "NaN"), ErrorCode::kCorrupt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TemporaryDirectory directory("bad_metadata");
    const std::filesystem::path root = directory.path() / "bad.zarr";
    write_text(root / ".zarray", c.text);
    auto reader = open_zarr(ImagePath{root.string(), ""});
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.error().code(), c.code) << reader.error().to_string();
    EXPECT_NE(reader.error().to_string().find("bad.zarr"), std::string::npos)
        << reader.error().to_string();
  }
}

// A chunk is decoded whole: one larger than the memory budget (--ram-mb) is refused when the
// array is opened, naming the array and the budget, though it is within grove's own limit.
TEST(Zarr, ChunksLargerThanTheMemoryBudgetAreRefused) {
  const json zarray = {{"zarr_format", 2}, {"shape", {4096, 4096}}, {"chunks", {2048, 2048}},
                       {"dtype", "<u2"},   {"compressor", nullptr}, {"fill_value", 0},
                       {"order", "C"},     {"filters", nullptr}};  // 8 MB chunks
  TemporaryDirectory directory("over_budget");
  const std::filesystem::path root = directory.path() / "big_chunks.zarr";
  write_text(root / ".zarray", zarray.dump());
  ASSERT_TRUE(open_zarr(ImagePath{root.string(), ""}).ok());
  set_file_allocation_limit(int64_t{4} << 20);
  auto refused = open_zarr(ImagePath{root.string(), ""});
  set_file_allocation_limit(0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kResourceExhausted);
  const std::string message = refused.error().to_string();
  EXPECT_NE(message.find("big_chunks.zarr"), std::string::npos) << message;
  EXPECT_NE(message.find("memory budget of 4 MB"), std::string::npos) << message;
}

TEST(Zarr, BadV3MetadataGivesClearErrors) {
  const json good =
      v3_array_json(json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}}));
  auto with = [&](const json& patch) {
    json j = good;
    j.merge_patch(patch);
    return j;
  };
  const std::pair<std::string, json> cases[] = {
      {"irregular grid", with({{"chunk_grid", {{"name", "rectilinear"}}}})},
      {"unknown codec", with({{"codecs",
                               {{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                                {{"name", "lz4"}}}}})},
      {"no bytes codec", with({{"codecs", {{{"name", "gzip"}}}}})},
      {"endian missing", with({{"codecs", {{{"name", "bytes"}}}}})},
      {"bad transpose", with({{"codecs",
                               {{{"name", "transpose"}, {"configuration", {{"order", {0, 0}}}}},
                                {{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}}}})},
      {"unknown key encoding", with({{"chunk_key_encoding", {{"name", "fancy"}}}})},
      {"unknown data type", with({{"data_type", "complex64"}})},
      {"storage transformers", with({{"storage_transformers", {{{"name", "x"}}}}})},
      {"wrong format", with({{"zarr_format", 2}})},
      {"shard not divisible",
       with(json::parse(R"({"codecs": [{"name": "sharding_indexed", "configuration": {
           "chunk_shape": [2, 3], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}]}}]})"))},
  };
  for (const auto& [name, document] : cases) {
    SCOPED_TRACE(name);
    TemporaryDirectory directory("bad_v3");
    const std::filesystem::path root = directory.path() / "bad.zarr";
    write_text(root / "zarr.json", document.dump());
    auto reader = open_zarr(ImagePath{root.string(), ""});
    ASSERT_FALSE(reader.ok());
    EXPECT_TRUE(reader.error().code() == ErrorCode::kCorrupt ||
                reader.error().code() == ErrorCode::kUnsupported)
        << reader.error().to_string();
  }
}

TEST(Zarr, BadChunksGiveClearErrors) {
  TemporaryDirectory directory("bad_chunks");
  const std::filesystem::path root = directory.path() / "c.zarr";
  write_text(root / ".zarray", json({{"zarr_format", 2},
                                     {"shape", {5, 7}},
                                     {"chunks", {3, 4}},
                                     {"dtype", "<u2"},
                                     {"compressor", {{"id", "zstd"}, {"level", 1}}},
                                     {"fill_value", 0},
                                     {"order", "C"},
                                     {"filters", nullptr}})
                                   .dump());
  const std::vector<uint8_t> good = compressed(Compressor::zstd, chunk_bytes(0, 0, false, false));
  auto read_with = [&](const std::vector<uint8_t>& bytes) {
    write_bytes(root / "0.0", bytes);
    return (*open_zarr(ImagePath{root.string(), ""}))->read(Box5{{0, 0, 0, 0, 0}, {1, 1, 3, 4, 1}});
  };
  ASSERT_TRUE(read_with(good).ok());
  // Truncated.
  auto truncated = read_with(
      std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(truncated.error().to_string().find("0.0"), std::string::npos)
      << truncated.error().to_string();
  // Decodes to the wrong size.
  auto wrong_size = read_with(compressed(Compressor::zstd, std::vector<uint8_t>(30, 1)));
  ASSERT_FALSE(wrong_size.ok());
  EXPECT_EQ(wrong_size.error().code(), ErrorCode::kCorrupt);
  // A zstd bomb: a small stream claiming far more than a chunk holds.
  auto bomb = read_with(compressed(Compressor::zstd, std::vector<uint8_t>(50 << 20, 0)));
  ASSERT_FALSE(bomb.ok());
  EXPECT_EQ(bomb.error().code(), ErrorCode::kCorrupt);
  // Garbage, and an empty file.
  EXPECT_FALSE(read_with(std::vector<uint8_t>(100, 0xEE)).ok());
  EXPECT_FALSE(read_with({}).ok());
  // A chunk file far larger than any encoding of the chunk is refused before it is read whole.
  auto oversized = read_with(std::vector<uint8_t>(3 << 20, 0));
  ASSERT_FALSE(oversized.ok());
  EXPECT_EQ(oversized.error().code(), ErrorCode::kCorrupt);
}

TEST(Zarr, WriterOptionsAreChecked) {
  TemporaryDirectory directory("options");
  WriteOptions options;
  options.compression = "lzw";
  EXPECT_EQ(create_zarr(ImagePath{directory / "a.zarr", ""}, {1, 1, 4, 4, 1}, DType::u8, options)
                .error()
                .code(),
            ErrorCode::kInvalidArgument);
  options.compression = "zlib";
  options.zarr_version = 3;
  EXPECT_EQ(create_zarr(ImagePath{directory / "b.zarr", ""}, {1, 1, 4, 4, 1}, DType::u8, options)
                .error()
                .code(),
            ErrorCode::kInvalidArgument);
  options = {};
  options.axes = "yx";  // lacks c of extent 3
  EXPECT_EQ(create_zarr(ImagePath{directory / "c.zarr", ""}, {1, 1, 4, 4, 3}, DType::u8, options)
                .error()
                .code(),
            ErrorCode::kInvalidArgument);
  options.axes = "yxq";
  EXPECT_EQ(create_zarr(ImagePath{directory / "d.zarr", ""}, {1, 1, 4, 4, 1}, DType::u8, options)
                .error()
                .code(),
            ErrorCode::kInvalidArgument);
  options = {};
  options.zarr_version = 4;
  EXPECT_EQ(create_zarr(ImagePath{directory / "e.zarr", ""}, {1, 1, 4, 4, 1}, DType::u8, options)
                .error()
                .code(),
            ErrorCode::kInvalidArgument);
}

TEST(Zarr, DefaultChunksAlignWithEngineBlocks) {
  EXPECT_EQ(choose_chunk_shape(Shape5::filled(0), {1, 1, 1000, 1000, 1}, DType::u8),
            Shape5(1, 1, 256, 256, 1));
  EXPECT_EQ(choose_chunk_shape(Shape5::filled(0), {1, 300, 300, 300, 1}, DType::u8),
            Shape5(1, 64, 64, 64, 1));
  // 61 float32 features: 64³ x 61 x 4 bytes is 64 MiB, so the chunk shrinks to 32³.
  EXPECT_EQ(choose_chunk_shape(Shape5::filled(0), {1, 300, 300, 300, 61}, DType::f32),
            Shape5(1, 32, 32, 32, 61));
  EXPECT_EQ(choose_chunk_shape(Shape5::filled(0), {2, 1, 10, 20, 3}, DType::u8),
            Shape5(1, 1, 10, 20, 3));
  EXPECT_EQ(choose_chunk_shape({1, 1, 100, 0, 0}, {1, 1, 50, 50, 2}, DType::u8),
            Shape5(1, 1, 50, 50, 2));
}

}  // namespace
}  // namespace grove
