#include "grove/io/png.h"

#include <gtest/gtest.h>

#include <fstream>

#include "grove/io/io_test_support.h"
#include "grove/io/npy.h"

namespace grove::io {
namespace {

using testing::arrays_equal;
using testing::numpy_pattern;
using testing::pattern;
using testing::TempDir;

// PIL writes every PNG kind; the expected t,z,y,x,c array goes beside it as .npy.
const char* const kMakePngs = R"(
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(3)
def save(name, image, expected):
    image.save(f'{d}/{name}.png')
    e = np.asarray(expected)
    if e.ndim == 2: e = e[:, :, None]
    np.save(f'{d}/{name}.npy', np.ascontiguousarray(e[None, None]))
g = rng.integers(0, 256, (21, 33), dtype=np.uint8)
save('gray8', Image.fromarray(g), g)
g16 = rng.integers(0, 65536, (21, 33), dtype=np.uint16)
save('gray16', Image.fromarray(g16), g16)
rgb = rng.integers(0, 256, (21, 33, 3), dtype=np.uint8)
save('rgb', Image.fromarray(rgb), rgb)
rgba = rng.integers(0, 256, (21, 33, 4), dtype=np.uint8)
save('rgba', Image.fromarray(rgba), rgba)
la = rng.integers(0, 256, (21, 33, 2), dtype=np.uint8)
save('gray_alpha', Image.fromarray(la, 'LA'), la)
bits = rng.integers(0, 2, (21, 33)).astype(bool)
save('bilevel', Image.fromarray(bits), bits.astype(np.uint8) * 255)
p = Image.fromarray(rgb).convert('P', palette=Image.ADAPTIVE, colors=16)
save('palette', p, np.asarray(p.convert('RGB')))
p.info['transparency'] = 0
p.save(f'{d}/palette_alpha.png', transparency=0)
np.save(f'{d}/palette_alpha.npy', np.ascontiguousarray(np.asarray(Image.open(f'{d}/palette_alpha.png').convert('RGBA'))[None, None]))
)";

TEST(Png, ReadsWhatPilWrites) {
  GROVE_REQUIRE_PYTHON("numpy, PIL");
  TempDir dir;
  std::string output;
  ASSERT_EQ(testing::run_python(kMakePngs, {dir.path()}, &output), 0) << output;
  for (const char* name :
       {"gray8", "gray16", "rgb", "rgba", "gray_alpha", "bilevel", "palette", "palette_alpha"}) {
    SCOPED_TRACE(name);
    auto reader = open_png(dir.file(std::string(name) + ".png"));
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    const AnyArray truth = open_npy(dir.file(std::string(name) + ".npy")).value()->read_all().value();
    EXPECT_EQ((*reader)->info().shape, truth.shape());
    auto data = (*reader)->read_all();
    ASSERT_TRUE(data.ok()) << data.error().to_string();
    EXPECT_TRUE(arrays_equal(*data, truth.convert((*reader)->info().dtype).value()));
    const Box5 box({0, 0, 3, 5, 0}, {1, 1, 20, 30, truth.shape().c()});
    EXPECT_TRUE(arrays_equal((*reader)->read(box).value(),
                             truth.crop(box).convert((*reader)->info().dtype).value()));
  }
}

TEST(Png, WritesWhatPilReads) {
  GROVE_REQUIRE_PYTHON("numpy, PIL");
  TempDir dir;
  std::string checks = "import sys, numpy as np\nfrom PIL import Image\n";
  for (DType dtype : {DType::u8, DType::u16}) {
    for (int64_t channels : {1, 2, 3, 4}) {
      if (dtype == DType::u16 && channels > 1) continue;  // PIL has no 16-bit colour modes
      const Shape5 shape(1, 1, 19, 23, channels);
      const std::string name = std::string(dtype_name(dtype)) + std::to_string(channels) + ".png";
      ASSERT_TRUE(write_image(dir.file(name), pattern(dtype, shape)).ok());
      const std::string numpy_shape = channels == 1 ? "(19, 23)" : "(19, 23, " + std::to_string(channels) + ")";
      checks += "a = np.asarray(Image.open(sys.argv[1] + '/" + name + "'))\n"
                "e = " + numpy_pattern(std::string(dtype_name(dtype)), numpy_shape) + "\n"
                "assert a.shape == e.shape and (a.astype(np.int64) == e).all(), '" + name + "'\n";
    }
  }
  std::string output;
  EXPECT_EQ(testing::run_python(checks, {dir.path()}, &output), 0) << output;
  // 16-bit colour round-trips through grove itself.
  const Shape5 shape(1, 1, 19, 23, 4);
  WriteOptions options;
  options.has_pixel_size = true;
  options.pixel_size = {1, 1, 0.5, 0.25};
  options.pixel_unit = {"", "", "µm", "µm"};
  ASSERT_TRUE(write_image(dir.file("rgba16.png"), pattern(DType::u16, shape), options).ok());
  auto reader = open_png(dir.file("rgba16.png")).value();
  EXPECT_TRUE(arrays_equal(reader->read_all().value(), pattern(DType::u16, shape)));
  EXPECT_TRUE(reader->info().has_pixel_size);
  EXPECT_NEAR(reader->info().pixel_size[kX], 0.25, 1e-5);
  EXPECT_NEAR(reader->info().pixel_size[kY], 0.5, 1e-5);
}

TEST(Png, RefusesWhatItCannotHold) {
  TempDir dir;
  EXPECT_EQ(create_png(dir.file("a.png"), Shape5(1, 2, 4, 4, 1), DType::u8, {}).error().code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(create_png(dir.file("a.png"), Shape5(1, 1, 4, 4, 5), DType::u8, {}).error().code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(create_png(dir.file("a.png"), Shape5(1, 1, 4, 4, 1), DType::f32, {}).error().code(),
            ErrorCode::kUnsupported);
}

TEST(Png, BadInput) {
  TempDir dir;
  EXPECT_EQ(open_png(dir.file("missing.png")).error().code(), ErrorCode::kNotFound);
  std::ofstream(dir.file("empty.png")).close();
  EXPECT_FALSE(open_png(dir.file("empty.png")).ok());
  std::ofstream(dir.file("text.png")) << "definitely not a png";
  EXPECT_EQ(open_png(dir.file("text.png")).error().code(), ErrorCode::kCorrupt);
  const std::string whole = dir.file("whole.png");
  ASSERT_TRUE(write_image(whole, pattern(DType::u8, Shape5(1, 1, 64, 64, 3))).ok());
  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t keep : {size_t{20}, size_t{60}, bytes.size() / 2, bytes.size() - 20}) {
    const std::string path = dir.file("cut" + std::to_string(keep) + ".png");
    std::ofstream(path, std::ios::binary) << bytes.substr(0, keep);
    auto reader = open_png(path);
    if (reader.ok()) {
      auto data = (*reader)->read_all();
      EXPECT_FALSE(data.ok()) << "cut at " << keep;
    }
  }
  // Absurd dimensions in a valid header: 100000 x 100000 RGBA in a few bytes.
  std::string header = bytes.substr(0, 33);
  auto put32 = [&](size_t at, uint32_t v) {
    header[at] = static_cast<char>(v >> 24);
    header[at + 1] = static_cast<char>(v >> 16);
    header[at + 2] = static_cast<char>(v >> 8);
    header[at + 3] = static_cast<char>(v);
  };
  put32(16, 100000);
  put32(20, 100000);
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(header.data() + 12), 17);
  put32(29, static_cast<uint32_t>(crc));
  std::ofstream(dir.file("absurd.png"), std::ios::binary) << header << bytes.substr(33, 200);
  auto absurd = open_png(dir.file("absurd.png"));
  ASSERT_FALSE(absurd.ok());
  EXPECT_EQ(absurd.error().code(), ErrorCode::kCorrupt) << absurd.error().to_string();
}

}  // namespace
}  // namespace grove::io
