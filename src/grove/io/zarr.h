// Zarr v2 and v3 arrays with OME-Zarr metadata (0.4 and 0.5), read and written chunk by chunk.
// For the format registry and, through it, everyone who opens "image.zarr/path".
//
// Reading
// - Zarr v2 (.zarray/.zattrs/.zgroup): C and F order, dimension separators "." and "/", fill
//   values (numbers, "NaN", "Infinity", null = 0), compressors blosc (all inner codecs of the
//   system's libblosc), zstd, gzip, zlib, bz2, lzma, none; no filters; dtypes of DESIGN.md §3
//   in either byte order.
// - Zarr v3 (zarr.json): regular chunk grid, "default" and "v2" chunk key encodings, codecs
//   transpose, bytes (either endian), blosc, gzip, zstd, crc32c, and sharding_indexed (read only;
//   inner chunks are then the read unit).
// - Axes: OME-Zarr multiscales (0.4: .zattrs "multiscales"; 0.5: zarr.json attributes.ome) of
//   the nearest group that lists the array; else v3 dimension_names or v2 _ARRAY_DIMENSIONS
//   when they are letters of tzyxc; else ilastik's guess by rank (chunked_array.h). The scale
//   transformations give the pixel size. Opening a group with multiscales opens datasets[0],
//   the highest resolution; a group holding exactly one array opens that array.
//
// Writing
// - create_zarr makes an OME-Zarr image: a group (the store's root, or path.internal inside
//   it) holding one array "0", with multiscales metadata (axes, scale = pixel size). Zarr v2 +
//   OME-Zarr 0.4 by default (what Fiji, napari and python zarr 2 read); v3 + 0.5 with
//   WriteOptions::zarr_version = 3. Compression default: blosc lz4 level 5 with shuffle (as
//   python zarr); chunks as choose_chunk_shape; "/" chunk keys; fill value 0.
// - All metadata is written when create_zarr returns, so the array is valid (reads as zeros)
//   from then on and other processes can open_zarr_writer it and write chunks. commit() sets
//   the array attribute "grove": {"complete": true} (false until then); zarr_is_complete reads it.
// - Chunks are written atomically (chunk_store.h). Boxes need not be aligned: partly covered
//   chunks are read-modify-written under a per-chunk lock within one writer; separate writers
//   (processes) must write disjoint chunk-aligned boxes. Destroying an uncommitted writer keeps
//   what was written (for --resume); box_written tells which chunks are there.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "grove/io/image.h"

namespace grove {

// Opens a Zarr v2 or v3 array: path.file is the store's root directory, path.internal the
// array or group inside it ("" for the root).
Result<std::unique_ptr<ImageReader>> open_zarr(const ImagePath& path);

// Creates an OME-Zarr image at path (see above). Refuses an existing node unless
// options.overwrite, and then only replaces something that is a Zarr node.
Result<std::unique_ptr<ImageWriter>> create_zarr(const ImagePath& path, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options = {});

// Opens an existing array (resolved as open_zarr does) for writing more chunks: other
// processes of a distributed run, or --resume.
Result<std::unique_ptr<ImageWriter>> open_zarr_writer(const ImagePath& path);

// Every array in the store, with internal paths relative to its root ("" for a root array),
// t,z,y,x,c shapes and axes as open_zarr reads them. Arrays whose metadata grove cannot read
// are left out.
Result<std::vector<DatasetEntry>> list_zarr_datasets(const std::string& file);

// True if directory holds Zarr metadata at its top (.zgroup, .zarray, .zattrs or zarr.json).
bool is_zarr_store(const std::string& directory);

// Whether the writer that made the array at path called commit() (attribute grove.complete).
Result<bool> zarr_is_complete(const ImagePath& path);

}  // namespace grove
