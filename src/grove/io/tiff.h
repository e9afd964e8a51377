// TIFF images through libtiff.
//
// Reading: single and multi-page; stripped or tiled; any compression libtiff decodes
// (none, LZW, Deflate, PackBits, JPEG, ZSTD, ...); 1-bit (as uint8 0/1), 8/16/32/64-bit
// unsigned and signed integers, float32/64; several samples per pixel (RGB, RGBA, ...;
// contiguous or planar) as channels; palette images as their indices. Axes:
//   - ImageJ hyperstacks (ImageDescription "ImageJ=..." with images, channels, slices, frames;
//     pages in c,z,t order, c fastest), with pixel size from X/YResolution and unit=, z from
//     spacing=, t from finterval=. ImageJ's >4 GB files (one IFD, the other pages following
//     contiguously) are read too.
//   - OME-TIFF (OME-XML in the first ImageDescription; one image per file): DimensionOrder,
//     SizeX/Y/Z/C/T, PhysicalSizeX/Y/Z with units, TimeIncrement.
//   - tifffile's shaped description ({"shape": [...], "axes": "..."}).
//   - otherwise the pages are z; X/YResolution with ResolutionUnit inch or cm give the pixel size
//     in micrometres.
// A box reads only the pages, strips and tiles it overlaps. Headers are checked against the file
// size before anything is allocated.
//
// Writing: multi-page, uncompressed (default), LZW, Deflate, ZSTD or PackBits, with ImageJ
// hyperstack metadata (uint8, uint16, float32; pages in ImageJ's c,z,t order; uint8 with 3
// channels as RGB) so Fiji opens the axes right, or tifffile's shaped JSON description for other
// dtypes (bool is written as uint8). BigTIFF when the data exceeds ~4 GB. Uncompressed files use
// ImageJ's own layout (all pixels back to back, tiff_contiguous.h), which ImageJ and tifffile
// require of ImageJ hyperstacks; blocks go straight to their place. Compressed files go through
// libtiff (ImageJ 1.x itself reads them only through Bio-Formats): blocks may arrive in any order,
// pages that cannot be encoded yet wait in a scratch file (unlinked, so nothing is left behind)
// until commit.
#pragma once

#include <memory>
#include <string>

#include "grove/io/image.h"

namespace grove::io {

Result<std::unique_ptr<ImageReader>> open_tiff(const std::string& path);

struct TiffWriteOptions {
  bool force_bigtiff = false;  // BigTIFF even for small data (tests, or tools that want it)
};

Result<std::unique_ptr<ImageWriter>> create_tiff(const std::string& path, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options,
                                                 const TiffWriteOptions& tiff_options = {});

// True when a file holding data_bytes of pixels must be a BigTIFF (classic TIFF offsets are 32
// bits; a margin is kept for the directories and metadata).
bool tiff_needs_bigtiff(int64_t data_bytes);

}  // namespace grove::io
