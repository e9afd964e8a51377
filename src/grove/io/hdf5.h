// HDF5 images: any numeric dataset of up to 5 dimensions, addressed as "file.h5/internal/path".
// Axes come from ilastik's "axistags" attribute (JSON), else from the rule in io/axes.h; the
// pixel size from the axistags' "resolution" values or an "element_size_um" attribute. Reading
// a box selects a hyperslab, so HDF5 reads (and decompresses) only the chunks the box touches.
// Writing makes a chunked, gzip-compressed dataset (ilastik's "exported_data" unless told
// otherwise) with ilastik's axistags, in a temporary file renamed into place on commit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "grove/io/hdf5_file.h"
#include "grove/io/image.h"

namespace grove::io {

// ilastik's dataset name for exports, used when a path names no internal dataset to write.
inline constexpr const char* kDefaultHdf5Dataset = "exported_data";

// What ilastik's axistags say: the stored axes, slowest first, and the resolution per axis
// (0 where unknown).
struct AxisTags {
  std::string axes;
  std::vector<double> resolution;
};
Result<AxisTags> parse_axistags(const std::string& json);
// The JSON ilastik (vigra) writes: {"axes": [{"key": "z", "typeFlags": 2, "resolution": 0,
// "description": ""}, ...]}.
std::string make_axistags(const std::string& axes, const std::vector<double>& resolution = {});

// Opens a dataset as an image. internal may be empty when the file holds exactly one image
// dataset; else the error lists the datasets.
Result<std::unique_ptr<ImageReader>> open_hdf5(const std::string& file, const std::string& internal);

// The numeric datasets (rank 1..5) in the file.
Result<std::vector<DatasetEntry>> list_hdf5_datasets(const std::string& file);

// A writer for file/internal (internal "" means exported_data). The whole file is replaced on
// commit. Compression: "gzip" (default, level options.compression_level or 4), "none", "lzf",
// "blosc" (the last two need their filter plugins).
Result<std::unique_ptr<ImageWriter>> create_hdf5(const std::string& file,
                                                 const std::string& internal, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options);

// The chunk extents the writer picks for stored dims with these axes when not told.
std::vector<int64_t> default_hdf5_chunks(const std::vector<int64_t>& dims, const std::string& axes,
                                         DType dtype);

}  // namespace grove::io
