// N5 containers (the format of BigDataViewer, Fiji's N5 plugins, z5 and ilastik's distributed
// mode), read and written block by block. For the format registry and, through it, everyone who
// opens "volume.n5/dataset".
//
// - A dataset is a directory whose attributes.json has "dimensions", "blockSize", "dataType"
//   and "compression" ({"type": raw, gzip (with useZlib), zstd, blosc, bzip2, xz}; the old
//   "compressionType" string too). N5 lists dimensions fastest first (x first); grove reverses
//   them, so the stored dimensions read slowest first as everywhere else.
// - Blocks live at "dataset/i/j/k" (x index first). Each starts with a big-endian header: mode
//   (0 default, 1 varlength), number of dimensions, the block's extent per dimension (x first),
//   and for mode 1 the element count; then the (compressed) big-endian elements. Edge blocks
//   may be smaller than blockSize (N5, z5) or full size (zarr's N5Store): both read; grove
//   writes them cut to the dataset's end, as N5 does. A missing block reads as 0.
// - Axes: "axes" (N5 order, e.g. ["x","y","z"]), else ilastik's "axistags" (slowest first),
//   else the guess by rank (chunked_array.h). Pixel size: "resolution" (+ "units"), or
//   "pixelResolution" {"dimensions", "unit"}.
// - Writing: create_n5 writes the metadata at once (root attributes.json with the N5 version,
//   groups on the way, the dataset's attributes with axes, resolution, units and ilastik
//   axistags), so other processes can open_n5_writer and write blocks. Default axis order is
//   t,z,y,x,c with c fastest (as ilastik and HDF5 exports); default compression gzip level 1
//   (as fast as it gets, within a few percent of level 6 in size on image data). commit()
//   sets "grove": {"complete": true}. bool is stored as uint8 (N5 has no bool). Block writes
//   are atomic and may be unaligned, as for Zarr (zarr.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "grove/io/image.h"

namespace grove {

// Opens an N5 dataset: path.file is the container directory, path.internal the dataset ("" =
// the root, which may itself be a dataset; a group holding one dataset, or a multiscale group
// with "s0", opens that).
Result<std::unique_ptr<ImageReader>> open_n5(const ImagePath& path);

// Creates a dataset at path (the root if path.internal is empty). Refuses an existing one
// unless options.overwrite, and then only replaces an N5 node.
Result<std::unique_ptr<ImageWriter>> create_n5(const ImagePath& path, const Shape5& shape,
                                               DType dtype, const WriteOptions& options = {});

// Opens an existing dataset for writing more blocks (distributed runs, --resume).
Result<std::unique_ptr<ImageWriter>> open_n5_writer(const ImagePath& path);

// Every dataset in the container ("" for a root dataset), as open_n5 reads them.
Result<std::vector<DatasetEntry>> list_n5_datasets(const std::string& file);

// True if directory has an attributes.json naming an N5 version or describing a dataset.
bool is_n5_container(const std::string& directory);

// Whether the writer that made the dataset called commit().
Result<bool> n5_is_complete(const ImagePath& path);

}  // namespace grove
