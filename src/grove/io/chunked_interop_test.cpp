// Interop of the chunked stores with python: tests/io/chunked_oracle.py writes Zarr v2 and N5
// with python zarr 2.13 (and Zarr v3 / OME-Zarr 0.5 by hand from the spec), grove must read
// them equal; grove writes Zarr v2/v3 and N5, python zarr (and the spec-based v3 decoder there)
// must read them equal, and the OME-Zarr metadata must say what the spec says. Uses Debian's
// /usr/bin/python3; skips, saying why, only when it or its zarr is absent.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "grove/io/chunked_array.h"
#include "grove/io/chunked_test_support.h"
#include "grove/io/codec.h"
#include "grove/io/metadata_json.h"
#include "grove/io/n5.h"
#include "grove/io/zarr.h"

namespace grove {
namespace {

using json = nlohmann::json;
using testing::pattern_array;
using testing::same_bytes;
using testing::TemporaryDirectory;

const std::string kPython = "/usr/bin/python3";
const std::string kOracle = std::string(GROVE_SOURCE_DIR) + "/tests/io/chunked_oracle.py";

// Runs a shell command; returns its exit status and its output (stdout and stderr).
std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// The reason to skip, or "" when python with zarr is there.
std::string python_missing() {
  if (!std::filesystem::exists(kPython)) return kPython + " is absent";
  auto [status, output] = run(kPython + " -c 'import zarr, numcodecs, numpy'");
  if (status != 0) return kPython + " cannot import zarr/numcodecs: " + output;
  return "";
}

AnyArray read_raw(const std::string& file, DType dtype, const Shape5& shape) {
  AnyArray array = AnyArray::allocate(dtype, shape).value();
  std::ifstream in(file, std::ios::binary);
  in.read(static_cast<char*>(array.raw_data()), static_cast<std::streamsize>(array.bytes()));
  EXPECT_TRUE(in.good()) << file;
  return array;
}

void write_raw(const std::string& file, const AnyArray& array) {
  AnyArray contiguous = array.contiguous_or_copy().value();
  std::ofstream out(file, std::ios::binary);
  out.write(static_cast<const char*>(contiguous.raw_data()),
            static_cast<std::streamsize>(contiguous.bytes()));
}

Shape5 shape_of(const json& list) {
  return {list[0].get<int64_t>(), list[1].get<int64_t>(), list[2].get<int64_t>(),
          list[3].get<int64_t>(), list[4].get<int64_t>()};
}

TEST(ChunkedInterop, GroveReadsWhatPythonWrote) {
  const std::string missing = python_missing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  TemporaryDirectory directory("interop_read");
  auto [status, output] = run(kPython + " " + kOracle + " write " + directory.path().string());
  ASSERT_EQ(status, 0) << output;
  const json manifest = read_json(directory.path() / "manifest.json").value();
  ASSERT_GE(manifest.size(), 30u);
  for (const json& entry : manifest) {
    const std::string name = entry["name"];
    SCOPED_TRACE(name);
    const ImagePath path{directory / entry["file"].get<std::string>(),
                         entry["internal"].get<std::string>()};
    auto reader = entry["format"] == "n5" ? open_n5(path) : open_zarr(path);
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    const ImageInfo& info = (*reader)->info();
    const DType dtype = *parse_dtype(entry["dtype"].get<std::string>());
    const Shape5 shape = shape_of(entry["shape5"]);
    EXPECT_EQ(info.axes, entry["axes"].get<std::string>());
    EXPECT_EQ(info.shape, shape);
    EXPECT_EQ(info.dtype, dtype);
    if (entry.contains("pixel_size")) {
      EXPECT_TRUE(info.has_pixel_size);
      for (int a = 0; a < 4; ++a)
        EXPECT_DOUBLE_EQ(info.pixel_size[a], entry["pixel_size"][a].get<double>()) << a;
    }
    auto all = (*reader)->read_all();
    ASSERT_TRUE(all.ok()) << all.error().to_string();
    const AnyArray expected = read_raw(directory / entry["raw"].get<std::string>(), dtype, shape);
    EXPECT_TRUE(same_bytes(*all, expected));
  }
}

struct GroveCase {
  std::string name;
  std::string format;  // zarr2, zarr3, n5
  std::string internal;
  DType dtype;
  Shape5 shape;
  WriteOptions options;
};

TEST(ChunkedInterop, PythonReadsWhatGroveWrote) {
  const std::string missing = python_missing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  TemporaryDirectory directory("interop_write");
  std::vector<GroveCase> cases;
  auto options = [](std::string compression, Shape5 chunks, std::string axes = "") {
    WriteOptions o;
    o.compression = std::move(compression);
    o.chunk_shape = chunks;
    o.axes = std::move(axes);
    return o;
  };
  for (const std::string format : {"zarr2", "zarr3", "n5"}) {
    std::vector<std::string> codecs = {"none", "gzip", "zstd", "blosc"};
    for (const std::string& inner : blosc_inner_codecs()) codecs.push_back("blosc-" + inner);
    if (format != "zarr3") {
      codecs.push_back("zlib");
      codecs.push_back("bzip2");
      codecs.push_back("xz");
    }
    for (const std::string& codec : codecs) {
      cases.push_back({format + "_" + codec,
                       format,
                       "",
                       DType::u16,
                       {1, 1, 37, 53, 1},
                       options(codec, {1, 1, 16, 16, 1})});
    }
    int index = 0;
    for (DType dtype : kAllDTypes) {
      cases.push_back({format + "_" + std::string(dtype_name(dtype)),
                       format,
                       "images/" + std::to_string(index++),
                       dtype,
                       {1, 5, 9, 11, 2},
                       options("", {1, 2, 4, 5, 2})});
    }
    cases.push_back({format + "_5d",
                     format,
                     "",
                     DType::f32,
                     {3, 4, 10, 12, 2},
                     options("zstd", {2, 3, 4, 5, 1})});
    cases.push_back({format + "_yx",
                     format,
                     "a/b",
                     DType::i16,
                     {1, 1, 20, 21, 1},
                     options("", {1, 1, 8, 8, 1}, "yx")});
    WriteOptions with_pixels = options("", {1, 4, 8, 8, 1});
    with_pixels.has_pixel_size = true;
    with_pixels.pixel_size = {1.0, 2.0, 0.5, 0.25};
    with_pixels.pixel_unit = {"", "um", "um", "um"};
    cases.push_back({format + "_pixels", format, "", DType::u8, {1, 9, 20, 22, 1}, with_pixels});
  }
  json manifest = json::array();
  for (GroveCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string file = c.name + (c.format == "n5" ? ".n5" : ".zarr");
    const ImagePath path{directory / file, c.internal};
    const AnyArray image = pattern_array(c.dtype, c.shape, static_cast<int>(manifest.size()));
    Result<std::unique_ptr<ImageWriter>> writer = Error(ErrorCode::kInternal, "");
    if (c.format == "n5") {
      writer = create_n5(path, c.shape, c.dtype, c.options);
    } else {
      c.options.zarr_version = c.format == "zarr2" ? 2 : 3;
      writer = create_zarr(path, c.shape, c.dtype, c.options);
    }
    ASSERT_TRUE(writer.ok()) << writer.error().to_string();
    ASSERT_TRUE((*writer)->write(Box5::of(c.shape), image).ok());
    ASSERT_TRUE((*writer)->commit().ok());
    const DType stored = c.format == "n5" && c.dtype == DType::boolean ? DType::u8 : c.dtype;
    write_raw(directory / (c.name + ".raw"),
              stored == c.dtype ? image : image.convert(stored).value());
    const std::string axes = choose_storage_axes(c.options.axes, c.shape, c.format != "n5").value();
    json entry = {{"name", c.name},
                  {"file", file},
                  {"internal",
                   c.format == "n5" ? c.internal : (c.internal.empty() ? "0" : c.internal + "/0")},
                  {"format", c.format},
                  {"raw", c.name + ".raw"},
                  {"shape5", c.shape.v},
                  {"dtype", stored == DType::boolean ? "bool" : std::string(dtype_name(stored))},
                  {"axes", axes},
                  {"ome", c.format != "n5"},
                  {"pixel_size", c.options.has_pixel_size ? json(c.options.pixel_size)
                                                          : json({1.0, 1.0, 1.0, 1.0})}};
    manifest.push_back(entry);
  }
  std::ofstream(directory / "manifest.json") << manifest.dump(1);
  auto [status, output] = run(kPython + " " + kOracle + " verify " + directory.path().string());
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("checked " + cases.back().name), std::string::npos) << output;
}

}  // namespace
}  // namespace grove
