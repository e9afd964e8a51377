// Helpers for the fuzz targets (`*_fuzz.cpp`, fuzz/README.md; header only, never part of a
// library): a scratch directory for the process (readers open files by path, so each input is
// written to a file first), splitting one input into several files, and exercising an opened
// image reader the way the engine does, with checks of what a reader promises (a read returns
// exactly the box asked for, in the image's dtype). A broken promise aborts, which the fuzzer
// reports as a crash.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "grove/io/image.h"

namespace grove::fuzzing {

// Stops the fuzzer with a crash report naming the broken promise.
[[noreturn]] inline void broken_promise(const char* what) {
  std::fprintf(stderr, "fuzz: broken promise: %s\n", what);
  std::abort();
}

// A directory of this process (in /dev/shm when there is one: inputs are written for every run),
// removed at exit.
inline const std::string& scratch_directory() {
  static const std::string path = [] {
    const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : nullptr;
    if (base == nullptr) base = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
    std::string pattern = std::string(base) + "/grove-fuzz-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) broken_promise("cannot make a scratch directory");
    std::string made = buffer.data();
    static std::string to_remove;
    to_remove = made;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(to_remove, ignored);
    });
    return made;
  }();
  return path;
}

// A fresh, empty directory inside the scratch directory (its previous contents removed).
inline std::string fresh_directory(const std::string& name) {
  const std::string path = scratch_directory() + "/" + name;
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
  std::filesystem::create_directories(path, ignored);
  return path;
}

// Writes bytes to path (creating its directories); returns path.
inline std::string write_file(const std::string& path, std::string_view bytes) {
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) broken_promise("cannot write a scratch file");
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) {
    broken_promise("cannot write a scratch file");
  }
  std::fclose(file);
  return path;
}

// Writes the input to a file of this name in the scratch directory; returns its path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  return write_file(scratch_directory() + "/" + name,
                    std::string_view(reinterpret_cast<const char*>(data), size));
}

// Splits an input at each occurrence of separator (several files from one input).
inline std::vector<std::string_view> split_input(const uint8_t* data, size_t size,
                                                 std::string_view separator) {
  std::vector<std::string_view> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (true) {
    const size_t at = rest.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + separator.size());
  }
  parts.push_back(rest);
  return parts;
}

// The part separator of the multi-file targets (zarr, n5: fuzz/README.md).
inline constexpr std::string_view kPartSeparator = "\n--grove-part--\n";

// Whole-image reads above this many bytes are replaced by reads of corners (a small file may
// legitimately describe a large image that compresses well, or that is mostly fill value).
inline constexpr int64_t kWholeReadLimit = int64_t{16} << 20;

inline void check_read(ImageReader& reader, const Box5& box) {
  Result<AnyArray> data = reader.read(box);
  if (!data.ok()) return;
  if (data->shape() != box.shape()) broken_promise("read returned another shape than the box");
  if (data->dtype() != reader.info().dtype) broken_promise("read returned another dtype");
}

// Reads what the engine would: the whole image when small, else blocks at both corners; and
// boxes outside the image, which must fail rather than read out of bounds.
inline void exercise_reader(ImageReader& reader) {
  const ImageInfo& info = reader.info();
  const Shape5& shape = info.shape;
  if (!shape.valid()) broken_promise("reader opened an image of an invalid shape");
  for (int axis = 0; axis < kRank; ++axis) {
    if (shape[axis] <= 0) return;  // nothing to read
  }
  const int64_t element = static_cast<int64_t>(dtype_size(info.dtype));
  if (shape.size() <= kWholeReadLimit / element) {
    check_read(reader, Box5::of(shape));
  } else {
    Shape5 block(1, 1, std::min<int64_t>(shape.y(), 64), std::min<int64_t>(shape.x(), 64),
                 std::min<int64_t>(shape.c(), 4));
    check_read(reader, Box5(Shape5::filled(0), block));
    Shape5 begin = shape;
    for (int axis = 0; axis < kRank; ++axis) begin[axis] -= block[axis];
    check_read(reader, Box5(begin, shape));
  }
  // Out of bounds: must be refused (an error), never read.
  Shape5 past = shape;
  past[kX] += 1;
  if (reader.read(Box5(Shape5::filled(0), past)).ok()) {
    broken_promise("read of a box past the image succeeded");
  }
}

}  // namespace grove::fuzzing
