#include "grove/io/tiff.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "grove/io/io_test_support.h"
#include "grove/io/npy.h"

namespace grove::io {
namespace {

using testing::arrays_equal;
using testing::numpy_pattern;
using testing::pattern;
using testing::TempDir;

// Writes TIFF test files with tifffile and PIL, each with the expected t,z,y,x,c array as .npy.
const char* const kMakeTiffs = R"(
import sys, json, numpy as np, tifffile
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(5)
cases = {}
def expect(name, array5):
    np.save(f'{d}/{name}.npy', np.ascontiguousarray(array5))
def values(shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == 'f':
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)

a = values((30, 40), 'uint8')
tifffile.imwrite(f'{d}/plain2d.tif', a, metadata=None)
expect('plain2d', a[None, None, :, :, None])

for dt in ['uint8', 'uint16', 'uint32', 'uint64', 'int8', 'int16', 'int32', 'int64', 'float32', 'float64']:
    a = values((3, 20, 30), dt)
    tifffile.imwrite(f'{d}/stack_{dt}.tif', a, photometric='minisblack')
    expect(f'stack_{dt}', a[None, :, :, :, None])

a = values((4, 20, 30), 'uint16')
tifffile.imwrite(f'{d}/nometa.tif', a, metadata=None, photometric='minisblack')
expect('nometa', a[None, :, :, :, None])

a = values((20, 30, 3), 'uint8')
tifffile.imwrite(f'{d}/rgb.tif', a, photometric='rgb')
expect('rgb', a[None, None])
a = values((20, 30, 4), 'uint8')
tifffile.imwrite(f'{d}/rgba.tif', a, photometric='rgb', extrasamples=['unassalpha'])
expect('rgba', a[None, None])
a = values((3, 20, 30), 'uint16')
tifffile.imwrite(f'{d}/planar.tif', a, photometric='rgb', planarconfig='separate')
expect('planar', a.transpose(1, 2, 0)[None, None])

a = values((70, 90), 'uint16')
tifffile.imwrite(f'{d}/tiled.tif', a, tile=(16, 32), compression='zlib')
expect('tiled', a[None, None, :, :, None])
a = values((2, 40, 50, 3), 'uint8')
tifffile.imwrite(f'{d}/tiled_rgb.tif', a, tile=(16, 16), photometric='rgb')
expect('tiled_rgb', a[None])

a = (np.arange(5 * 33 * 47).reshape(5, 33, 47) % 300 - 150).astype('int16')
tifffile.imwrite(f'{d}/deflate_predictor.tif', a, compression='zlib', predictor=True, rowsperstrip=7)
expect('deflate_predictor', a[None, :, :, :, None])

a = values((3, 20, 30), 'uint16')
tifffile.imwrite(f'{d}/bigendian.tif', a, byteorder='>', photometric='minisblack')
expect('bigendian', a[None, :, :, :, None])
tifffile.imwrite(f'{d}/bigtiff.tif', a, bigtiff=True, photometric='minisblack')
expect('bigtiff', a[None, :, :, :, None])

a = values((2, 4, 3, 10, 12), 'uint16')
tifffile.imwrite(f'{d}/imagej.tif', a, imagej=True, resolution=(2.0, 4.0),
                 metadata={'axes': 'TZCYX', 'spacing': 2.5, 'unit': 'um', 'finterval': 0.5})
expect('imagej', a.transpose(0, 1, 3, 4, 2))
a = values((3, 10, 12, 3), 'uint8')
tifffile.imwrite(f'{d}/imagej_rgb.tif', a, imagej=True, photometric='rgb', metadata={'axes': 'ZYXS'})
expect('imagej_rgb', a[None])
a = values((5, 10, 12), 'float32')
tifffile.imwrite(f'{d}/imagej_frames.tif', a, imagej=True, metadata={'axes': 'TYX'})
expect('imagej_frames', a[:, None, :, :, None])

a = values((2, 3, 4, 10, 12), 'uint16')
tifffile.imwrite(f'{d}/ome.tif', a, ome=True, metadata={'axes': 'TCZYX', 'PhysicalSizeX': 0.5,
                 'PhysicalSizeY': 0.25, 'PhysicalSizeZ': 2.0, 'TimeIncrement': 3.0})
expect('ome', a.transpose(0, 2, 3, 4, 1))
a = values((3, 2, 10, 12), 'uint8')
tifffile.imwrite(f'{d}/ome_zc.tif', a, ome=True, metadata={'axes': 'ZCYX'})
expect('ome_zc', a.transpose(0, 2, 3, 1)[None])

a = (values((20, 30), 'uint8') > 128)
Image.fromarray(a).save(f'{d}/bilevel.tif')
expect('bilevel', tifffile.imread(f'{d}/bilevel.tif').astype('uint8')[None, None, :, :, None])
a = values((20, 30), 'uint16')
Image.fromarray(a).save(f'{d}/lzw16.tif', compression='tiff_lzw')
expect('lzw16', np.array(Image.open(f'{d}/lzw16.tif')).astype('uint16')[None, None, :, :, None])
a = values((20, 30, 3), 'uint8')
Image.fromarray(a).save(f'{d}/lzw_rgb.tif', compression='tiff_lzw')
expect('lzw_rgb', a[None, None])
p = Image.fromarray(values((20, 30), 'uint8') % 16).convert('P')
p.save(f'{d}/palette.tif')
expect('palette', np.array(Image.open(f'{d}/palette.tif'))[None, None, :, :, None])
a = values((20, 30), 'float32')
Image.fromarray(a).save(f'{d}/float_pil.tif', compression='tiff_adobe_deflate')
expect('float_pil', a[None, None, :, :, None])
)";

const char* const kCases[] = {
    "plain2d",       "nometa",        "rgb",          "rgba",
    "planar",        "tiled",         "tiled_rgb",    "deflate_predictor",
    "bigendian",     "bigtiff",       "imagej",       "imagej_rgb",
    "imagej_frames", "ome",           "ome_zc",       "bilevel",
    "lzw16",         "lzw_rgb",       "palette",      "float_pil",
    "stack_uint8",   "stack_uint16",  "stack_uint32", "stack_uint64",
    "stack_int8",    "stack_int16",   "stack_int32",  "stack_int64",
    "stack_float32", "stack_float64",
};

class TiffRead : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::python_has("numpy, tifffile, PIL")) return;
    directory_ = new TempDir();
    std::string output;
    status_ = testing::run_python(kMakeTiffs, {directory_->path()}, &output);
    output_ = output;
  }
  static void TearDownTestSuite() {
    delete directory_;
    directory_ = nullptr;
  }
  void SetUp() override {
    GROVE_REQUIRE_PYTHON("numpy, tifffile, PIL");
    ASSERT_EQ(status_, 0) << output_;
  }
  static std::string file(const std::string& name) { return directory_->file(name); }
  static AnyArray expected(const std::string& name) {
    return open_npy(file(name + ".npy")).value()->read_all().value();
  }

  static TempDir* directory_;
  static int status_;
  static std::string output_;
};
TempDir* TiffRead::directory_ = nullptr;
int TiffRead::status_ = -1;
std::string TiffRead::output_;

