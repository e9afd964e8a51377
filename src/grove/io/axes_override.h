// Reading an image with axes the user names instead of those the file declares or grove guesses
// (ilastik's --input_axes, and the axistags an ilastik project stores for its raw data): the
// stored dimensions are re-labelled, without copying the file, and box reads are mapped through.
#pragma once

#include <memory>
#include <string>

#include "grove/io/image.h"

namespace grove {

// Wraps reader so that its stored dimensions (reader->info().axes, in storage order) are read
// as `axes` instead (one letter of "tzyxc" per stored dimension, e.g. "xy" for an image stored
// transposed). Fails if the letter count differs from the stored rank.
Result<std::unique_ptr<ImageReader>> reinterpret_axes(std::unique_ptr<ImageReader> reader,
                                                      const std::string& axes);

// open_image, then reinterpret_axes unless axes is empty.
Result<std::unique_ptr<ImageReader>> open_image_with_axes(const std::string& path,
                                                          const std::string& axes);

}  // namespace grove
