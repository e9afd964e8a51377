// The io layer's interface: every format opens into the t,z,y,x,c model (DESIGN.md §3) through
// an ImageReader, and is written block-wise through an ImageWriter. One file per format
// implements these; registry.cpp picks the format from the path.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grove/core/array.h"

namespace grove {

// What a reader knows about an image without reading its pixels.
struct ImageInfo {
  Shape5 shape;  // t, z, y, x, c
  DType dtype = DType::u8;
  std::string axes;  // the axes as stored, slowest first, e.g. "zyx", "yxc", "tczyx"
  // Physical size of one pixel along t, z, y, x, where the file says (has_pixel_size).
  std::array<double, 4> pixel_size{1.0, 1.0, 1.0, 1.0};
  std::array<std::string, 4> pixel_unit{"", "", "", ""};
  bool has_pixel_size = false;
  // Chunk shape in t,z,y,x,c for chunked containers (HDF5, Zarr, N5); all zeros if unchunked.
  Shape5 chunk_shape = Shape5::filled(0);
  std::string format;       // "tiff", "png", "hdf5", "zarr", ...
  std::string compression;  // "none", "lzw", "deflate", "gzip", "blosc", ...
  // The extents as stored, in the order of axes (e.g. (10, 534, 495, 1) for "txyc").
  std::vector<int64_t> stored_shape;
  // For containers: the dataset read, e.g. "/exported_data" ("" for single-image formats).
  std::string internal_path;
};

class ImageReader {
 public:
  virtual ~ImageReader() = default;
  virtual const ImageInfo& info() const = 0;
  // Reads box (inside [0, info().shape)) into a new contiguous array of info().dtype.
  // Reads only what box needs where the format allows it (chunks, pages, strips).
  // Safe to call from several threads at once.
  virtual Result<AnyArray> read(const Box5& box) = 0;
  Result<AnyArray> read_all() { return read(Box5::of(info().shape)); }
};

struct WriteOptions {
  // Chunk shape for chunked formats (zeros: the writer chooses).
  Shape5 chunk_shape = Shape5::filled(0);
  // "gzip", "zstd", "blosc", "lzw", "deflate", "none", or "" for the format's default.
  std::string compression;
  int compression_level = -1;
  // Axis order of the stored array, e.g. "tzyxc" (default: the t,z,y,x,c axes of size > 1,
  // plus c). Letters from "tzyxc"; axes of size 1 may be dropped, never others.
  std::string axes;
  std::array<double, 4> pixel_size{1.0, 1.0, 1.0, 1.0};
  std::array<std::string, 4> pixel_unit{"", "", "", ""};
  bool has_pixel_size = false;
  bool overwrite = false;  // else an existing output is an error (kAlreadyExists)
  // HDF5: attach ilastik's "axistags" attribute (JSON) to the dataset.
  bool ilastik_axistags = true;
  // Zarr: 2 writes Zarr v2 with OME-Zarr 0.4 metadata (what Fiji, napari and python zarr 2
  // read), 3 writes Zarr v3 with OME-Zarr 0.5 metadata.
  int zarr_version = 2;
};

// Writes one image block by block. Nothing is visible at the final path until commit()
// succeeds (temporary name + rename); destroying an uncommitted writer removes its temporary.
// Chunked formats (Zarr, N5) differ: their metadata is on disk from creation on, so several
// processes can write chunks, each chunk is written atomically as it completes, unwritten
// chunks read as the fill value, commit() only marks the array complete, and an uncommitted
// writer leaves its chunks for a resumed run (zarr.h, n5.h).
class ImageWriter {
 public:
  virtual ~ImageWriter() = default;
  // Writes box (inside the shape given at creation) from data (shape = box.shape(), any dtype:
  // converted to the writer's dtype). Safe to call from several threads for disjoint boxes
  // aligned to chunks.
  virtual Status write(const Box5& box, const AnyArray& data) = 0;
  virtual Status commit() = 0;
  // For resuming an interrupted run: true if box was written in full before (chunked stores:
  // every chunk it touches is stored). Formats that cannot tell say false.
  virtual Result<bool> box_written(const Box5& box) { return false; }
};

// Path syntax: "file.h5/internal/path", "file.zarr/path", "file.n5/path", "file.tif", ...
struct ImagePath {
  std::string file;      // the file or directory on disk
  std::string internal;  // the dataset inside a container ("" if none given)
};
// Splits a path at the container extension (.h5, .hdf5, .hdf, .ilp, .zarr, .n5).
ImagePath split_image_path(const std::string& path);

// Opens any supported image; the format is chosen from the path and, if ambiguous, the
// file's signature.
Result<std::unique_ptr<ImageReader>> open_image(const std::string& path);
// Reads a whole image.
Result<AnyArray> read_image(const std::string& path);

// Creates a writer for an image of this shape and dtype; the format comes from the path's
// extension unless format is given ("hdf5", "tiff", "png", "jpeg", "npy", "zarr", "n5").
Result<std::unique_ptr<ImageWriter>> create_image(const std::string& path, const Shape5& shape,
                                                  DType dtype, const WriteOptions& options = {},
                                                  const std::string& format = "");
// Like create_image, but Zarr and N5 outputs too appear only on commit(): the store (or, in an
// existing store, the node) is written in a hidden temporary folder beside its place and renamed
// there (swapped atomically with the node it replaces), so a killed run leaves the old output or
// none, never a half-written one; an uncommitted writer removes its folder. For one process
// writing a whole image (exports, features); distributed and resumable runs use create_image.
Result<std::unique_ptr<ImageWriter>> create_image_atomically(const std::string& path,
                                                             const Shape5& shape, DType dtype,
                                                             const WriteOptions& options = {},
                                                             const std::string& format = "");
// Writes a whole image (create_image + write + commit).
Status write_image(const std::string& path, const AnyArray& data, const WriteOptions& options = {},
                   const std::string& format = "");

// The format of an existing image path ("tiff", "png", "jpeg", "npy", "hdf5", "zarr", "n5"),
// from the file's signature or else its extension.
Result<std::string> image_format(const std::string& path);
// True for formats that hold several datasets ("hdf5", "zarr", "n5").
bool is_container_format(const std::string& format);

// For containers: the datasets inside (internal paths with shape and dtype). For a single-image
// format: one entry with an empty path.
struct DatasetEntry {
  std::string path;  // "/exported_data"; "" for a single-image format
  Shape5 shape;      // t, z, y, x, c
  DType dtype;
  std::string axes;                   // as stored
  std::vector<int64_t> stored_shape;  // extents in the order of axes
  std::string compression;            // "none", "gzip", ...
};
Result<std::vector<DatasetEntry>> list_datasets(const std::string& file);

}  // namespace grove