TEST_F(TiffRead, EveryLayoutMatchesTheOracle) {
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    auto reader = open_tiff(file(std::string(name) + ".tif"));
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    const AnyArray truth = expected(name);
    const ImageInfo& info = (*reader)->info();
    EXPECT_EQ(info.shape, truth.shape());
    EXPECT_EQ(info.dtype, truth.dtype());
    auto whole = (*reader)->read_all();
    ASSERT_TRUE(whole.ok()) << whole.error().to_string();
    EXPECT_TRUE(arrays_equal(*whole, truth));
    // A box: every axis cut where the image allows it.
    Box5 box = Box5::of(info.shape);
    for (int a = 0; a < kRank; ++a) {
      if (info.shape[a] >= 3) {
        box.begin[a] = 1;
        box.end[a] = info.shape[a] - 1;
      }
    }
    auto part = (*reader)->read(box);
    ASSERT_TRUE(part.ok()) << part.error().to_string();
    EXPECT_TRUE(arrays_equal(*part, truth.crop(box).copy().value()));
  }
}

TEST_F(TiffRead, AxesAndPixelSizes) {
  {
    auto reader = open_tiff(file("imagej.tif")).value();
    const ImageInfo& info = reader->info();
    EXPECT_EQ(info.axes, "tzcyx");
    EXPECT_EQ(info.shape, Shape5(2, 4, 10, 12, 3));
    ASSERT_TRUE(info.has_pixel_size);
    EXPECT_DOUBLE_EQ(info.pixel_size[kX], 0.5);
    EXPECT_DOUBLE_EQ(info.pixel_size[kY], 0.25);
    EXPECT_DOUBLE_EQ(info.pixel_size[kZ], 2.5);
    EXPECT_DOUBLE_EQ(info.pixel_size[kT], 0.5);
    EXPECT_EQ(info.pixel_unit[kX], "µm");
  }
  {
    auto reader = open_tiff(file("ome.tif")).value();
    const ImageInfo& info = reader->info();
    EXPECT_EQ(info.shape, Shape5(2, 4, 10, 12, 3));
    EXPECT_EQ(info.axes, "tczyx");
    EXPECT_DOUBLE_EQ(info.pixel_size[kX], 0.5);
    EXPECT_DOUBLE_EQ(info.pixel_size[kY], 0.25);
    EXPECT_DOUBLE_EQ(info.pixel_size[kZ], 2.0);
    EXPECT_DOUBLE_EQ(info.pixel_size[kT], 3.0);
    EXPECT_EQ(info.pixel_unit[kZ], "µm");
  }
  EXPECT_EQ(open_tiff(file("stack_uint16.tif")).value()->info().axes, "zyx");
  EXPECT_EQ(open_tiff(file("rgb.tif")).value()->info().axes, "yxc");
  EXPECT_EQ(open_tiff(file("imagej_rgb.tif")).value()->info().shape, Shape5(1, 3, 10, 12, 3));
  EXPECT_EQ(open_tiff(file("tiled.tif")).value()->info().compression, "deflate");
  EXPECT_EQ(open_tiff(file("lzw16.tif")).value()->info().compression, "lzw");
}

