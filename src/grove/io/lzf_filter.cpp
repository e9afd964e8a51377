#include "grove/io/lzf_filter.h"

#include <hdf5.h>

#include <cstring>
#include <vector>

namespace grove::io {

// The LZF stream is a sequence of items, each starting with a control byte c:
//   c < 32:  a literal run; the next c + 1 bytes are copied as they are.
//   c >= 32: a back reference; length l = c >> 5 (7 means: add the next byte), then the low
//            offset byte; copy l + 2 bytes from ((c & 31) << 8 | low) + 1 bytes back in the
//            output (the source may overlap the destination).
namespace {

constexpr size_t kMaxLiteral = 32;
constexpr size_t kMaxOffset = 8192;            // 13 bits, plus one
constexpr size_t kMaxMatch = 7 + 255 + 2;      // 264
constexpr int kHashBits = 14;

inline uint32_t hash3(const uint8_t* p) {
  const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  return (v * 2654435761u) >> (32 - kHashBits);
}

constexpr unsigned kFilterId = 32000;
constexpr unsigned kFilterRevision = 4;
constexpr unsigned kLzfVersion = 0x0105;

herr_t set_local(hid_t dcpl, hid_t type, hid_t) {
  unsigned flags = 0;
  size_t count = 8;
  unsigned values[8] = {0};
  if (H5Pget_filter_by_id2(dcpl, kFilterId, &flags, &count, values, 0, nullptr, nullptr) < 0) {
    return -1;
  }
  if (count < 3) count = 3;
  values[0] = kFilterRevision;
  values[1] = kLzfVersion;
  hsize_t chunk[32];
  const int rank = H5Pget_chunk(dcpl, 32, chunk);
  if (rank < 0) return -1;
  size_t bytes = H5Tget_size(type);
  for (int i = 0; i < rank; ++i) bytes *= chunk[i];
  values[2] = bytes > 0xffffffffu ? 0 : static_cast<unsigned>(bytes);
  return H5Pmodify_filter(dcpl, kFilterId, flags, count, values);
}

size_t filter(unsigned flags, size_t value_count, const unsigned values[], size_t bytes,
              size_t* buffer_size, void** buffer) {
  const auto* input = static_cast<const uint8_t*>(*buffer);
  if (flags & H5Z_FLAG_REVERSE) {
    size_t capacity = (value_count >= 3 && values[2] != 0) ? values[2] : bytes * 4;
    for (int attempt = 0; attempt < 8; ++attempt) {
      auto* output = static_cast<uint8_t*>(H5allocate_memory(capacity, false));
      if (output == nullptr) return 0;
      const size_t size = lzf_decompress(input, bytes, output, capacity);
      if (size > 0) {
        H5free_memory(*buffer);
        *buffer = output;
        *buffer_size = capacity;
        return size;
      }
      H5free_memory(output);
      capacity *= 2;
    }
    return 0;
  }
  if (bytes == 0) return 0;
  auto* output = static_cast<uint8_t*>(H5allocate_memory(bytes, false));
  if (output == nullptr) return 0;
  const size_t size = lzf_compress(input, bytes, output, bytes);
  if (size == 0) {
    // Incompressible: HDF5 stores the chunk raw (the filter is optional).
    H5free_memory(output);
    return 0;
  }
  H5free_memory(*buffer);
  *buffer = output;
  *buffer_size = bytes;
  return size;
}

}  // namespace

size_t lzf_compress(const uint8_t* input, size_t size, uint8_t* output, size_t capacity) {
  std::vector<uint32_t> table(size_t{1} << kHashBits, 0xffffffffu);
  size_t in = 0, out = 0;
  size_t literal_start = 0;
  auto flush_literals = [&](size_t end) -> bool {
    while (literal_start < end) {
      const size_t run = std::min(kMaxLiteral, end - literal_start);
      if (out + 1 + run > capacity) return false;
      output[out++] = static_cast<uint8_t>(run - 1);
      std::memcpy(output + out, input + literal_start, run);
      out += run;
      literal_start += run;
    }
    return true;
  };
  while (in + 2 < size) {
    const uint32_t h = hash3(input + in);
    const uint32_t candidate = table[h];
    table[h] = static_cast<uint32_t>(in);
    if (candidate != 0xffffffffu && in - candidate <= kMaxOffset && candidate < in &&
        std::memcmp(input + candidate, input + in, 3) == 0) {
      size_t length = 3;
      const size_t limit = std::min(kMaxMatch, size - in);
      while (length < limit && input[candidate + length] == input[in + length]) ++length;
      if (!flush_literals(in)) return 0;
      const size_t offset = in - candidate - 1;
      const size_t code = length - 2;
      if (out + 3 > capacity) return 0;
      if (code < 7) {
        output[out++] = static_cast<uint8_t>((code << 5) | (offset >> 8));
      } else {
        output[out++] = static_cast<uint8_t>((7 << 5) | (offset >> 8));
        output[out++] = static_cast<uint8_t>(code - 7);
      }
      output[out++] = static_cast<uint8_t>(offset & 0xff);
      // Index the positions inside the match so later data can refer to them.
      for (size_t i = in + 1; i < in + length && i + 2 < size; ++i) {
        table[hash3(input + i)] = static_cast<uint32_t>(i);
      }
      in += length;
      literal_start = in;
    } else {
      ++in;
    }
  }
  if (!flush_literals(size)) return 0;
  return out;
}

size_t lzf_decompress(const uint8_t* input, size_t size, uint8_t* output, size_t capacity) {
  size_t in = 0, out = 0;
  while (in < size) {
    const unsigned control = input[in++];
    if (control < 32) {
      const size_t run = control + 1;
      if (in + run > size || out + run > capacity) return 0;
      std::memcpy(output + out, input + in, run);
      in += run;
      out += run;
      continue;
    }
    size_t length = control >> 5;
    if (length == 7) {
      if (in >= size) return 0;
      length += input[in++];
    }
    if (in >= size) return 0;
    const size_t back = ((size_t{control} & 31) << 8) + input[in++] + 1;
    length += 2;
    if (back > out || out + length > capacity) return 0;
    for (size_t i = 0; i < length; ++i, ++out) output[out] = output[out - back];
  }
  return out;
}

void register_lzf_filter() {
  static bool registered = false;
  if (registered) return;
  registered = true;
  static const H5Z_class2_t lzf_class = {
      H5Z_CLASS_T_VERS, static_cast<H5Z_filter_t>(kFilterId), 1, 1, "lzf", nullptr, set_local,
      filter};
  H5Zregister(&lzf_class);
}

}  // namespace grove::io
