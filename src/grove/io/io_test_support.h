// Helpers for the io tests (header only; included by *_test.cpp, never by the library):
// a temporary directory per test, and running Debian's python3 with tifffile, h5py, PIL and
// numpy as oracles that write or check files independently of grove.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "grove/core/array.h"

namespace grove::io::testing {

inline std::string shared_data_dir() { return GROVE_SOURCE_DIR "/../shared/data"; }

inline bool shared_data_available() { return std::filesystem::is_directory(shared_data_dir()); }

// A fresh directory, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/grove-io-test-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) != nullptr) path_ = buffer.data();
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the directory (to check that nothing is left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

 private:
  std::string path_;
};

inline const char* python() { return "/usr/bin/python3"; }

// Runs a python script with arguments; returns its exit status and stdout.
inline int run_python(const std::string& script, const std::vector<std::string>& arguments,
                      std::string* output = nullptr) {
  TempDir dir;
  const std::string file = dir.file("script.py");
  {
    std::ofstream out(file);
    out << script;
  }
  std::string command = std::string(python()) + " " + file;
  for (const auto& argument : arguments) {
    std::string quoted = "'";
    for (char ch : argument) {
      if (ch == '\'') {
        quoted += "'\\''";
      } else {
        quoted += ch;
      }
    }
    quoted += "'";
    command += " " + quoted;
  }
  command += " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  const int status = ::pclose(pipe);
  if (output != nullptr) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// True if python3 can import every module.
inline bool python_has(const std::string& modules) {
  if (::access(python(), X_OK) != 0) return false;
  return run_python("import " + modules + "\n", {}) == 0;
}

#define GROVE_REQUIRE_PYTHON(modules)                                                   \
  do {                                                                                  \
    if (!::grove::io::testing::python_has(modules)) {                                   \
      GTEST_SKIP() << "python3 with " << (modules) << " is not available (test oracle)"; \
    }                                                                                   \
  } while (0)

// CRC-32 of an array's elements in t,z,y,x,c C order (python: zlib.crc32(a.tobytes())).
inline uint32_t crc_of(const AnyArray& array) {
  auto contiguous = array.contiguous_or_copy();
  if (!contiguous.ok()) return 0;
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* bytes = static_cast<const Bytef*>(contiguous->raw_data());
  size_t left = contiguous->bytes();
  while (left > 0) {
    const uInt piece = static_cast<uInt>(std::min<size_t>(left, size_t{1} << 30));
    crc = crc32(crc, bytes, piece);
    bytes += piece;
    left -= piece;
  }
  return static_cast<uint32_t>(crc);
}

// A deterministic test pattern: element i (C order) gets (i * 37 + 11) mod 251, shifted into
// the dtype's range so signed types see negatives and floats see fractions.
inline AnyArray pattern(DType dtype, const Shape5& shape) {
  AnyArray array = AnyArray::allocate(dtype, shape).value();
  visit_dtype(dtype, [&](auto v) {
    using T = decltype(v);
    T* data = static_cast<T*>(array.raw_data());
    for (int64_t i = 0; i < shape.size(); ++i) {
      const int64_t base = (i * 37 + 11) % 251;
      if constexpr (std::is_same_v<T, bool>) {
        data[i] = (base % 2) == 1;
      } else if constexpr (std::is_floating_point_v<T>) {
        data[i] = static_cast<T>(base) * static_cast<T>(0.25) - static_cast<T>(20);
      } else if constexpr (std::is_signed_v<T>) {
        data[i] = static_cast<T>(base - 125);
      } else {
        data[i] = static_cast<T>(base * (sizeof(T) > 1 ? 257 : 1));
      }
    }
  });
  return array;
}

// The same pattern in numpy, for python oracles: pattern(dtype, shape) as an expression that
// needs `np` and yields an array of that shape.
inline std::string numpy_pattern(const std::string& dtype, const std::string& shape_tuple) {
  return "(lambda dt, shp: (lambda b: (b % 2 == 1) if dt == 'bool' else "
         "(b * 0.25 - 20).astype(dt) if np.dtype(dt).kind == 'f' else "
         "(b - 125).astype(dt) if np.dtype(dt).kind == 'i' else "
         "(b * (257 if np.dtype(dt).itemsize > 1 else 1)).astype(dt))"
         "((np.arange(int(np.prod(shp)), dtype=np.int64) * 37 + 11) % 251).reshape(shp))('" +
         dtype + "', " + shape_tuple + ")";
}

// Whether two arrays hold equal elements (shape, dtype and values).
inline ::testing::AssertionResult arrays_equal(const AnyArray& a, const AnyArray& b) {
  if (a.dtype() != b.dtype()) {
    return ::testing::AssertionFailure() << "dtypes differ: " << dtype_name(a.dtype()) << " vs "
                                         << dtype_name(b.dtype());
  }
  if (a.shape() != b.shape()) {
    return ::testing::AssertionFailure() << "shapes differ: " << a.shape().to_string() << " vs "
                                         << b.shape().to_string();
  }
  const AnyArray ca = a.contiguous_or_copy().value(), cb = b.contiguous_or_copy().value();
  const auto* pa = static_cast<const unsigned char*>(ca.raw_data());
  const auto* pb = static_cast<const unsigned char*>(cb.raw_data());
  const size_t element = dtype_size(a.dtype());
  for (size_t i = 0; i < ca.bytes(); i += element) {
    if (std::memcmp(pa + i, pb + i, element) != 0) {
      return ::testing::AssertionFailure() << "values differ first at element " << i / element;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace grove::io::testing
