// Shared by the tests of the chunked stores (codec, chunk_store, chunked_array, zarr, n5): a
// temporary directory that cleans up after itself, arrays with known contents, and byte-exact
// comparison. Tests only.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>

#include "grove/core/array.h"

namespace grove::testing {

// A fresh directory under the system's temporary directory, removed when this goes.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& name) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("grove_test_" + name + "_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter.fetch_add(1)));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TemporaryDirectory() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The value at (t,z,y,x,c) of the test pattern with this seed: varied, negative for signed
// types, fractional for floats.
inline double pattern_value(const Shape5& index, int seed, DType dtype) {
  const int64_t mix = index[0] * 7919 + index[1] * 104729 + index[2] * 1299709 +
                      index[3] * 15485863 + index[4] * 32452843 + seed * 2654435761LL;
  const uint64_t h = static_cast<uint64_t>(mix) * 0x9E3779B97F4A7C15ULL;
  const int64_t small = static_cast<int64_t>((h >> 40) % 200);
  switch (dtype) {
    case DType::boolean: return static_cast<double>(small % 2);
    case DType::i8:
    case DType::i16:
    case DType::i32:
    case DType::i64: return static_cast<double>(small - 100);
    case DType::f32:
    case DType::f64: return static_cast<double>(small - 100) + 0.25;
    default: return static_cast<double>(small);
  }
}

inline AnyArray pattern_array(DType dtype, const Shape5& shape, int seed = 0,
                              const Shape5& origin = Shape5::filled(0)) {
  AnyArray array = AnyArray::allocate(dtype, shape).value();
  visit_dtype(dtype, [&](auto v) {
    using T = decltype(v);
    View<T> view = array.view<T>();
    for (int64_t t = 0; t < shape[0]; ++t)
      for (int64_t z = 0; z < shape[1]; ++z)
        for (int64_t y = 0; y < shape[2]; ++y)
          for (int64_t x = 0; x < shape[3]; ++x)
            for (int64_t c = 0; c < shape[4]; ++c) {
              const Shape5 at{origin[0] + t, origin[1] + z, origin[2] + y, origin[3] + x,
                              origin[4] + c};
              view(t, z, y, x, c) = static_cast<T>(pattern_value(at, seed, dtype));
            }
  });
  return array;
}

// True if both arrays have the same dtype, shape and bytes (NaNs compare by bits).
inline bool same_bytes(const AnyArray& a, const AnyArray& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  AnyArray ca = a.contiguous_or_copy().value(), cb = b.contiguous_or_copy().value();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.bytes()) == 0;
}

}  // namespace grove::testing
