// NumPy .npy files (format versions 1, 2 and 3): read with any byte order and C or Fortran
// order, write little-endian C order. The dtypes are grove's (DESIGN.md §3); others (complex,
// strings, structured) are refused with a clear error. Axes follow the rule by rank in
// io/axes.h, or WriteOptions::axes when writing. Reads map the file, so a box touches only the
// pages it needs.
#pragma once

#include <memory>
#include <string>

#include "grove/io/image.h"

namespace grove::io {

// The parsed header of a .npy file.
struct NpyHeader {
  DType dtype = DType::u8;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> dims;
  int64_t data_offset = 0;  // where the array data begins
  int version = 1;
};

// Parses the header from the file's first bytes (at least the whole header).
Result<NpyHeader> parse_npy_header(const std::string& bytes);

Result<std::unique_ptr<ImageReader>> open_npy(const std::string& path);
Result<std::unique_ptr<ImageWriter>> create_npy(const std::string& path, const Shape5& shape,
                                                DType dtype, const WriteOptions& options);

}  // namespace grove::io
