// Reading and writing regular chunk grids; see chunked_array.h.
#include "grove/io/chunked_array.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

#include "grove/core/memory.h"

namespace grove {

namespace {

// ---- strided copies over up to 5 dimensions ----

// A block of elements to copy or fill: extents and byte strides per dimension, slowest first.
struct StridedBlock {
  int rank = 0;
  int64_t extents[kRank]{};
  int64_t destination_strides[kRank]{};
  int64_t source_strides[kRank]{};
};

// Drops dimensions of extent 1 and merges neighbours that are contiguous in both source and
// destination, so that copies run as few, long memcpys.
StridedBlock simplify(const StridedBlock& in) {
  StridedBlock out;
  for (int d = 0; d < in.rank; ++d) {
    if (in.extents[d] == 1) continue;
    out.extents[out.rank] = in.extents[d];
    out.destination_strides[out.rank] = in.destination_strides[d];
    out.source_strides[out.rank] = in.source_strides[d];
    ++out.rank;
  }
  // Merge from the innermost outwards.
  StridedBlock merged;
  for (int d = 0; d < out.rank; ++d) {
    if (merged.rank > 0) {
      const int last = merged.rank - 1;
      if (merged.destination_strides[last] == out.destination_strides[d] * out.extents[d] &&
          merged.source_strides[last] == out.source_strides[d] * out.extents[d]) {
        merged.extents[last] *= out.extents[d];
        merged.destination_strides[last] = out.destination_strides[d];
        merged.source_strides[last] = out.source_strides[d];
        continue;
      }
    }
    merged.extents[merged.rank] = out.extents[d];
    merged.destination_strides[merged.rank] = out.destination_strides[d];
    merged.source_strides[merged.rank] = out.source_strides[d];
    ++merged.rank;
  }
  return merged;
}

template <size_t N>
void copy_elements(uint8_t* destination, int64_t destination_stride, const uint8_t* source,
                   int64_t source_stride, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(destination + i * destination_stride, source + i * source_stride, N);
  }
}

// Copies (source != null) or fills with one element (pattern) the block.
void run_block(const StridedBlock& given, uint8_t* destination, const uint8_t* source,
               size_t element_size, const uint8_t* pattern) {
  for (int d = 0; d < given.rank; ++d) {
    if (given.extents[d] <= 0) return;
  }
  const StridedBlock block = simplify(given);
  const int64_t element = static_cast<int64_t>(element_size);
  // The innermost run.
  int64_t run = 1, destination_step = element, source_step = element;
  int outer_rank = block.rank;
  if (block.rank > 0) {
    run = block.extents[block.rank - 1];
    destination_step = block.destination_strides[block.rank - 1];
    source_step = block.source_strides[block.rank - 1];
    outer_rank = block.rank - 1;
  }
  auto inner = [&](uint8_t* out, const uint8_t* in) {
    if (pattern != nullptr) {
      for (int64_t i = 0; i < run; ++i)
        std::memcpy(out + i * destination_step, pattern, element_size);
      return;
    }
    if (destination_step == element && source_step == element) {
      std::memcpy(out, in, static_cast<size_t>(run * element));
      return;
    }
    switch (element_size) {
      case 1: copy_elements<1>(out, destination_step, in, source_step, run); break;
      case 2: copy_elements<2>(out, destination_step, in, source_step, run); break;
      case 4: copy_elements<4>(out, destination_step, in, source_step, run); break;
      default: copy_elements<8>(out, destination_step, in, source_step, run); break;
    }
  };
  int64_t index[kRank]{};
  while (true) {
    int64_t destination_offset = 0, source_offset = 0;
    for (int d = 0; d < outer_rank; ++d) {
      destination_offset += index[d] * block.destination_strides[d];
      source_offset += index[d] * block.source_strides[d];
    }
    inner(destination + destination_offset, source != nullptr ? source + source_offset : nullptr);
    int d = outer_rank - 1;
    for (; d >= 0; --d) {
      if (++index[d] < block.extents[d]) break;
      index[d] = 0;
    }
    if (d < 0) break;
  }
}

// Iterates over every grid index in [first, last] (inclusive), C order.
template <class F>
Status for_each_grid_index(const std::vector<int64_t>& first, const std::vector<int64_t>& last,
                           F&& f) {
  const size_t rank = first.size();
  for (size_t d = 0; d < rank; ++d) {
    if (last[d] < first[d]) return ok_status();
  }
  std::vector<int64_t> index = first;
  while (true) {
    GROVE_RETURN_IF_ERROR(f(std::span<const int64_t>(index)));
    size_t d = rank;
    while (d > 0) {
      --d;
      if (++index[d] <= last[d]) break;
      index[d] = first[d];
      if (d == 0) return ok_status();
    }
    if (rank == 0) return ok_status();
  }
}

std::string grid_string(std::span<const int64_t> grid_index) {
  std::string out = "(";
  for (size_t d = 0; d < grid_index.size(); ++d) {
    if (d > 0) out += ", ";
    out += std::to_string(grid_index[d]);
  }
  return out + ")";
}

bool checked_multiply(int64_t a, int64_t b, int64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace

// ---- layout ----

Shape5 ChunkedArrayLayout::shape5() const {
  Shape5 s;
  for (int d = 0; d < rank(); ++d) {
    if (axis_of_dimension[d] >= 0) s[axis_of_dimension[d]] = shape[d];
  }
  return s;
}

Shape5 ChunkedArrayLayout::chunk_shape5() const {
  Shape5 s;
  for (int d = 0; d < rank(); ++d) {
    if (axis_of_dimension[d] >= 0) s[axis_of_dimension[d]] = chunk_shape[d];
  }
  return s;
}

Result<ChunkBuffer> make_chunk_buffer(std::span<const int64_t> extents,
                                      std::span<const int> storage_order, size_t element_size) {
  ChunkBuffer chunk;
  chunk.extents.assign(extents.begin(), extents.end());
  chunk.strides.assign(extents.size(), 1);
  int64_t count = 1;
  for (size_t k = storage_order.size(); k > 0; --k) {
    const int d = storage_order[k - 1];
    chunk.strides[d] = count;
    if (!checked_multiply(count, std::max<int64_t>(extents[d], 0), &count)) {
      return make_error(ErrorCode::kResourceExhausted, "chunk extents overflow");
    }
  }
  int64_t bytes = 0;
  if (!checked_multiply(count, static_cast<int64_t>(element_size), &bytes) ||
      bytes > kMaxChunkBytes) {
    return make_error(ErrorCode::kResourceExhausted,
                      "a chunk of {} elements is larger than grove's limit of {} bytes", count,
                      kMaxChunkBytes);
  }
  chunk.bytes = bytes;
  chunk.data.reset(new (std::nothrow) uint8_t[static_cast<size_t>(std::max<int64_t>(bytes, 1))]);
  if (!chunk.data)
    return make_error(ErrorCode::kResourceExhausted, "cannot allocate {} bytes for a chunk", bytes);
  return chunk;
}

// ---- reader ----

ChunkedImageReader::ChunkedImageReader(ImageInfo info,
                                       std::shared_ptr<const ChunkedArrayFormat> format)
    : info_(std::move(info)), format_(std::move(format)) {}

Result<AnyArray> ChunkedImageReader::read(const Box5& box) {
  const ChunkedArrayLayout& layout = format_->layout();
  if (!Box5::of(info_.shape).contains(box) || !box.shape().valid()) {
    return make_error(ErrorCode::kOutOfRange, "box {} lies outside the image of shape {}",
                      box.to_string(), info_.shape.to_string());
  }
  GROVE_ASSIGN_OR_RETURN(AnyArray out, AnyArray::allocate_uninitialized(layout.dtype, box.shape()));
  if (box.empty()) return out;
  const int rank = layout.rank();
  const size_t element_size = dtype_size(layout.dtype);
  const int64_t element = static_cast<int64_t>(element_size);
  uint8_t* out_data = static_cast<uint8_t*>(out.raw_data());
  const Strides5 out_strides = out.strides();

  // The box in stored dimensions.
  std::vector<int64_t> begin(rank), end(rank), first(rank), last(rank);
  for (int d = 0; d < rank; ++d) {
    const int axis = layout.axis_of_dimension[d];
    begin[d] = axis >= 0 ? box.begin[axis] : 0;
    end[d] = axis >= 0 ? box.end[axis] : 1;
    first[d] = begin[d] / layout.chunk_shape[d];
    last[d] = (end[d] - 1) / layout.chunk_shape[d];
  }

  // Fills or copies the stored-dimension region [region_begin, region_end) of the output.
  auto transfer = [&](const std::vector<int64_t>& region_begin,
                      const std::vector<int64_t>& region_end, const ChunkBuffer* chunk,
                      const std::vector<int64_t>& chunk_origin) {
    StridedBlock block;
    block.rank = kRank;
    for (int a = 0; a < kRank; ++a) {
      block.extents[a] = 1;
      block.destination_strides[a] = out_strides[a] * element;
      block.source_strides[a] = 0;
    }
    int64_t out_offset = 0, chunk_offset = 0;
    for (int d = 0; d < rank; ++d) {
      const int axis = layout.axis_of_dimension[d];
      if (chunk != nullptr)
        chunk_offset += (region_begin[d] - chunk_origin[d]) * chunk->strides[d] * element;
      if (axis < 0) continue;
      block.extents[axis] = region_end[d] - region_begin[d];
      out_offset += (region_begin[d] - box.begin[axis]) * out_strides[axis] * element;
      if (chunk != nullptr) block.source_strides[axis] = chunk->strides[d] * element;
    }
    if (chunk != nullptr) {
      run_block(block, out_data + out_offset, chunk->data.get() + chunk_offset, element_size,
                nullptr);
    } else {
      run_block(block, out_data + out_offset, nullptr, element_size, layout.fill.data());
    }
  };

  std::vector<int64_t> origin(rank), region_begin(rank), region_end(rank), available_end(rank);
  Status status = for_each_grid_index(first, last, [&](std::span<const int64_t> grid) -> Status {
    for (int d = 0; d < rank; ++d) {
      origin[d] = grid[d] * layout.chunk_shape[d];
      region_begin[d] = std::max(begin[d], origin[d]);
      region_end[d] = std::min(end[d], origin[d] + layout.chunk_shape[d]);
    }
    chunks_fetched_.fetch_add(1);
    auto fetched = format_->read_chunk(grid);
    if (!fetched.ok()) {
      return std::move(fetched)
          .context(
              fmt::format("reading chunk {} ({})", grid_string(grid), format_->chunk_name(grid)))
          .error();
    }
    const std::optional<ChunkBuffer>& chunk = *fetched;
    if (!chunk) {
      transfer(region_begin, region_end, nullptr, origin);
      return ok_status();
    }
    // A chunk may be stored smaller than the grid cell (N5 edge blocks): what it lacks reads
    // as the fill value.
    bool partial = false;
    for (int d = 0; d < rank; ++d) {
      available_end[d] = std::min(region_end[d], origin[d] + chunk->extents[d]);
      if (available_end[d] < region_end[d]) partial = true;
    }
    if (partial) {
      transfer(region_begin, region_end, nullptr, origin);
      for (int d = 0; d < rank; ++d) {
        if (available_end[d] <= region_begin[d]) return ok_status();
      }
    }
    transfer(region_begin, available_end, &*chunk, origin);
    return ok_status();
  });
  if (!status.ok()) return std::move(status).error();
  return out;
}

// ---- writer ----

ChunkedImageWriter::ChunkedImageWriter(std::shared_ptr<const ChunkedArrayFormat> format)
    : format_(std::move(format)), shape_(format_->layout().shape5()) {}

Status ChunkedImageWriter::write(const Box5& box, const AnyArray& given) {
  const ChunkedArrayLayout& layout = format_->layout();
  if (!Box5::of(shape_).contains(box) || !box.shape().valid()) {
    return make_error(ErrorCode::kOutOfRange, "box {} lies outside the image of shape {}",
                      box.to_string(), shape_.to_string());
  }
  if (given.shape() != box.shape()) {
    return make_error(ErrorCode::kInvalidArgument, "data of shape {} does not fit the box {}",
                      given.shape().to_string(), box.to_string());
  }
  if (box.empty()) return ok_status();
  AnyArray data = given;
  if (data.dtype() != layout.dtype) {
    GROVE_ASSIGN_OR_RETURN(data, given.convert(layout.dtype));
  }
  const int rank = layout.rank();
  const size_t element_size = dtype_size(layout.dtype);
  const int64_t element = static_cast<int64_t>(element_size);
  const uint8_t* data_bytes = static_cast<const uint8_t*>(data.raw_data());
  const Strides5 data_strides = data.strides();

  std::vector<int64_t> begin(rank), end(rank), first(rank), last(rank);
  for (int d = 0; d < rank; ++d) {
    const int axis = layout.axis_of_dimension[d];
    begin[d] = axis >= 0 ? box.begin[axis] : 0;
    end[d] = axis >= 0 ? box.end[axis] : 1;
    first[d] = begin[d] / layout.chunk_shape[d];
    last[d] = (end[d] - 1) / layout.chunk_shape[d];
  }

  // Copies data's part of [region_begin, region_end) into chunk (whose origin is given).
  auto copy_in = [&](ChunkBuffer& chunk, const std::vector<int64_t>& origin,
                     const std::vector<int64_t>& region_begin,
                     const std::vector<int64_t>& region_end) {
    StridedBlock block;
    block.rank = kRank;
    for (int a = 0; a < kRank; ++a) {
      block.extents[a] = 1;
      block.destination_strides[a] = 0;
      block.source_strides[a] = data_strides[a] * element;
    }
    int64_t data_offset = 0, chunk_offset = 0;
    for (int d = 0; d < rank; ++d) {
      const int axis = layout.axis_of_dimension[d];
      chunk_offset += (region_begin[d] - origin[d]) * chunk.strides[d] * element;
      if (axis < 0) continue;
      block.extents[axis] = region_end[d] - region_begin[d];
      block.destination_strides[axis] = chunk.strides[d] * element;
      data_offset += (region_begin[d] - box.begin[axis]) * data_strides[axis] * element;
    }
    run_block(block, chunk.data.get() + chunk_offset, data_bytes + data_offset, element_size,
              nullptr);
  };
  // Fills the whole chunk with the fill value, then copies what old holds (same grid cell).
  auto fill_from = [&](ChunkBuffer& chunk, const ChunkBuffer* old) {
    StridedBlock block;
    block.rank = rank;
    for (int d = 0; d < rank; ++d) {
      block.extents[d] = chunk.extents[d];
      block.destination_strides[d] = chunk.strides[d] * element;
    }
    run_block(block, chunk.data.get(), nullptr, element_size, layout.fill.data());
    if (old == nullptr) return;
    for (int d = 0; d < rank; ++d) {
      block.extents[d] = std::min(chunk.extents[d], old->extents[d]);
      block.source_strides[d] = old->strides[d] * element;
    }
    run_block(block, chunk.data.get(), old->data.get(), element_size, nullptr);
  };

  std::vector<int64_t> origin(rank), region_begin(rank), region_end(rank);
  return for_each_grid_index(first, last, [&](std::span<const int64_t> grid) -> Status {
    bool covers_chunk = true;
    uint64_t lock_index = 0;
    for (int d = 0; d < rank; ++d) {
      origin[d] = grid[d] * layout.chunk_shape[d];
      const int64_t cell_end = std::min(origin[d] + layout.chunk_shape[d], layout.shape[d]);
      region_begin[d] = std::max(begin[d], origin[d]);
      region_end[d] = std::min(end[d], cell_end);
      if (region_begin[d] != origin[d] || region_end[d] != cell_end) covers_chunk = false;
      lock_index = lock_index * 1000003u + static_cast<uint64_t>(grid[d]);
    }
    auto context = [&](Error error) {
      return error.add_context(
          fmt::format("writing chunk {} ({})", grid_string(grid), format_->chunk_name(grid)));
    };
    auto built = format_->new_chunk(grid);
    if (!built.ok()) return context(std::move(built).error());
    ChunkBuffer chunk = std::move(built).value();
    if (covers_chunk) {
      // Padding beyond the array's end (Zarr stores whole chunks) gets the fill value.
      bool padded = false;
      for (int d = 0; d < rank; ++d) {
        if (origin[d] + chunk.extents[d] > region_end[d]) padded = true;
      }
      if (padded) fill_from(chunk, nullptr);
      copy_in(chunk, origin, region_begin, region_end);
      Status written = format_->write_chunk(grid, chunk);
      if (!written.ok()) return context(std::move(written).error());
      return ok_status();
    }
    // Read-modify-write, serialised per chunk within this writer.
    std::lock_guard<std::mutex> lock(
        chunk_locks_[static_cast<size_t>(lock_index % chunk_locks_.size())]);
    auto existing = format_->read_chunk(grid);
    if (!existing.ok()) return context(std::move(existing).error());
    fill_from(chunk, existing->has_value() ? &**existing : nullptr);
    copy_in(chunk, origin, region_begin, region_end);
    Status written = format_->write_chunk(grid, chunk);
    if (!written.ok()) return context(std::move(written).error());
    return ok_status();
  });
}

Status ChunkedImageWriter::commit() { return format_->commit(); }

Result<bool> ChunkedImageWriter::box_written(const Box5& box) {
  const ChunkedArrayLayout& layout = format_->layout();
  if (!Box5::of(shape_).contains(box)) {
    return make_error(ErrorCode::kOutOfRange, "box {} lies outside the image of shape {}",
                      box.to_string(), shape_.to_string());
  }
  if (box.empty()) return true;
  const int rank = layout.rank();
  std::vector<int64_t> first(rank), last(rank);
  for (int d = 0; d < rank; ++d) {
    const int axis = layout.axis_of_dimension[d];
    first[d] = (axis >= 0 ? box.begin[axis] : 0) / layout.chunk_shape[d];
    last[d] = ((axis >= 0 ? box.end[axis] : 1) - 1) / layout.chunk_shape[d];
  }
  bool all = true;
  Status status = for_each_grid_index(first, last, [&](std::span<const int64_t> grid) -> Status {
    if (all && !format_->chunk_exists(grid)) all = false;
    return ok_status();
  });
  if (!status.ok()) return std::move(status).error();
  return all;
}

// ---- helpers ----

Status validate_geometry(std::span<const int64_t> shape, std::span<const int64_t> chunk_shape,
                         DType dtype, const std::string& where, int max_rank) {
  if (static_cast<int>(shape.size()) > max_rank) {
    return make_error(ErrorCode::kUnsupported, "{}: {} dimensions (grove handles at most {})",
                      where, shape.size(), max_rank);
  }
  if (shape.size() != chunk_shape.size()) {
    return make_error(ErrorCode::kCorrupt, "{}: the shape has {} dimensions but the chunk shape {}",
                      where, shape.size(), chunk_shape.size());
  }
  int64_t elements = 1, chunk_elements = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0)
      return make_error(ErrorCode::kCorrupt, "{}: negative extent {} in dimension {}", where,
                        shape[d], d);
    if (chunk_shape[d] < 1) {
      return make_error(ErrorCode::kCorrupt,
                        "{}: chunk extent {} in dimension {} (must be at least 1)", where,
                        chunk_shape[d], d);
    }
    if (!checked_multiply(elements, shape[d], &elements) || elements > (int64_t{1} << 60)) {
      return make_error(ErrorCode::kCorrupt, "{}: the shape's element count overflows", where);
    }
    if (!checked_multiply(chunk_elements, chunk_shape[d], &chunk_elements) ||
        chunk_elements > kMaxChunkBytes) {
      return make_error(ErrorCode::kResourceExhausted,
                        "{}: chunks larger than grove's limit of {} bytes", where, kMaxChunkBytes);
    }
  }
  if (chunk_elements * static_cast<int64_t>(dtype_size(dtype)) > kMaxChunkBytes) {
    return make_error(ErrorCode::kResourceExhausted,
                      "{}: chunks of {} bytes are larger than grove's limit of {}", where,
                      chunk_elements * static_cast<int64_t>(dtype_size(dtype)), kMaxChunkBytes);
  }
  // Each chunk is decoded whole, one per thread: one chunk alone must fit the memory budget.
  return check_file_allocation(chunk_elements * static_cast<int64_t>(dtype_size(dtype)),
                               where + ": a chunk");
}

