#include "grove/io/npy.h"

#include <gtest/gtest.h>

#include <fstream>

#include "grove/io/io_test_support.h"

namespace grove::io {
namespace {

using testing::arrays_equal;
using testing::numpy_pattern;
using testing::pattern;
using testing::TempDir;

const char* const kDtypes[] = {"uint8", "uint16", "uint32", "uint64", "int8",  "int16",
                               "int32", "int64",  "float32", "float64", "bool"};

TEST(Npy, ParsesHeaders) {
  std::string header = std::string("\x93NUMPY\x01\x00", 8);
  const std::string dict = "{'descr': '>i2', 'fortran_order': True, 'shape': (3, 4), }";
  header += static_cast<char>(dict.size());
  header += '\0';
  header += dict;
  const NpyHeader parsed = parse_npy_header(header).value();
  EXPECT_EQ(parsed.dtype, DType::i16);
  EXPECT_TRUE(parsed.big_endian);
  EXPECT_TRUE(parsed.fortran_order);
  EXPECT_EQ(parsed.dims, (std::vector<int64_t>{3, 4}));
}

TEST(Npy, RefusesUnsupportedDtypes) {
  for (const char* descr : {"<c8", "|O", "<U10", "<f2", "|S3"}) {
    std::string header = std::string("\x93NUMPY\x01\x00", 8);
    const std::string dict =
        std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (3,), }";
    header += static_cast<char>(dict.size());
    header += '\0';
    header += dict;
    auto parsed = parse_npy_header(header);
    ASSERT_FALSE(parsed.ok()) << descr;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kUnsupported) << descr;
    EXPECT_NE(parsed.error().message().find(descr), std::string::npos);
  }
}

// grove writes every dtype; numpy reads the same values.
TEST(Npy, WritesWhatNumpyReads) {
  GROVE_REQUIRE_PYTHON("numpy");
  TempDir dir;
  const Shape5 shape(1, 1, 5, 7, 3);
  std::string checks = "import sys, numpy as np\n";
  for (DType dtype : kAllDTypes) {
    const std::string name(dtype_name(dtype));
    ASSERT_TRUE(write_image(dir.file(name + ".npy"), pattern(dtype, shape)).ok());
    checks += "a = np.load(sys.argv[1] + '/" + name + ".npy')\n"
              "e = " + numpy_pattern(name, "(5, 7, 3)") + "\n"
              "assert a.dtype == e.dtype and a.shape == e.shape and (a == e).all(), '" + name + "'\n";
  }
  std::string output;
  EXPECT_EQ(testing::run_python(checks, {dir.path()}, &output), 0) << output;
}

// numpy writes every dtype, both byte orders, C and Fortran order, and versions 1 to 3.
TEST(Npy, ReadsWhatNumpyWrites) {
  GROVE_REQUIRE_PYTHON("numpy");
  TempDir dir;
  std::string output;
  const int status = testing::run_python(
      "import sys, numpy as np\n"
      "from numpy.lib import format as fmt\n"
      "d = sys.argv[1]\n"
      "for dt in " + std::string("['uint8','uint16','uint32','uint64','int8','int16','int32',"
                                 "'int64','float32','float64','bool']") + ":\n"
      "    a = " + numpy_pattern("' + dt + '", "(4, 6, 5)") + "\n"
      "    np.save(f'{d}/{dt}_c.npy', a)\n"
      "    np.save(f'{d}/{dt}_f.npy', np.asfortranarray(a))\n"
      "    np.save(f'{d}/{dt}_be.npy', a.astype(a.dtype.newbyteorder('>')))\n"
      "    for v in (2, 3):\n"
      "        with open(f'{d}/{dt}_v{v}.npy', 'wb') as f:\n"
      "            fmt.write_array(f, a, version=(v, 0))\n",
      {dir.path()}, &output);
  ASSERT_EQ(status, 0) << output;
  for (DType dtype : kAllDTypes) {
    const AnyArray expected = pattern(dtype, Shape5(1, 4, 6, 5, 1));
    for (const char* variant : {"c", "f", "be", "v2", "v3"}) {
      const std::string path = dir.file(std::string(dtype_name(dtype)) + "_" + variant + ".npy");
      auto reader = open_npy(path);
      ASSERT_TRUE(reader.ok()) << path << ": " << reader.error().to_string();
      EXPECT_EQ((*reader)->info().axes, "zyx");
      auto data = (*reader)->read_all();
      ASSERT_TRUE(data.ok()) << data.error().to_string();
      EXPECT_TRUE(arrays_equal(*data, expected)) << path;
      // A sub-box equals the same crop of the whole.
      const Box5 box({0, 1, 2, 1, 0}, {1, 3, 5, 4, 1});
      auto part = (*reader)->read(box);
      ASSERT_TRUE(part.ok());
      EXPECT_TRUE(arrays_equal(*part, expected.crop(box).copy().value())) << path;
    }
  }
}

