// JPEG images through libjpeg(-turbo): 8-bit gray or RGB (YCbCr is converted to RGB; CMYK is
// refused). Writes uint8 2-D images with 1 or 3 channels; the quality is
// WriteOptions::compression_level (default 95). JPEG is lossy: use it for viewing, not for
// labels or results. The image is decoded whole on the first read and kept for later boxes.
#pragma once

#include <memory>
#include <string>

#include "grove/io/image.h"

namespace grove::io {

Result<std::unique_ptr<ImageReader>> open_jpeg(const std::string& path);
Result<std::unique_ptr<ImageWriter>> create_jpeg(const std::string& path, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options);

}  // namespace grove::io