Result<std::vector<int>> map_axis_names(const std::vector<std::string>& names,
                                        std::span<const int64_t> shape, const std::string& where) {
  if (names.size() != shape.size()) {
    return make_error(ErrorCode::kCorrupt, "{}: {} axis names for {} dimensions", where,
                      names.size(), shape.size());
  }
  std::vector<int> axes(names.size(), -1);
  bool used[kRank]{};
  for (size_t d = 0; d < names.size(); ++d) {
    const std::string& name = names[d];
    int axis = -1;
    if (name.size() == 1) {
      const char* found =
          std::strchr(kAxisNames, std::tolower(static_cast<unsigned char>(name[0])));
      if (found != nullptr && *found != '\0') axis = static_cast<int>(found - kAxisNames);
    }
    if (axis < 0) {
      if (shape[d] == 1) continue;  // an extra axis of extent 1 carries nothing
      return make_error(
          ErrorCode::kUnsupported,
          "{}: axis \"{}\" (extent {}) is none of t, z, y, x, c, which is all grove handles", where,
          name, shape[d]);
    }
    if (used[axis])
      return make_error(ErrorCode::kCorrupt, "{}: axis \"{}\" appears twice", where, name);
    used[axis] = true;
    axes[d] = axis;
  }
  return axes;
}