TEST(Npy, HonoursWriteAxes) {
  TempDir dir;
  const AnyArray data = pattern(DType::u16, Shape5(1, 3, 4, 5, 2));
  WriteOptions options;
  options.axes = "czyx";
  const std::string path = dir.file("czyx.npy");
  ASSERT_TRUE(write_image(path, data, options).ok());
  auto reader = open_npy(path);
  ASSERT_TRUE(reader.ok());
  // Stored (2, 3, 4, 5): the guess by rank reads it as tzyx.
  EXPECT_EQ((*reader)->info().stored_shape, (std::vector<int64_t>{2, 3, 4, 5}));
  const AnyArray read = (*reader)->read_all().value();
  for (int c = 0; c < 2; ++c)
    for (int z = 0; z < 3; ++z)
      EXPECT_EQ(read.view<uint16_t>()(c, z, 1, 2, 0), data.view<uint16_t>()(0, z, 1, 2, c));
}

TEST(Npy, BadInput) {
  TempDir dir;
  EXPECT_EQ(open_npy(dir.file("missing.npy")).error().code(), ErrorCode::kNotFound);
  {
    std::ofstream(dir.file("empty.npy"));
  }
  EXPECT_FALSE(open_npy(dir.file("empty.npy")).ok());
  {
    std::ofstream(dir.file("garbage.npy")) << "this is not numpy at all";
  }
  EXPECT_EQ(open_npy(dir.file("garbage.npy")).error().code(), ErrorCode::kCorrupt);
  // Truncated: the header promises more data than the file holds.
  const std::string whole = dir.file("whole.npy");
  ASSERT_TRUE(write_image(whole, pattern(DType::f32, Shape5(1, 1, 64, 64, 1))).ok());
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir.file("truncated.npy"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto truncated = open_npy(dir.file("truncated.npy"));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message().find("truncated"), std::string::npos);
  // Absurd shape in a tiny file: refused before any allocation.
  std::string header = std::string("\x93NUMPY\x01\x00", 8);
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }";
  header += static_cast<char>(dict.size());
  header += '\0';
  header += dict;
  std::ofstream(dir.file("absurd.npy"), std::ios::binary) << header;
  auto absurd = open_npy(dir.file("absurd.npy"));
  ASSERT_FALSE(absurd.ok());
}

TEST(Npy, WriterIsAtomic) {
  TempDir dir;
  const std::string path = dir.file("out.npy");
  {
    auto writer = create_npy(path, Shape5(1, 1, 8, 8, 1), DType::u8, {});
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(Box5::of(Shape5(1, 1, 8, 8, 1)), pattern(DType::u8, Shape5(1, 1, 8, 8, 1))).ok());
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  // Never committed: nothing left behind.
  EXPECT_TRUE(dir.entries().empty());
  auto writer = create_npy(path, Shape5(1, 1, 8, 8, 1), DType::u8, {});
  ASSERT_TRUE((*writer)->write(Box5::of(Shape5(1, 1, 8, 8, 1)), pattern(DType::u8, Shape5(1, 1, 8, 8, 1))).ok());
  ASSERT_TRUE((*writer)->commit().ok());
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(dir.entries().size(), 1u);
  // Existing outputs are not overwritten unless asked.
  EXPECT_EQ(create_npy(path, Shape5(1, 1, 8, 8, 1), DType::u8, {}).error().code(),
            ErrorCode::kAlreadyExists);
}

}  // namespace
}  // namespace grove::io
