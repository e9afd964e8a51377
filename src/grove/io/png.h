// PNG images through libpng. Reads 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA and palette
// images: bit depths below 8 are scaled to 0..255 (libpng's expansion), palettes become RGB (or
// RGBA with transparency), 16-bit stays uint16. Axes "yx" or "yxc". Writes uint8/uint16 2-D
// images with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels. The pixel size travels in
// the pHYs chunk (pixels per metre). The image is decoded whole on the first read (PNG rows are
// one deflate stream) and kept for later boxes.
#pragma once

#include <memory>
#include <string>

#include "grove/io/image.h"

namespace grove::io {

Result<std::unique_ptr<ImageReader>> open_png(const std::string& path);
Result<std::unique_ptr<ImageWriter>> create_png(const std::string& path, const Shape5& shape,
                                                DType dtype, const WriteOptions& options);

}  // namespace grove::io