Result<std::vector<std::string>> default_axis_names(std::span<const int64_t> shape,
                                                    const std::string& where) {
  std::string letters;
  switch (shape.size()) {
    case 0: letters = ""; break;
    case 1: letters = "x"; break;
    case 2: letters = "yx"; break;
    case 3:
      letters = shape[2] <= 4 && shape[2] < shape[0] && shape[2] < shape[1] ? "yxc" : "zyx";
      break;
    case 4: letters = "zyxc"; break;
    case 5: letters = "tzyxc"; break;
    default:
      return make_error(ErrorCode::kUnsupported,
                        "{}: {} dimensions without axis names (grove handles at most 5)", where,
                        shape.size());
  }
  std::vector<std::string> names;
  for (char c : letters) names.emplace_back(1, c);
  return names;
}

std::string axes_string(const std::vector<int>& axis_of_dimension) {
  std::string out;
  for (int axis : axis_of_dimension) out += axis >= 0 ? kAxisNames[axis] : '?';
  return out;
}

Result<std::string> choose_storage_axes(const std::string& requested, const Shape5& shape,
                                        bool channel_first) {
  if (requested.empty()) {
    std::string axes;
    const std::string order = channel_first ? "tczyx" : "tzyxc";
    for (char letter : order) {
      const int axis = static_cast<int>(std::strchr(kAxisNames, letter) - kAxisNames);
      if (letter == 'y' || letter == 'x' || letter == 'c' || shape[axis] > 1) axes += letter;
    }
    return axes;
  }
  bool used[kRank]{};
  for (char letter : requested) {
    const char* found = std::strchr(kAxisNames, std::tolower(static_cast<unsigned char>(letter)));
    if (letter == '\0' || found == nullptr || *found == '\0') {
      return make_error(ErrorCode::kInvalidArgument,
                        "axis order \"{}\": '{}' is none of t, z, y, x, c", requested, letter);
    }
    const int axis = static_cast<int>(found - kAxisNames);
    if (used[axis])
      return make_error(ErrorCode::kInvalidArgument, "axis order \"{}\" names '{}' twice",
                        requested, letter);
    used[axis] = true;
  }
  for (int axis = 0; axis < kRank; ++axis) {
    if (!used[axis] && shape[axis] > 1) {
      return make_error(ErrorCode::kInvalidArgument, "axis order \"{}\" lacks axis {} of extent {}",
                        requested, kAxisNames[axis], shape[axis]);
    }
  }
  std::string lower;
  for (char letter : requested)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(letter)));
  return lower;
}

