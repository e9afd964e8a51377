#include "grove/io/jpeg.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "grove/io/io_test_support.h"
#include "grove/io/npy.h"

namespace grove::io {
namespace {

using testing::pattern;
using testing::TempDir;

// Largest absolute difference of two uint8 arrays of equal shape.
int max_difference(const AnyArray& a, const AnyArray& b) {
  const AnyArray ca = a.contiguous_or_copy().value(), cb = b.contiguous_or_copy().value();
  const auto* pa = static_cast<const uint8_t*>(ca.raw_data());
  const auto* pb = static_cast<const uint8_t*>(cb.raw_data());
  int worst = 0;
  for (int64_t i = 0; i < ca.size(); ++i) worst = std::max(worst, std::abs(pa[i] - pb[i]));
  return worst;
}

// Gray and RGB JPEGs from PIL decode to what PIL decodes (both use libjpeg-turbo; a difference
// of one level is allowed for other IDCT choices).
TEST(Jpeg, ReadsWhatPilWrites) {
  GROVE_REQUIRE_PYTHON("numpy, PIL");
  TempDir dir;
  std::string output;
  ASSERT_EQ(testing::run_python(
                "import sys, numpy as np\n"
                "from PIL import Image\n"
                "d = sys.argv[1]\n"
                "y, x = np.mgrid[0:60, 0:80]\n"
                "g = ((np.sin(x / 7.0) + np.cos(y / 5.0)) * 60 + 128).astype(np.uint8)\n"
                "rgb = np.stack([g, 255 - g, (g // 2 + 40)], -1).astype(np.uint8)\n"
                "for name, a in [('gray', g), ('rgb', rgb)]:\n"
                "    Image.fromarray(a).save(f'{d}/{name}.jpg', quality=90)\n"
                "    e = np.asarray(Image.open(f'{d}/{name}.jpg'))\n"
                "    if e.ndim == 2: e = e[:, :, None]\n"
                "    np.save(f'{d}/{name}.npy', np.ascontiguousarray(e[None, None]))\n",
                {dir.path()}, &output),
            0)
      << output;
  for (const char* name : {"gray", "rgb"}) {
    auto reader = open_jpeg(dir.file(std::string(name) + ".jpg"));
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    const AnyArray truth = open_npy(dir.file(std::string(name) + ".npy")).value()->read_all().value();
    EXPECT_EQ((*reader)->info().shape, truth.shape());
    const AnyArray data = (*reader)->read_all().value();
    EXPECT_LE(max_difference(data, truth), 1) << name;
  }
}

TEST(Jpeg, WriteAndReadBack) {
  TempDir dir;
  for (int64_t channels : {1, 3}) {
    // A smooth image: JPEG keeps it within a few levels.
    const Shape5 shape(1, 1, 48, 64, channels);
    AnyArray image = AnyArray::allocate(DType::u8, shape).value();
    auto view = image.view<uint8_t>();
    for (int64_t y = 0; y < 48; ++y)
      for (int64_t x = 0; x < 64; ++x)
        for (int64_t c = 0; c < channels; ++c) view(0, 0, y, x, c) = static_cast<uint8_t>(60 + y * 2 + x + c * 10);
    const std::string path = dir.file("out" + std::to_string(channels) + ".jpg");
    ASSERT_TRUE(write_image(path, image).ok());
    const AnyArray back = read_image(path).value();
    EXPECT_EQ(back.shape(), shape);
    EXPECT_LE(max_difference(back, image), 6);
    if (testing::python_has("numpy, PIL")) {
      std::string output;
      EXPECT_EQ(testing::run_python("import sys, numpy as np\nfrom PIL import Image\n"
                                    "a = np.asarray(Image.open(sys.argv[1]))\n"
                                    "assert a.shape[:2] == (48, 64), a.shape\n",
                                    {path}, &output),
                0)
          << output;
    }
  }
  EXPECT_EQ(create_jpeg(dir.file("x.jpg"), Shape5(1, 1, 4, 4, 2), DType::u8, {}).error().code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(create_jpeg(dir.file("x.jpg"), Shape5(1, 1, 4, 4, 1), DType::u16, {}).error().code(),
            ErrorCode::kUnsupported);
}

TEST(Jpeg, BadInput) {
  TempDir dir;
  EXPECT_EQ(open_jpeg(dir.file("missing.jpg")).error().code(), ErrorCode::kNotFound);
  std::ofstream(dir.file("text.jpg")) << "not a jpeg";
  EXPECT_EQ(open_jpeg(dir.file("text.jpg")).error().code(), ErrorCode::kCorrupt);
  const std::string whole = dir.file("whole.jpg");
  ASSERT_TRUE(write_image(whole, pattern(DType::u8, Shape5(1, 1, 64, 64, 3))).ok());
  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t keep : {size_t{10}, size_t{200}, bytes.size() / 2}) {
    const std::string path = dir.file("cut" + std::to_string(keep) + ".jpg");
    std::ofstream(path, std::ios::binary) << bytes.substr(0, keep);
    auto reader = open_jpeg(path);
    if (reader.ok()) {
      EXPECT_FALSE((*reader)->read_all().ok()) << "cut at " << keep;
    }
  }
}

}  // namespace
}  // namespace grove::io
