// Uncompressed TIFF writing in ImageJ's own layout, used by create_tiff for uncompressed output
// (its default): the first directory, then the pixels of every page back to back, then the
// directories of the other pages. ImageJ and tifffile read ImageJ hyperstacks as one contiguous
// block of pixels (libtiff's usual layout interleaves pixels and directories, which they misread),
// and ImageJ reads its >4 GB files the same way. Blocks go straight to their place in the file,
// in any order and from several threads; nothing is buffered.
#pragma once

#include <memory>
#include <string>

#include "grove/io/file_util.h"
#include "grove/io/image.h"

namespace grove::io {

struct ContiguousTiffLayout {
  Shape5 shape;             // t, z, y, x, c of the image
  DType dtype = DType::u8;  // as stored (no bool)
  int64_t samples = 1;      // samples per pixel (3: RGB); channels / samples pages per (t, z)
  std::string description;  // ImageDescription of the first page (ImageJ or JSON metadata)
  bool bigtiff = false;
  bool has_resolution = false;
  double x_resolution = 1;  // pixels per unit
  double y_resolution = 1;
};

// Bytes the directories of such a file take beyond its pixels (an upper bound), for the BigTIFF
// decision.
int64_t contiguous_tiff_overhead(const ContiguousTiffLayout& layout);

Result<std::unique_ptr<ImageWriter>> create_contiguous_tiff(AtomicOutput output,
                                                            const ContiguousTiffLayout& layout);

}  // namespace grove::io