Shape5 choose_chunk_shape(const Shape5& requested, const Shape5& shape, DType dtype) {
  Shape5 chunk;
  const bool volume = shape.z() > 1;
  chunk[kT] = 1;
  chunk[kC] = shape.c();
  chunk[kZ] = volume ? 64 : 1;
  chunk[kY] = volume ? 64 : 256;
  chunk[kX] = volume ? 64 : 256;
  const int64_t limit = int64_t{16} << 20;
  auto bytes = [&] {
    int64_t b = static_cast<int64_t>(dtype_size(dtype));
    for (int a = 0; a < kRank; ++a) b *= std::max<int64_t>(std::min(chunk[a], shape[a]), 1);
    return b;
  };
  while (bytes() > limit && chunk[kY] > 1) {
    for (int a : {kZ, kY, kX}) {
      if (chunk[a] > 1) chunk[a] /= 2;
    }
  }
  for (int a = 0; a < kRank; ++a) {
    if (requested[a] > 0) chunk[a] = requested[a];
    chunk[a] = std::max<int64_t>(std::min(chunk[a], shape[a]), 1);
  }
  return chunk;
}

void swap_bytes(uint8_t* data, int64_t count, size_t element_size) {
  switch (element_size) {
    case 2:
      for (int64_t i = 0; i < count; ++i) std::swap(data[2 * i], data[2 * i + 1]);
      break;
    case 4:
      for (int64_t i = 0; i < count; ++i) {
        uint32_t v;
        std::memcpy(&v, data + 4 * i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(data + 4 * i, &v, 4);
      }
      break;
    case 8:
      for (int64_t i = 0; i < count; ++i) {
        uint64_t v;
        std::memcpy(&v, data + 8 * i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(data + 8 * i, &v, 8);
      }
      break;
    default: break;
  }
}

namespace {

template <class T>
FillValue fill_of(T value) {
  FillValue fill{};
  std::memcpy(fill.data(), &value, sizeof(T));
  return fill;
}

}  // namespace

Result<FillValue> fill_from_double(double value, DType dtype, const std::string& where) {
  if (dtype == DType::f32) return fill_of(static_cast<float>(value));
  if (dtype == DType::f64) return fill_of(value);
  if (dtype == DType::boolean) return fill_of<bool>(value != 0.0);
  if (!std::isfinite(value) || value != std::trunc(value) || value < dtype_min(dtype) ||
      value > dtype_max(dtype)) {
    return make_error(ErrorCode::kCorrupt, "{}: fill value {} does not fit {}", where, value,
                      dtype_name(dtype));
  }
  return visit_dtype(dtype,
                     [&](auto v) -> FillValue { return fill_of(static_cast<decltype(v)>(value)); });
}

Result<FillValue> fill_from_integer(int64_t value, DType dtype, const std::string& where) {
  if (dtype_is_float(dtype) || dtype == DType::boolean)
    return fill_from_double(static_cast<double>(value), dtype, where);
  const bool fits = visit_dtype(dtype, [&](auto v) {
    using T = decltype(v);
    if constexpr (std::is_signed_v<T>) {
      return value >= std::numeric_limits<T>::min() && value <= std::numeric_limits<T>::max();
    } else {
      return value >= 0 && static_cast<uint64_t>(value) <= std::numeric_limits<T>::max();
    }
  });
  if (!fits)
    return make_error(ErrorCode::kCorrupt, "{}: fill value {} does not fit {}", where, value,
                      dtype_name(dtype));
  return visit_dtype(dtype,
                     [&](auto v) -> FillValue { return fill_of(static_cast<decltype(v)>(value)); });
}

Result<FillValue> fill_from_unsigned(uint64_t value, DType dtype, const std::string& where) {
  if (value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return fill_from_integer(static_cast<int64_t>(value), dtype, where);
  }
  if (dtype == DType::u64) return fill_of(value);
  if (dtype_is_float(dtype)) return fill_from_double(static_cast<double>(value), dtype, where);
  return make_error(ErrorCode::kCorrupt, "{}: fill value {} does not fit {}", where, value,
                    dtype_name(dtype));
}

}  // namespace grove
