// What Zarr v2, Zarr v3 and N5 arrays have in common: an n-d array (1 to 5 stored dimensions,
// slowest first) cut into a regular grid of chunks, each stored and compressed on its own, and
// the mapping of its dimensions onto grove's t,z,y,x,c. zarr.cpp and n5.cpp describe their
// chunks (key, codecs, layout in memory) through ChunkedArrayFormat; ChunkedImageReader and
// ChunkedImageWriter do the rest the same way for all three:
//
// - read(box) fetches only the chunks box touches; a chunk that is not stored reads as the fill
//   value. Thread-safe (no state but atomic counters).
// - write(box, data) encodes each chunk box covers and stores it atomically (temporary + rename,
//   chunk_store.h). A chunk box covers only in part is read, patched and rewritten under a
//   per-chunk lock (read-modify-write), which is safe between threads of one writer, but not
//   between processes: processes must write disjoint, chunk-aligned boxes (boxes may end at the
//   array's end).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "grove/io/image.h"

namespace grove {

// A decoded chunk is refused (kResourceExhausted) above this many bytes: it bounds what any
// metadata can make grove allocate for one chunk.
inline constexpr int64_t kMaxChunkBytes = int64_t{1} << 30;
// Stored arrays may have at most this many dimensions (t,z,y,x,c).
inline constexpr int kMaxStoredRank = 5;

// One element's bytes in native byte order (8 bytes hold the largest dtype).
using FillValue = std::array<uint8_t, 8>;

struct ChunkedArrayLayout {
  std::vector<int64_t> shape;        // stored dimensions, slowest first
  std::vector<int64_t> chunk_shape;  // the unit read and written (the inner chunk of a shard)
  DType dtype = DType::u8;
  // For each stored dimension, the grove axis (kT..kC) it holds, or -1 for a dimension of
  // extent 1 that maps to none.
  std::vector<int> axis_of_dimension;
  FillValue fill{};

  int rank() const { return static_cast<int>(shape.size()); }
  // The t,z,y,x,c shape and chunk shape.
  Shape5 shape5() const;
  Shape5 chunk_shape5() const;
};

// A chunk in memory: elements in native byte order.
struct ChunkBuffer {
  std::unique_ptr<uint8_t[]> data;
  int64_t bytes = 0;
  std::vector<int64_t> extents;  // per stored dimension
  std::vector<int64_t> strides;  // per stored dimension, in elements
};

// An uninitialised chunk of these extents, stored in C order over the dimensions in
// storage_order (storage_order[0] slowest; identity = C order, reversed = Fortran order).
Result<ChunkBuffer> make_chunk_buffer(std::span<const int64_t> extents,
                                      std::span<const int> storage_order, size_t element_size);

class ChunkedArrayFormat {
 public:
  explicit ChunkedArrayFormat(ChunkedArrayLayout layout) : layout_(std::move(layout)) {}
  virtual ~ChunkedArrayFormat() = default;
  const ChunkedArrayLayout& layout() const { return layout_; }

  // Reads and decodes a chunk, or nullopt if it is not stored. Thread-safe.
  virtual Result<std::optional<ChunkBuffer>> read_chunk(
      std::span<const int64_t> grid_index) const = 0;
  // An uninitialised chunk laid out the way this format writes the chunk at grid_index.
  virtual Result<ChunkBuffer> new_chunk(std::span<const int64_t> grid_index) const = 0;
  // Encodes chunk (which it may scramble, e.g. by swapping bytes) and stores it atomically.
  virtual Status write_chunk(std::span<const int64_t> grid_index, ChunkBuffer& chunk) const = 0;
  virtual bool chunk_exists(std::span<const int64_t> grid_index) const = 0;
  // Where the chunk lives, for messages ("raw.zarr/0/0.1.2").
  virtual std::string chunk_name(std::span<const int64_t> grid_index) const = 0;
  // Refuses writers where the format cannot write (e.g. sharded Zarr v3).
  virtual Status check_writable() const { return ok_status(); }
  // What ImageWriter::commit adds (a completion marker).
  virtual Status commit() const { return ok_status(); }

