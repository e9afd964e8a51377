#include "grove/io/axes_override.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>

namespace grove {
namespace {

TEST(AxesOverride, TransposedImageReadsAsDeclared) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("grove_axes_" + std::to_string(::getpid()) + ".npy"))
                               .string();
  // Stored (3, 5): guessed "yx"; declared "xy" it is 5 high and 3 wide.
  AnyArray data = *AnyArray::allocate(DType::u16, {1, 1, 3, 5, 1});
  auto v = data.view<uint16_t>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) v(0, 0, i, j, 0) = static_cast<uint16_t>(10 * i + j);
  ASSERT_TRUE(write_image(path, data).ok());
  auto reader = open_image_with_axes(path, "xy");
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  EXPECT_EQ((*reader)->info().shape, Shape5(1, 1, 5, 3, 1));
  EXPECT_EQ((*reader)->info().axes, "xy");
  auto part = (*reader)->read(Box5({0, 0, 1, 1, 0}, {1, 1, 4, 3, 1}));
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(part->shape(), Shape5(1, 1, 3, 2, 1));
  EXPECT_EQ(part->view<uint16_t>()(0, 0, 0, 0, 0), 11);  // x=1, y=1
  EXPECT_EQ(part->view<uint16_t>()(0, 0, 2, 1, 0), 23);  // y=3, x=2 -> stored (2, 3)
  // "tyx" on 3 stored dims: a time series.
  AnyArray cube = *AnyArray::allocate(DType::u8, {1, 4, 6, 7, 1});
  ASSERT_TRUE(write_image(path, cube, {.overwrite = true}).ok());
  auto series = open_image_with_axes(path, "tyx");
  ASSERT_TRUE(series.ok());
  EXPECT_EQ((*series)->info().shape, Shape5(4, 1, 6, 7, 1));
  EXPECT_FALSE(open_image_with_axes(path, "yx").ok());
  EXPECT_FALSE(open_image_with_axes(path, "yyx").ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace grove