// Reading a box reads only its pages: with every other page corrupted on disk, page 2 still
// reads, and reading a corrupted page fails cleanly.
TEST_F(TiffRead, ReadsOnlyThePagesItNeeds) {
  TempDir dir;
  const std::string path = dir.file("corrupt.tif");
  std::string output;
  ASSERT_EQ(
      testing::run_python(
          "import sys, numpy as np, tifffile\n"
          "a = " +
              numpy_pattern("uint16", "(5, 40, 50)") +
              "\n"
              "tifffile.imwrite(sys.argv[1], a, compression='zlib', photometric='minisblack')\n"
              "t = tifffile.TiffFile(sys.argv[1])\n"
              "spans = [(o, n) for i, p in enumerate(t.pages) if i != 2\n"
              "         for o, n in zip(p.dataoffsets, p.databytecounts)]\n"
              "t.close()\n"
              "with open(sys.argv[1], 'r+b') as f:\n"
              "    for o, n in spans:\n"
              "        f.seek(o); f.write(b'\\xff' * n)\n",
          {path}, &output),
      0)
      << output;
  auto reader = open_tiff(path);
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  const AnyArray truth = pattern(DType::u16, Shape5(1, 5, 40, 50, 1));
  const Box5 page2({0, 2, 5, 5, 0}, {1, 3, 35, 45, 1});
  auto good = (*reader)->read(page2);
  ASSERT_TRUE(good.ok()) << good.error().to_string();
  EXPECT_TRUE(arrays_equal(*good, truth.crop(page2).copy().value()));
  auto bad = (*reader)->read(Box5({0, 1, 0, 0, 0}, {1, 2, 4, 4, 1}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
}

// A tiny TIFF whose header claims 10^9 x 10^9 pixels.
std::string absurd_tiff(uint16_t compression) {
  std::string bytes("II*\0\x08\0\0\0", 8);
  auto u16 = [&](uint16_t v) { bytes.append(reinterpret_cast<const char*>(&v), 2); };
  auto u32 = [&](uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t value) {
    u16(tag);
    u16(type);
    u32(1);
    if (type == 3) {
      u16(static_cast<uint16_t>(value));
      u16(0);
    } else {
      u32(value);
    }
  };
  u16(9);
  entry(256, 4, 1000000000);   // ImageWidth
  entry(257, 4, 1000000000);   // ImageLength
  entry(258, 3, 8);            // BitsPerSample
  entry(259, 3, compression);  // Compression
  entry(262, 3, 1);            // Photometric: min-is-black
  entry(273, 4, 200);          // StripOffsets
  entry(277, 3, 1);            // SamplesPerPixel
  entry(278, 4, 1000000000);   // RowsPerStrip
  entry(279, 4, 100);          // StripByteCounts
  u32(0);
  bytes.resize(300, '\0');
  return bytes;
}

TEST(TiffBadInput, FailsCleanly) {
  TempDir dir;
  EXPECT_EQ(open_tiff(dir.file("missing.tif")).error().code(), ErrorCode::kNotFound);
  std::ofstream(dir.file("empty.tif")).close();
  EXPECT_FALSE(open_tiff(dir.file("empty.tif")).ok());
  std::ofstream(dir.file("text.tif")) << "no TIFF here, just words.";
  EXPECT_EQ(open_tiff(dir.file("text.tif")).error().code(), ErrorCode::kCorrupt);
  for (uint16_t compression : {1, 8}) {
    const std::string path = dir.file("absurd" + std::to_string(compression) + ".tif");
    std::ofstream(path, std::ios::binary) << absurd_tiff(compression);
    auto reader = open_tiff(path);
    ASSERT_FALSE(reader.ok()) << "compression " << compression;
    EXPECT_EQ(reader.error().code(), ErrorCode::kCorrupt) << reader.error().to_string();
  }
  // A real file cut short.
  const std::string whole = dir.file("whole.tif");
  WriteOptions options;
  options.compression = "deflate";
  ASSERT_TRUE(write_image(whole, pattern(DType::u16, Shape5(1, 4, 64, 64, 1)), options).ok());
  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t keep : {size_t{16}, bytes.size() / 3, bytes.size() - 100}) {
    const std::string path = dir.file("cut" + std::to_string(keep) + ".tif");
    std::ofstream(path, std::ios::binary) << bytes.substr(0, keep);
    auto reader = open_tiff(path);
    if (reader.ok()) {
      // Every read of it fails, none crashes.
      EXPECT_FALSE((*reader)->read_all().ok()) << keep;
    }
  }
}

// Found by the tiff fuzzer: a 32x32 page in tiles of 117440528 x 16 pixels made the reader
// allocate 1.9 GB to decode one tile. Refused at open, naming the tiles.
TEST(TiffBadInput, TilesFarLargerThanThePage) {
  const std::string path = std::string(GROVE_SOURCE_DIR) +
                           "/fuzz/corpus/tiff/crash-oom-tile-far-wider-than-the-image.tif";
  auto reader = open_tiff(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(reader.error().to_string().find("tiles of 117440528x16 pixels"), std::string::npos)
      << reader.error().to_string();
  // Tiles larger than a small image are fine as such (a 10x10 image in one 256x256 tile).
  GROVE_REQUIRE_PYTHON("numpy, tifffile");
  TempDir dir;
  std::string output;
  ASSERT_EQ(testing::run_python("import sys, numpy as np, tifffile\n"
                                "tifffile.imwrite(sys.argv[1] + '/small.tif',\n"
                                "    np.arange(100, dtype=np.uint8).reshape(10, 10),\n"
                                "    tile=(256, 256))\n",
                                {dir.path()}, &output),
            0)
      << output;
  auto small = open_tiff(dir.file("small.tif"));
  ASSERT_TRUE(small.ok()) << small.error().to_string();
  auto pixels = (*small)->read_all();
  ASSERT_TRUE(pixels.ok()) << pixels.error().to_string();
  EXPECT_EQ(pixels->view<uint8_t>()(0, 0, 9, 9, 0), 99);
}

TEST(TiffBadInput, UnsupportedSamples) {
  GROVE_REQUIRE_PYTHON("numpy, tifffile");
  TempDir dir;
  std::string output;
  ASSERT_EQ(testing::run_python(
                "import sys, numpy as np, tifffile\n"
                "tifffile.imwrite(sys.argv[1] + '/complex.tif', np.zeros((8, 8), np.complex64))\n"
                "tifffile.imwrite(sys.argv[1] + '/half.tif', np.zeros((8, 8), np.float16))\n",
                {dir.path()}, &output),
            0)
      << output;
  for (const char* name : {"complex.tif", "half.tif"}) {
    auto reader = open_tiff(dir.file(name));
    ASSERT_FALSE(reader.ok()) << name;
    EXPECT_EQ(reader.error().code(), ErrorCode::kUnsupported) << reader.error().to_string();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

TEST(TiffWrite, RoundTripsEveryDtypeAndCompression) {
  TempDir dir;
  const Shape5 shapes[] = {Shape5(1, 1, 33, 47, 1), Shape5(1, 3, 20, 25, 1),
                           Shape5(2, 3, 16, 18, 2), Shape5(1, 2, 16, 18, 3)};
  for (const char* compression : {"none", "lzw", "deflate", "zstd", "packbits"}) {
    for (DType dtype : kAllDTypes) {
      for (const Shape5& shape : shapes) {
        SCOPED_TRACE(std::string(compression) + " " + std::string(dtype_name(dtype)) + " " +
                     shape.to_string());
        WriteOptions options;
        options.compression = compression;
        const std::string path = dir.file("out.tif");
        options.overwrite = true;
        const AnyArray data = pattern(dtype, shape);
        ASSERT_TRUE(write_image(path, data, options).ok());
        auto back = read_image(path);
        ASSERT_TRUE(back.ok()) << back.error().to_string();
        // bool is stored as uint8.
        EXPECT_TRUE(
            arrays_equal(*back, dtype == DType::boolean ? data.convert(DType::u8).value() : data));
      }
    }
  }
}

// tifffile (and ImageJ through its metadata) sees the axes grove wrote.
TEST(TiffWrite, TifffileReadsHyperstacks) {
  GROVE_REQUIRE_PYTHON("numpy, tifffile");
  TempDir dir;
  struct Case {
    DType dtype;
    Shape5 shape;
    const char* axes;  // tifffile's series axes
    const char* numpy_shape;
    const char* transpose;  // from tifffile's array to t,z,y,x,c
  };
  const Case cases[] = {
      {DType::u16, Shape5(2, 3, 10, 12, 4), "TZCYX", "(2, 3, 10, 12, 4)", "(0, 1, 3, 4, 2)"},
      {DType::f32, Shape5(1, 5, 10, 12, 1), "ZYX", "(1, 5, 10, 12, 1)", "(0, 1, 2)"},
      {DType::u8, Shape5(1, 2, 10, 12, 3), "ZYXS", "(1, 2, 10, 12, 3)", "(0, 1, 2, 3)"},
      {DType::u8, Shape5(4, 1, 10, 12, 1), "TYX", "(4, 1, 10, 12, 1)", "(0, 1, 2)"},
      {DType::i32, Shape5(2, 3, 10, 12, 2), "TZCYX", "(2, 3, 10, 12, 2)", "(0, 1, 3, 4, 2)"},
      {DType::u8, Shape5(1, 1, 10, 12, 2), "CYX", "(10, 12, 2)", "(1, 2, 0)"},
  };
  for (const char* compression : {"none", "deflate"})
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.axes) + " " + compression);
      const std::string path =
          dir.file(std::string(dtype_name(c.dtype)) + c.axes + compression + ".tif");
      WriteOptions options;
      options.compression = compression;
      options.has_pixel_size = true;
      options.pixel_size = {0.5, 2.0, 0.25, 0.25};
      options.pixel_unit = {"s", "µm", "µm", "µm"};
      ASSERT_TRUE(write_image(path, pattern(c.dtype, c.shape), options).ok());
      std::string output;
      const bool imagej = c.dtype != DType::i32;
      const std::string script =
          "import sys, numpy as np, tifffile\n"
          "t = tifffile.TiffFile(sys.argv[1])\n"
          "s = t.series[0]\n"
          "assert t.is_imagej == " +
          std::string(imagej ? "True" : "False") +
          ", t.is_imagej\n"
          "assert s.axes == '" +
          c.axes +
          "', s.axes\n"
          "a = s.asarray()\n"
          "e = " +
          numpy_pattern(std::string(dtype_name(c.dtype)), c.numpy_shape) +
          "\n"
          "got = a.transpose(" +
          c.transpose +
          ").reshape(e.shape)\n"
          "assert (got == e).all()\n"
          "if t.is_imagej:\n"
          "    m = t.imagej_metadata\n"
          "    assert m.get('unit') == 'micron', m\n"
          "    if 'Z' in s.axes: assert m['spacing'] == 2.0, m\n"
          "    x = t.pages[0].tags['XResolution'].value\n"
          "    assert abs(x[0] / x[1] - 4.0) < 1e-6, x\n";
      EXPECT_EQ(testing::run_python(script, {path}, &output), 0) << output;
      // grove reads its own metadata back.
      auto reader = open_tiff(path);
      ASSERT_TRUE(reader.ok());
      EXPECT_EQ((*reader)->info().shape, c.shape);
      EXPECT_DOUBLE_EQ((*reader)->info().pixel_size[kX], 0.25);
      if (c.shape.z() > 1) {
        EXPECT_DOUBLE_EQ((*reader)->info().pixel_size[kZ], 2.0);
      }
    }
}

TEST(TiffWrite, BigTiff) {
  EXPECT_FALSE(tiff_needs_bigtiff(int64_t{1} << 30));
  EXPECT_TRUE(tiff_needs_bigtiff(int64_t{5} << 30));
  TempDir dir;
  const std::string path = dir.file("big.tif");
  const Shape5 shape(1, 3, 20, 30, 1);
  TiffWriteOptions tiff_options;
  tiff_options.force_bigtiff = true;
  auto writer = create_tiff(path, shape, DType::u16, {}, tiff_options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->write(Box5::of(shape), pattern(DType::u16, shape)).ok());
  ASSERT_TRUE((*writer)->commit().ok());
  std::ifstream in(path, std::ios::binary);
  char header[4];
  in.read(header, 4);
  EXPECT_EQ(header[2], 43) << "not a BigTIFF";
  EXPECT_TRUE(arrays_equal(read_image(path).value(), pattern(DType::u16, shape)));
  if (testing::python_has("numpy, tifffile")) {
    std::string output;
    EXPECT_EQ(testing::run_python("import sys, tifffile\n"
                                  "t = tifffile.TiffFile(sys.argv[1])\n"
                                  "assert t.is_bigtiff and t.series[0].shape == (3, 20, 30)\n",
                                  {path}, &output),
              0)
        << output;
  }
}

// Blocks in any order (here: small boxes, last first) end up in the right pages.
TEST(TiffWrite, BlocksInAnyOrder) {
  TempDir dir;
  const Shape5 shape(2, 3, 40, 50, 2);
  const AnyArray data = pattern(DType::f32, shape);
  const std::string path = dir.file("blocks.tif");
  WriteOptions options;
  options.compression = "lzw";
  auto writer = create_image(path, shape, DType::f32, options);
  ASSERT_TRUE(writer.ok());
  std::vector<Box5> boxes;
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t z = 0; z < 3; ++z)
      for (int64_t y = 0; y < 40; y += 16)
        for (int64_t x = 0; x < 50; x += 16)
          boxes.push_back(Box5({t, z, y, x, 0}, {t + 1, z + 1, std::min<int64_t>(y + 16, 40),
                                                 std::min<int64_t>(x + 16, 50), 2}));
  std::reverse(boxes.begin(), boxes.end());
  for (const Box5& box : boxes) ASSERT_TRUE((*writer)->write(box, data.crop(box)).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_TRUE((*writer)->commit().ok());
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"blocks.tif"}));
  EXPECT_TRUE(arrays_equal(read_image(path).value(), data));
  // tifffile agrees: a 2-channel uint8 image written in blocks is an ImageJ CYX hyperstack.
  if (testing::python_has("numpy, tifffile")) {
    const Shape5 two(1, 1, 50, 80, 2);
    const AnyArray channels = pattern(DType::u8, two);
    const std::string cyx = dir.file("cyx.tif");
    auto blocks = create_image(cyx, two, DType::u8);
    ASSERT_TRUE(blocks.ok());
    for (int64_t y = 40; y >= 0; y -= 20) {
      const Box5 box({0, 0, y, 0, 0}, {1, 1, std::min<int64_t>(y + 20, 50), 80, 2});
      ASSERT_TRUE((*blocks)->write(box, channels.crop(box)).ok());
    }
    ASSERT_TRUE((*blocks)->commit().ok());
    std::string output;
    EXPECT_EQ(testing::run_python("import sys, numpy as np, tifffile\n"
                                  "s = tifffile.TiffFile(sys.argv[1]).series[0]\n"
                                  "assert s.axes == 'CYX', s.axes\n"
                                  "e = " +
                                      numpy_pattern("uint8", "(50, 80, 2)") +
                                      "\n"
                                      "assert (np.moveaxis(s.asarray(), 0, -1) == e).all()\n",
                                  {cyx}, &output),
              0)
        << output;
  }
}