 private:
  ChunkedArrayLayout layout_;
};

class ChunkedImageReader : public ImageReader {
 public:
  ChunkedImageReader(ImageInfo info, std::shared_ptr<const ChunkedArrayFormat> format);
  const ImageInfo& info() const override { return info_; }
  Result<AnyArray> read(const Box5& box) override;
  // How many chunks reads have fetched from storage so far (stored or not).
  int64_t chunks_fetched() const { return chunks_fetched_.load(); }
  const ChunkedArrayFormat& format() const { return *format_; }

 private:
  ImageInfo info_;
  std::shared_ptr<const ChunkedArrayFormat> format_;
  std::atomic<int64_t> chunks_fetched_{0};
};

class ChunkedImageWriter : public ImageWriter {
 public:
  ChunkedImageWriter(std::shared_ptr<const ChunkedArrayFormat> format);
  Status write(const Box5& box, const AnyArray& data) override;
  Status commit() override;
  Result<bool> box_written(const Box5& box) override;
  const ChunkedArrayFormat& format() const { return *format_; }

 private:
  std::shared_ptr<const ChunkedArrayFormat> format_;
  Shape5 shape_;
  std::array<std::mutex, 64> chunk_locks_;
};

// ---- helpers shared by zarr.cpp and n5.cpp ----

// Checks stored shape and chunk shape from a file's metadata: rank <= max_rank, extents >= 0,
// no overflow, chunk extents >= 1, a decoded chunk <= kMaxChunkBytes. where names the file.
Status validate_geometry(std::span<const int64_t> shape, std::span<const int64_t> chunk_shape,
                         DType dtype, const std::string& where, int max_rank = 32);

// Axis names, one letter of "tzyxc" per stored dimension (any case), mapped onto grove axes. A
// name outside tzyxc (or "" ) is allowed only for a dimension of extent 1, which maps to -1.
Result<std::vector<int>> map_axis_names(const std::vector<std::string>& names,
                                        std::span<const int64_t> shape, const std::string& where);
// The guess for an array without axis names (ilastik's): 1-d "x", 2-d "yx", 3-d "zyx" (or
// "yxc" when the last extent is <= 4 and smaller than the others), 4-d "zyxc", 5-d "tzyxc".
Result<std::vector<std::string>> default_axis_names(std::span<const int64_t> shape,
                                                    const std::string& where);
// The stored axes as letters ("zyx"), dimensions mapped to no axis shown as '?'.
std::string axes_string(const std::vector<int>& axis_of_dimension);

// The stored axis order a writer uses: requested (letters of tzyxc, each once, covering every
// axis of extent > 1) or, when empty, t (if > 1), z (if > 1), y, x and always c, in the order
// "tczyx" (channel_first, as OME-Zarr requires) or "tzyxc".
Result<std::string> choose_storage_axes(const std::string& requested, const Shape5& shape,
                                        bool channel_first);
// The chunk shape a writer uses (t,z,y,x,c): requested extents > 0 clipped to the shape;
// others chosen: t 1, c all, and 64³ (3-d) or 256² (2-d) pixels, halved while a chunk would
// exceed 16 MiB. These divide the engine's default blocks (128³, 256²), so aligned block
// writes never share a chunk.
Shape5 choose_chunk_shape(const Shape5& requested, const Shape5& shape, DType dtype);

// Swaps the bytes of count elements of element_size bytes each, in place.
void swap_bytes(uint8_t* data, int64_t count, size_t element_size);
// Writes one element's bytes into fill (native order) from a double / integer value, checking
// that it fits the dtype (kCorrupt otherwise).
Result<FillValue> fill_from_double(double value, DType dtype, const std::string& where);
Result<FillValue> fill_from_integer(int64_t value, DType dtype, const std::string& where);
Result<FillValue> fill_from_unsigned(uint64_t value, DType dtype, const std::string& where);

}  // namespace grove