// Uncompressed RGB written one channel and a few rows at a time, from several threads.
TEST(TiffWrite, PartialPixelsInTheContiguousLayout) {
  TempDir dir;
  const Shape5 shape(1, 2, 20, 30, 3);
  const AnyArray data = pattern(DType::u8, shape);
  const std::string path = dir.file("rgb.tif");
  auto writer = create_image(path, shape, DType::u8);
  ASSERT_TRUE(writer.ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int64_t c = 0; c < 3; ++c) {
    threads.emplace_back([&, c] {
      for (int64_t z = 0; z < 2; ++z)
        for (int64_t y = 15; y >= 0; y -= 5) {
          const Box5 box({0, z, y, 3, c}, {1, z + 1, y + 5, 30, c + 1});
          if (!(*writer)->write(box, data.crop(box)).ok()) ++failures;
        }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);
  // Columns 0..2 were never written: zeros.
  const Box5 rest({0, 0, 0, 0, 0}, {1, 2, 20, 3, 3});
  ASSERT_TRUE((*writer)->write(rest, data.crop(rest)).ok());
  ASSERT_TRUE((*writer)->commit().ok());
  auto reader = open_tiff(path);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->info().axes, "zyxc");
  EXPECT_TRUE(arrays_equal((*reader)->read_all().value(), data));
}

TEST(TiffWrite, UncommittedWritersLeaveNothing) {
  TempDir dir;
  const Shape5 shape(1, 4, 20, 20, 1);
  for (const char* compression : {"none", "lzw"}) {
    WriteOptions options;
    options.compression = compression;
    auto writer = create_image(dir.file("a.tif"), shape, DType::u8, options);
    ASSERT_TRUE(writer.ok());
    // LZW: one page straight through, one into the scratch file.
    ASSERT_TRUE((*writer)
                    ->write(Box5({0, 0, 0, 0, 0}, {1, 1, 20, 20, 1}),
                            pattern(DType::u8, Shape5(1, 1, 20, 20, 1)))
                    .ok());
    ASSERT_TRUE((*writer)
                    ->write(Box5({0, 3, 0, 0, 0}, {1, 4, 10, 20, 1}),
                            pattern(DType::u8, Shape5(1, 1, 10, 20, 1)))
                    .ok());
    writer->reset();
    EXPECT_TRUE(dir.entries().empty()) << compression;
  }
}

TEST(TiffWrite, RefusesBadRequests) {
  TempDir dir;
  EXPECT_FALSE(create_image(dir.file("x.tif"), Shape5(1, 1, 0, 5, 1), DType::u8).ok());
  WriteOptions options;
  options.compression = "jpeg2000";
  EXPECT_EQ(
      create_image(dir.file("x.tif"), Shape5(1, 1, 5, 5, 1), DType::u8, options).error().code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      create_image(dir.file("no/such/dir/x.tif"), Shape5(1, 1, 5, 5, 1), DType::u8).error().code(),
      ErrorCode::kNotFound);
}

}  // namespace
}  // namespace grove::io
